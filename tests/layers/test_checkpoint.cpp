// Checkpoints: module + optimizer round trip and exact resume, atomic writes, an error naming
// the file for every way a checkpoint can fail to fit, and PyTorch interop both ways
// (tests/data/make_checkpoint_reference.py). The module-only functions are in
// layers/checkpoint.hpp, the overloads with an optimizer in optim/checkpoint.hpp; both are
// tested here because the optimizer's checks run on top of the module's.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support.hpp"

using namespace rwd;

namespace {

// Embedding -> LSTM -> Linear, named as the PyTorch model of make_checkpoint_reference.py
// (and as examples/tagger.cpp): embed.weight, lstm.weight_ih_l0..., head.weight, head.bias.
template <Scalar T>
class Tagger : public Module<T> {
 public:
  Tagger(int64_t vocab, int64_t embed, int64_t hidden, int64_t tags, bool bi, Generator& gen)
      : embed_(vocab, embed, gen),
        lstm_(rwd::test::rnn_options(embed, hidden, 1, bi), gen),
        head_((bi ? 2 : 1) * hidden, tags, gen) {}

  // ids: [T, B] row-major -> logits [T, B, tags]
  Var<T> forward(Graph<T>& g, std::span<const int64_t> ids, int64_t steps, int64_t batch) {
    Var<T> x = reshape(embed_.forward(g, ids), {steps, batch, embed_.dim()});
    return head_.forward(lstm_.forward(x).output);
  }
  void visit(ModuleVisitor<T>& v) override {
    v.module("embed", embed_);
    v.module("lstm", lstm_);
    v.module("head", head_);
  }

 private:
  Embedding<T> embed_;
  LSTM<T> lstm_;
  Linear<T> head_;
};

// One Adam step on a fixed batch: forward, backward, update.
template <Scalar T>
T train_step(Tagger<T>& model, Optimizer<T>& opt, uint64_t seed) {
  Generator gen(seed);
  std::vector<int64_t> ids(12);
  std::vector<int64_t> tags(12);
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i] = int64_t(gen.below(7));
    tags[i] = ids[i] % 3;
  }
  Graph<T> g;
  Var<T> loss = cross_entropy(reshape(model.forward(g, ids, 4, 3), {12, 3}), tags);
  g.backward(loss);
  opt.step();
  opt.zero_grad();
  return loss.item();
}

template <Scalar T>
void require_same_parameters(Module<T>& a, Module<T>& b) {
  const auto pa = a.named_parameters();
  const auto pb = b.named_parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    INFO("parameter " << pa[i].name);
    CHECK(max_abs_diff(pa[i].param->value().view(), pb[i].param->value().view()) == 0.0);
  }
}

std::string load_error(const std::string& path, Module<double>& m, Optimizer<double>* opt) {
  try {
    load_checkpoint(path, m, opt);
  } catch (const IoError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("checkpoint round trip: module and Adam state, then an identical next step",
          "[layers][checkpoint]") {
  const std::string dir = rwd::test::temp_dir("ckpt_roundtrip");
  const std::string path = dir + "/model.safetensors";
  Generator gen(1);
  Tagger<float> model(7, 4, 5, 3, true, gen);
  Adam<float> opt(model.named_parameters(), 0.01, {}, {.max_norm = 1.0});
  for (uint64_t s = 0; s < 3; ++s) train_step(model, opt, s);
  save_checkpoint(path, model, &opt, {{"step", "3"}});

  // A differently initialised model and a fresh optimizer with another lr.
  Generator other(99);
  Tagger<float> restored(7, 4, 5, 3, true, other);
  Adam<float> restored_opt(restored.named_parameters(), 0.5, {}, {.max_norm = 1.0});
  const CheckpointMetadata meta = load_checkpoint(path, restored, &restored_opt);
  CHECK(meta.at("step") == "3");
  CHECK(meta.at("optimizer") == "Adam");
  CHECK(meta.at("format") == "pt");
  CHECK(restored_opt.lr() == 0.01);
  require_same_parameters<float>(model, restored);
  const auto state = opt.state_dict();
  const auto restored_state = restored_opt.state_dict();
  REQUIRE(state.size() == restored_state.size());
  for (const auto& [key, t] : state)
    CHECK(max_abs_diff(t.view(), restored_state.at(key).view()) == 0.0);

  // Resuming is exact: the next step gives the same loss and the same weights.
  CHECK(train_step(model, opt, 3) == train_step(restored, restored_opt, 3));
  require_same_parameters<float>(model, restored);

  // The file holds the module under its state_dict names and the optimizer under
  // "optimizer.", in F32.
  const auto file = load_safetensors<float>(path);
  CHECK(file.count("embed.weight") == 1);
  CHECK(file.count("lstm.weight_hh_l0_reverse") == 1);
  CHECK(file.count("optimizer.exp_avg.head.weight") == 1);
  CHECK(file.count("optimizer.step.head.bias") == 1);
  CHECK(file.size() == 11 * 4);  // 11 parameters; exp_avg, exp_avg_sq and step for each

  // Loading the module alone ignores the optimizer state; float data loads into double.
  Generator gd(5);
  Tagger<double> as_double(7, 4, 5, 3, true, gd);
  load_checkpoint(path, as_double);
  CHECK(as_double.named_parameters()[0].param->value()[3] == double(file.at("embed.weight")[3]));
  std::filesystem::remove_all(dir);
}

TEST_CASE("every way 0.1 code called the checkpoint functions still works",
          "[layers][checkpoint]") {
  const std::string dir = rwd::test::temp_dir("ckpt_calls");
  const std::string path = dir + "/model.safetensors";
  Generator gen(6);
  Linear<double> model(2, 3, gen);
  SGD<double> opt(model.named_parameters(), 0.25);
  const CheckpointMetadata meta = {{"step", "1"}};
  Optimizer<double>* none = nullptr;
  save_checkpoint(path, model);
  save_checkpoint(path, model, meta);
  save_checkpoint(path, model, nullptr);
  save_checkpoint(path, model, {}, meta);
  save_checkpoint(path, model, none, meta);
  CHECK(load_checkpoint(path, model).at("step") == "1");
  CHECK(load_checkpoint(path, model, nullptr).at("step") == "1");
  CHECK(load_checkpoint(path, model, none).count("optimizer") == 0);
  save_checkpoint(path, model, &opt, meta);
  opt.set_lr(1);
  CHECK(load_checkpoint(path, model, &opt).at("optimizer") == "SGD");
  CHECK(opt.lr() == 0.25);
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint writes are atomic: a failed save keeps the previous checkpoint",
          "[layers][checkpoint]") {
  const std::string dir = rwd::test::temp_dir("ckpt_atomic");
  const std::string path = dir + "/model.safetensors";
  Generator gen(2);
  Linear<double> small(2, 2, gen);
  save_checkpoint(path, small, nullptr, {{"step", "10"}});

  // The next save needs ~800 KB; a file-size limit of 4 KB makes its write fail (EFBIG).
  Linear<double> big(100, 1000, gen);
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit limited = old;
  limited.rlim_cur = 4096;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
  std::string message;
  try {
    save_checkpoint(path, big, nullptr, {{"step", "20"}});
  } catch (const IoError& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  CHECK_THAT(message, Catch::Contains("model.safetensors") && Catch::Contains("write failed"));

  // The step-10 checkpoint still loads, and no temporary file is left over.
  Generator other(3);
  Linear<double> restored(2, 2, other);
  CHECK(load_checkpoint(path, restored).at("step") == "10");
  require_same_parameters<double>(small, restored);
  CHECK(std::distance(std::filesystem::directory_iterator(dir),
                      std::filesystem::directory_iterator()) == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("checkpoint errors name the file and what does not fit, and change nothing",
          "[layers][checkpoint][errors]") {
  const std::string dir = rwd::test::temp_dir("ckpt_errors");
  const std::string path = dir + "/ckpt.safetensors";
  Generator gen(4);
  Tagger<double> model(7, 4, 5, 3, false, gen);
  SGD<double> sgd(model.named_parameters(), 0.1, {.momentum = 0.9});
  train_step(model, sgd, 1);
  save_checkpoint(path, model, &sgd);

  Generator other(5);
  Tagger<double> target(7, 4, 5, 3, false, other);
  const auto before = target.state_dict();
  auto unchanged = [&] {
    for (const auto& [name, t] : target.state_dict())
      CHECK(max_abs_diff(t.view(), before.at(name).view()) == 0.0);
  };
  // Writes a variant of the saved file: tensors and metadata edited by `edit`.
  auto variant = [&](const std::string& name, auto edit) {
    CheckpointMetadata meta;
    auto tensors = load_safetensors<double>(path, &meta);
    edit(tensors, meta);
    const std::string p = dir + "/" + name + ".safetensors";
    save_safetensors(p, tensors, meta);
    return p;
  };

  SECTION("a tensor the module needs is missing") {
    const auto p = variant("missing", [](auto& t, auto&) { t.erase("lstm.bias_hh_l0"); });
    CHECK_THAT(load_error(p, target, nullptr), Catch::Contains("missing.safetensors") &&
                                                   Catch::Contains("'lstm.bias_hh_l0'") &&
                                                   Catch::Contains("missing from the file"));
    unchanged();
  }
  SECTION("a shape differs") {
    const auto p = variant("shape", [](auto& t, auto&) {
      t["head.weight"] = Tensor<double>::zeros({3, 6});
    });
    CHECK_THAT(load_error(p, target, nullptr),
               Catch::Contains("shape.safetensors") && Catch::Contains("'head.weight'") &&
                   Catch::Contains("[3, 6] in the file but [3, 5] in the module"));
    unchanged();
  }
  SECTION("a tensor the module does not have") {
    const auto p =
        variant("extra", [](auto& t, auto&) { t["decoder.weight"] = Tensor<double>::zeros({2}); });
    CHECK_THAT(load_error(p, target, nullptr),
               Catch::Contains("extra.safetensors") && Catch::Contains("'decoder.weight'") &&
                   Catch::Contains("not a parameter of the module"));
    unchanged();
  }
  SECTION("a malformed file") {
    const std::string p = dir + "/truncated.safetensors";
    std::filesystem::copy_file(path, p);
    std::filesystem::resize_file(p, std::filesystem::file_size(path) - 8);
    CHECK_THAT(load_error(p, target, nullptr),
               Catch::Contains("truncated.safetensors") && Catch::Contains("data section"));
    CHECK_THAT(load_error(dir + "/absent.safetensors", target, nullptr),
               Catch::Contains("absent.safetensors") && Catch::Contains("cannot open"));
    unchanged();
  }
  SECTION("no optimizer state in the file") {
    const std::string p = dir + "/module_only.safetensors";
    save_checkpoint(p, model);
    SGD<double> opt(target.named_parameters(), 0.3, {.momentum = 0.9});
    CHECK_THAT(load_error(p, target, &opt),
               Catch::Contains("module_only.safetensors") && Catch::Contains("no optimizer state"));
    CHECK(opt.lr() == 0.3);
    unchanged();
  }
  SECTION("state of another optimizer") {
    Adam<double> adam(target.named_parameters(), 0.3);
    CHECK_THAT(load_error(path, target, &adam),
               Catch::Contains("ckpt.safetensors") &&
                   Catch::Contains("holds SGD state but the optimizer is Adam"));
    unchanged();
  }
  SECTION("optimizer state that does not fit the optimizer") {
    SGD<double> no_momentum(target.named_parameters(), 0.3);  // expects no momentum_buffer
    CHECK_THAT(load_error(path, target, &no_momentum),
               Catch::Contains("ckpt.safetensors") &&
                   Catch::Contains("optimizer state does not fit") &&
                   Catch::Contains("momentum_buffer"));
    CHECK(no_momentum.lr() == 0.3);
    unchanged();
  }
  SECTION("a missing or bad learning rate") {
    SGD<double> opt(target.named_parameters(), 0.3, {.momentum = 0.9});
    const auto no_lr = variant("no_lr", [](auto&, auto& m) { m.erase("optimizer.lr"); });
    CHECK_THAT(load_error(no_lr, target, &opt),
               Catch::Contains("no_lr.safetensors") && Catch::Contains("'optimizer.lr'"));
    const auto bad_lr = variant("bad_lr", [](auto&, auto& m) { m["optimizer.lr"] = "-1"; });
    CHECK_THAT(load_error(bad_lr, target, &opt), Catch::Contains("bad_lr.safetensors") &&
                                                     Catch::Contains("'-1'") &&
                                                     Catch::Contains("learning rate"));
    const auto nan_lr = variant("nan_lr", [](auto&, auto& m) { m["optimizer.lr"] = "0.1x"; });
    CHECK_THAT(load_error(nan_lr, target, &opt), Catch::Contains("'0.1x'"));
    CHECK(opt.lr() == 0.3);
    CHECK(opt.state_dict().at("step.head.weight").item() == 0.0);
    unchanged();
  }
  SECTION("the optimizer and the module are both restored when everything fits") {
    SGD<double> opt(target.named_parameters(), 0.3, {.momentum = 0.9});
    load_checkpoint(path, target, &opt);
    CHECK(opt.lr() == 0.1);
    CHECK(opt.state_dict().at("step.head.weight").item() == 1.0);
    require_same_parameters<double>(model, target);
  }
  SECTION("reserved names are refused when saving") {
    CHECK_THROWS_WITH(save_checkpoint(dir + "/x.safetensors", model, &sgd, {{"optimizer", "x"}}),
                      Catch::Contains("metadata key 'optimizer' is reserved"));
    CHECK_THROWS_WITH(
        save_checkpoint(dir + "/x.safetensors", model, nullptr, {{"optimizer.lr", "1"}}),
        Catch::Contains("'optimizer.lr' is reserved"));
    struct Wrapper : Module<double> {
      Linear<double> inner;
      explicit Wrapper(Generator& g) : inner(2, 2, g) {}
      void visit(ModuleVisitor<double>& v) override { v.module("optimizer", inner); }
    } wrapper(gen);
    CHECK_THROWS_AS(save_checkpoint(dir + "/x.safetensors", wrapper), ValueError);
    CHECK_THROWS_WITH(
        save_checkpoint(dir + "/x.safetensors", wrapper),
        Catch::Contains("module parameter 'optimizer.") && Catch::Contains("reserved"));
    CHECK_FALSE(std::filesystem::exists(dir + "/x.safetensors"));
  }
  std::filesystem::remove_all(dir);
}

// ---- PyTorch interop (files from tests/data/make_checkpoint_reference.py) ----

namespace {

const std::string kRefDir = std::string(REWIND_TEST_DATA_DIR) + "/checkpoint/";
// The configuration of the script's LSTM, and the seed of the rewind-written reference.
const RecurrentOptions kBiLstm = rwd::test::rnn_options(3, 4, 2, true);
constexpr uint64_t kRewindSeed = 77;
// The script's LSTM with proj_size: h projected to 2 features (weight_hr_l{k}[_reverse]).
RecurrentOptions bilstm_proj() {
  RecurrentOptions o = kBiLstm;
  o.proj_size = 2;
  return o;
}

// Runs `lstm` on the input of `io_file` and compares output, h_n and c_n with the file's.
void require_outputs(LSTM<float>& lstm, const std::string& io_file, double tolerance) {
  const auto io = load_safetensors<float>(kRefDir + io_file);
  Graph<float> g;
  auto out = lstm.forward(g.constant(io.at("input")));
  CHECK(max_abs_diff(out.output.value(), io.at("output").view()) < tolerance);
  CHECK(max_abs_diff(out.h_n().value(), io.at("h_n").view()) < tolerance);
  CHECK(max_abs_diff(out.c_n().value(), io.at("c_n").view()) < tolerance);
}

}  // namespace

TEST_CASE("a PyTorch LSTM state_dict (safetensors.torch layout) loads and gives its outputs",
          "[layers][checkpoint][pytorch]") {
  Generator gen(6);
  LSTM<float> lstm(kBiLstm, gen);
  const CheckpointMetadata meta = load_checkpoint(kRefDir + "torch_bilstm.safetensors", lstm);
  CHECK(meta.empty());  // save_file(state_dict) writes no metadata
  const auto io = load_safetensors<float>(kRefDir + "torch_bilstm_io.safetensors");
  Graph<float> g;
  auto out = lstm.forward(g.constant(io.at("input")));
  CHECK(max_abs_diff(out.output.value(), io.at("output").view()) < 1e-5);
  CHECK(max_abs_diff(out.h_n().value(), io.at("h_n").view()) < 1e-5);
  CHECK(max_abs_diff(out.c_n().value(), io.at("c_n").view()) < 1e-5);
}

TEST_CASE("a PyTorch LSTM state_dict with proj_size (weight_hr_l{k}) loads and gives its outputs",
          "[layers][checkpoint][pytorch][proj]") {
  Generator gen(6);
  LSTM<float> lstm(bilstm_proj(), gen);
  load_checkpoint(kRefDir + "torch_bilstm_proj.safetensors", lstm);
  CHECK(lstm.cell(1, 1).weight_hr()->shape() == Shape{2, 4});
  require_outputs(lstm, "torch_bilstm_proj_io.safetensors", 1e-5);
  // Without proj_size the same file does not fit, and the error names the tensor.
  LSTM<float> plain(kBiLstm, gen);
  CHECK_THROWS_WITH(load_checkpoint(kRefDir + "torch_bilstm_proj.safetensors", plain),
                    Catch::Contains("weight_hh_l0") && Catch::Contains("[16, 2]"));
}

TEST_CASE("an LSTM with proj_size round-trips its checkpoint, weight_hr_l{k} included",
          "[layers][checkpoint][proj]") {
  const std::string dir = rwd::test::temp_dir("ckpt_proj");
  Generator gen(8);
  LSTM<double> a(bilstm_proj(), gen);
  LSTM<double> b(bilstm_proj(), gen);  // different weights
  save_checkpoint(dir + "/proj.safetensors", a);
  const auto file = load_safetensors<double>(dir + "/proj.safetensors");
  CHECK(file.size() == 20);  // 4 cells × (weight_ih, weight_hh, bias_ih, bias_hh, weight_hr)
  for (const char* name :
       {"weight_hr_l0", "weight_hr_l0_reverse", "weight_hr_l1", "weight_hr_l1_reverse"}) {
    INFO("tensor " << name);
    REQUIRE(file.count(name) == 1);
    CHECK(file.at(name).shape() == Shape{2, 4});
  }
  CHECK(file.at("weight_hh_l1_reverse").shape() == Shape{16, 2});
  CHECK(file.at("weight_ih_l1").shape() == Shape{16, 4});  // 2 directions × proj_size
  load_checkpoint(dir + "/proj.safetensors", b);
  require_same_parameters(a, b);
  // A checkpoint without the projection does not load into it, naming what is missing.
  LSTM<double> plain(kBiLstm, gen);
  save_checkpoint(dir + "/plain.safetensors", plain);
  CHECK_THROWS_WITH(load_checkpoint(dir + "/plain.safetensors", a),
                    Catch::Contains("plain.safetensors") && Catch::Contains("weight_hh_l0"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("rewind writes PyTorch's keys and shapes for an LSTM with proj_size",
          "[layers][checkpoint][pytorch][proj]") {
  const std::string dir = rwd::test::temp_dir("ckpt_proj_layout");
  Generator gen(kRewindSeed);
  LSTM<float> lstm(bilstm_proj(), gen);
  save_checkpoint(dir + "/proj.safetensors", lstm);
  const auto torch_state = load_safetensors<float>(kRefDir + "torch_bilstm_proj.safetensors");
  const auto fresh = load_safetensors<float>(dir + "/proj.safetensors");
  REQUIRE(fresh.size() == torch_state.size());
  for (const auto& [name, t] : torch_state) {
    INFO("tensor " << name);
    REQUIRE(fresh.count(name) == 1);
    CHECK(fresh.at(name).shape() == t.shape());
  }
  // The committed file that the Python script loads into PyTorch is what rewind writes today.
  const auto committed = load_safetensors<float>(kRefDir + "rewind_bilstm_proj.safetensors");
  REQUIRE(committed.size() == fresh.size());
  for (const auto& [name, t] : fresh) {
    INFO("tensor " << name);
    REQUIRE(committed.count(name) == 1);
    CHECK(max_abs_diff(committed.at(name).view(), t.view()) == 0.0);
  }
  require_outputs(lstm, "rewind_bilstm_proj_io.safetensors", 1e-6);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a PyTorch model with nested modules loads into the same rewind model",
          "[layers][checkpoint][pytorch]") {
  Generator gen(7);
  Tagger<float> tagger(10, 5, 4, 3, true, gen);
  load_checkpoint(kRefDir + "torch_tagger.safetensors", tagger);
  const auto io = load_safetensors<float>(kRefDir + "torch_tagger_io.safetensors");
  const Tensor<float>& ids_f = io.at("ids");  // [T, B]
  std::vector<int64_t> ids(size_t(ids_f.numel()));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int64_t(ids_f[int64_t(i)]);
  Graph<float> g;
  Var<float> logits = tagger.forward(g, ids, ids_f.shape()[0], ids_f.shape()[1]);
  CHECK(max_abs_diff(logits.value(), io.at("logits").view()) < 1e-5);
}

TEST_CASE("rewind writes exactly the keys, dtypes and shapes of PyTorch's state_dict",
          "[layers][checkpoint][pytorch]") {
  const std::string dir = rwd::test::temp_dir("ckpt_pytorch_layout");
  Generator gen(kRewindSeed);
  LSTM<float> lstm(kBiLstm, gen);
  save_checkpoint(dir + "/lstm.safetensors", lstm);
  // The header as PyTorch wrote it for the same layer, and as rewind writes it.
  const auto torch_state = load_safetensors<double>(kRefDir + "torch_bilstm.safetensors");
  const auto ours = load_safetensors<double>(dir + "/lstm.safetensors");
  REQUIRE(ours.size() == torch_state.size());
  for (const auto& [name, t] : torch_state) {
    INFO("tensor " << name);
    REQUIRE(ours.count(name) == 1);
    CHECK(ours.at(name).shape() == t.shape());
  }
  std::ifstream in(dir + "/lstm.safetensors", std::ios::binary);
  std::string head(200, '\0');
  in.read(head.data(), 200);
  CHECK_THAT(head, Catch::Contains(R"("dtype":"F32")") && !Catch::Contains("F64"));

  // The committed file that the Python script checks in PyTorch is what rewind writes today.
  const auto committed = load_safetensors<float>(kRefDir + "rewind_bilstm.safetensors");
  const auto fresh = load_safetensors<float>(dir + "/lstm.safetensors");
  REQUIRE(committed.size() == fresh.size());
  for (const auto& [name, t] : fresh) {
    INFO("tensor " << name);
    REQUIRE(committed.count(name) == 1);
    CHECK(max_abs_diff(committed.at(name).view(), t.view()) == 0.0);
  }
  // And rewind still computes the outputs stored beside it.
  const auto io = load_safetensors<float>(kRefDir + "rewind_bilstm_io.safetensors");
  Graph<float> g;
  auto out = lstm.forward(g.constant(io.at("input")));
  CHECK(max_abs_diff(out.output.value(), io.at("output").view()) < 1e-6);
  std::filesystem::remove_all(dir);
}

// Hidden: regenerates the rewind-written reference files that the Python script checks in
// PyTorch. Run `rewind_tests "[.write-reference]"`, then
// `/usr/bin/python3 tests/data/make_checkpoint_reference.py check`.
TEST_CASE("write the rewind checkpoint reference for PyTorch", "[.write-reference]") {
  Generator gen(kRewindSeed);
  LSTM<float> lstm(kBiLstm, gen);
  save_checkpoint(kRefDir + "rewind_bilstm.safetensors", lstm);
  Generator data(kRewindSeed + 1);
  const Tensor<float> x = Tensor<float>::normal({5, 2, 3}, 0, 1, data);
  Graph<float> g;
  auto out = lstm.forward(g.constant(x));
  std::map<std::string, Tensor<float>> io;
  io.emplace("input", x);
  io.emplace("output", Tensor<float>(out.output.value()));
  io.emplace("h_n", Tensor<float>(out.h_n().value()));
  io.emplace("c_n", Tensor<float>(out.c_n().value()));
  save_safetensors(kRefDir + "rewind_bilstm_io.safetensors", io, {{"writer", "rewind"}});

  // The same with proj_size, checked by the script's check_one("rewind_bilstm_proj", ...).
  Generator proj_gen(kRewindSeed);
  LSTM<float> proj(bilstm_proj(), proj_gen);
  save_checkpoint(kRefDir + "rewind_bilstm_proj.safetensors", proj);
  Graph<float> pg;
  auto pout = proj.forward(pg.constant(x));
  std::map<std::string, Tensor<float>> pio;
  pio.emplace("input", x);
  pio.emplace("output", Tensor<float>(pout.output.value()));
  pio.emplace("h_n", Tensor<float>(pout.h_n().value()));
  pio.emplace("c_n", Tensor<float>(pout.c_n().value()));
  save_safetensors(kRefDir + "rewind_bilstm_proj_io.safetensors", pio, {{"writer", "rewind"}});
}

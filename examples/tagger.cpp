// Sequence labelling that needs both directions: every token of a digit sequence is tagged
// by how it compares with the sequence's *last* token (less, equal, greater). Read left to
// right, the last token is not known until the end, so a one-directional LSTM can at best
// guess from the token itself (about 70%); a bidirectional LSTM reads the last token first
// in its reverse direction. Batches hold sequences of different lengths (4..24), padded and
// run with per-sequence lengths, so each reverse pass starts at its own sequence's end;
// padding is left out of the loss by gathering the real positions' rows.
//
//   tagger            # both models, a few tens of seconds
//   tagger --quick    # tiny settings: the smoke test
//
// Exit status 0 when both losses went down and the Bi-LSTM is clearly more accurate; 2 on a
// bad option (named with its value) or an error.
#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <string>
#include <vector>

#include <rewind/rewind.hpp>

#include "blas_threads.hpp"
#include "cli.hpp"
#include "progress.hpp"

using namespace rwd;

namespace {

constexpr int64_t kDigits = 10;
constexpr int64_t kTags = 3;  // 0: less than the last token, 1: equal, 2: greater
constexpr const char* kTagNames = "<=>";

struct Settings {
  int64_t embed = 16;
  int64_t hidden = 64;
  int64_t batch = 32;
  int64_t min_length = 4;
  int64_t max_length = 24;
  int64_t steps = 1500;
  double lr = 5e-3;
  uint64_t seed = 1;
};

// A padded batch, time-major: ids and tags [T·B] (T = the longest sequence), lengths [B],
// and the flat positions t·B + b that hold real tokens.
struct Batch {
  int64_t steps = 0;
  int64_t size = 0;
  std::vector<int64_t> ids, tags, lengths, real;
};

Batch make_batch(const Settings& s, int64_t batch, Generator& gen) {
  Batch out;
  out.size = batch;
  for (int64_t b = 0; b < batch; ++b)
    out.lengths.push_back(s.min_length +
                          int64_t(gen.below(uint64_t(s.max_length - s.min_length + 1))));
  out.steps = *std::max_element(out.lengths.begin(), out.lengths.end());
  out.ids.assign(size_t(out.steps * batch), 0);
  out.tags.assign(size_t(out.steps * batch), 0);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = out.lengths[size_t(b)];
    for (int64_t t = 0; t < len; ++t) out.ids[size_t(t * batch + b)] = int64_t(gen.below(kDigits));
    const int64_t last = out.ids[size_t((len - 1) * batch + b)];
    for (int64_t t = 0; t < len; ++t) {
      const int64_t x = out.ids[size_t(t * batch + b)];
      out.tags[size_t(t * batch + b)] = x < last ? 0 : x == last ? 1 : 2;
    }
  }
  for (int64_t t = 0; t < out.steps; ++t)
    for (int64_t b = 0; b < batch; ++b)
      if (t < out.lengths[size_t(b)]) out.real.push_back(t * batch + b);
  return out;
}

// Embedding -> LSTM (one or two directions) -> Linear, named as the PyTorch model of
// tests/data/make_checkpoint_reference.py: embed.weight, lstm.weight_ih_l0..., head.weight.
class Tagger : public Module<float> {
 public:
  Tagger(const Settings& s, bool bidirectional, Generator& gen)
      : embed_(kDigits, s.embed, gen),
        lstm_({.input_size = s.embed, .hidden_size = s.hidden, .bidirectional = bidirectional},
              gen),
        head_((bidirectional ? 2 : 1) * s.hidden, kTags, gen) {}

  // Logits [N, tags] for the N real tokens of the batch, in the order of batch.real.
  Var<float> forward(Graph<float>& g, const Batch& batch) {
    Var<float> x = reshape(embed_.forward(g, batch.ids), {batch.steps, batch.size, -1});
    Var<float> out = lstm_.forward(x, {}, batch.lengths).output;  // [T, B, D·H]
    Var<float> logits = head_.forward(reshape(out, {batch.steps * batch.size, -1}));
    return embedding(logits, batch.real);  // the rows of real tokens (a gather)
  }
  void visit(ModuleVisitor<float>& v) override {
    v.module("embed", embed_);
    v.module("lstm", lstm_);
    v.module("head", head_);
  }

 private:
  Embedding<float> embed_;
  LSTM<float> lstm_;
  Linear<float> head_;
};

std::vector<int64_t> real_tags(const Batch& batch) {
  std::vector<int64_t> out;
  for (int64_t i : batch.real) out.push_back(batch.tags[size_t(i)]);
  return out;
}

struct Result {
  double first_loss = 0, last_loss = 0;
  double token_accuracy = 0, sequence_accuracy = 0;
  int64_t parameters = 0;
  double seconds = 0;
  std::string example;  // one tagged held-out sequence
};

Result train(const std::string& name, bool bidirectional, const Settings& s, int64_t eval_size,
             examples::LossCsv& csv) {
  Generator gen(s.seed);
  Tagger model(s, bidirectional, gen);
  Adam<float> opt(model.named_parameters(), s.lr, {}, {.max_norm = 1.0});
  Generator eval_gen(s.seed + 1000);
  const Batch held_out = make_batch(s, eval_size, eval_gen);
  const std::vector<int64_t> held_out_tags = real_tags(held_out);
  Graph<float> eval_graph;
  Result r;
  r.parameters = model.num_parameters();
  auto evaluate = [&] {
    eval_graph.clear();
    Var<float> logits = model.forward(eval_graph, held_out);
    const double loss = cross_entropy(logits, held_out_tags).item();
    const auto v = logits.value();
    std::vector<bool> sequence_ok(size_t(held_out.size), true);
    int64_t correct = 0;
    for (size_t k = 0; k < held_out.real.size(); ++k) {
      const float* row = v.data() + k * kTags;
      const bool ok = std::max_element(row, row + kTags) - row == held_out_tags[k];
      correct += ok;
      if (!ok) sequence_ok[size_t(held_out.real[k] % held_out.size)] = false;
    }
    r.token_accuracy = double(correct) / double(held_out.real.size());
    r.sequence_accuracy =
        double(std::count(sequence_ok.begin(), sequence_ok.end(), true)) / double(held_out.size);
    // The first held-out sequence, tagged.
    r.example.clear();
    for (size_t k = 0; k < held_out.real.size(); ++k)
      if (held_out.real[k] % held_out.size == 0) {
        const float* row = v.data() + k * kTags;
        r.example += fmt::format("{}{}{}", r.example.empty() ? "" : " ",
                                 held_out.ids[size_t(held_out.real[k])],
                                 kTagNames[std::max_element(row, row + kTags) - row]);
      }
    return loss;
  };

  r.first_loss = evaluate();
  Generator data(s.seed + 1);
  Graph<float> g;
  examples::Progress progress(name, s.steps, &csv);
  for (int64_t step = 1; step <= s.steps; ++step) {
    const Batch batch = make_batch(s, s.batch, data);
    g.clear();
    Var<float> loss = cross_entropy(model.forward(g, batch), real_tags(batch));
    g.backward(loss);
    opt.step();
    opt.zero_grad();
    progress.step(step, loss.item(), int64_t(batch.real.size()));
  }
  progress.finish();
  r.seconds = progress.elapsed();
  r.last_loss = evaluate();
  return r;
}

}  // namespace

int main(int argc, char** argv) try {
  examples::use_one_blas_thread();
  examples::Args args(argc, argv,
                      "Bi-LSTM tagger: tag each digit by comparing it with the sequence's last "
                      "digit; a one-directional LSTM next to a bidirectional one.");
  const bool quick = args.flag("quick", "tiny settings for a smoke test (seconds)");
  Settings s;
  using examples::at_least;
  s.steps = args.integer("steps", quick ? 150 : s.steps, "training steps per model", at_least(1));
  s.hidden =
      args.integer("hidden", quick ? 16 : s.hidden, "LSTM hidden size per direction", at_least(1));
  s.embed = args.integer("embed", quick ? 8 : s.embed, "embedding size", at_least(1));
  s.batch = args.integer("batch", s.batch, "sequences per step", at_least(1));
  s.max_length = args.integer("max-length", quick ? 12 : s.max_length, "longest sequence",
                              at_least(double(s.min_length)));
  s.lr = args.real("lr", quick ? 1e-2 : s.lr, "Adam learning rate", examples::positive());
  s.seed = uint64_t(args.integer("seed", int64_t(s.seed), "random seed", at_least(0)));
  const int64_t eval_size =
      args.integer("eval-size", quick ? 128 : 1000, "held-out sequences", at_least(1));
  const std::string csv_path =
      args.output_file("csv", "tagger_loss.csv", "loss curve CSV ('' for none)");
  args.done();

  fmt::print(
      "Tag each digit as <, = or > the last digit of its sequence; lengths {}..{}, "
      "batches of {}, {} steps per model.\n\n",
      s.min_length, s.max_length, s.batch, s.steps);
  examples::LossCsv csv(csv_path);
  const Result uni = train("LSTM   ", false, s, eval_size, csv);
  const Result bi = train("Bi-LSTM", true, s, eval_size, csv);

  fmt::print("\n{:<22} {:>10} {:>10} {:>15} {:>18} {:>8}\n", "model", "parameters", "loss",
             "token accuracy", "sequence accuracy", "time");
  for (const auto& [name, r] : {std::pair{"LSTM (left to right)", &uni}, {"Bi-LSTM", &bi}})
    fmt::print("{:<22} {:>10} {:>10.4f} {:>14.1f}% {:>17.1f}% {:>7.1f}s\n", name, r->parameters,
               r->last_loss, 100 * r->token_accuracy, 100 * r->sequence_accuracy, r->seconds);
  fmt::print(
      "\nA left-to-right reader cannot see the last digit: from the digit alone the best "
      "guess is right about 70% of the time.\n");
  fmt::print("held-out example, LSTM:    {}\nheld-out example, Bi-LSTM: {}\n", uni.example,
             bi.example);

  bool ok = true;
  for (const Result* r : {&uni, &bi})
    if (!(r->last_loss < 0.9 * r->first_loss)) {
      fmt::print("FAIL: a loss did not go down ({:.3f} -> {:.3f})\n", r->first_loss, r->last_loss);
      ok = false;
    }
  if (!(bi.token_accuracy > uni.token_accuracy + 0.1)) {
    fmt::print("FAIL: the Bi-LSTM is not clearly more accurate\n");
    ok = false;
  }
  return ok ? 0 : 1;
} catch (const std::exception& e) {  // e.g. no memory for the sizes asked for
  fmt::print(stderr, "tagger: {}\n", e.what());
  return 2;
}

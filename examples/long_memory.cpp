// Long-range memory: why LSTM and GRU exist. Each sequence shows one random symbol per step;
// one of the first steps is marked, and after the last step the model must name the marked
// symbol: the answer lies T steps back, behind T distractors. A vanilla RNN, an LSTM and a
// GRU (the same driver, Adam with global-norm clipping) train on growing lengths T; the
// table shows the RNN's gradient vanishing over long distances while the gated cells learn.
//
//   long_memory                  # the full comparison (a few minutes on 2 cores)
//   long_memory --quick          # tiny settings: the smoke test
//   long_memory --lengths 20,100 --steps 2000 --hidden 128
//
// Exit status 0 when every LSTM and GRU run lowered its loss and, at the longest length, both
// reach a clearly higher accuracy than the RNN (of the models trained: --models rnn,lstm,gru
// by default; a model left out is neither checked nor shown); 2 on a bad option (named with
// its value) or an error.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>
#include <type_traits>
#include <vector>

#include <rewind/rewind.hpp>

#include "blas_threads.hpp"
#include "cli.hpp"
#include "progress.hpp"

using namespace rwd;

namespace {

struct Settings {
  int64_t symbols = 8;      // K: the alphabet; chance accuracy is 1/K
  int64_t mark_window = 3;  // the marked step is one of the first mark_window steps
  int64_t batch = 32;
  int64_t hidden = 64;
  int64_t max_steps = 1500;  // per run; a run stops early once it is solved
  int64_t eval_every = 50;
  int64_t eval_size = 512;
  double target = 0.99;  // accuracy on the held-out sequences that counts as solved
  double lr = 3e-3;
  bool chrono = true;  // chrono initialisation of the gate biases
  uint64_t seed = 1;
};

// One batch of the task: x [T, B, K + 1] (one-hot symbol, then the mark bit) and the answers.
void make_batch(const Settings& s, int64_t steps, int64_t batch, Generator& gen, Tensor<float>& x,
                std::vector<int64_t>& answers) {
  const int64_t width = s.symbols + 1;
  x = Tensor<float>::zeros({steps, batch, width});
  answers.assign(size_t(batch), 0);
  float* data = x.data();
  for (int64_t b = 0; b < batch; ++b) {
    const auto mark = int64_t(gen.below(uint64_t(std::min(s.mark_window, steps))));
    for (int64_t t = 0; t < steps; ++t) {
      const auto symbol = int64_t(gen.below(uint64_t(s.symbols)));
      float* row = data + (t * batch + b) * width;
      row[symbol] = 1;
      if (t == mark) {
        row[s.symbols] = 1;
        answers[size_t(b)] = symbol;
      }
    }
  }
}

// A sequence layer, then a linear read-out of its final hidden state.
template <class Layer>
class Recaller : public Module<float> {
 public:
  Recaller(Layer layer, int64_t hidden, int64_t symbols, Generator& gen)
      : rnn_(std::move(layer)), head_(hidden, symbols, gen), hidden_(hidden) {}

  Var<float> forward(Var<float> x) {  // x [T, B, K + 1] -> logits [B, K]
    return head_.forward(reshape(rnn_.forward(x).h_n(), {-1, hidden_}));
  }
  void visit(ModuleVisitor<float>& v) override {
    v.module("rnn", rnn_);
    v.module("head", head_);
  }

 private:
  Layer rnn_;
  Linear<float> head_;
  int64_t hidden_;
};

// Chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?",
// section 5): gates start out keeping their state over a random time scale up to the task's
// length, b_f = log(u) with u ~ U(1, T - 1), and for the LSTM b_i = -b_f. PyTorch's init
// leaves the forget gate near 0.5, so a cell forgets 1 - 2^-T of what it saw T steps ago and
// the gradient that should teach it to remember vanishes as it does in a plain RNN. Gate rows
// are PyTorch's: LSTM i, f, g, o (f = rows H..2H); GRU r, z, n (z = rows H..2H keeps h).
template <class Layer>
void chrono_init(Recaller<Layer>& model, int64_t hidden, int64_t steps, Generator& gen) {
  if constexpr (std::is_same_v<Layer, RNN<float>>) return;  // no gates
  const bool lstm = std::is_same_v<Layer, LSTM<float>>;
  for (auto& [name, p] : model.named_parameters()) {
    if (name == "rnn.bias_ih_l0")
      for (int64_t j = 0; j < 2 * hidden; ++j) p->value()[j] = 0;  // b_hh carries the sum
    if (name != "rnn.bias_hh_l0") continue;
    for (int64_t j = 0; j < hidden; ++j) {
      const double keep = std::log(gen.uniform(1.0, double(std::max<int64_t>(steps - 1, 2))));
      p->value()[hidden + j] = float(keep);        // f (LSTM) or z (GRU)
      p->value()[j] = lstm ? float(-keep) : 0.0f;  // i (LSTM); r (GRU) stays open
    }
  }
}

struct Result {
  bool trained = false;    // false for a model --models left out
  double accuracy = 0;     // on the held-out sequences, at the end
  double first_loss = 0;   // held-out loss before training
  double last_loss = 0;    // held-out loss at the end
  int64_t solved_at = -1;  // first step at which accuracy >= target, or -1
  int64_t steps = 0;       // steps trained
  double seconds = 0;
};

template <class Layer>
Result train(const std::string& name, Layer layer, const Settings& s, int64_t steps,
             examples::LossCsv& csv) {
  Generator gen(s.seed * 7919 + uint64_t(steps));
  Recaller<Layer> model(std::move(layer), s.hidden, s.symbols, gen);
  if (s.chrono) chrono_init(model, s.hidden, steps, gen);
  Adam<float> opt(model.named_parameters(), s.lr, {}, {.max_norm = 1.0});

  // Held-out sequences, the same for every model at this length.
  Generator eval_gen(s.seed * 104729 + uint64_t(steps));
  Tensor<float> eval_x;
  std::vector<int64_t> eval_y;
  make_batch(s, steps, s.eval_size, eval_gen, eval_x, eval_y);
  Graph<float> eval_graph;
  auto evaluate = [&](double& loss) {
    eval_graph.clear();
    Var<float> logits = model.forward(eval_graph.constant(eval_x));
    loss = cross_entropy(logits, eval_y).item();
    int64_t correct = 0;
    const auto v = logits.value();
    for (int64_t b = 0; b < s.eval_size; ++b) {
      const float* row = v.data() + b * s.symbols;
      correct += std::max_element(row, row + s.symbols) - row == eval_y[size_t(b)];
    }
    return double(correct) / double(s.eval_size);
  };

  Result r;
  r.trained = true;
  evaluate(r.first_loss);
  Generator data(s.seed * 31 + uint64_t(steps));
  Tensor<float> x;
  std::vector<int64_t> y;
  Graph<float> g;
  examples::Progress progress(fmt::format("{:>4} T={:<4}", name, steps), s.max_steps, &csv);
  for (int64_t step = 1; step <= s.max_steps; ++step) {
    make_batch(s, steps, s.batch, data, x, y);
    g.clear();
    Var<float> loss = cross_entropy(model.forward(g.constant(x)), y);
    g.backward(loss);
    opt.step();
    opt.zero_grad();
    progress.step(step, loss.item(), s.batch * steps);
    r.steps = step;
    if (step % s.eval_every == 0 && evaluate(r.last_loss) >= s.target) {
      r.solved_at = step;
      break;
    }
  }
  progress.finish();
  r.accuracy = evaluate(r.last_loss);
  r.seconds = progress.elapsed();
  return r;
}

std::string cell(const Result& r) {
  const std::string when = r.solved_at > 0 ? fmt::format("{}", r.solved_at) : "-";
  return fmt::format("{:6.1f}% {:>6}", 100 * r.accuracy, when);
}

}  // namespace

int main(int argc, char** argv) try {
  examples::use_one_blas_thread();
  examples::Args args(argc, argv,
                      "Long-range memory: recall a marked symbol after T steps with a vanilla "
                      "RNN, an LSTM and a GRU.");
  const bool quick = args.flag("quick", "tiny settings for a smoke test (seconds)");
  Settings s;
  using examples::at_least;
  std::vector<int64_t> lengths = args.integers(
      "lengths", quick ? std::vector<int64_t>{5, 30} : std::vector<int64_t>{10, 25, 50, 100, 200},
      "sequence lengths T", at_least(1));
  s.max_steps =
      args.integer("steps", quick ? 600 : s.max_steps, "most training steps per run", at_least(1));
  s.hidden = args.integer("hidden", quick ? 32 : s.hidden, "hidden size", at_least(1));
  s.batch = args.integer("batch", s.batch, "sequences per step", at_least(1));
  s.symbols = args.integer("symbols", s.symbols, "alphabet size K", at_least(2));
  s.lr = args.real("lr", s.lr, "Adam learning rate", examples::positive());
  s.chrono = !args.flag("no-chrono", "keep PyTorch's initial gate biases (no chrono init)");
  s.eval_every =
      args.integer("eval-every", quick ? 25 : s.eval_every, "steps between checks", at_least(1));
  s.eval_size =
      args.integer("eval-size", quick ? 256 : s.eval_size, "held-out sequences", at_least(1));
  s.seed = uint64_t(args.integer("seed", int64_t(s.seed), "random seed", at_least(0)));
  const std::string csv_path =
      args.output_file("csv", "long_memory_loss.csv", "loss curve CSV ('' for none)");
  const std::vector<std::string> models =
      args.names("models", {"rnn", "lstm", "gru"}, {"rnn", "lstm", "gru"}, "models to train");
  args.done();
  auto wanted = [&](const char* name) {
    return std::find(models.begin(), models.end(), name) != models.end();
  };
  std::sort(lengths.begin(), lengths.end());

  fmt::print(
      "Recall the marked symbol: {} symbols (chance {:.1f}%), marked within the first {} steps, "
      "answer after T steps.\nhidden {}, batch {}, Adam lr {} with global-norm clipping 1.0, "
      "at most {} steps per run, solved at {:.0f}% held-out accuracy.\n\n",
      s.symbols, 100.0 / double(s.symbols), s.mark_window, s.hidden, s.batch, s.lr, s.max_steps,
      100 * s.target);

  examples::LossCsv csv(csv_path);
  struct Row {
    int64_t steps;
    Result rnn, lstm, gru;
  };
  std::vector<Row> rows;
  Generator init(s.seed);
  double total_seconds = 0;
  for (int64_t t : lengths) {
    RecurrentOptions o{.input_size = s.symbols + 1, .hidden_size = s.hidden};
    Row row{t, {}, {}, {}};
    if (wanted("rnn")) row.rnn = train("RNN", RNN<float>(o, init), s, t, csv);
    if (wanted("lstm")) row.lstm = train("LSTM", LSTM<float>(o, init), s, t, csv);
    if (wanted("gru")) row.gru = train("GRU", GRU<float>(o, init), s, t, csv);
    total_seconds += row.rnn.seconds + row.lstm.seconds + row.gru.seconds;
    rows.push_back(row);
  }

  fmt::print("\nHeld-out accuracy after training, and the step at which it reached {:.0f}%:\n\n",
             100 * s.target);
  // One column per model trained (a model --models left out has none).
  struct Column {
    const char* name;
    Result Row::*result;
  };
  std::vector<Column> columns;
  for (const Column& c :
       {Column{"RNN", &Row::rnn}, Column{"LSTM", &Row::lstm}, Column{"GRU", &Row::gru}})
    if ((rows.front().*c.result).trained) columns.push_back(c);
  std::string header = fmt::format("{:>6}", "T"), rule = fmt::format("{:->6}", "");
  for (const Column& c : columns) {
    header += fmt::format(" | {:^14}", c.name);
    rule += fmt::format("-+-{:->14}", "");
  }
  header.erase(header.find_last_not_of(' ') + 1);
  fmt::print("{}\n{}\n", header, rule);
  for (const Row& r : rows) {
    fmt::print("{:>6}", r.steps);
    for (const Column& c : columns) fmt::print(" | {}", cell(r.*c.result));
    fmt::print("\n");
  }
  fmt::print("\nchance is {:.1f}%; '-' means not solved within {} steps. Training took {:.0f} s",
             100.0 / double(s.symbols), s.max_steps, total_seconds);
  if (csv.enabled()) fmt::print("; loss curves in {}", csv.path());
  fmt::print(".\n");

  // Exit status for the smoke test, over the models that were trained.
  bool ok = true;
  for (const Row& r : rows)
    for (const Result* res : {&r.lstm, &r.gru})
      if (res->trained && !(res->last_loss < res->first_loss)) {
        fmt::print("FAIL: a gated run at T={} did not lower its loss ({:.3f} -> {:.3f})\n", r.steps,
                   res->first_loss, res->last_loss);
        ok = false;
      }
  const Row& longest = rows.back();
  for (const Result* res : {&longest.lstm, &longest.gru})
    if (res->trained && longest.rnn.trained && !(res->accuracy > longest.rnn.accuracy + 0.2)) {
      fmt::print("FAIL: at T={} a gated cell ({:.1f}%) does not clearly beat the RNN ({:.1f}%)\n",
                 longest.steps, 100 * res->accuracy, 100 * longest.rnn.accuracy);
      ok = false;
    }
  return ok ? 0 : 1;
} catch (const std::exception& e) {  // e.g. no memory for the sizes asked for
  fmt::print(stderr, "long_memory: {}\n", e.what());
  return 2;
}

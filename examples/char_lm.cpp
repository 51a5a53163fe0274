// A character language model: Embedding -> LSTM -> Linear, trained with truncated
// backpropagation through time on a text file, or, without one, on arithmetic lines it makes
// up ("37+48=85"), which it then learns to complete. Samples text with a temperature, saves
// checkpoints (model + Adam state, safetensors; the model part is a PyTorch state_dict with
// the names embed.weight, lstm.weight_ih_l0, ..., head.bias) and resumes from them.
//
//   char_lm                                 # arithmetic; prints completions and accuracy
//   char_lm --text book.txt --steps 5000    # any text file
//   char_lm --resume char_lm.safetensors --steps 4000   # continue a run to step 4000
//   char_lm --quick                         # tiny settings: the smoke test
//
// Exit status 0 when the loss went down (on --resume: when the restored model starts far
// below an untrained model's loss, and ends no higher); 2 on bad input (a bad option, named
// with its value, before anything is written; a --resume whose checkpoint is already at or
// past --steps) or an error.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <rewind/rewind.hpp>

#include "blas_threads.hpp"
#include "cli.hpp"
#include "progress.hpp"

using namespace rwd;

namespace {

constexpr const char* kArithmeticVocab = "\n+0123456789=";

struct Settings {
  int64_t embed = 32;
  int64_t hidden = 256;
  int64_t layers = 1;
  int64_t batch = 32;
  int64_t bptt = 64;  // characters per truncated-BPTT chunk
  int64_t steps = 3000;
  double lr = 3e-3;
  uint64_t seed = 1;
};

// The model, named as a PyTorch module with attributes embed, lstm and head would be.
class CharLM : public Module<float> {
 public:
  CharLM(int64_t vocab, const Settings& s, Generator& gen)
      : embed_(vocab, s.embed, gen),
        lstm_({.input_size = s.embed, .hidden_size = s.hidden, .num_layers = s.layers}, gen),
        head_(s.hidden, vocab, gen) {}

  using State = LSTM<float>::State;

  // ids [T·B] time-major, state {h, c} [layers, B, H] -> logits [T·B, vocab] and the
  // final state.
  std::pair<Var<float>, State> forward(Graph<float>& g, std::span<const int64_t> ids, int64_t batch,
                                       const State& state) {
    const auto steps = int64_t(ids.size()) / batch;
    Var<float> x = reshape(embed_.forward(g, ids), {steps, batch, embed_.dim()});
    auto out = lstm_.forward(x, state);
    Var<float> logits = head_.forward(reshape(out.output, {steps * batch, -1}));
    return {logits, out.state};
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

// Where the characters come from: B parallel streams of a text, or of made-up sums.
class Corpus {
 public:
  // Arithmetic: every stream is an endless series of lines "a+b=c" with a, b in 0..99.
  Corpus(int64_t streams, uint64_t seed) : vocab_(kArithmeticVocab), gen_(seed) {
    pending_.resize(size_t(streams));
  }
  // A text file: B streams reading it from evenly spaced offsets, wrapping around.
  Corpus(const std::string& text, int64_t streams) : text_(text), gen_(0) {
    std::array<bool, 256> seen{};
    for (unsigned char c : text_) seen[c] = true;
    for (int c = 0; c < 256; ++c)
      if (seen[size_t(c)]) vocab_.push_back(char(c));
    for (int64_t s = 0; s < streams; ++s)
      offsets_.push_back(size_t(s) * text_.size() / size_t(streams));
  }

  [[nodiscard]] const std::string& vocab() const { return vocab_; }
  [[nodiscard]] int64_t id(char c) const { return int64_t(vocab_.find(c)); }

  // The next char of stream s.
  char next(int64_t s) {
    if (!text_.empty()) {
      size_t& o = offsets_[size_t(s)];
      const char c = text_[o];
      o = (o + 1) % text_.size();
      return c;
    }
    std::string& p = pending_[size_t(s)];
    if (p.empty()) {
      const auto a = int64_t(gen_.below(100));
      const auto b = int64_t(gen_.below(100));
      p = fmt::format("{}+{}={}\n", a, b, a + b);
      std::reverse(p.begin(), p.end());  // consumed from the back
    }
    const char c = p.back();
    p.pop_back();
    return c;
  }

  // One chunk: inputs and targets, [T·B] time-major; `carry` holds each stream's last char.
  void chunk(int64_t steps, std::vector<int64_t>& carry, std::vector<int64_t>& inputs,
             std::vector<int64_t>& targets) {
    const auto batch = int64_t(carry.size());
    inputs.resize(size_t(steps * batch));
    targets.resize(size_t(steps * batch));
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t b = 0; b < batch; ++b) {
        const size_t i = size_t(t * batch + b);
        inputs[i] = carry[size_t(b)];
        targets[i] = carry[size_t(b)] = id(next(b));
      }
  }

 private:
  std::string text_;
  std::string vocab_;
  Generator gen_;
  std::vector<std::string> pending_;
  std::vector<size_t> offsets_;
};

// Runs `prompt` through the model and continues it for up to `length` chars (stopping after
// `stop` when it is not 0), sampling at `temperature` (0: always the likeliest char).
std::string generate(CharLM& model, const Corpus& corpus, const Settings& s,
                     const std::string& prompt, int64_t length, double temperature, char stop,
                     Generator& gen) {
  Graph<float> g;
  Tensor<float> h = Tensor<float>::zeros({s.layers, 1, s.hidden});
  Tensor<float> c = h;
  std::string out;
  int64_t next = corpus.id(prompt.empty() ? '\n' : prompt[0]);
  for (size_t i = 0;; ++i) {
    g.clear();
    const int64_t ids[1] = {next};
    auto [logits, state] = model.forward(g, ids, 1, {g.constant(h), g.constant(c)});
    h = Tensor<float>(state[0].value());
    c = Tensor<float>(state[1].value());
    if (i + 1 < prompt.size()) {  // still reading the prompt
      next = corpus.id(prompt[i + 1]);
      continue;
    }
    const auto v = logits.value();
    const auto vocab = int64_t(corpus.vocab().size());
    if (temperature <= 0) {
      next = std::max_element(v.data(), v.data() + vocab) - v.data();
    } else {  // softmax(logits / temperature), then one draw
      const float top = *std::max_element(v.data(), v.data() + vocab);
      std::vector<double> p(static_cast<size_t>(vocab));
      double total = 0;
      for (int64_t k = 0; k < vocab; ++k)
        total += p[size_t(k)] = std::exp(double(v[k] - top) / temperature);
      double u = gen.uniform() * total;
      next = vocab - 1;
      for (int64_t k = 0; k < vocab; ++k)
        if ((u -= p[size_t(k)]) < 0) {
          next = k;
          break;
        }
    }
    const char ch = corpus.vocab()[size_t(next)];
    out.push_back(ch);
    if (int64_t(out.size()) >= length || (stop != 0 && ch == stop)) return out;
  }
}

// The share of made-up sums the model completes exactly, greedily.
double arithmetic_accuracy(CharLM& model, const Corpus& corpus, const Settings& s, int64_t n,
                           Generator& gen) {
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto a = int64_t(gen.below(100));
    const auto b = int64_t(gen.below(100));
    const std::string answer =
        generate(model, corpus, s, fmt::format("\n{}+{}=", a, b), 5, 0.0, '\n', gen);
    correct += answer == fmt::format("{}\n", a + b);
  }
  return double(correct) / double(n);
}

// The alphabet as hex bytes, for the checkpoint's metadata (JSON strings must be UTF-8; a
// text's bytes need not be).
std::string hex(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  examples::use_one_blas_thread();
  examples::Args args(argc, argv,
                      "Character-level LSTM language model with truncated BPTT, sampling and "
                      "checkpoints.");
  const bool quick = args.flag("quick", "tiny settings for a smoke test (seconds)");
  Settings s;
  using examples::at_least;
  const std::string text_path = args.input_file("text", "", "train on this text file");
  s.steps = args.integer("steps", quick ? 200 : s.steps, "train until this step", at_least(1));
  s.hidden = args.integer("hidden", quick ? 32 : s.hidden, "LSTM hidden size", at_least(1));
  s.embed = args.integer("embed", quick ? 8 : s.embed, "embedding size", at_least(1));
  s.layers = args.integer("layers", s.layers, "LSTM layers", at_least(1));
  s.batch = args.integer("batch", quick ? 8 : s.batch, "parallel streams per step", at_least(1));
  s.bptt =
      args.integer("bptt", quick ? 16 : s.bptt, "characters per truncated-BPTT chunk", at_least(1));
  s.lr = args.real("lr", quick ? 1e-2 : s.lr, "Adam learning rate", examples::positive());
  s.seed = uint64_t(args.integer("seed", int64_t(s.seed), "random seed", at_least(0)));
  const double temperature =
      args.real("temperature", 0.8, "sampling temperature (0: the likeliest char)", at_least(0));
  const std::string save =
      args.output_file("save", "char_lm.safetensors", "checkpoint to write ('' for none)");
  const int64_t save_every = args.integer(
      "save-every", 500, "steps between checkpoints (0: only at the end)", at_least(0));
  const std::string resume = args.input_file("resume", "", "checkpoint to continue from");
  const std::string csv_path =
      args.output_file("csv", "char_lm_loss.csv", "loss curve CSV ('' for none)");
  args.done();

  // The data.
  std::string text;
  if (!text_path.empty()) {
    std::ifstream in(text_path, std::ios::binary);
    if (!in) {
      fmt::print(stderr, "cannot read '{}'\n", text_path);
      return 2;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (text.size() < size_t(s.batch * (s.bptt + 1))) {
      fmt::print(stderr, "'{}' is too short: {} bytes\n", text_path, text.size());
      return 2;
    }
  }
  Corpus corpus = text.empty() ? Corpus(s.batch, s.seed) : Corpus(text, s.batch);
  const auto vocab = int64_t(corpus.vocab().size());

  // A resumed run takes the model's sizes and its step from the checkpoint's metadata.
  int64_t start = 0;
  bool same_data = false;  // the saved run read the same streams: continue them
  if (!resume.empty()) {
    try {
      const auto meta = load_safetensors_metadata(resume);
      if (meta.count("vocab") == 0 || meta.at("vocab") != hex(corpus.vocab())) {
        fmt::print(stderr, "'{}' was not trained on this alphabet\n", resume);
        return 2;
      }
      s.hidden = std::stoll(meta.at("hidden"));
      s.embed = std::stoll(meta.at("embed"));
      s.layers = std::stoll(meta.at("layers"));
      start = std::stoll(meta.at("step"));
      const std::string data = fmt::format("{} {} {}", s.batch, s.bptt, s.seed);
      same_data = meta.count("data") != 0 && meta.at("data") == data;
      if (!same_data)
        fmt::print(
            "note: '{}' was trained with other --batch/--bptt/--seed ({} here); the "
            "data streams start again from the beginning\n",
            resume, data);
    } catch (const std::exception& e) {  // rwd::IoError, or metadata that is not ours
      fmt::print(stderr, "cannot resume from '{}': {}\n", resume, e.what());
      return 2;
    }
    // --steps is the step to train until, not a number of further steps: at or below the
    // checkpoint's there is nothing to train (and nothing to check the resumed model with).
    if (s.steps <= start) {
      fmt::print(stderr,
                 "nothing to train: '{}' was saved at step {} and --steps {} is not beyond it "
                 "(--steps is the step to train until; pass more than {})\n",
                 resume, start, s.steps, start);
      return 2;
    }
  }
  fmt::print(
      "data: {} ({} distinct chars); model: embed {}, LSTM {}x{}, {} streams x {} chars per "
      "step\n",
      text.empty() ? "made-up sums a+b=c" : text_path, vocab, s.embed, s.layers, s.hidden, s.batch,
      s.bptt);

  Generator gen(s.seed);
  CharLM model(vocab, s, gen);
  Adam<float> opt(model.named_parameters(), s.lr, {}, {.max_norm = 1.0});
  const double untrained = std::log(double(vocab));  // the loss of a uniform guess
  if (!resume.empty()) {
    try {
      load_checkpoint(resume, model, &opt);  // weights, Adam's moments and step counts, lr
    } catch (const rwd::Error& e) {
      fmt::print(stderr, "cannot resume: {}\n", e.what());
      return 2;
    }
    fmt::print("resumed from '{}' at step {}\n", resume, start);
  }
  auto checkpoint = [&](int64_t step) {
    if (save.empty()) return;
    save_checkpoint(save, model, &opt,
                    {{"step", std::to_string(step)},
                     {"vocab", hex(corpus.vocab())},
                     {"hidden", std::to_string(s.hidden)},
                     {"embed", std::to_string(s.embed)},
                     {"layers", std::to_string(s.layers)},
                     {"data", fmt::format("{} {} {}", s.batch, s.bptt, s.seed)}});
  };

  // Training: each step continues every stream where the last one stopped; the LSTM state
  // carries over as a constant (truncated BPTT: no gradient flows into the previous chunk).
  examples::LossCsv csv(csv_path);
  examples::Progress progress("char_lm", s.steps, &csv, start);
  Tensor<float> h = Tensor<float>::zeros({s.layers, s.batch, s.hidden});
  Tensor<float> c = h;
  std::vector<int64_t> carry(size_t(s.batch), corpus.id('\n'));
  std::vector<int64_t> inputs, targets;
  // A resumed run reads on where the saved one stopped: the streams are replayed up to its
  // step (cheap: characters only), when it read them with the same batch, bptt and seed. The
  // LSTM state it carried starts again from zeros.
  if (same_data)
    for (int64_t step = 1; step <= start; ++step) corpus.chunk(s.bptt, carry, inputs, targets);
  Graph<float> g;
  double first_loss = 0, recent_loss = 0;
  const int64_t window = std::max<int64_t>(1, (s.steps - start) / 10);
  for (int64_t step = start + 1; step <= s.steps; ++step) {
    corpus.chunk(s.bptt, carry, inputs, targets);
    g.clear();
    auto [logits, state] = model.forward(g, inputs, s.batch, {g.constant(h), g.constant(c)});
    Var<float> loss = cross_entropy(logits, targets);
    g.backward(loss);
    opt.step();
    opt.zero_grad();
    h = Tensor<float>(state[0].value());
    c = Tensor<float>(state[1].value());
    if (step == start + 1) first_loss = loss.item();
    if (s.steps - step < window) recent_loss += loss.item() / double(window);
    progress.step(step, loss.item(), s.batch * s.bptt);
    if (save_every > 0 && step % save_every == 0 && step < s.steps) checkpoint(step);
  }
  progress.finish();
  checkpoint(s.steps);
  fmt::print(
      "loss {:.3f} at the first step, {:.3f} over the last {} steps (untrained: {:.3f}); "
      "{:.0f} chars/s",
      first_loss, recent_loss, window, untrained, progress.tokens_per_second());
  if (!save.empty()) fmt::print("; checkpoint '{}' at step {}", save, s.steps);
  fmt::print("\n\n");

  // What it learned.
  Generator sample_gen(s.seed + 1);
  if (text.empty()) {
    fmt::print("completions (greedy):\n");
    for (const char* prompt : {"12+34=", "57+68=", "99+1=", "40+40=", "7+85="})
      fmt::print("  {}{}", prompt,
                 generate(model, corpus, s, std::string("\n") + prompt, 5, 0.0, '\n', sample_gen));
    const double acc = arithmetic_accuracy(model, corpus, s, quick ? 20 : 200, sample_gen);
    fmt::print("exact completions of {} new sums: {:.1f}%\n", quick ? 20 : 200, 100 * acc);
  }
  fmt::print("\nsample at temperature {}:\n{}\n", temperature,
             generate(model, corpus, s, "\n", quick ? 60 : 300, temperature, 0, sample_gen));

  // Exit status for the smoke tests.
  if (!resume.empty()) {
    if (!(first_loss < 0.8 * untrained && recent_loss <= first_loss * 1.1)) {
      fmt::print("FAIL: the resumed model did not continue from its checkpoint\n");
      return 1;
    }
  } else if (!(recent_loss < 0.8 * first_loss)) {
    fmt::print("FAIL: the loss did not go down enough\n");
    return 1;
  }
  return 0;
} catch (const std::exception& e) {  // e.g. no memory for the sizes asked for
  fmt::print(stderr, "char_lm: {}\n", e.what());
  return 2;
}

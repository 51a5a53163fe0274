// Two graphs on two threads at once never interfere: each thread trains its own model on its
// own graph and must get, bit for bit, what the same training gives when run alone. Built
// with ThreadSanitizer by scripts/run-tests.sh (REWIND_TSAN=ON), which also fails on any data
// race it reports. Global state the library keeps (round ids, extension slots, the thread
// budget, the CPU dispatch) is exercised from both threads: a bidirectional layer with two
// threads, graph extensions made on first use, anomaly mode, clear and reuse.
#include <cstdio>
#include <thread>
#include <vector>

#include <rewind/rewind.hpp>

namespace {

using namespace rwd;

// Trains a 2-layer bidirectional LSTM with Adam for a few steps; returns its final loss and
// every parameter's value, flattened.
std::vector<float> train(uint64_t seed) {
  Generator gen(seed);
  RecurrentOptions o;
  o.input_size = 5;
  o.hidden_size = 8;
  o.num_layers = 2;
  o.bidirectional = true;
  LSTM<float> lstm(o, gen);
  Linear<float> head(16, 4, gen);
  std::vector<NamedParameter<float>> params = lstm.named_parameters();
  for (auto& p : head.named_parameters()) params.push_back(p);
  Adam<float> opt(params, 1e-2);
  const Tensor<float> x = Tensor<float>::normal({6, 3, 5}, 0, 1, gen);  // [T, B, I]
  const std::vector<int64_t> targets = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1};
  Graph<float> g;
  g.set_anomaly_detection(seed % 2 == 0);
  float loss_value = 0;
  for (int step = 0; step < 4; ++step) {
    g.clear();
    auto out = lstm.forward(g.input(x));
    auto logits = head.forward(reshape(out.output, {-1, 16}));
    auto loss = cross_entropy(logits, targets);
    g.backward(loss);
    loss_value = loss.item();
    opt.step();
    opt.zero_grad();
  }
  std::vector<float> result = {loss_value};
  for (auto& p : params)
    for (int64_t i = 0; i < p.param->numel(); ++i) result.push_back(p.param->value()[i]);
  return result;
}

}  // namespace

int main() {
  set_num_threads(2);  // each bidirectional layer runs its reverse direction on a worker
  const std::vector<float> alone_a = train(1);
  const std::vector<float> alone_b = train(2);
  std::vector<float> together_a, together_b;
  std::thread ta([&] { together_a = train(1); });
  std::thread tb([&] { together_b = train(2); });
  ta.join();
  tb.join();
  const bool same = together_a == alone_a && together_b == alone_b;
  std::printf("two graphs on two threads: %s (%zu values each)\n",
              same ? "bit for bit the same as alone" : "DIFFERENT from alone", alone_a.size());
  return same ? 0 : 1;
}

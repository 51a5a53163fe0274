// cross_entropy and mse: forward and backward.
#include "rewind/ops/loss.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

// What forward saves for backward, in the graph's arena.
template <Scalar T>
struct CrossEntropyAttrs {
  const int64_t* targets;  // [B]
  const T* probs;          // [B, C] softmax probabilities p
};

// y = -(1/B) sum_b log p[b, t_b];  dlogits[b, c] += dy * (p[b, c] - [c == t_b]) / B
template <Scalar T>
void cross_entropy_backward(const Backward<T>& b) {
  T* dx = b.dx(0);
  if (dx == nullptr) return;
  const int64_t batch = b.x_shape(0)[0];
  const int64_t classes = b.x_shape(0)[1];
  const auto& [targets, p] = b.template attrs<CrossEntropyAttrs<T>>();
  const T g = b.dy()[0] / T(batch);
  for (int64_t r = 0; r < batch; ++r) {
    T* d = dx + r * classes;
    const T* pr = p + r * classes;
    for (int64_t c = 0; c < classes; ++c) d[c] += g * pr[c];
    d[targets[r]] -= g;
  }
}

// y = mean((a - b)^2);  da += dy * 2 (a - b) / n,  db -= the same
template <Scalar T>
void mse_backward(const Backward<T>& b) {
  const int64_t n = b.x_shape(0).numel();
  const T* av = b.x(0);
  const T* bv = b.x(1);
  const T g = T(2) * b.dy()[0] / T(n);
  if (T* da = b.dx(0))
    for (int64_t i = 0; i < n; ++i) da[i] += g * (av[i] - bv[i]);
  if (T* db = b.dx(1))
    for (int64_t i = 0; i < n; ++i) db[i] -= g * (av[i] - bv[i]);
}

template <Scalar T>
const OpDef<T> kCrossEntropy{"cross_entropy", &cross_entropy_backward<T>};
template <Scalar T>
const OpDef<T> kMse{"mse", &mse_backward<T>};

}  // namespace

template <Scalar T>
Var<T> cross_entropy(Var<T> logits, std::span<const int64_t> targets) {
  Graph<T>& g = graph_of("cross_entropy", {logits});
  const Node<T>& n = g.node(logits.id());
  if (n.shape.rank() != 2)
    throw ShapeError(
        fmt::format("cross_entropy: logits must be [batch, classes], got {}", n.shape.str()));
  const int64_t batch = n.shape[0];
  const int64_t classes = n.shape[1];
  if (int64_t(targets.size()) != batch)
    throw ShapeError(fmt::format("cross_entropy: {} targets for a batch of {} (logits {})",
                                 targets.size(), batch, n.shape.str()));
  if (batch == 0)
    throw ShapeError(fmt::format("cross_entropy: empty batch (logits {})", n.shape.str()));
  for (size_t r = 0; r < targets.size(); ++r)
    if (targets[r] < 0 || targets[r] >= classes)
      throw IndexError(
          fmt::format("cross_entropy: target {} at batch row {} is out of range for {} classes",
                      targets[r], r, classes));
  // Kept for backward: the ids and the probabilities.
  auto* ids = g.template allocate<int64_t>(size_t(batch));
  std::copy(targets.begin(), targets.end(), ids);
  T* p = g.template allocate<T>(size_t(batch * classes));
  const T* x = n.value;
  double loss = 0;
  for (int64_t r = 0; r < batch; ++r) {
    const T* xr = x + r * classes;
    T* pr = p + r * classes;
    const T mx = *std::max_element(xr, xr + classes);
    double total = 0;
    for (int64_t c = 0; c < classes; ++c) total += std::exp(double(xr[c] - mx));
    const double lse = double(mx) + std::log(total);
    for (int64_t c = 0; c < classes; ++c) pr[c] = T(std::exp(double(xr[c]) - lse));
    loss += lse - double(xr[ids[r]]);
  }
  auto [y, out] = g.record(kCrossEntropy<T>, {logits}, Shape{}, CrossEntropyAttrs<T>{ids, p});
  out[0] = T(loss / double(batch));
  return y;
}

template <Scalar T>
Var<T> mse(Var<T> prediction, Var<T> target) {
  Graph<T>& g = graph_of("mse", {prediction, target});
  const Node<T>& a = g.node(prediction.id());
  const Node<T>& b = g.node(target.id());
  if (!(a.shape == b.shape))
    throw ShapeError(fmt::format("mse: prediction has shape {} but target has shape {}",
                                 a.shape.str(), b.shape.str()));
  const int64_t n = a.shape.numel();
  if (n == 0) throw ShapeError(fmt::format("mse: empty inputs (shape {})", a.shape.str()));
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = double(a.value[i]) - double(b.value[i]);
    total += d * d;
  }
  auto [y, out] = g.record(kMse<T>, {prediction, target}, Shape{});
  out[0] = T(total / double(n));
  return y;
}

template Var<float> cross_entropy(Var<float>, std::span<const int64_t>);
template Var<double> cross_entropy(Var<double>, std::span<const int64_t>);
template Var<float> mse(Var<float>, Var<float>);
template Var<double> mse(Var<double>, Var<double>);

namespace detail {
const OpInfo kLossOps[] = {{kCrossEntropy<double>.name, true}, {kMse<double>.name, true}};
std::span<const OpInfo> loss_ops() {
  return kLossOps;
}
}  // namespace detail

}  // namespace rwd

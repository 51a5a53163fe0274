// cross_entropy, nll_loss, binary_cross_entropy_with_logits and mse: forward and backward.
// The class-id losses share their checks, what they keep for backward (ClassLossSaved) and
// the reduction (write_loss); PyTorch's semantics are spelled out in ops/loss.hpp.
#include "rewind/ops/loss.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

constexpr int64_t kIgnored = -1;  // an ignored row's target, as saved for backward

// What cross_entropy's and nll_loss's forward keep for the backward, in the graph's arena
// (more than a node's attribute slot holds).
template <Scalar T>
struct ClassLossSaved {
  const int64_t* targets;  // [B], kIgnored for an ignored row
  const T* row_weight;     // [B] w[t_b], 0 for an ignored row
  const T* class_weight;   // [C], or nullptr for all 1
  const T* probs;          // [B, C] softmax of the logits (cross_entropy only)
  double smoothing;        // ε (cross_entropy only)
  double scale;            // 1 / Σ_b row_weight for the mean (0 when that is 0), else 1
  Reduction reduction;
};
template <Scalar T>
struct ClassLossAttrs {
  const ClassLossSaved<T>* saved;
};

// Row b's share of the gradient arriving at the loss: dy[b] unreduced, else dy[0] scaled.
template <Scalar T>
T row_grad(const Backward<T>& b, const ClassLossSaved<T>& s, int64_t row) {
  return s.reduction == Reduction::kNone ? b.dy()[row] : b.dy()[0] * T(s.scale);
}

// With q_b = (1 - ε) w[t_b] onehot(t_b) + (ε / C) w, w the class weights (all 1 without):
// loss_b = -Σ_c q_bc log p_bc;  dlogits[b, c] += g_b (p_bc Σ_c' q_bc' - q_bc),
// g_b row b's share of dy (none for an ignored row, whose q_b is 0).
template <Scalar T>
void cross_entropy_backward(const Backward<T>& b) {
  T* dx = b.dx(0);
  if (dx == nullptr) return;
  const auto& s = *b.template attrs<ClassLossAttrs<T>>().saved;
  const int64_t batch = b.x_shape(0)[0];
  const int64_t classes = b.x_shape(0)[1];
  const T* w = s.class_weight;
  const T spread = T(s.smoothing / double(classes));  // ε / C
  const T weight_total = w != nullptr ? std::accumulate(w, w + classes, T(0)) : T(classes);
  for (int64_t r = 0; r < batch; ++r) {
    if (s.targets[r] == kIgnored) continue;
    const T g = row_grad(b, s, r);
    const T hot = T(1 - s.smoothing) * s.row_weight[r];
    const T q_total = hot + spread * weight_total;
    T* d = dx + r * classes;
    const T* p = s.probs + r * classes;
    for (int64_t c = 0; c < classes; ++c)
      d[c] += g * (p[c] * q_total - spread * (w != nullptr ? w[c] : T(1)));
    d[s.targets[r]] -= g * hot;
  }
}

// loss_b = -w[t_b] log_probs[b, t_b];  dlog_probs[b, t_b] -= g_b w[t_b]
template <Scalar T>
void nll_loss_backward(const Backward<T>& b) {
  T* dx = b.dx(0);
  if (dx == nullptr) return;
  const auto& s = *b.template attrs<ClassLossAttrs<T>>().saved;
  const int64_t batch = b.x_shape(0)[0];
  const int64_t classes = b.x_shape(0)[1];
  for (int64_t r = 0; r < batch; ++r)
    if (s.targets[r] != kIgnored)
      dx[r * classes + s.targets[r]] -= row_grad(b, s, r) * s.row_weight[r];
}

// binary_cross_entropy_with_logits's attributes.
template <Scalar T>
struct BceAttrs {
  const T* pos_weight;  // [C] in the graph's arena, C the last dimension; nullptr for all 1
  double scale;         // 1 / numel for the mean, else 1
  Reduction reduction;
};

// log(1 + exp(-|x|)): softplus(x) = this + max(x, 0), softplus(-x) = this + max(-x, 0).
template <Scalar T>
T softplus_tail(T x) {
  return std::log1p(std::exp(-std::abs(x)));
}
// 1 / (1 + exp(-x)) without overflow.
template <Scalar T>
T stable_sigmoid(T x) {
  const T e = std::exp(-std::abs(x));
  return x >= 0 ? T(1) / (T(1) + e) : e / (T(1) + e);
}

// Per element, with pw the positive weight and lw = 1 + (pw - 1) t:
//   y = (1 - t) x + lw softplus(-x)    (= -[pw t log σ(x) + (1 - t) log(1 - σ(x))])
//   dx += g (lw σ(x) - pw t),   dt += g (pw softplus(-x) - softplus(x))
template <Scalar T>
void bce_with_logits_backward(const Backward<T>& b) {
  const auto& [pos_weight, scale, reduction] = b.template attrs<BceAttrs<T>>();
  const Shape& xs = b.x_shape(0);
  const int64_t classes = xs[xs.rank() - 1];
  const T* x = b.x(0);
  const T* t = b.x(1);
  const T* dy = b.dy();
  T* dx = b.dx(0);
  T* dt = b.dx(1);
  for (int64_t i = 0; i < xs.numel(); ++i) {
    const T g = reduction == Reduction::kNone ? dy[i] : dy[0] * T(scale);
    const T pw = pos_weight != nullptr ? pos_weight[i % classes] : T(1);
    if (dx != nullptr)
      dx[i] += g * ((T(1) + (pw - T(1)) * t[i]) * stable_sigmoid(x[i]) - pw * t[i]);
    const T tail = softplus_tail(x[i]);
    if (dt != nullptr)
      dt[i] += g * (pw * (tail + std::max(-x[i], T(0))) - (tail + std::max(x[i], T(0))));
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
const OpDef<T> kNllLoss{"nll_loss", &nll_loss_backward<T>};
template <Scalar T>
const OpDef<T> kBceWithLogits{"binary_cross_entropy_with_logits", &bce_with_logits_backward<T>};
template <Scalar T>
const OpDef<T> kMse{"mse", &mse_backward<T>};

// Throws unless x is [B, C] with B > 0, there are B targets, each in [0, C) or ignore_index,
// and `weight` is empty or C long.
void check_class_loss(const char* op, const Shape& xs, std::span<const int64_t> targets,
                      std::span<const double> weight, int64_t ignore_index) {
  if (xs.rank() != 2)
    throw ShapeError(fmt::format("{}: input must be [batch, classes], got {}", op, xs.str()));
  if (int64_t(targets.size()) != xs[0])
    throw ShapeError(fmt::format("{}: {} targets for a batch of {} (input {})", op, targets.size(),
                                 xs[0], xs.str()));
  if (xs[0] == 0) throw ShapeError(fmt::format("{}: empty batch (input {})", op, xs.str()));
  if (!weight.empty() && int64_t(weight.size()) != xs[1])
    throw ShapeError(fmt::format("{}: {} class weights for {} classes (input {})", op,
                                 weight.size(), xs[1], xs.str()));
  for (size_t r = 0; r < targets.size(); ++r)
    if (targets[r] != ignore_index && (targets[r] < 0 || targets[r] >= xs[1]))
      throw IndexError(fmt::format(
          "{}: target {} at batch row {} is out of range for {} classes (ignore_index {})", op,
          targets[r], r, xs[1], ignore_index));
}

// The loss's shape: one value per row unreduced, else rank 0.
Shape loss_shape(Reduction reduction, const Shape& per_row) {
  return reduction == Reduction::kNone ? per_row : Shape{};
}

// Keeps the targets (kIgnored where ignored), their weights and the class weights in the
// graph's arena. Returns the saved data with `scale` set for the reduction, and the mean's
// divisor Σ_b w[t_b] over the rows not ignored in `divisor`.
template <Scalar T>
ClassLossSaved<T>& save_targets(Graph<T>& g, std::span<const int64_t> targets,
                                std::span<const double> weight, int64_t ignore_index,
                                Reduction reduction, double& divisor) {
  auto* ids = g.template allocate<int64_t>(targets.size());
  T* row_weight = g.template allocate<T>(targets.size());
  T* class_weight = weight.empty() ? nullptr : g.template allocate<T>(weight.size());
  std::copy(weight.begin(), weight.end(), class_weight);
  divisor = 0;
  for (size_t r = 0; r < targets.size(); ++r) {
    const bool ignored = targets[r] == ignore_index;
    ids[r] = ignored ? kIgnored : targets[r];
    row_weight[r] = ignored ? T(0) : class_weight != nullptr ? class_weight[ids[r]] : T(1);
    divisor += double(row_weight[r]);
  }
  const double scale = reduction != Reduction::kMean ? 1.0 : divisor > 0 ? 1.0 / divisor : 0.0;
  return *std::construct_at(
      g.template allocate<ClassLossSaved<T>>(1),
      ClassLossSaved<T>{ids, row_weight, class_weight, nullptr, 0.0, scale, reduction});
}

// Writes row_loss(r) for each of `rows` rows into out unreduced, else their sum, or their
// sum over `divisor` for the mean, into out[0].
template <Scalar T, class RowLoss>
void write_loss(T* out, int64_t rows, Reduction reduction, double divisor, RowLoss&& row_loss) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const double loss = row_loss(r);
    if (reduction == Reduction::kNone) out[r] = T(loss);
    total += loss;
  }
  if (reduction != Reduction::kNone)
    out[0] = T(reduction == Reduction::kMean ? total / divisor : total);
}

// Row b of cross_entropy: fills p with softmax(x) and returns -Σ_c q_c log p_c (q as above
// cross_entropy_backward), log p_c = x_c - lse computed with the max taken out.
template <Scalar T>
double cross_entropy_row(const T* x, int64_t classes, const ClassLossSaved<T>& s, int64_t row,
                         T* p) {
  const T mx = *std::max_element(x, x + classes);
  double total = 0;
  for (int64_t c = 0; c < classes; ++c) total += std::exp(double(x[c] - mx));
  const double lse = double(mx) + std::log(total);
  for (int64_t c = 0; c < classes; ++c) p[c] = T(std::exp(double(x[c]) - lse));
  const int64_t t = s.targets[row];
  if (t == kIgnored) return 0;
  double smooth = 0;  // Σ_c w_c (lse - x_c)
  if (s.smoothing != 0)
    for (int64_t c = 0; c < classes; ++c)
      smooth += (s.class_weight != nullptr ? double(s.class_weight[c]) : 1.0) * (lse - x[c]);
  return (1 - s.smoothing) * double(s.row_weight[row]) * (lse - double(x[t])) +
         s.smoothing / double(classes) * smooth;
}

}  // namespace

template <Scalar T>
Var<T> cross_entropy(Var<T> logits, std::span<const int64_t> targets) {
  return cross_entropy(logits, targets, CrossEntropyOptions{});
}

template <Scalar T>
Var<T> cross_entropy(Var<T> logits, std::span<const int64_t> targets,
                     const CrossEntropyOptions& options) {
  Graph<T>& g = graph_of("cross_entropy", {logits});
  const Shape xs = g.node(logits.id()).shape;
  check_class_loss("cross_entropy", xs, targets, options.weight, options.ignore_index);
  const double smoothing = options.label_smoothing;
  if (!(smoothing >= 0 && smoothing <= 1))
    throw ValueError(
        fmt::format("cross_entropy: label_smoothing must be in [0, 1], got {}", smoothing));
  const int64_t batch = xs[0];
  const int64_t classes = xs[1];
  double divisor = 0;
  ClassLossSaved<T>& s =
      save_targets(g, targets, options.weight, options.ignore_index, options.reduction, divisor);
  T* p = g.template allocate<T>(size_t(batch * classes));  // [B, C]
  s.probs = p;
  s.smoothing = smoothing;
  const T* x = g.node(logits.id()).value;  // [B, C]
  auto [y, out] = g.record(kCrossEntropy<T>, {logits}, loss_shape(options.reduction, {batch}),
                           ClassLossAttrs<T>{&s});
  write_loss(out, batch, options.reduction, divisor, [&](int64_t r) {
    return cross_entropy_row(x + r * classes, classes, s, r, p + r * classes);
  });
  return y;
}

template <Scalar T>
Var<T> nll_loss(Var<T> log_probs, std::span<const int64_t> targets, const NllLossOptions& options) {
  Graph<T>& g = graph_of("nll_loss", {log_probs});
  const Shape xs = g.node(log_probs.id()).shape;
  check_class_loss("nll_loss", xs, targets, options.weight, options.ignore_index);
  double divisor = 0;
  const ClassLossSaved<T>& s =
      save_targets(g, targets, options.weight, options.ignore_index, options.reduction, divisor);
  const T* x = g.node(log_probs.id()).value;  // [B, C]
  auto [y, out] = g.record(kNllLoss<T>, {log_probs}, loss_shape(options.reduction, {xs[0]}),
                           ClassLossAttrs<T>{&s});
  write_loss(out, xs[0], options.reduction, divisor, [&](int64_t r) {
    const int64_t t = s.targets[r];
    return t == kIgnored ? 0.0 : -double(s.row_weight[r]) * double(x[r * xs[1] + t]);
  });
  return y;
}

template <Scalar T>
Var<T> binary_cross_entropy_with_logits(Var<T> logits, Var<T> targets,
                                        const BceWithLogitsOptions& options) {
  const char* op = "binary_cross_entropy_with_logits";
  Graph<T>& g = graph_of(op, {logits, targets});
  const Shape xs = g.node(logits.id()).shape;
  const Shape ts = g.node(targets.id()).shape;
  if (!(xs == ts))
    throw ShapeError(
        fmt::format("{}: logits have shape {} but targets have shape {}", op, xs.str(), ts.str()));
  const int64_t n = xs.numel();
  if (n == 0) throw ShapeError(fmt::format("{}: empty inputs (shape {})", op, xs.str()));
  const std::span<const double> pw = options.pos_weight;
  if (!pw.empty() && (xs.rank() == 0 || int64_t(pw.size()) != xs[xs.rank() - 1]))
    throw ShapeError(fmt::format(
        "{}: {} positive weights for logits of shape {}; one per class (the last axis) needed", op,
        pw.size(), xs.str()));
  const int64_t classes = xs.rank() > 0 ? xs[xs.rank() - 1] : 1;
  T* pos_weight = pw.empty() ? nullptr : g.template allocate<T>(pw.size());  // [C]
  std::copy(pw.begin(), pw.end(), pos_weight);
  const T* x = g.node(logits.id()).value;
  const T* t = g.node(targets.id()).value;
  const Reduction reduction = options.reduction;
  const double scale = reduction == Reduction::kMean ? 1.0 / double(n) : 1.0;
  auto [y, out] = g.record(kBceWithLogits<T>, {logits, targets}, loss_shape(reduction, xs),
                           BceAttrs<T>{pos_weight, scale, reduction});
  write_loss(out, n, reduction, double(n), [&](int64_t i) {
    const double xi = x[i];
    const double ti = t[i];
    const double w = pos_weight != nullptr ? double(pos_weight[i % classes]) : 1.0;
    const double softplus_neg = std::log1p(std::exp(-std::abs(xi))) + std::max(-xi, 0.0);
    return (1 - ti) * xi + (1 + (w - 1) * ti) * softplus_neg;
  });
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

#define REWIND_INSTANTIATE(T)                                                                    \
  template Var<T> cross_entropy(Var<T>, std::span<const int64_t>);                               \
  template Var<T> cross_entropy(Var<T>, std::span<const int64_t>, const CrossEntropyOptions&);   \
  template Var<T> nll_loss(Var<T>, std::span<const int64_t>, const NllLossOptions&);             \
  template Var<T> binary_cross_entropy_with_logits(Var<T>, Var<T>, const BceWithLogitsOptions&); \
  template Var<T> mse(Var<T>, Var<T>);
REWIND_INSTANTIATE(float)
REWIND_INSTANTIATE(double)
#undef REWIND_INSTANTIATE

namespace detail {
const OpInfo kLossOps[] = {
    {kCrossEntropy<double>.name, true},
    {kNllLoss<double>.name, true},
    {kBceWithLogits<double>.name, true},
    {kMse<double>.name, true},
};
std::span<const OpInfo> loss_ops() {
  return kLossOps;
}
}  // namespace detail

}  // namespace rwd

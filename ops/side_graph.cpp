// side_enter and side_exit: forward and backward.
//
// Note [Side graphs]: the entry node is recorded before the side computation and the exit
// node after it, so in the main graph's reverse walk the exit comes first: its backward hands
// the exit's gradient to the side graph and starts the side backward on the worker, then
// returns. The main walk continues through the nodes recorded in between (the other
// direction) while the worker runs. The entry's backward waits for the worker and adds the
// side inputs' gradients into the main inputs'. Both graphs are only ever touched by one
// thread at a time; parameters read by the side are not read by the main part, so their
// gradients are not shared either.
#include "rewind/ops/side_graph.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "rewind/ops/registry.hpp"

namespace rwd {
namespace {

// The side graphs joined into a graph and the workers still running their backward
// (core/extension.hpp). Refuses a backward when a side graph has been recorded again since
// it was joined, and waits for running workers before the graph's memory can go away.
template <Scalar T>
class SideGraphs final : public GraphExtension<T> {
 public:
  void joined(SideLink<T>* link) { links_.push_back(link); }
  void started(Worker* worker) { pending_.push_back(worker); }
  void finished(Worker* worker) {
    auto it = std::find(pending_.begin(), pending_.end(), worker);
    if (it != pending_.end()) pending_.erase(it);
  }

  void before_backward(Graph<T>& /*g*/) override {
    for (size_t k = 0; k < links_.size(); ++k)
      if (links_[k]->side->round() != links_[k]->side_round)
        throw GraphError(fmt::format(
            "backward: side graph {} of this graph (a bidirectional layer's reverse "
            "direction, recorded on two threads) has been recorded again since, for another "
            "graph; nothing was changed. A layer keeps the side graphs of its 4 most recently "
            "used graphs: run backward sooner, or with one thread",
            k));
  }
  void quiesce() noexcept override {
    for (Worker* w : pending_) {
      try {
        w->wait();
      } catch (...) {  // the first error is already on its way out; this one is moot
      }
    }
    pending_.clear();
  }
  void clear() noexcept override { links_.clear(); }

 private:
  std::vector<SideLink<T>*> links_;  // in the graph's arena, valid until its clear()
  std::vector<Worker*> pending_;
};

template <Scalar T>
struct SideAttrs {
  SideLink<T>* link;
};

// The side graph's backward, run on the worker, seeded with the exit's gradient.
template <Scalar T>
struct BackwardJob {
  SideLink<T>* link;
  const T* grad;
  Shape shape;
  void operator()() const {
    Graph<T>& side = *link->side;
    side.backward(side.var(link->side_output), TensorView<const T>(grad, shape));
  }
};

// exit = copy of the side output;  the side graph's backward gets d(exit), on the worker.
template <Scalar T>
void side_exit_backward(const Backward<T>& b) {
  SideLink<T>* link = b.template attrs<SideAttrs<T>>().link;
  if (link->side->round() != link->side_round)
    throw GraphError(fmt::format(
        "side_exit: the side graph this value (shape {}) was computed on has been recorded "
        "again since: the layer that made it ran on too many other graphs in between (a "
        "bidirectional layer with two threads keeps the side graphs of its 4 most recently "
        "used graphs); run backward sooner, or with one thread",
        b.shape().str()));
  auto* job = b.graph().template allocate<BackwardJob<T>>(1);
  *job = BackwardJob<T>{link, b.dy(), b.shape()};
  (void)b.dx(0);  // reach the entry node, whose backward waits for the worker
  link->launched = true;
  b.graph().template extension<SideGraphs<T>>().started(link->worker);
  link->worker->start(*job);
}

// entry: no value of its own;  dinput_k += d(side input k), once the side backward is done
template <Scalar T>
void side_enter_backward(const Backward<T>& b) {
  SideLink<T>* link = b.template attrs<SideAttrs<T>>().link;
  if (!link->launched) return;
  link->launched = false;
  b.graph().template extension<SideGraphs<T>>().finished(link->worker);
  link->worker->wait();  // rethrows what the side backward threw
  const Graph<T>& side = *link->side;
  for (uint32_t k = 0; k < link->num_inputs; ++k) {
    const Node<T>& s = side.node(link->side_inputs[k]);
    if (s.grad == nullptr) continue;
    if (T* dx = b.dx(k)) {
      const int64_t n = s.shape.numel();
      for (int64_t i = 0; i < n; ++i) dx[i] += s.grad[i];
    }
  }
}

template <Scalar T>
const OpDef<T> kSideEnter{"side_enter", &side_enter_backward<T>};
template <Scalar T>
const OpDef<T> kSideExit{"side_exit", &side_exit_backward<T>};

}  // namespace

template <Scalar T>
Var<T> side_enter(std::span<const Var<T>> inputs, Var<T> anchor, SideLink<T>* link) {
  if (inputs.size() + 1 > SideLink<T>::kMaxInputs + 1 || link == nullptr)
    throw ValueError(fmt::format("side_enter: {} inputs given; at most {}", inputs.size(),
                                 SideLink<T>::kMaxInputs));
  Var<T> all[SideLink<T>::kMaxInputs + 1];
  for (size_t k = 0; k < inputs.size(); ++k) all[k] = inputs[k];
  all[inputs.size()] = anchor;
  const std::span<const Var<T>> span(all, inputs.size() + 1);
  Graph<T>& g = graph_of("side_enter", span);
  auto [y, out] = g.record(kSideEnter<T>, span, Shape{}, SideAttrs<T>{link});
  out[0] = T(0);
  return y;
}

template <Scalar T>
Var<T> side_exit(Var<T> entry, SideLink<T>* link) {
  Graph<T>& g = entry.graph();
  const Node<T>& s = link->side->node(link->side_output);
  auto [y, out] = g.record(kSideExit<T>, {entry}, s.shape, SideAttrs<T>{link});
  std::memcpy(out, s.value, size_t(s.shape.numel()) * sizeof(T));
  g.link_side_graph(*link->side, y);
  link->side_round = link->side->round();  // backward checks the side was not recorded again
  g.template extension<SideGraphs<T>>().joined(link);
  return y;
}

template Var<float> side_enter(std::span<const Var<float>>, Var<float>, SideLink<float>*);
template Var<double> side_enter(std::span<const Var<double>>, Var<double>, SideLink<double>*);
template Var<float> side_exit(Var<float>, SideLink<float>*);
template Var<double> side_exit(Var<double>, SideLink<double>*);

namespace detail {
// side_enter has no value of its own (a gradient router); side_exit's gradient is checked.
const OpInfo kSideGraphOps[] = {{kSideEnter<double>.name, false}, {kSideExit<double>.name, true}};
std::span<const OpInfo> side_graph_ops() {
  return kSideGraphOps;
}
}  // namespace detail

}  // namespace rwd

// The reverse direction of a bidirectional layer on a worker thread (Note [Parallel
// directions] in parallel_directions.hpp).
#include "rewind/layers/parallel_directions.hpp"

#include <algorithm>

#include "rewind/ops/fusion.hpp"
#include "rewind/ops/side_graph.hpp"

namespace rwd::detail {
namespace {

// What the worker records: the calling graph's values (as views taken on the calling
// thread) become inputs of the side graph, then the layer records the reverse direction.
template <Scalar T>
struct ReverseJob {
  Graph<T>* side;
  SideLink<T>* link;
  RecordReverse<T> record;
  std::array<TensorView<const T>, ParallelDirections<T>::kMaxReads> reads;
  std::array<bool, ParallelDirections<T>::kMaxReads> reads_need_grad;
  size_t num_reads;
  bool anomaly_detection;
  bool fusion;  // the main graph's setting, so set_fusion(g, ·) reaches the reverse direction

  void operator()() const {
    side->clear();
    side->set_anomaly_detection(anomaly_detection);
    set_fusion(*side, fusion);
    std::array<Var<T>, ParallelDirections<T>::kMaxReads> in;
    for (size_t k = 0; k < num_reads; ++k) {
      in[k] = side->input_view(reads[k], reads_need_grad[k]);
      link->side_inputs[k] = in[k].id();
    }
    link->num_inputs = uint32_t(num_reads);
    link->side_output = record(*side, std::span<const Var<T>>(in.data(), num_reads)).id();
  }
};

}  // namespace

template <Scalar T>
Graph<T>& ParallelDirections<T>::next_side_graph(const Graph<T>& g) {
  Pool* pool = nullptr;
  for (Pool& p : pools_)
    if (p.owner == &g) pool = &p;
  if (pool == nullptr) {
    if (pools_.size() < kMaxPools) {
      pool = &pools_.emplace_back();
    } else {  // take over the least recently used
      pool = &*std::min_element(pools_.begin(), pools_.end(), [](const Pool& a, const Pool& b) {
        return a.last_use < b.last_use;
      });
    }
    pool->owner = &g;
    pool->round = 0;
  }
  pool->last_use = ++uses_;
  if (pool->round != g.round()) {  // a new round of the calling graph: reuse from the start
    pool->round = g.round();
    pool->next = 0;
  }
  if (pool->next == pool->graphs.size()) pool->graphs.push_back(std::make_unique<Graph<T>>());
  return *pool->graphs[pool->next++];
}

template <Scalar T>
Var<T> ParallelDirections<T>::run(Graph<T>& g, std::span<const Var<T>> reads, Var<T> anchor,
                                  RecordReverse<T> record_reverse, RecordForward record_forward) {
  if (reads.size() > kMaxReads)
    throw ValueError(
        fmt::format("parallel directions: {} values read; at most {}", reads.size(), kMaxReads));
  if (!worker_) worker_ = std::make_unique<Worker>();
  Graph<T>& side = next_side_graph(g);
  auto* link = g.template allocate<SideLink<T>>(1);
  *link = SideLink<T>{};
  link->side = &side;
  link->worker = worker_.get();
  Var<T> entry = side_enter(reads, anchor, link);
  auto* job = g.template allocate<ReverseJob<T>>(1);
  *job = ReverseJob<T>{&side, link,         record_reverse,        {},
                       {},    reads.size(), g.anomaly_detection(), fusion_enabled(g)};
  for (size_t k = 0; k < reads.size(); ++k) {
    job->reads[k] = reads[k].value();
    job->reads_need_grad[k] = reads[k].requires_grad();
  }
  worker_->start(*job);
  try {
    record_forward();
  } catch (...) {
    worker_->wait();
    throw;
  }
  worker_->wait();  // rethrows what the reverse direction threw
  return side_exit(entry, link);
}

template class ParallelDirections<float>;
template class ParallelDirections<double>;

}  // namespace rwd::detail

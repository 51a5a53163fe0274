// DistributedOptimizer: fused-bucket gradient averaging before the wrapped optimizer's step.
#include "rewind/optim/distributed.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "rewind/core/error.hpp"

namespace rwd {

template <Scalar T>
DistributedOptimizer<T>::DistributedOptimizer(Optimizer<T>& inner, Communicator& comm,
                                              const DistributedOptions& options)
    : inner_(inner), comm_(comm), options_(options) {
  detail::check_option(options.bucket_bytes > 0, "DistributedOptimizer", "bucket_bytes", "> 0",
                       double(options.bucket_bytes));
  broadcast_state();
}

template <Scalar T>
void DistributedOptimizer<T>::broadcast_state() {
  for (const NamedParameter<T>& p : inner_.parameters()) comm_.broadcast(p.param->value().span());
  // The same keys on every rank (the same parameters, the same optimizer), in map order.
  StateDict<T> state = inner_.state_dict();
  for (auto& [key, tensor] : state) comm_.broadcast(tensor.span());
  inner_.load_state_dict(state);
}

// Greedy packing in parameter order: a bucket closes when the next gradient would take it
// past bucket_bytes. Parameters without requires_grad() are left out (the wrapped optimizer
// does not update them). The plan is remade every step, as requires_grad may change.
template <Scalar T>
void DistributedOptimizer<T>::plan_buckets() {
  const auto params = inner_.parameters();
  const auto capacity = size_t(std::max<int64_t>(1, options_.bucket_bytes / int64_t(sizeof(T))));
  size_t used = 0;  // buckets in use this step; the others keep their memory for later
  size_t filled = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const Parameter<T>& p = *params[i].param;
    if (!p.requires_grad()) continue;
    const auto n = size_t(p.numel());
    if (used == 0 || (filled > 0 && filled + n > capacity)) {
      if (used == buckets_.size()) buckets_.emplace_back();
      buckets_[used].first = i;
      ++used;
      filled = 0;
    }
    // Parameters in [first, last) without requires_grad are skipped when packing.
    Bucket& b = buckets_[used - 1];
    b.last = i + 1;
    filled += n;
    b.buffer.resize(filled);
  }
  buckets_.resize(used);
}

template <Scalar T>
bool DistributedOptimizer<T>::step() {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  plan_buckets();
  const auto params = inner_.parameters();
  CommReport report;
  for (Bucket& b : buckets_) {
    T* out = b.buffer.data();
    for (size_t i = b.first; i < b.last; ++i) {
      const Parameter<T>& p = *params[i].param;
      if (!p.requires_grad()) continue;
      out = std::copy_n(p.grad().data(), p.numel(), out);
    }
    comm_.start_allreduce_sum(std::span<T>(b.buffer));
    report.buckets += 1;
    report.bytes += int64_t(b.buffer.size() * sizeof(T));
  }
  comm_.wait_all();
  // Average: sum / N (a division, correctly rounded, not a product with 1/N), then back
  // into the gradients.
  const T ranks = T(comm_.size());
  for (Bucket& b : buckets_) {
    const T* in = b.buffer.data();
    for (size_t i = b.first; i < b.last; ++i) {
      Parameter<T>& p = *params[i].param;
      if (!p.requires_grad()) continue;
      T* g = p.grad().data();
      for (int64_t k = 0; k < p.numel(); ++k) g[k] = in[k] / ranks;
      in += p.numel();
    }
  }
  const int n = comm_.size();
  report.bytes_sent = double(report.bytes) * 2.0 * double(n - 1) / double(n);
  report.comm_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  last_ = report;
  total_.buckets += report.buckets;
  total_.bytes += report.bytes;
  total_.bytes_sent += report.bytes_sent;
  total_.comm_seconds += report.comm_seconds;
  return inner_.step();
}

template class DistributedOptimizer<float>;
template class DistributedOptimizer<double>;

}  // namespace rwd

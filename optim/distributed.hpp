// DistributedOptimizer: data-parallel training over MPI. Every rank runs the same model on
// its own share of the batch; before each update the gradients are averaged over the ranks
// in fused buckets, so every rank applies the same update (docs/distributed.md).
#pragma once

#include <cstdint>
#include <vector>

#include "rewind/core/communicator.hpp"
#include "rewind/optim/optimizer.hpp"

namespace rwd {

/// How gradients travel.
struct DistributedOptions {
  /// Gradients are packed, in parameter order, into buckets of at most this many bytes (a
  /// parameter larger than this gets a bucket of its own); each bucket is one non-blocking
  /// all-reduce. Small gradients then share one message (tensor fusion, as Horovod's
  /// fusion buffer). Must be > 0.
  int64_t bucket_bytes = int64_t(4) << 20;
};

/// What one step() sent and how long it took.
struct CommReport {
  int64_t buckets = 0;      ///< all-reduces started
  int64_t bytes = 0;        ///< gradient bytes this rank handed to MPI (the payload)
  double bytes_sent = 0;    ///< estimated bytes on the wire from this rank: payload · 2(N-1)/N
                            ///< (a ring all-reduce; MPI picks its own algorithm)
  double comm_seconds = 0;  ///< from packing the first bucket to the averaged gradients in place
};

/// Wraps an optimizer so that step() first averages the gradients over every rank of `comm`.
///
/// At construction rank 0's parameter values and optimizer state (state_dict) are copied to
/// every rank, so all ranks start equal. step() packs the gradients into buckets, starts one
/// MPI_Iallreduce per bucket, waits for all, divides by the number of ranks, and then runs
/// the wrapped optimizer's step(). Its gradient pass (non-finite check, clipping) then sees
/// the same averaged gradients on every rank, so every rank makes the same decision: one
/// rank's NaN makes the average NaN everywhere, and every rank skips (kSkip) or throws
/// (kThrow) alike; global-norm clipping finds the same norm and factor on every rank.
///
/// With each rank's loss a mean over its own B/N sequences, the average of the gradients is
/// the gradient of the mean over all B. The wrapped optimizer must outlive this wrapper and
/// be driven only through it; the parameters must be the same list on every rank.
template <Scalar T>
class DistributedOptimizer {
 public:
  /// Collective: every rank constructs it at the same point. Throws ValueError for a
  /// bucket_bytes <= 0, CommError when MPI fails.
  DistributedOptimizer(Optimizer<T>& inner, Communicator& comm,
                       const DistributedOptions& options = {});

  /// Collective. Averages the gradients, then returns the wrapped optimizer's step().
  bool step();
  void zero_grad() { inner_.zero_grad(); }

  /// Copies rank 0's parameter values and optimizer state to every rank (collective; the
  /// constructor does it; call it again after loading a checkpoint on rank 0 only).
  void broadcast_state();

  [[nodiscard]] Optimizer<T>& inner() { return inner_; }
  [[nodiscard]] Communicator& communicator() { return comm_; }
  [[nodiscard]] const DistributedOptions& options() const { return options_; }
  /// The last step()'s traffic and time.
  [[nodiscard]] const CommReport& last_report() const { return last_; }
  /// Sums over every step() so far.
  [[nodiscard]] const CommReport& total_report() const { return total_; }

 private:
  // Parameters [first, last) of the optimizer's list share one buffer.
  struct Bucket {
    size_t first = 0;
    size_t last = 0;
    std::vector<T> buffer;
  };

  void plan_buckets();

  Optimizer<T>& inner_;
  Communicator& comm_;
  DistributedOptions options_;
  std::vector<Bucket> buckets_;
  CommReport last_;
  CommReport total_;
};

extern template class DistributedOptimizer<float>;
extern template class DistributedOptimizer<double>;

}  // namespace rwd

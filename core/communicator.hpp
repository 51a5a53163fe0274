// Communicator: the few MPI collectives data-parallel training needs (broadcast, averaging
// all-reduce, non-blocking all-reduce, barrier), behind a pimpl so no rewind header includes
// mpi.h. Built only with REWIND_WITH_MPI; docs/distributed.md shows how to run it.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>

#include "rewind/core/error.hpp"
#include "rewind/core/tensor.hpp"

namespace rwd {

/// An MPI call that failed (its message names the collective and MPI's own error text).
class CommError : public Error {
 public:
  using Error::Error;
};

/// A handle on MPI_COMM_WORLD's processes ("ranks"), for one process's lifetime.
///
/// The first Communicator made in a process initializes MPI unless the program already did
/// (MPI_Init_thread, MPI_THREAD_FUNNELED: only the thread that made it calls MPI); the one
/// that initialized finalizes when destroyed. Each Communicator works on its own duplicate of
/// MPI_COMM_WORLD, so its messages never meet the program's own. Every collective must be
/// called by every rank in the same order, as in MPI. MPI errors throw CommError naming the
/// collective and MPI's message.
class Communicator {
 public:
  /// Throws CommError when MPI was already finalized or cannot start.
  Communicator();
  /// Finalizes MPI if this Communicator initialized it. When destroyed while an exception
  /// unwinds, it aborts every rank instead (MPI_Abort), since the other ranks may be waiting
  /// in a collective this rank will never join.
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  /// This process's rank, 0 .. size() - 1.
  [[nodiscard]] int rank() const;
  /// The number of ranks.
  [[nodiscard]] int size() const;

  /// Copies `data` from rank `root` to every rank (every rank passes a buffer of one size).
  template <Scalar T>
  void broadcast(std::span<T> data, int root = 0);
  /// Replaces `data` on every rank with the element-wise sum over the ranks.
  template <Scalar T>
  void allreduce_sum(std::span<T> data);
  /// Replaces `data` on every rank with the element-wise mean over the ranks.
  template <Scalar T>
  void allreduce_average(std::span<T> data);
  /// Starts an in-place sum all-reduce of `data` without waiting (MPI_Iallreduce); `data`
  /// must stay untouched until wait_all(). Returns the number of requests now pending.
  template <Scalar T>
  size_t start_allreduce_sum(std::span<T> data);
  /// Waits for every request started by start_allreduce_sum.
  void wait_all();
  /// Returns when every rank has called barrier().
  void barrier();

  /// Seconds a collective may wait for the other ranks before this rank ends every rank
  /// (abort(), naming the collective): a rank that stopped calling collectives, or calls
  /// them in another order, then fails the job instead of hanging it. 0 (the default) waits
  /// for ever. With a timeout, waits poll (MPI_Testall) and keep a core busy, as MPI's own
  /// waits mostly do. Throws CommError for a negative or non-finite value.
  void set_timeout(double seconds);
  [[nodiscard]] double timeout() const;

  /// Ends every rank's process at once with exit code `code`, after writing
  /// "rewind: rank <r>: <message>" to standard error. Never returns.
  [[noreturn]] void abort(const std::string& message, int code = 1) const;

  /// Runs `body`; an exception escaping it on any rank ends every rank (abort() with the
  /// exception's message) rather than leaving the others waiting in a collective. Returns 0.
  int run(const std::function<void()>& body) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rwd

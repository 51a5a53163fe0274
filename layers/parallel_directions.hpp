// How a bidirectional layer runs its two directions: one after the other on the calling
// thread (SerialDirections, the default), or, with rwd::num_threads() >= 2, the reverse
// direction recorded on a side graph by a worker thread while the calling thread records the
// forward one (ParallelDirections). Internal to the sequence driver (layers/recurrent.hpp);
// not part of rewind.hpp.
//
// Note [Parallel directions]: the side graph reads the layer input and the reverse
// direction's initial states in place (input_view of their values, taken on the calling
// thread before the worker starts) and hands back one flat value, which side_exit copies into
// the calling graph (ops/side_graph.hpp). In backward, side_exit starts the side graph's
// backward on the worker and side_enter waits for it, so the two directions run backward
// concurrently too. Side graphs are kept per calling graph, so that running the layer on a
// second graph does not overwrite what the first one still has to differentiate; the least
// recently used of kMaxPools calling graphs is taken over past that, and a backward through
// a side graph taken over is refused (ops/side_graph.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "rewind/core/graph.hpp"
#include "rewind/core/threads.hpp"

namespace rwd::detail {

/// A non-owning reference to a callable, so a job needs no heap allocation.
template <class Signature>
class FunctionRef;
template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef>)
      FunctionRef(F& f)  // NOLINT(google-explicit-constructor): used like a function parameter
      : object_(&f), call_([](void* o, Args... args) -> R {
          return (*static_cast<F*>(o))(std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

/// Records the reverse direction on `side` from side-graph views of the reads (same order,
/// as given to ParallelDirections::run) and returns its results flattened into one value.
template <Scalar T>
using RecordReverse = FunctionRef<Var<T>(Graph<T>& side, std::span<const Var<T>> reads)>;
/// Records the forward direction on the calling graph.
using RecordForward = FunctionRef<void()>;

template <Scalar T>
class ParallelDirections {
 public:
  static constexpr size_t kMaxReads = 4;
  static constexpr size_t kMaxPools = 4;

  /// Runs record_reverse on a side graph on the worker while record_forward runs here.
  /// `reads` are the calling graph's values the reverse direction reads (at most
  /// kMaxReads; their gradients from the side arrive in them), `anchor` a value that needs
  /// a gradient whenever the reverse direction does (one of its parameters). Returns the
  /// reverse direction's flat result on the calling graph.
  Var<T> run(Graph<T>& g, std::span<const Var<T>> reads, Var<T> anchor,
             RecordReverse<T> record_reverse, RecordForward record_forward);

 private:
  struct Pool {
    const Graph<T>* owner = nullptr;
    uint64_t round = 0;     // the owner's round the pool was last used in
    uint64_t last_use = 0;  // when (uses_) it was last used: the least recent goes first
    size_t next = 0;        // the next side graph to hand out in that round
    std::vector<std::unique_ptr<Graph<T>>> graphs;
  };
  Graph<T>& next_side_graph(const Graph<T>& g);

  std::unique_ptr<Worker> worker_;
  std::vector<Pool> pools_;
  uint64_t uses_ = 0;
};

extern template class ParallelDirections<float>;
extern template class ParallelDirections<double>;

}  // namespace rwd::detail

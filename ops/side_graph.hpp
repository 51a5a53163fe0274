// Side graphs: part of a computation recorded on a second graph by another thread, joined
// into the main graph so that the main graph's backward also runs the side graph's backward,
// on the worker thread, concurrently with its own. A bidirectional layer runs its reverse
// direction this way when rwd::num_threads() >= 2. See Note [Side graphs] in side_graph.cpp.
#pragma once

#include <span>

#include "rewind/core/graph.hpp"
#include "rewind/core/threads.hpp"

namespace rwd {

/// The link between a main graph and a side graph for one side computation. Made with
/// Graph::allocate on the main graph (it lives until the main graph's clear()).
template <Scalar T>
struct SideLink {
  static constexpr uint32_t kMaxInputs = 4;
  Graph<T>* side = nullptr;
  Worker* worker = nullptr;
  NodeId side_output = 0;  // node of the side graph whose value the main graph receives
  NodeId side_inputs[kMaxInputs] = {};  // side nodes standing for the main inputs, in order
  uint32_t num_inputs = 0;
  bool launched = false;    // the side backward has been started
  uint64_t side_round = 0;  // the side graph's round at side_exit (set there)
};

/// Records where the side computation starts: `inputs` are the main-graph values the side
/// graph reads (at most 4; their gradients from the side arrive here), `anchor` a value that
/// needs a gradient whenever the side does (one of its parameters). Returns the entry, which
/// side_exit() takes. Call before the side graph starts recording.
template <Scalar T>
Var<T> side_enter(std::span<const Var<T>> inputs, Var<T> anchor, SideLink<T>* link);

/// The side graph's output, copied into the main graph. link->side_output and side_inputs
/// must be set and the side recording finished.
template <Scalar T>
Var<T> side_exit(Var<T> entry, SideLink<T>* link);

}  // namespace rwd

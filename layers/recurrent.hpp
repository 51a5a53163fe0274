// Recurrent<Cell>: the sequence driver, generic over the cell. It stacks layers, runs
// directions, carries state, handles per-sequence lengths and initial states, and names
// parameters as PyTorch does (weight_ih_l0, weight_hh_l1_reverse, ...). RNN, LSTM and GRU
// are this driver over the built-in cells; a user cell that satisfies RecurrentCell gets all
// of it. See docs/recurrent.md. It names what it records by scope ("lstm.l0.fwd/t=3") and
// marks each step's new state for the gradient-flow report (docs/inspect.md).
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <concepts>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "rewind/core/graph.hpp"
#include "rewind/core/random.hpp"
#include "rewind/layers/module.hpp"
#include "rewind/layers/parallel_directions.hpp"
#include "rewind/layers/regularizers.hpp"
#include "rewind/ops/dropout.hpp"
#include "rewind/ops/elementwise.hpp"
#include "rewind/ops/shape.hpp"

namespace rwd {

namespace detail {
template <class C>
struct CellScalar {
  using type = float;  // a stand-in, so that the checks after a missing Scalar still compile
};
template <class C>
requires requires {
  typename C::Scalar;
}
struct CellScalar<C> {
  using type = typename C::Scalar;
};
template <class C, class T>
struct CellState {
  using type = std::array<Var<T>, 1>;  // a stand-in, as above
};
template <class C, class T>
requires requires {
  typename C::State;
}
struct CellState<C, T> {
  using type = typename C::State;
};
/// The width of a cell's output h (state element 0): its output_size() when it has one
/// (an LSTM with a projection), else its hidden_size().
template <class C>
int64_t cell_output_size(const C& cell) {
  if constexpr (requires {
                  { cell.output_size() } -> std::convertible_to<int64_t>;
                })
    return cell.output_size();
  else
    return cell.hidden_size();
}
template <class S, class T>
constexpr bool kIsStateArray = false;
template <class T, size_t K>
constexpr bool kIsStateArray<std::array<Var<T>, K>, T> = K >= 1;
}  // namespace detail

/// A recurrent cell the driver can run: a Module with a scalar type, a State that is an
/// std::array of Vars each [B, hidden_size] (element 0 is the output h), sizes, and
/// step(x [B, input_size], state) -> state built from ops. A cell whose h has another width
/// (an LSTM with a projection) says so with `int64_t output_size() const`; its other state
/// elements stay [B, hidden_size].
template <class C>
concept RecurrentCell = std::derived_from<C, Module<typename C::Scalar>> && std::movable<C> &&
    requires(C& cell, const C& ccell, Var<typename C::Scalar> x, const typename C::State& s) {
  typename C::Scalar;
  typename C::State;
  requires std::tuple_size_v<typename C::State>
  >= 1;
  { ccell.input_size() } -> std::convertible_to<int64_t>;
  { ccell.hidden_size() } -> std::convertible_to<int64_t>;
  { cell.step(x, s) } -> std::same_as<typename C::State>;
};

/// Checks each requirement of RecurrentCell on its own, so a cell that misses one gets one
/// readable message instead of pages of concept diagnostics.
template <class C>
constexpr bool check_recurrent_cell() {
  using T = typename detail::CellScalar<C>::type;
  static_assert(
      requires { typename C::Scalar; },
      "a recurrent cell declares `using Scalar = float;` (or double)");
  static_assert(std::derived_from<C, Module<T>>,
                "a recurrent cell derives from rwd::Module<Scalar> (it holds parameters)");
  static_assert(std::movable<C>, "a recurrent cell must be movable (the layer keeps a vector)");
  static_assert(
      requires { typename C::State; },
      "a recurrent cell declares `using State = std::array<Var<Scalar>, K>;` "
      "(element 0 is the output h)");
  if constexpr (requires { typename C::State; })
    static_assert(detail::kIsStateArray<typename C::State, T>,
                  "a recurrent cell's State must be std::array<Var<Scalar>, K> with K >= 1");
  static_assert(
      requires(const C& c) {
        { c.input_size() } -> std::convertible_to<int64_t>;
      },
      "a recurrent cell has `int64_t input_size() const`");
  static_assert(
      requires(const C& c) {
        { c.hidden_size() } -> std::convertible_to<int64_t>;
      },
      "a recurrent cell has `int64_t hidden_size() const`");
  if constexpr (requires { typename C::State; })
    static_assert(
        requires(C & c, Var<T> x, const typename C::State& s) {
          { c.step(x, s) } -> std::same_as<typename C::State>;
        },
        "a recurrent cell has `State step(Var<Scalar> x, const State& state)`");
  return true;
}

/// Optional speed-up: a cell that can project the inputs of all steps in one product,
/// project_input(x [N, I]) -> [N, P], then take per step step_projected(xp [B, P], state).
template <class C>
concept ProjectingCell = RecurrentCell<C> &&
    requires(C& cell, Var<typename C::Scalar> x, const typename C::State& s) {
  { cell.project_input(x) } -> std::same_as<Var<typename C::Scalar>>;
  { cell.step_projected(x, s) } -> std::same_as<typename C::State>;
};

/// Options shared by every sequence layer, as PyTorch's nn.RNN / nn.LSTM / nn.GRU.
struct RecurrentOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;  // input and output [B, T, ·] instead of [T, B, ·]
  double dropout = 0.0;      // on the outputs of every layer but the last, in train mode
  bool bidirectional = false;
  /// LSTM only, as torch.nn.LSTM's proj_size: 0 (none) or P in 1..hidden_size-1, when each
  /// step's h is projected to P features (h is [B, P], c stays [B, H]). See docs/recurrent.md.
  int64_t proj_size = 0;
  /// Locked dropout, weight drop and zoneout (layers/regularizers.hpp, docs/recurrent.md).
  RecurrentRegularizers regularizers{};
};

/// What a sequence layer returns: the output sequence [T, B, D·O] ([B, T, D·O] with
/// batch_first), and the final value of each state element [L·D, B, ·]: h_n [L·D, B, O],
/// c_n [L·D, B, H]. O is hidden_size, or proj_size with a projection.
template <Scalar T, size_t K>
struct SequenceOutput {
  Var<T> output;
  std::array<Var<T>, K> state;

  [[nodiscard]] Var<T> h_n() const { return state[0]; }
  [[nodiscard]] Var<T> c_n() const requires(K >= 2) { return state[1]; }
};

template <class Cell>
class Recurrent : public Module<typename detail::CellScalar<Cell>::type> {
  static_assert(check_recurrent_cell<Cell>());

 public:
  using T = typename detail::CellScalar<Cell>::type;        // Cell::Scalar (checked above)
  using State = typename detail::CellState<Cell, T>::type;  // Cell::State
  using VarT = Var<T>;
  static constexpr size_t kStateSize = std::tuple_size_v<State>;
  using Output = SequenceOutput<T, kStateSize>;
  /// Makes the cell of one layer and direction.
  using CellFactory =
      std::function<Cell(int64_t input_size, int64_t hidden_size, bool bias, Generator& gen)>;

  /// Builds num_layers × directions cells: layer 0 reads input_size features, later layers
  /// read directions × O (O = proj_size when set, else hidden_size). `name` prefixes error
  /// messages ("LSTM", ...); in lower case it begins the name scopes of each layer and
  /// direction ("lstm.l0.fwd", whose time steps are "t=0", "t=1", ...).
  Recurrent(std::string name, const RecurrentOptions& options, const CellFactory& make_cell,
            Generator& gen);

  /// Runs the whole sequence.
  /// - input: [T, B, input_size] ([B, T, input_size] with batch_first).
  /// - initial: per state element, [L·D, B, O] for h and [L·D, B, H] for the others, on the
  ///   input's graph, or an empty Var for zeros. Index l·D + d is layer l, direction d
  ///   (d = 1 reverse), as in PyTorch.
  /// - lengths: empty (every sequence has T steps) or B values in 1..T. A sequence's final
  ///   state is taken at its own last step, the reverse direction starts there, and
  ///   outputs past its end are zero and pass no gradient.
  Output forward(Var<T> input, const State& initial = {}, std::span<const int64_t> lengths = {});

  [[nodiscard]] const RecurrentOptions& options() const { return options_; }
  [[nodiscard]] int directions() const { return options_.bidirectional ? 2 : 1; }
  /// O, the width of h and of each direction's output: proj_size when set, else hidden_size.
  [[nodiscard]] int64_t output_size() const {
    return options_.proj_size > 0 ? options_.proj_size : options_.hidden_size;
  }
  /// The width of state element k: O for h (k = 0), hidden_size for the others.
  [[nodiscard]] int64_t state_size(size_t k) const {
    return k == 0 ? output_size() : options_.hidden_size;
  }
  /// The cell of layer `layer`, direction `direction` (1 = reverse).
  [[nodiscard]] Cell& cell(int64_t layer, int direction) {
    return cells_[size_t(layer * directions() + direction)];
  }
  /// The source of every dropout and regularizer mask; re-seed it to repeat the masks.
  [[nodiscard]] Generator& dropout_generator() { return dropout_gen_; }

  /// Cell parameters get the suffix _l{layer}, plus _reverse for the reverse direction.
  void visit(ModuleVisitor<T>& v) override;

 private:
  void check_options() const;
  void check_cell(const Cell& c, int64_t layer, int64_t input_size) const;
  void check_inputs(Var<T> input, const State& initial, std::span<const int64_t> lengths) const;
  State run_step(Cell& cell, Var<T> x, const State& state);
  void check_step(const State& next, int64_t layer, int direction, int64_t t, int64_t batch) const;
  struct Direction {
    Var<T> output;  // [T·B, O]
    State state;    // final values, [B, O] for h, [B, H] for the others
  };
  // The sizes of one forward and the values every layer reads.
  struct Run {
    int64_t steps, batch;
    Var<T> masks;  // [T, B, 1], or empty when every sequence has T steps
  };
  // Runs one direction of one layer on graph g (the main graph or a side graph).
  Direction run_direction(Graph<T>& g, int64_t layer, int direction, Var<T> in,
                          const State& initial, Var<T> masks, int64_t steps, int64_t batch);
  // Runs both directions of bidirectional layer `layer` (Note [Parallel directions]).
  std::array<Direction, 2> run_in_parallel(Graph<T>& g, int64_t layer, Var<T> in,
                                           const std::array<State, 2>& init, const Run& run);
  // Runs layer `layer` over its input [T·B, I]: its output [T·B, D·O]; finals_ are set.
  Var<T> run_layer(Graph<T>& g, int64_t layer, Var<T> in, const State& initial, const Run& run);
  Var<T> make_masks(Graph<T>& g, std::span<const int64_t> lengths, int64_t steps,
                    int64_t batch) const;
  NameScope layer_scope(Graph<T>& g, int64_t layer, int direction) const;

  std::string name_;
  std::string scope_name_;  // name_ in lower case, '/' replaced: "lstm"
  RecurrentOptions options_;
  std::vector<Cell> cells_;
  Generator dropout_gen_;
  // Per-forward scratch, kept so that a reused layer makes no heap allocation per step.
  std::array<std::vector<Var<T>>, 2> step_outputs_;  // one per direction (two threads)
  std::array<std::vector<Var<T>>, kStateSize> finals_;
  detail::ParallelDirections<T> parallel_;  // used with two threads and two directions
};

// ---- Implementation ----

template <class Cell>
Recurrent<Cell>::Recurrent(std::string name, const RecurrentOptions& options,
                           const CellFactory& make_cell, Generator& gen)
    : name_(std::move(name)), options_(options), dropout_gen_(gen.next_u64()) {
  scope_name_ = name_;
  for (char& ch : scope_name_)
    ch = ch == '/' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  check_options();
  const int d_count = directions();
  cells_.reserve(size_t(options.num_layers * d_count));
  for (int64_t l = 0; l < options.num_layers; ++l)
    for (int d = 0; d < d_count; ++d) {
      const int64_t in = l == 0 ? options.input_size : d_count * output_size();
      cells_.push_back(make_cell(in, options.hidden_size, options.bias, gen));
      check_cell(cells_.back(), l, in);
    }
}

template <class Cell>
void Recurrent<Cell>::check_options() const {
  const RecurrentOptions& o = options_;
  if (o.input_size <= 0 || o.hidden_size <= 0 || o.num_layers <= 0)
    throw ValueError(
        fmt::format("{}: input_size ({}), hidden_size ({}) and num_layers ({}) must be positive",
                    name_, o.input_size, o.hidden_size, o.num_layers));
  if (!(o.dropout >= 0.0 && o.dropout < 1.0))
    throw ValueError(fmt::format("{}: dropout {} is not in [0, 1)", name_, o.dropout));
  detail::check_regularizers(name_, o.regularizers, kStateSize);
  if (o.regularizers.weight_drop > 0 && !detail::HiddenWeightDroppable<Cell, T>)
    throw ValueError(
        fmt::format("{}: regularizers.weight_drop = {} needs a cell with weight_hh() and "
                    "use_hidden_weight() (as CellWeights has)",
                    name_, o.regularizers.weight_drop));
  if (o.proj_size < 0 || (o.proj_size > 0 && o.proj_size >= o.hidden_size))
    throw ValueError(
        fmt::format("{}: proj_size ({}) must be 0 (no projection) or less than hidden_size ({})",
                    name_, o.proj_size, o.hidden_size));
}

template <class Cell>
void Recurrent<Cell>::check_cell(const Cell& c, int64_t layer, int64_t input_size) const {
  if (c.input_size() != input_size || c.hidden_size() != options_.hidden_size)
    throw ValueError(
        fmt::format("{}: the cell made for layer {} has sizes ({}, {}), expected ({}, {})", name_,
                    layer, c.input_size(), c.hidden_size(), input_size, options_.hidden_size));
  const int64_t out = detail::cell_output_size(c);
  if (out == output_size()) return;
  if (options_.proj_size > 0 && out == options_.hidden_size)
    throw ValueError(fmt::format(
        "{}: proj_size ({}) is set, but this layer's cells have no projection (only LSTM takes "
        "proj_size); set proj_size to 0",
        name_, options_.proj_size));
  throw ValueError(fmt::format(
      "{}: the cell made for layer {} outputs h of width {}, expected {} (proj_size {}, "
      "hidden_size {})",
      name_, layer, out, output_size(), options_.proj_size, options_.hidden_size));
}

template <class Cell>
void Recurrent<Cell>::visit(ModuleVisitor<T>& v) {
  const int d_count = directions();
  for (int64_t l = 0; l < options_.num_layers; ++l)
    for (int d = 0; d < d_count; ++d)
      v.flattened(fmt::format("_l{}{}", l, d == 1 ? "_reverse" : ""), cell(l, d));
}

template <class Cell>
void Recurrent<Cell>::check_inputs(Var<T> input, const State& initial,
                                   std::span<const int64_t> lengths) const {
  const Shape s = input.shape();
  const char* layout = options_.batch_first ? "[batch, time, features]" : "[time, batch, features]";
  if (s.rank() != 3)
    throw ShapeError(
        fmt::format("{}: input must be {} (rank 3), got shape {}", name_, layout, s.str()));
  const int64_t steps = options_.batch_first ? s[1] : s[0];
  const int64_t batch = options_.batch_first ? s[0] : s[1];
  if (s[2] != options_.input_size)
    throw ShapeError(fmt::format("{}: input has {} features (shape {}) but input_size is {}", name_,
                                 s[2], s.str(), options_.input_size));
  if (steps == 0 || batch == 0)
    throw ShapeError(
        fmt::format("{}: empty sequence: input shape {} has {} time steps and {} "
                    "batch rows; both must be at least 1",
                    name_, s.str(), steps, batch));
  for (size_t k = 0; k < kStateSize; ++k) {
    if (initial[k].empty()) continue;
    const Shape expected{options_.num_layers * directions(), batch, state_size(k)};
    if (!(initial[k].shape() == expected))
      throw ShapeError(
          fmt::format("{}: initial state {} has shape {}, expected {} "
                      "(num_layers × directions, batch, {})",
                      name_, k, initial[k].shape().str(), expected.str(),
                      k == 0 && options_.proj_size > 0 ? "proj_size" : "hidden_size"));
    if (&initial[k].graph() != &input.graph())
      throw GraphError(fmt::format(
          "{}: initial state {} belongs to a different graph than the input", name_, k));
  }
  if (!lengths.empty()) {
    if (int64_t(lengths.size()) != batch)
      throw ShapeError(fmt::format("{}: {} lengths given for a batch of {} sequences", name_,
                                   lengths.size(), batch));
    for (size_t b = 0; b < lengths.size(); ++b)
      if (lengths[b] < 1 || lengths[b] > steps)
        throw ValueError(
            fmt::format("{}: lengths[{}] = {} is not in 1..{} (the input's time steps)", name_, b,
                        lengths[b], steps));
  }
}

template <class Cell>
typename Recurrent<Cell>::State Recurrent<Cell>::run_step(Cell& cell, Var<T> x,
                                                          const State& state) {
  if constexpr (ProjectingCell<Cell>)
    return cell.step_projected(x, state);
  else
    return cell.step(x, state);
}

template <class Cell>
NameScope Recurrent<Cell>::layer_scope(Graph<T>& g, int64_t layer, int direction) const {
  // "lstm.l0.fwd", formatted on the stack so that a forward makes no heap allocation.
  std::array<char, 128> buf{};
  const auto r = fmt::format_to_n(buf.data(), buf.size(), "{}.l{}.{}", scope_name_, layer,
                                  direction == 0 ? "fwd" : "rev");
  return g.scope(std::string_view(buf.data(), std::min(r.size, buf.size())));
}

template <class Cell>
typename Recurrent<Cell>::Direction Recurrent<Cell>::run_direction(Graph<T>& g, int64_t layer,
                                                                   int direction, Var<T> in,
                                                                   const State& initial,
                                                                   Var<T> masks, int64_t steps,
                                                                   int64_t batch) {
  const NameScope scope = layer_scope(g, layer, direction);
  Cell& c = cell(layer, direction);
  std::vector<Var<T>>& outputs = step_outputs_[size_t(direction)];
  outputs.assign(size_t(steps), Var<T>());
  if constexpr (ProjectingCell<Cell>) in = c.project_input(in);  // [T·B, P], all steps at once
  State state;
  for (size_t k = 0; k < kStateSize; ++k)
    state[k] = initial[k].empty() ? g.zeros(Shape{batch, state_size(k)}) : initial[k];
  // Masks of this layer and direction (none in eval): h fed back, then W_hh.
  const RecurrentRegularizers& r = options_.regularizers;
  const bool training = this->is_training();
  detail::StepRegularizer<T> reg(r, training, dropout_gen_, g, batch, state_size(0));
  const detail::HiddenWeightDrop<Cell, T> weight_drop(c, g, r.weight_drop, training, dropout_gen_);
  for (int64_t i = 0; i < steps; ++i) {
    const int64_t t = direction == 0 ? i : steps - 1 - i;
    const NameScope step_scope = g.scope("t=", t);
    Var<T> xt = slice(in, 0, t * batch, (t + 1) * batch);  // a view of step t's rows
    State next = run_step(c, xt, reg.fed(state));
    check_step(next, layer, direction, t, batch);
    reg.zone_out(state, next);
    for (size_t k = 0; k < kStateSize; ++k)  // h_t (and c_t), for the gradient-flow report
      g.mark_step_output(next[k], uint32_t(k));
    if (!masks.empty()) {
      // Past its end a sequence keeps its state and outputs zero.
      Var<T> m = reshape(slice(masks, 0, t, t + 1), {batch, 1});
      for (size_t k = 0; k < kStateSize; ++k) next[k] = state[k] + m * (next[k] - state[k]);
      outputs[size_t(t)] = m * next[0];
    } else {
      outputs[size_t(t)] = next[0];
    }
    state = next;
  }
  return {concat(std::span<const Var<T>>(outputs), 0), state};  // [T·B, O]
}

template <class Cell>
void Recurrent<Cell>::check_step(const State& next, int64_t layer, int direction, int64_t t,
                                 int64_t batch) const {
  for (size_t k = 0; k < kStateSize; ++k) {
    const bool ok = !next[k].empty() && next[k].valid() && next[k].rank() == 2 &&
                    next[k].size(0) == batch && next[k].size(1) == state_size(k);
    if (!ok)
      throw ShapeError(fmt::format(
          "{}: the cell of layer {} ({} direction) returned state {} at step {} {}; expected "
          "[{}, {}] (batch, {})",
          name_, layer, direction == 0 ? "forward" : "reverse", k, t,
          next[k].valid() ? fmt::format("of shape {}", next[k].shape().str())
                          : std::string("as an empty or stale Var"),
          batch, state_size(k), k == 0 && options_.proj_size > 0 ? "proj_size" : "hidden_size"));
  }
}

template <class Cell>
typename Recurrent<Cell>::VarT Recurrent<Cell>::make_masks(Graph<T>& g,
                                                           std::span<const int64_t> lengths,
                                                           int64_t steps, int64_t batch) const {
  // [T, B, 1]: 1 while step t is inside sequence b, else 0. Only when some sequence is
  // shorter than T.
  if (std::none_of(lengths.begin(), lengths.end(), [&](int64_t len) { return len < steps; }))
    return {};
  auto r = g.new_constant(Shape{steps, batch, 1});
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t b = 0; b < batch; ++b) r.out[t * batch + b] = t < lengths[size_t(b)] ? T(1) : T(0);
  return r.var;
}

template <class Cell>
std::array<typename Recurrent<Cell>::Direction, 2> Recurrent<Cell>::run_in_parallel(
    Graph<T>& g, int64_t layer, Var<T> in, const std::array<State, 2>& init, const Run& run) {
  const int64_t out_width = output_size();
  // The values the reverse direction reads: the layer input and its initial states.
  std::array<Var<T>, 1 + kStateSize> reads;
  size_t n_reads = 0;
  reads[n_reads++] = in;
  for (size_t k = 0; k < kStateSize; ++k)
    if (!init[1][k].empty()) reads[n_reads++] = init[1][k];
  Parameter<T>* trainable = first_trainable_parameter(cell(layer, 1));
  Var<T> anchor = trainable != nullptr ? g.param(*trainable) : in;
  const TensorView<const T> masks = run.masks.empty() ? TensorView<const T>() : run.masks.value();
  auto reverse = [&](Graph<T>& side, std::span<const Var<T>> side_reads) {
    State side_init;
    for (size_t k = 0, r = 1; k < kStateSize; ++k)
      if (!init[1][k].empty()) side_init[k] = side_reads[r++];
    Var<T> side_masks = masks.empty() ? Var<T>() : side.input_view(masks);
    const Direction rev =
        run_direction(side, layer, 1, side_reads[0], side_init, side_masks, run.steps, run.batch);
    std::array<Var<T>, kStateSize + 1> parts;  // [T·B·O + B·(O + (K-1)·H)]
    parts[0] = reshape(rev.output, {-1});
    for (size_t k = 0; k < kStateSize; ++k) parts[k + 1] = reshape(rev.state[k], {-1});
    return concat(std::span<const Var<T>>(parts), 0);
  };
  Direction fwd;
  auto forward = [&] {
    fwd = run_direction(g, layer, 0, in, init[0], run.masks, run.steps, run.batch);
  };
  Var<T> joined =
      parallel_.run(g, std::span<const Var<T>>(reads.data(), n_reads), anchor, reverse, forward);
  const int64_t out_size = run.steps * run.batch * out_width;
  Direction rev;
  rev.output = reshape(slice(joined, 0, 0, out_size), {run.steps * run.batch, out_width});
  int64_t at = out_size;
  for (size_t k = 0; k < kStateSize; ++k) {
    const int64_t size = run.batch * state_size(k);
    rev.state[k] = reshape(slice(joined, 0, at, at + size), {run.batch, state_size(k)});
    at += size;
  }
  return {fwd, rev};
}

template <class Cell>
typename Recurrent<Cell>::VarT Recurrent<Cell>::run_layer(Graph<T>& g, int64_t layer, Var<T> in,
                                                          const State& initial, const Run& run) {
  const int d_count = directions();
  std::array<State, 2> init;  // each direction's initial state [B, O] / [B, H] (empty: zeros)
  for (int d = 0; d < d_count; ++d)
    for (size_t k = 0; k < kStateSize; ++k)
      if (!initial[k].empty()) {
        const int64_t index = layer * d_count + d;
        init[size_t(d)][k] =
            reshape(slice(initial[k], 0, index, index + 1), {run.batch, state_size(k)});
      }
  std::array<Direction, 2> dirs;
  // Masks come from one generator, so a forward that draws them runs the directions in turn.
  if (d_count == 2 && num_threads() >= 2 && !(this->is_training() && options_.regularizers.any()))
    dirs = run_in_parallel(g, layer, in, init, run);
  else
    for (int d = 0; d < d_count; ++d)
      dirs[size_t(d)] =
          run_direction(g, layer, d, in, init[size_t(d)], run.masks, run.steps, run.batch);
  for (int d = 0; d < d_count; ++d)
    for (size_t k = 0; k < kStateSize; ++k)
      finals_[k][size_t(layer * d_count + d)] =
          reshape(dirs[size_t(d)].state[k], {1, run.batch, state_size(k)});
  return d_count == 2 ? concat({dirs[0].output, dirs[1].output}, 1) : dirs[0].output;
}

template <class Cell>
typename Recurrent<Cell>::Output Recurrent<Cell>::forward(Var<T> input, const State& initial,
                                                          std::span<const int64_t> lengths) {
  check_inputs(input, initial, lengths);
  Graph<T>& g = input.graph();
  const Shape s = input.shape();
  const int64_t steps = options_.batch_first ? s[1] : s[0];
  const int64_t batch = options_.batch_first ? s[0] : s[1];
  const int d_count = directions();
  const Run run{steps, batch, make_masks(g, lengths, steps, batch)};

  Var<T> x = options_.batch_first ? transpose(input, 0, 1) : input;  // [T, B, I]
  const bool training = this->is_training();
  const RecurrentRegularizers& r = options_.regularizers;
  x = locked_dropout(x, r.input_dropout, dropout_gen_, training);      // one mask [B, I]
  Var<T> layer_in = reshape(x, {steps * batch, options_.input_size});  // [T·B, I]
  for (auto& f : finals_) f.assign(size_t(options_.num_layers * d_count), Var<T>());
  for (int64_t l = 0; l < options_.num_layers; ++l) {
    layer_in = run_layer(g, l, layer_in, initial, run);
    if (training && r.output_dropout > 0)  // one mask [B, D·O] for every step
      layer_in = reshape(
          locked_dropout(reshape(layer_in, {steps, -1}), r.output_dropout, dropout_gen_, true),
          {steps * batch, d_count * output_size()});
    if (l + 1 < options_.num_layers && options_.dropout > 0.0 && training)
      layer_in = dropout(layer_in, options_.dropout, true, dropout_gen_);
  }

  Output out;
  out.output = reshape(layer_in, {steps, batch, d_count * output_size()});
  if (options_.batch_first) out.output = transpose(out.output, 0, 1);
  for (size_t k = 0; k < kStateSize; ++k)
    out.state[k] =
        finals_[k].size() == 1 ? finals_[k][0] : concat(std::span<const Var<T>>(finals_[k]), 0);
  return out;
}

}  // namespace rwd

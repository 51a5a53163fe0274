// Fused regions of elementwise ops: forming them as ops are recorded, and their backward.
//
// Note [Fused regions]: every elementwise op computes its value when it is called, as any op
// does, with the kernels of ops/kernels/fusion_body.hpp. It then joins the open region of its
// graph when it is the next node after that region's last one and iterates over the same
// rows (every axis but the last); otherwise it opens a new region. So a region is a run of
// consecutive nodes, closed by the first op that is not elementwise. Its members are the
// tape's own nodes, marked as one backward group (Note [Backward groups] in core/extension.hpp):
// inspection lists them and anomaly mode names them. The reverse walk hands the region to
// FusedRegions::backward_group once, at its last node. That walks blocks of rows small
// enough to stay in L1 (kScratchElems for all members) and, within a block, the members in
// reverse: each member's gradient is the sum of what its consumers inside the region put
// into its block of scratch and what consumers outside put into its gradient buffer; its
// instruction's backward adds into its operands, into scratch for members and into gradient
// buffers for everything else. The gradients passed inside the region are never zero-filled
// (the first full write stores), never written to the graph's memory, and never read back
// from it; values are the ones the forward stored, so nothing is recomputed.
#include "rewind/ops/fusion.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "rewind/core/error.hpp"
#include "rewind/ops/broadcast.hpp"
#include "rewind/ops/kernels/kernels.hpp"

namespace rwd {
namespace {

bool fusion_from_env() {
  const char* env = std::getenv("REWIND_FUSION");
  if (env == nullptr || *env == '\0') return true;
  const std::string_view v(env);
  if (v == "1" || v == "on" || v == "true") return true;
  if (v == "0" || v == "off" || v == "false") return false;
  throw ValueError(
      fmt::format("REWIND_FUSION: unknown value '{}'; expected 1, on, true, 0, off or false", v));
}

std::atomic<int> g_fusion_override{-1};  // -1: the environment decides

}  // namespace

bool fusion_default() {
  const int set = g_fusion_override.load(std::memory_order_relaxed);
  if (set >= 0) return set != 0;
  static const bool from_env = fusion_from_env();
  return from_env;
}

void set_fusion_default(bool on) {
  g_fusion_override.store(on ? 1 : 0, std::memory_order_relaxed);
}

namespace detail {
namespace {

// An elementwise node's attributes: its instruction.
template <Scalar T>
struct EwAttrs {
  EwOp op;
  T s;                           // add_scalar's, mul_scalar's scalar
  int64_t offset;                // kCopy: the first column of the slice
  const ElementwiseOp<T>* user;  // kUser: the op
};

inline int64_t last_dim(const Shape& s) {
  return s.rank() == 0 ? 1 : s[s.rank() - 1];
}
inline int64_t leading_numel(const Shape& s) {
  int64_t n = 1;
  for (int i = 0; i + 1 < s.rank(); ++i) n *= s[i];
  return n;
}
// in's axes but the last, right-aligned and padded with 1, equal out's.
bool same_leading(const Shape& out, const Shape& in) {
  const int lo = std::max(out.rank() - 1, 0);
  const int li = std::max(in.rank() - 1, 0);
  if (li > lo) return false;
  for (int i = 0; i < lo; ++i) {
    const int j = i - (lo - li);
    if ((j >= 0 ? in[j] : 1) != out[i]) return false;
  }
  return true;
}

// An operand's place in the [rows, cols] space of its node: element (r, c) at
// value[r·rs + c·cs + offset] (EwOperand).
struct Geometry {
  int64_t rs, cs, offset;
};

Geometry general_geometry(const Shape& out, const Shape& in) {
  const int64_t c_in = last_dim(in);
  return {same_leading(out, in) ? c_in : 0, c_in == last_dim(out) ? 1 : 0, 0};
}

// Inline: every elementwise op computes it for each operand when it is recorded.
[[gnu::always_inline]] inline Geometry geometry(EwOp op, const Shape& out, const Shape& in,
                                                int64_t offset) {
  if (op == EwOp::kCopy) return {last_dim(in), 1, offset};
  if (in == out) return {last_dim(out), 1, 0};
  return general_geometry(out, in);
}

// One member of a region, described when it is recorded: what its backward reads.
template <Scalar T>
struct Instr {
  struct In {
    NodeId id;
    int32_t member;  // index in the region, or -1 for a value from outside it
    Geometry at;
    const T* value;  // the operand's element (0, 0)
    bool needs_grad;
  };
  NodeId id;
  EwOp op;
  T s;
  int64_t cols;
  uint32_t num_inputs;
  In in[3];
  const T* value;
  const ElementwiseOp<T>* user;  // kUser only
  bool needs_grad;
};

// Node `id` (just recorded as op `code` of `inputs`) as an instruction, its inputs all from
// outside the region (join() finds its members).
template <Scalar T>
void describe(Graph<T>& g, NodeId id, EwOp code, T s, int64_t offset, const ElementwiseOp<T>* user,
              Instr<T>& ins) {
  const Node<T>& n = g.node(id);
  ins.id = id;
  ins.op = code;
  ins.s = s;
  ins.user = user;
  ins.cols = last_dim(n.shape);
  ins.value = n.value;
  ins.needs_grad = n.needs_grad();
  const auto inputs = g.inputs(id);
  ins.num_inputs = uint32_t(inputs.size());
  for (uint32_t k = 0; k < ins.num_inputs; ++k) {
    const Node<T>& x = g.node(inputs[k]);
    const Geometry at = geometry(code, n.shape, x.shape, offset);
    ins.in[k] = {inputs[k], -1, at, x.value + at.offset, x.needs_grad()};
  }
}

template <Scalar T>
Instr<T> describe(Graph<T>& g, NodeId id) {
  const Node<T>& n = g.node(id);
  const auto& attrs = n.attrs.template get<EwAttrs<T>>(n.op->name);
  Instr<T> ins;
  describe(g, id, attrs.op, attrs.s, attrs.offset, attrs.user, ins);
  return ins;
}

// One instruction over `rows` rows from its first: operands, and where their gradients go.
template <Scalar T>
struct Call {
  int64_t rows;
  const T* dy;
  const T* y;
  EwOperand<T> x[3];
  EwGrad<T> dx[3];
};

// A user op's backward, row by row: its local gradients go to `rowbuf` (one row per input),
// then into each destination with the destination's geometry.
template <Scalar T>
void user_backward(const Instr<T>& ins, const Call<T>& c, std::vector<T>& rowbuf) {
  const int64_t n = ins.cols;
  if (rowbuf.size() < size_t(3 * n)) rowbuf.resize(size_t(3 * n));
  for (int64_t r = 0; r < c.rows; ++r) {
    const T* x[3] = {};
    int64_t stride[3] = {};
    T* dx[3] = {};
    for (uint32_t k = 0; k < ins.num_inputs; ++k) {
      x[k] = c.x[k].p + r * c.x[k].rs;
      stride[k] = c.x[k].cs;
      if (c.dx[k].p != nullptr) dx[k] = rowbuf.data() + k * n;
    }
    ins.user->backward(n, c.dy + r * n, c.y + r * n, x, stride, dx);
    for (uint32_t k = 0; k < ins.num_inputs; ++k) {
      const EwGrad<T>& d = c.dx[k];
      if (d.p == nullptr) continue;
      T* dst = d.p + r * d.rs;
      const T* src = dx[k];
      const bool store = d.assign && (r == 0 || d.rs != 0);
      if (d.cs == 0) {
        T sum = T(0);
        for (int64_t i = 0; i < n; ++i) sum += src[i];
        dst[0] = store ? sum : dst[0] + sum;
      } else if (store) {
        std::copy(src, src + n, dst);
      } else {
        for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
      }
    }
  }
}

template <Scalar T>
void run_backward(const Instr<T>& ins, const Call<T>& c, std::vector<T>& rowbuf) {
  if (ins.op == EwOp::kUser) return user_backward(ins, c, rowbuf);
  kernels<T>().ew_backward(
      EwBackward<T>{ins.op, c.rows, ins.cols, c.dy, c.y, c.x[0], c.x[1], ins.s, c.dx[0], c.dx[1]});
}

template <Scalar T>
void run_forward(const Instr<T>& ins, int64_t rows, const EwOperand<T>* x, T* y) {
  if (ins.op != EwOp::kUser) {
    kernels<T>().ew_forward(EwForward<T>{ins.op, rows, ins.cols, y, x[0], x[1], ins.s});
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr[3] = {};
    int64_t stride[3] = {};
    for (uint32_t k = 0; k < ins.num_inputs; ++k) {
      xr[k] = x[k].p + r * x[k].rs;
      stride[k] = x[k].cs;
    }
    ins.user->forward(ins.cols, xr, stride, y + r * ins.cols);
  }
}

template <Scalar T>
EwOperand<T> operand(const typename Instr<T>::In& x, int64_t row) {
  return {x.value + row * x.at.rs, x.at.rs, x.at.cs};
}

// Elements of gradient scratch per block, all members together: a block of rows stays in
// L1 (16 KiB of float) while the region's members pass it down.
constexpr int64_t kScratchElems = 4096;
// A region closes at this many members, so its scratch stays small.
constexpr NodeId kMaxMembers = 256;

template <Scalar T>
class FusedRegions final : public GraphExtension<T> {
 public:
  std::optional<bool> setting;  // set_fusion(g, ·); unset: the process default

  [[nodiscard]] bool enabled() const { return setting ? *setting : fusion_default(); }

  // Node `id` joins the open region or opens one; returns its instruction's slot, which
  // the caller describes in place (describe), then hands to finish_member.
  Instr<T>& add_member(Graph<T>& g, NodeId id, int64_t rows) {
    if (regions_.empty() || !extends(regions_.back(), id, rows))
      regions_.push_back({id, id, rows, members_.size()});
    regions_.back().last = id;
    g.set_group(id, uint32_t(regions_.size()), *this);
    reached_.push_back(0);
    return members_.emplace_back();
  }
  // Marks which of the instruction's operands are members of its region.
  void finish_member(Instr<T>& ins) const {
    const NodeId first = regions_.back().first;
    for (uint32_t q = 0; q < ins.num_inputs; ++q)
      ins.in[q].member = ins.in[q].id >= first ? int32_t(ins.in[q].id - first) : -1;
  }

  NodeId backward_group(Graph<T>& g, NodeId id) override;

  void clear() noexcept override {
    regions_.clear();
    members_.clear();
    reached_.clear();
  }

  void before_backward(Graph<T>& /*g*/) override { std::fill(reached_.begin(), reached_.end(), 0); }

  [[nodiscard]] bool group_reached(NodeId id, uint32_t group) const override {
    const Region& r = regions_[group - 1];
    return reached_[r.begin + (id - r.first)] != 0;
  }

  [[nodiscard]] FusionStats stats() const {
    FusionStats s;
    for (const Region& r : regions_) {
      const size_t n = r.last - r.first + 1;
      if (n < 2) continue;
      ++s.regions;
      s.fused_ops += n;
      s.largest = std::max(s.largest, n);
    }
    return s;
  }

 private:
  struct Region {
    NodeId first, last;
    int64_t rows;
    size_t begin;  // its first member in members_
  };
  // What backward_group keeps per member.
  struct Pass {
    T* ext;   // the gradient consumers outside the region gave it, or null
    T* keep;  // where its whole gradient is kept (kRetainGrad), or null
    T* scratch;
    bool retain;
    bool written;  // its scratch holds gradient in this block
  };
  static bool extends(const Region& open, NodeId id, int64_t rows) {
    return open.last + 1 == id && open.rows == rows && id - open.first < kMaxMembers;
  }
  std::vector<Region> regions_;
  std::vector<Instr<T>> members_;  // every member of every region, described when recorded
  std::vector<uint8_t> reached_;   // per member: a gradient reached it in the last backward
  // Reused by every backward_group call: no allocation once they have grown.
  std::vector<Pass> pass_;
  std::vector<T> work_;

 public:
  std::vector<T> rowbuf_;  // a user op's local gradients, one row per input
};

template <Scalar T>
NodeId FusedRegions<T>::backward_group(Graph<T>& g, NodeId id) {
  const Region& region = regions_[g.node(id).group - 1];
  const NodeId first = region.first;
  const Instr<T>* members = members_.data() + region.begin;
  const size_t count = id - first + 1;
  pass_.resize(count);
  bool reached = false;
  int64_t all_cols = 1;  // not 0: a region of empty rows still divides by it
  for (size_t j = 0; j < count; ++j) {
    const Node<T>& n = g.node(first + NodeId(j));
    pass_[j] = {n.grad, nullptr, nullptr, n.retains_grad(), false};
    reached = reached || (members[j].needs_grad && n.grad != nullptr);
    all_cols += members[j].cols;
  }
  if (!reached) return first;

  const bool anomaly = g.anomaly_detection();
  const int64_t rows = region.rows;
  // Anomaly mode runs one block, so each check sees a whole gradient.
  const int64_t block =
      anomaly ? std::max<int64_t>(rows, 1)
              : std::clamp<int64_t>(kScratchElems / all_cols, 1, std::max<int64_t>(rows, 1));
  size_t total = 0;
  for (size_t j = 0; j < count; ++j) total += size_t(block * members[j].cols);
  if (work_.size() < total) work_.resize(total);
  total = 0;
  for (size_t j = 0; j < count; ++j) {
    pass_[j].scratch = work_.data() + total;
    total += size_t(block * members[j].cols);
  }
  const auto& k = kernels<T>();
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t rb = std::min(block, rows - r0);
    for (size_t j = 0; j < count; ++j) pass_[j].written = false;
    for (size_t j = count; j-- > 0;) {
      const Instr<T>& ins = members[j];
      Pass& p = pass_[j];
      if (!ins.needs_grad) continue;
      const int64_t len = rb * ins.cols;
      T* ext = p.ext != nullptr ? p.ext + r0 * ins.cols : nullptr;
      const T* dy = nullptr;
      if (p.written && ext != nullptr) {
        // Used inside and outside the region: its buffer gets the whole gradient, so what
        // Var::grad() and views of it read is complete.
        k.add_into(ext, p.scratch, len);
        dy = ext;
      } else if (p.written) {
        dy = p.scratch;
      } else if (ext != nullptr) {
        dy = ext;
      } else {
        continue;  // no gradient reached this member
      }
      reached_[region.begin + j] = 1;
      if (p.retain) {
        if (p.keep == nullptr) p.keep = p.ext != nullptr ? p.ext : g.grad_buffer(ins.id);
        T* keep = p.keep + r0 * ins.cols;
        if (keep != dy) std::memcpy(keep, dy, size_t(len) * sizeof(T));
      }
      Call<T> call{rb, dy, ins.value + r0 * ins.cols, {}, {}};
      for (uint32_t q = 0; q < ins.num_inputs; ++q) {
        const typename Instr<T>::In& x = ins.in[q];
        call.x[q] = operand<T>(x, r0);
        if (!x.needs_grad) continue;
        if (x.member >= 0) {
          Pass& src = pass_[size_t(x.member)];
          const int64_t src_cols = members[x.member].cols;
          bool assign = false;
          if (!src.written) {
            if (x.at.cs == 1 && x.at.offset == 0 && src_cols == ins.cols)
              assign = true;  // a full first write stores: no zero-fill
            else
              std::fill(src.scratch, src.scratch + rb * src_cols, T(0));
            src.written = true;
          }
          call.dx[q] = {src.scratch + x.at.offset, x.at.rs, x.at.cs, assign};
        } else {
          call.dx[q] = {g.grad_buffer(x.id) + r0 * x.at.rs + x.at.offset, x.at.rs, x.at.cs, false};
        }
      }
      // One member twice (x * x): the later operands add to what the first stored.
      for (uint32_t q = 1; q < ins.num_inputs; ++q)
        for (uint32_t e = 0; e < q; ++e)
          if (call.dx[q].p != nullptr && call.dx[q].p == call.dx[e].p) call.dx[q].assign = false;
      run_backward(ins, call, rowbuf_);
      if (anomaly) [[unlikely]]
        for (uint32_t q = 0; q < ins.num_inputs; ++q) {
          const typename Instr<T>::In& x = ins.in[q];
          if (!x.needs_grad) continue;
          if (x.member >= 0)
            AnomalyMonitor<T>::check_gradient_part(g, ins.id, q, pass_[size_t(x.member)].scratch,
                                                   rb * members[x.member].cols);
          else
            AnomalyMonitor<T>::check_gradient_part(g, ins.id, q, g.node(x.id).grad,
                                                   g.node(x.id).shape.numel());
        }
    }
  }
  return first;
}

}  // namespace

bool fits_rows(const Shape& out, const Shape& in) {
  if (in.rank() > out.rank()) return false;
  const int64_t c_in = last_dim(in);
  if (c_in != last_dim(out) && c_in != 1) return false;
  return same_leading(out, in) || leading_numel(in) == 1;
}

namespace {

template <Scalar T>
Var<T> record(Graph<T>& g, const OpDef<T>& op, EwOp code, std::span<const Var<T>> inputs,
              const Shape& out, T s, int64_t offset, const ElementwiseOp<T>* user) {
  auto [y, value] = g.record(op, inputs, out, EwAttrs<T>{code, s, offset, user});
  const int64_t rows = last_dim(out) == 0 ? 0 : leading_numel(out);
  auto& fusion = g.template extension<FusedRegions<T>>();
  Instr<T> alone{};  // fusion off: the node's own backward runs it (elementwise_backward)
  Instr<T>& ins = fusion.enabled() ? fusion.add_member(g, y.id(), rows) : alone;
  describe(g, y.id(), code, s, offset, user, ins);
  if (&ins != &alone) fusion.finish_member(ins);
  EwOperand<T> x[3] = {};
  for (uint32_t q = 0; q < ins.num_inputs; ++q) x[q] = operand<T>(ins.in[q], 0);
  run_forward(ins, rows, x, value);
  return y;
}

}  // namespace

template <Scalar T>
Var<T> record_elementwise(Graph<T>& g, const OpDef<T>& op, EwOp code,
                          std::span<const Var<T>> inputs, const Shape& out, T s, int64_t offset) {
  return record<T>(g, op, code, inputs, out, s, offset, nullptr);
}

template <Scalar T>
void elementwise_backward(const Backward<T>& b) {
  Graph<T>& g = b.graph();
  const Instr<T> ins = describe(g, b.id());
  const int64_t rows = ins.cols == 0 ? 0 : leading_numel(b.shape());
  Call<T> call{rows, b.dy(), b.y(), {}, {}};
  for (uint32_t q = 0; q < ins.num_inputs; ++q) {
    const typename Instr<T>::In& x = ins.in[q];
    call.x[q] = operand<T>(x, 0);
    if (T* dx = b.dx(q)) call.dx[q] = {dx + x.at.offset, x.at.rs, x.at.cs, false};
  }
  run_backward(ins, call, g.template extension<FusedRegions<T>>().rowbuf_);
}

template Var<float> record_elementwise(Graph<float>&, const OpDef<float>&, EwOp,
                                       std::span<const Var<float>>, const Shape&, float, int64_t);
template Var<double> record_elementwise(Graph<double>&, const OpDef<double>&, EwOp,
                                        std::span<const Var<double>>, const Shape&, double,
                                        int64_t);
template void elementwise_backward(const Backward<float>&);
template void elementwise_backward(const Backward<double>&);

}  // namespace detail

template <Scalar T>
Var<T> elementwise(const ElementwiseOp<T>& op, std::span<const Var<T>> inputs) {
  const char* name = op.def.name;
  if (op.arity < 1 || op.arity > 3 || op.forward == nullptr || op.backward == nullptr)
    throw ValueError(fmt::format(
        "{}: an ElementwiseOp needs 1 to 3 inputs and both functions (arity {}, forward {}, "
        "backward {})",
        name, op.arity, op.forward != nullptr ? "set" : "null",
        op.backward != nullptr ? "set" : "null"));
  if (int(inputs.size()) != op.arity)
    throw ValueError(fmt::format("{}: takes {} inputs, given {}", name, op.arity, inputs.size()));
  Graph<T>& g = graph_of(name, inputs);
  Shape out = inputs[0].shape();
  for (size_t k = 1; k < inputs.size(); ++k)
    out = detail::broadcast_shapes(name, out, inputs[k].shape()).out;
  for (size_t k = 0; k < inputs.size(); ++k)
    if (!detail::fits_rows(out, inputs[k].shape()))
      throw ShapeError(fmt::format(
          "{}: input {} of shape {} is not the output's shape {}, a row, a column or one value",
          name, k, inputs[k].shape().str(), out.str()));
  return detail::record<T>(g, op.def, detail::EwOp::kUser, inputs, out, T(0), 0, &op);
}

template <Scalar T>
void set_fusion(Graph<T>& g, std::optional<bool> on) {
  g.template extension<detail::FusedRegions<T>>().setting = on;
}

template <Scalar T>
bool fusion_enabled(Graph<T>& g) {
  return g.template extension<detail::FusedRegions<T>>().enabled();
}

template <Scalar T>
FusionStats fusion_stats(Graph<T>& g) {
  return g.template extension<detail::FusedRegions<T>>().stats();
}

template Var<float> elementwise(const ElementwiseOp<float>&, std::span<const Var<float>>);
template Var<double> elementwise(const ElementwiseOp<double>&, std::span<const Var<double>>);
template void set_fusion(Graph<float>&, std::optional<bool>);
template void set_fusion(Graph<double>&, std::optional<bool>);
template bool fusion_enabled(Graph<float>&);
template bool fusion_enabled(Graph<double>&);
template FusionStats fusion_stats(Graph<float>&);
template FusionStats fusion_stats(Graph<double>&);

}  // namespace rwd

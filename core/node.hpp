// What the tape stores per op call: the node, its op's definition, and its typed attributes.
//
// Note [Op attributes]: an op family declares its own attribute struct (slice bounds, an
// axis, a pointer to arena-held data) and records it with the node; its backward reads it
// back as the same type. The node keeps the struct in a small inline slot together with a
// tag of its type, so reading it as any other type is refused (GraphError naming the op)
// instead of reinterpreting bytes. Attribute structs are trivially copyable and at most
// AttrSlot::kCapacity bytes; what is larger goes into Graph::allocate() and the struct keeps
// a pointer to it.
//
// Note [Aliases]: reshape, detach and slices along the leading axis do not copy. Their value
// points into their input's value, and (except detach) their gradient points into their
// input's gradient, so their backward has nothing to do. Values on the tape are never written
// after their op returns, which is what makes sharing safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include "rewind/core/scope.hpp"
#include "rewind/core/shape.hpp"
#include "rewind/core/tensor.hpp"

namespace rwd {

using NodeId = uint32_t;

template <Scalar T>
class Backward;

/// What an op is: a name (shown in errors, statistics and DOT) and its backward.
/// backward == nullptr means no gradient flows through the op (leaves, detach).
template <Scalar T>
struct OpDef {
  const char* name;
  void (*backward)(const Backward<T>&);
};

/// The untyped attributes of rewind 0.1. Declare an attribute struct of your own instead
/// (Note [Op attributes]); this one still records and reads back as any other struct does.
struct [[deprecated("declare your op's own attribute struct (docs/adding-an-op.md)")]] OpAttrs {
  int64_t i[4] = {0, 0, 0, 0};
  double f[2] = {0.0, 0.0};
  const void* ptr = nullptr;
};

namespace detail {
// One object per attribute type; its address identifies the type (Note [Op attributes]).
template <class A>
inline constexpr char kAttrTag = 0;
[[noreturn]] void throw_attr_mismatch(const char* op, bool empty);
}  // namespace detail

/// A node's attributes: one trivially copyable struct, read back only as its own type.
class AttrSlot {
 public:
  static constexpr size_t kCapacity = 48;

  template <class A>
  static constexpr bool kFits = std::is_trivially_copyable_v<A> && sizeof(A) <= kCapacity &&
                                alignof(A) <= alignof(std::max_align_t);

  template <class A>
  void set(const A& attrs) {
    static_assert(std::is_trivially_copyable_v<A>, "op attributes must be trivially copyable");
    static_assert(sizeof(A) <= kCapacity,
                  "op attributes larger than AttrSlot::kCapacity: keep the bulk in "
                  "Graph::allocate() and a pointer to it in the struct");
    ::new (static_cast<void*>(bytes_)) A(attrs);
    tag_ = &detail::kAttrTag<A>;
  }
  /// The attributes recorded as an A; GraphError naming `op` when they are another type.
  template <class A>
  [[nodiscard]] const A& get(const char* op) const {
    if (tag_ != &detail::kAttrTag<A>) detail::throw_attr_mismatch(op, tag_ == nullptr);
    return *std::launder(reinterpret_cast<const A*>(bytes_));
  }
  [[nodiscard]] bool empty() const { return tag_ == nullptr; }

 private:
  alignas(std::max_align_t) std::byte bytes_[kCapacity];
  const void* tag_ = nullptr;
};

/// One recorded op call.
template <Scalar T>
struct Node {
  enum Flags : uint8_t {
    kNeedsGrad = 1,    // some input (or the leaf itself) wants a gradient
    kParam = 2,        // value and gradient belong to a Parameter
    kGradAlias = 4,    // gradient is a window into input 0's gradient (Note [Aliases])
    kValueAlias = 8,   // value is a window into input 0's value (Note [Aliases])
    kRetainGrad = 16,  // keep its gradient even inside a backward group (Note [Backward groups])
  };
  const OpDef<T>* op = nullptr;
  T* value = nullptr;
  T* grad = nullptr;  // nullptr until a gradient reaches this node in the current backward
  Shape shape;
  AttrSlot attrs;
  uint32_t inputs_begin = 0;
  uint32_t num_inputs = 0;
  int64_t grad_offset = 0;  // kGradAlias: offset into input 0's gradient
  uint8_t flags = 0;
  ScopeId scope = ScopeTable::kRoot;  // the name scope it was recorded in (core/scope.hpp)
  // The backward group it belongs to, 1-based; 0 for none (Note [Backward groups]).
  uint32_t group = 0;

  [[nodiscard]] bool needs_grad() const { return (flags & kNeedsGrad) != 0; }
  [[nodiscard]] bool is_param() const { return (flags & kParam) != 0; }
  [[nodiscard]] bool is_alias() const { return (flags & kValueAlias) != 0; }
  [[nodiscard]] bool retains_grad() const { return (flags & kRetainGrad) != 0; }
  /// Nodes without a backward whose gradient is their own (parameters, inputs).
  [[nodiscard]] bool is_leaf() const {
    return op->backward == nullptr && (flags & kGradAlias) == 0;
  }
};

}  // namespace rwd

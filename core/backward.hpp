// Backward<T>: what an op's backward function sees of the tape.
#pragma once

#include "rewind/core/graph.hpp"

namespace rwd {

/// What a backward function sees: this node's value, attributes and incoming gradient, its
/// inputs' values, and (lazily zero-filled) gradient buffers to add into.
template <Scalar T>
class Backward {
 public:
  Backward(Graph<T>& g, NodeId id) : g_(g), id_(id), node_(g.node(id)) {}

  [[nodiscard]] const Node<T>& node() const { return node_; }
  [[nodiscard]] NodeId id() const { return id_; }
  [[nodiscard]] Graph<T>& graph() const { return g_; }
  /// The attributes the op recorded, as its own struct (GraphError if it recorded another).
  template <class A>
  [[nodiscard]] const A& attrs() const {
    return node_.attrs.template get<A>(node_.op->name);
  }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  [[deprecated(
      "read your op's own attribute struct: attrs<YourAttrs>()")]] [[nodiscard]] const OpAttrs&
  attrs() const {
    return attrs<OpAttrs>();
  }
#pragma GCC diagnostic pop
  [[nodiscard]] const Shape& shape() const {
    return node_.shape;
  }
  [[nodiscard]] int64_t numel() const {
    return node_.shape.numel();
  }
  /// This node's value.
  [[nodiscard]] const T* y() const {
    return node_.value;
  }
  /// The gradient of the loss with respect to this node's value.
  [[nodiscard]] const T* dy() const {
    return node_.grad;
  }

  [[nodiscard]] uint32_t num_inputs() const {
    return node_.num_inputs;
  }
  [[nodiscard]] NodeId input_id(uint32_t k) const {
    return g_.inputs(id_)[k];
  }
  [[nodiscard]] const T* x(uint32_t k) const {
    return g_.node(input_id(k)).value;
  }
  [[nodiscard]] const Shape& x_shape(uint32_t k) const {
    return g_.node(input_id(k)).shape;
  }
  /// Gradient buffer of input k to add into, or nullptr when input k needs no gradient.
  [[nodiscard]] T* dx(uint32_t k) const {
    return g_.grad_buffer(input_id(k));
  }
  /// Like dx(), but a buffer made now is not zero-filled: when `fresh` comes back true the
  /// op must write (=) every element instead of adding (Note [Gradient accumulation]).
  [[nodiscard]] T* dx_for_write(uint32_t k, bool& fresh) const {
    return g_.grad_buffer_for_write(input_id(k), fresh);
  }

 private:
  Graph<T>& g_;
  NodeId id_;
  const Node<T>& node_;
};

}  // namespace rwd

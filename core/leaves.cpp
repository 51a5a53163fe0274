// The graph's leaves: inputs, constants and parameters, the nodes without a backward whose
// gradient (when they want one) is their own.
#include <fmt/format.h>

#include <cstring>

#include "rewind/core/graph.hpp"

namespace rwd {
namespace {

template <Scalar T>
const OpDef<T> kInputOp{"input", nullptr};
template <Scalar T>
const OpDef<T> kParamOp{"param", nullptr};

}  // namespace

template <Scalar T>
Var<T> Graph<T>::input(TensorView<const T> value, bool requires_grad) {
  auto r = record(kInputOp<T>, {}, value.shape());
  if (value.numel() > 0) std::memcpy(r.out, value.data(), size_t(value.numel()) * sizeof(T));
  if (requires_grad) nodes_.back().flags |= Node<T>::kNeedsGrad;
  return r.var;
}

template <Scalar T>
Var<T> Graph<T>::input_view(TensorView<const T> value, bool requires_grad) {
  if (value.empty() && value.numel() > 0)
    throw ValueError(
        fmt::format("input_view: a view of shape {} has no data", value.shape().str()));
  Node<T> n;
  n.op = &kInputOp<T>;
  n.shape = value.shape();
  n.inputs_begin = uint32_t(input_ids_.size());
  n.scope = scopes_.current();
  n.value = const_cast<T*>(value.data());  // never written: values are read-only on the tape
  if (requires_grad) n.flags = Node<T>::kNeedsGrad;
  return push(n);
}

template <Scalar T>
Var<T> Graph<T>::scalar(T value) {
  auto r = record(kInputOp<T>, {}, Shape{});
  r.out[0] = value;
  return r.var;
}

template <Scalar T>
typename Graph<T>::Recorded Graph<T>::new_constant(const Shape& shape) {
  return record(kInputOp<T>, {}, shape);
}

template <Scalar T>
Var<T> Graph<T>::zeros(const Shape& shape) {
  auto r = record(kInputOp<T>, {}, shape);
  std::memset(r.out, 0, size_t(shape.numel()) * sizeof(T));
  return r.var;
}

template <Scalar T>
Var<T> Graph<T>::param(Parameter<T>& p) {
  // Note: the cache is only trusted when graph, round, storage and requires_grad all match.
  auto& cache = p.node_cache_;
  if (cache.graph == this && cache.round == round_ && cache.node < nodes_.size()) {
    const Node<T>& cached = nodes_[cache.node];
    if (cached.is_param() && cached.value == p.value().data() &&
        cached.needs_grad() == p.requires_grad())
      return Var<T>(this, cache.node, round_);
  }
  if (p.value().empty())
    throw ValueError(fmt::format(
        "param: the parameter has no storage (default-constructed; shape {})", p.shape().str()));
  if (!(p.grad().shape() == p.shape()))
    throw ShapeError(
        fmt::format("param: the parameter's gradient has shape {} but its value has shape {}",
                    p.grad().shape().str(), p.shape().str()));
  Node<T> n;
  n.op = &kParamOp<T>;
  n.shape = p.shape();
  n.inputs_begin = uint32_t(input_ids_.size());
  n.value = p.value().data();
  n.scope = scopes_.current();
  n.flags = Node<T>::kParam;
  if (p.requires_grad()) {
    n.flags |= Node<T>::kNeedsGrad;
    n.grad = p.grad().data();
  }
  Var<T> var = push(n);
  cache = {this, round_, var.id()};
  return var;
}

template Var<float> Graph<float>::input(TensorView<const float>, bool);
template Var<double> Graph<double>::input(TensorView<const double>, bool);
template Var<float> Graph<float>::input_view(TensorView<const float>, bool);
template Var<double> Graph<double>::input_view(TensorView<const double>, bool);
template Var<float> Graph<float>::scalar(float);
template Var<double> Graph<double>::scalar(double);
template Graph<float>::Recorded Graph<float>::new_constant(const Shape&);
template Graph<double>::Recorded Graph<double>::new_constant(const Shape&);
template Var<float> Graph<float>::zeros(const Shape&);
template Var<double> Graph<double>::zeros(const Shape&);
template Var<float> Graph<float>::param(Parameter<float>&);
template Var<double> Graph<double>::param(Parameter<double>&);

}  // namespace rwd

// fmt formatting for Shape, Tensor and TensorView: fmt::format("{}", t) prints the dtype,
// the shape and the values, eliding the middle of large tensors as PyTorch does.
#pragma once

#include <fmt/format.h>

#include <string>

#include "rewind/core/graph.hpp"
#include "rewind/core/tensor.hpp"

namespace rwd {

/// The text fmt prints for a tensor: "tensor(float32, [2, 3],\n [[1, 2, 3],\n  [4, 5, 6]])".
/// Tensors of more than 1000 elements show 3 entries at each end of every dimension.
template <Scalar T>
std::string to_string(TensorView<const T> t);

}  // namespace rwd

template <>
struct fmt::formatter<rwd::Shape> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const rwd::Shape& s, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(s.str(), ctx);
  }
};

template <rwd::Scalar T>
struct fmt::formatter<rwd::TensorView<T>> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const rwd::TensorView<T>& t, Ctx& ctx) const {
    using V = std::remove_const_t<T>;
    return fmt::formatter<std::string_view>::format(
        rwd::to_string<V>(rwd::TensorView<const V>(t.data(), t.shape())), ctx);
  }
};

template <rwd::Scalar T>
struct fmt::formatter<rwd::Tensor<T>> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const rwd::Tensor<T>& t, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(rwd::to_string<T>(t.view()), ctx);
  }
};

/// A Var prints as its op name and value.
template <rwd::Scalar T>
struct fmt::formatter<rwd::Var<T>> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const rwd::Var<T>& v, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(
        std::string(v.op_name()) + ": " + rwd::to_string<T>(v.value()), ctx);
  }
};

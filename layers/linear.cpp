// Linear layer.
#include "rewind/layers/linear.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "rewind/ops/linalg.hpp"
#include "rewind/ops/shape.hpp"

namespace rwd {

template <Scalar T>
Linear<T>::Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias)
    : has_bias_(bias) {
  if (in_features <= 0 || out_features <= 0)
    throw ValueError(fmt::format("Linear: sizes must be positive, got in {} and out {}",
                                 in_features, out_features));
  const double bound = 1.0 / std::sqrt(double(in_features));
  weight_ = Parameter<T>(Tensor<T>::uniform({out_features, in_features}, -bound, bound, gen));
  if (bias) bias_ = Parameter<T>(Tensor<T>::uniform({out_features}, -bound, bound, gen));
}

template <Scalar T>
Var<T> Linear<T>::forward(Var<T> x) {
  const Shape s = x.shape();
  if (s.rank() < 1 || s[s.rank() - 1] != in_features())
    throw ShapeError(fmt::format("Linear: input shape {} does not end in in_features = {}", s.str(),
                                 in_features()));
  Graph<T>& g = x.graph();
  const Var<T> b = has_bias_ ? g.param(bias_) : Var<T>();
  if (s.rank() == 2) return linear(x, g.param(weight_), b);
  Var<T> flat = reshape(x, {-1, in_features()});
  Var<T> y = linear(flat, g.param(weight_), b);
  std::array<int64_t, Shape::kMaxRank> dims{};  // no heap allocation per call
  std::copy(s.dims().begin(), s.dims().end(), dims.begin());
  dims[size_t(s.rank() - 1)] = out_features();
  return reshape(y, Shape(std::span<const int64_t>(dims.data(), size_t(s.rank()))));
}

template <Scalar T>
void Linear<T>::visit(ModuleVisitor<T>& v) {
  v.parameter("weight", weight_);
  if (has_bias_) v.parameter("bias", bias_);
}

template class Linear<float>;
template class Linear<double>;

}  // namespace rwd

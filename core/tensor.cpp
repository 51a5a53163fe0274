// Tensor storage (64-byte aligned, so SIMD loads never straddle cache lines) and creation.
#include "rewind/core/tensor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "rewind/core/error.hpp"

namespace rwd {
namespace {

constexpr size_t kAlign = 64;

template <class T>
T* allocate_aligned(int64_t n) {
  const size_t bytes =
      std::max<size_t>(kAlign, (size_t(n) * sizeof(T) + kAlign - 1) / kAlign * kAlign);
  void* p = std::aligned_alloc(kAlign, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<T*>(p);
}

}  // namespace

std::array<int64_t, Shape::kMaxRank> row_major_strides(const Shape& shape) {
  std::array<int64_t, Shape::kMaxRank> s{};
  int64_t stride = 1;
  for (int i = shape.rank() - 1; i >= 0; --i) {
    s[i] = stride;
    stride *= shape[i];
  }
  return s;
}

template <class T>
T& TensorView<T>::at(std::initializer_list<int64_t> index) const {
  if (int(index.size()) != shape_.rank())
    throw IndexError(fmt::format("Tensor::at: {} indices given for a tensor of shape {}",
                                 index.size(), shape_.str()));
  int64_t offset = 0;
  int axis = 0;
  for (int64_t i : index) {
    if (i < 0 || i >= shape_[axis])
      throw IndexError(fmt::format("Tensor::at: index [{}] is out of range for shape {} (axis {})",
                                   fmt::join(index, ", "), shape_.str(), axis));
    offset = offset * shape_[axis] + i;
    ++axis;
  }
  return data_[offset];
}

template <class T>
typename TensorView<T>::value_type TensorView<T>::item() const {
  if (numel() != 1 || data_ == nullptr)
    throw ShapeError(
        fmt::format("item: tensor of shape {} has {} elements, not 1", shape_.str(), numel()));
  return data_[0];
}

template <class T>
void Tensor<T>::FreeDeleter::operator()(T* p) const {
  std::free(p);  // NOLINT(cppcoreguidelines-no-malloc): pairs with aligned_alloc
}

template <class T>
Tensor<T>::Tensor(Shape shape) : shape_(shape), data_(allocate_aligned<T>(shape.numel())) {
  std::memset(data_.get(), 0, size_t(shape.numel()) * sizeof(T));
}

template <class T>
Tensor<T>::Tensor(TensorView<const T> view)
    : shape_(view.shape()), data_(allocate_aligned<T>(view.numel())) {
  if (view.numel() > 0) std::memcpy(data_.get(), view.data(), size_t(view.numel()) * sizeof(T));
}

template <class T>
Tensor<T>::Tensor(const Tensor& other) : shape_(other.shape_) {
  if (other.data_) {
    data_.reset(allocate_aligned<T>(shape_.numel()));
    std::memcpy(data_.get(), other.data_.get(), size_t(shape_.numel()) * sizeof(T));
  }
}

template <class T>
Tensor<T>& Tensor<T>::operator=(const Tensor& other) {
  if (this != &other) {
    Tensor copy(other);
    *this = std::move(copy);
  }
  return *this;
}

template <class T>
Tensor<T> Tensor<T>::full(Shape shape, T value) {
  Tensor t(shape);
  t.fill(value);
  return t;
}

template <class T>
Tensor<T> Tensor<T>::from(Shape shape, std::initializer_list<T> values) {
  return from(shape, std::span<const T>(values.begin(), values.size()));
}

template <class T>
Tensor<T> Tensor<T>::from(Shape shape, std::span<const T> values) {
  if (int64_t(values.size()) != shape.numel())
    throw ShapeError(fmt::format("Tensor::from: {} values given for shape {} ({} elements)",
                                 values.size(), shape.str(), shape.numel()));
  Tensor t(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

template <class T>
Tensor<T> Tensor<T>::uniform(Shape shape, double lo, double hi, Generator& gen) {
  if (!(lo <= hi))
    throw ValueError(fmt::format("Tensor::uniform: lo = {} must not exceed hi = {}", lo, hi));
  Tensor t(shape);
  // Narrowing to float can round a draw up to hi: keep [lo, hi) in T too.
  const T top = T(hi) > T(lo) ? std::nextafter(T(hi), T(lo)) : T(lo);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const T v = T(gen.uniform(lo, hi));
    t[i] = v < T(hi) || !(T(lo) < T(hi)) ? v : top;
  }
  return t;
}

template <class T>
Tensor<T> Tensor<T>::normal(Shape shape, double mean, double stddev, Generator& gen) {
  if (!(stddev >= 0))
    throw ValueError(fmt::format("Tensor::normal: stddev = {} must be >= 0", stddev));
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = T(gen.normal(mean, stddev));
  return t;
}

template <class T>
void Tensor<T>::fill(T value) {
  std::fill_n(data(), numel(), value);
}

template <class T>
Tensor<T> Tensor<T>::reshaped(Shape shape) const {
  if (shape.numel() != shape_.numel())
    throw ShapeError(fmt::format("Tensor::reshaped: cannot view {} ({} elements) as {} ({})",
                                 shape_.str(), shape_.numel(), shape.str(), shape.numel()));
  Tensor t(*this);
  t.shape_ = shape;
  return t;
}

namespace {
template <class T>
double max_abs_diff_impl(TensorView<const T> a, TensorView<const T> b) {
  if (!(a.shape() == b.shape()))
    throw ShapeError(
        fmt::format("max_abs_diff: shapes differ: {} vs {}", a.shape().str(), b.shape().str()));
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::abs(double(a[i]) - double(b[i]));
    if (d > m || std::isnan(d)) m = d;
  }
  return m;
}
}  // namespace

template class TensorView<float>;
template class TensorView<double>;
template class TensorView<const float>;
template class TensorView<const double>;
template class Tensor<float>;
template class Tensor<double>;
double max_abs_diff(TensorView<const float> a, TensorView<const float> b) {
  return max_abs_diff_impl(a, b);
}
double max_abs_diff(TensorView<const double> a, TensorView<const double> b) {
  return max_abs_diff_impl(a, b);
}

}  // namespace rwd

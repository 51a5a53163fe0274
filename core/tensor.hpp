// Tensor: dense, contiguous, row-major storage of rank 0 to 4 in float or double, and
// TensorView, a non-owning window onto such storage (a value or gradient on the tape).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <type_traits>

#include "rewind/core/random.hpp"
#include "rewind/core/shape.hpp"

namespace rwd {

/// "float32" or "float64", the names PyTorch and safetensors use.
template <class T>
constexpr const char* dtype_name() {
  if constexpr (std::is_same_v<T, float>)
    return "float32";
  else if constexpr (std::is_same_v<T, double>)
    return "float64";
  else
    return "unknown";
}

template <class T>
concept Scalar = std::is_same_v<T, float> || std::is_same_v<T, double>;

/// Non-owning view of contiguous row-major data. T may be const.
template <class T>
class TensorView {
 public:
  using value_type = std::remove_const_t<T>;

  TensorView() = default;
  TensorView(T* data, Shape shape) : data_(data), shape_(shape) {}
  /// A view of mutable data converts to a view of const data.
  template <class U>
  requires(std::is_const_v<T>&& std::is_same_v<U, value_type>) TensorView(TensorView<U> other)
      : data_(other.data()), shape_(other.shape()) {}

  [[nodiscard]] T* data() const { return data_; }
  [[nodiscard]] const Shape& shape() const { return shape_; }
  [[nodiscard]] int rank() const { return shape_.rank(); }
  [[nodiscard]] int64_t numel() const { return shape_.numel(); }
  [[nodiscard]] int64_t size(int axis) const { return shape_.dim(axis); }
  [[nodiscard]] bool empty() const { return data_ == nullptr; }
  [[nodiscard]] std::span<T> span() const { return {data_, size_t(numel())}; }

  /// Flat element i (unchecked).
  T& operator[](int64_t i) const { return data_[i]; }
  /// Element at a multi-index; checks rank and bounds, throwing IndexError.
  [[nodiscard]] T& at(std::initializer_list<int64_t> index) const;
  /// The value of a one-element view.
  [[nodiscard]] value_type item() const;

 private:
  T* data_ = nullptr;
  Shape shape_;
};

template <class T>
class Tensor {
 public:
  using value_type = T;

  /// An empty rank-0 tensor with no storage: use zeros() etc. to make a real one.
  Tensor() = default;
  /// A zero-filled tensor of the given shape.
  explicit Tensor(Shape shape);
  /// A copy of a view's data.
  explicit Tensor(TensorView<const T> view);
  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  ~Tensor() = default;

  static Tensor zeros(Shape shape) { return Tensor(shape); }
  static Tensor ones(Shape shape) { return full(shape, T(1)); }
  static Tensor full(Shape shape, T value);
  /// Values in row-major order; throws ShapeError when their count is not shape.numel().
  static Tensor from(Shape shape, std::initializer_list<T> values);
  static Tensor from(Shape shape, std::span<const T> values);
  /// Uniform in [lo, hi) from `gen`.
  static Tensor uniform(Shape shape, double lo, double hi, Generator& gen);
  /// Normal with the given mean and standard deviation from `gen`.
  static Tensor normal(Shape shape, double mean, double stddev, Generator& gen);

  [[nodiscard]] const Shape& shape() const { return shape_; }
  [[nodiscard]] int rank() const { return shape_.rank(); }
  [[nodiscard]] int64_t numel() const { return data_ ? shape_.numel() : 0; }
  [[nodiscard]] int64_t size(int axis) const { return shape_.dim(axis); }
  [[nodiscard]] bool empty() const { return data_ == nullptr; }

  [[nodiscard]] T* data() { return data_.get(); }
  [[nodiscard]] const T* data() const { return data_.get(); }
  [[nodiscard]] std::span<T> span() { return {data(), size_t(numel())}; }
  [[nodiscard]] std::span<const T> span() const { return {data(), size_t(numel())}; }

  [[nodiscard]] TensorView<T> view() { return {data(), shape_}; }
  [[nodiscard]] TensorView<const T> view() const { return {data(), shape_}; }
  operator TensorView<const T>() const { return view(); }  // NOLINT(google-explicit-constructor)

  T& operator[](int64_t i) { return data_[i]; }
  const T& operator[](int64_t i) const { return data_[i]; }
  /// Element at a multi-index; checks rank and bounds, throwing IndexError.
  T& at(std::initializer_list<int64_t> index) { return view().at(index); }
  [[nodiscard]] const T& at(std::initializer_list<int64_t> index) const { return view().at(index); }
  [[nodiscard]] T item() const { return view().item(); }

  void fill(T value);
  /// Same data, new shape with the same element count (throws ShapeError otherwise).
  [[nodiscard]] Tensor reshaped(Shape shape) const;
  /// Element type conversion (float <-> double).
  template <class U>
  [[nodiscard]] Tensor<U> cast() const {
    Tensor<U> out(shape_);
    for (int64_t i = 0; i < numel(); ++i) out[i] = U(data_[i]);
    return out;
  }

 private:
  struct FreeDeleter {
    void operator()(T* p) const;
  };
  Shape shape_;
  std::unique_ptr<T[], FreeDeleter> data_;
};

/// Largest |a - b| over all elements; throws ShapeError when the shapes differ.
double max_abs_diff(TensorView<const float> a, TensorView<const float> b);
double max_abs_diff(TensorView<const double> a, TensorView<const double> b);

/// Row-major strides of a shape, in elements.
std::array<int64_t, Shape::kMaxRank> row_major_strides(const Shape& shape);

}  // namespace rwd

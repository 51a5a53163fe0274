// Tensor printing.
#include "rewind/core/format.hpp"

namespace rwd {
namespace {

constexpr int64_t kSummarizeAbove = 1000;
constexpr int64_t kEdgeItems = 3;

template <class T>
void print_dim(std::string& out, const T* data, const Shape& shape, int axis, int64_t offset,
               bool summarize, int indent) {
  const int64_t n = shape[axis];
  int64_t stride = 1;
  for (int d = axis + 1; d < shape.rank(); ++d) stride *= shape[d];
  out += '[';
  const bool elide = summarize && n > 2 * kEdgeItems;
  for (int64_t i = 0; i < n; ++i) {
    if (elide && i == kEdgeItems) {
      out += axis + 1 == shape.rank() ? "..., " : "...,\n" + std::string(size_t(indent + 1), ' ');
      i = n - kEdgeItems;
    }
    if (axis + 1 == shape.rank()) {
      out += fmt::format("{:.6g}", data[offset + i]);
    } else {
      print_dim(out, data, shape, axis + 1, offset + i * stride, summarize, indent + 1);
    }
    if (i + 1 < n) {
      out += ',';
      if (axis + 1 == shape.rank()) {
        out += ' ';
      } else {
        out += std::string(size_t(shape.rank() - axis - 1), '\n');
        out += std::string(size_t(indent + 1), ' ');
      }
    }
  }
  out += ']';
}

}  // namespace

template <Scalar T>
std::string to_string(TensorView<const T> t) {
  std::string out = fmt::format("tensor({}, {},\n ", dtype_name<T>(), t.shape().str());
  if (t.empty()) {
    out += "<no storage>)";
    return out;
  }
  if (t.rank() == 0) {
    out += fmt::format("{:.6g})", t[0]);
    return out;
  }
  print_dim(out, t.data(), t.shape(), 0, 0, t.numel() > kSummarizeAbove, 1);
  out += ')';
  return out;
}

template std::string to_string<float>(TensorView<const float>);
template std::string to_string<double>(TensorView<const double>);

}  // namespace rwd

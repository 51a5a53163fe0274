// Exceptions thrown by rewind for user mistakes. Every message names the op (or file) and the
// shapes or values involved. Internal invariants use assert, not these.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace rwd {

/// Base of every exception rewind throws for bad input. Catch this to catch them all.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Shapes or ranks that do not fit the op (matmul inner dims, broadcast, reshape sizes, ...).
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// An index, id or axis out of range.
class IndexError : public Error {
 public:
  using Error::Error;
};

/// A value outside what the op accepts (probability, norm type, non-finite gradients, ...).
class ValueError : public Error {
 public:
  using Error::Error;
};

/// Misuse of the tape: a Var from another graph or from before clear(), backward from a
/// non-scalar or from a value that needs no gradient.
class GraphError : public Error {
 public:
  using Error::Error;
};

/// In anomaly mode (Graph::set_anomaly_detection), the first NaN or Inf an op's forward or
/// backward produced. The message names the op, its scope and its inputs' shapes; the parts
/// are also available on their own.
class AnomalyError : public Error {
 public:
  AnomalyError(const std::string& what, std::string op, std::string scope, bool in_backward)
      : Error(what), op_(std::move(op)), scope_(std::move(scope)), in_backward_(in_backward) {}
  /// The op's name ("log").
  [[nodiscard]] const std::string& op() const { return op_; }
  /// The scope path the op was recorded in ("lstm.l0.fwd/t=3"; empty at the root).
  [[nodiscard]] const std::string& scope() const { return scope_; }
  /// True when the op's backward produced it, false for its forward.
  [[nodiscard]] bool in_backward() const { return in_backward_; }

 private:
  std::string op_;
  std::string scope_;
  bool in_backward_;
};

/// A file that cannot be read or written, or whose contents are malformed.
class IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace rwd

// Exceptions thrown by rewind for user mistakes. Every message names the op (or file) and the
// shapes or values involved. Internal invariants use assert, not these.
#pragma once

#include <stdexcept>
#include <string>

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

/// A file that cannot be read or written, or whose contents are malformed.
class IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace rwd

#pragma once
// The library's exception types. Every message names the operation or file
// and the offending shapes or values, so a user can act on it.
#include <stdexcept>
#include <string>

namespace hybrid {

/// Base of every error the library throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

/// Incompatible shapes, bad axes, sizes that do not match or overflow.
class ShapeError : public Error {
 public:
  explicit ShapeError(const std::string& what) : Error(what) {}
};

/// Misuse of tracing: reading values of a symbol, using a symbol outside its trace.
class TraceError : public Error {
 public:
  explicit TraceError(const std::string& what) : Error(what) {}
};

/// A file that cannot be read: malformed, truncated or inconsistent.
class FormatError : public Error {
 public:
  explicit FormatError(const std::string& what) : Error(what) {}
};

}  // namespace hybrid

#pragma once
// Errors thrown by nthgrad. The Python bindings translate each subclass into
// the Python exception of the same name; messages name the op, the argument
// and the offending shapes or values.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace nthgrad {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ValueError : public Error {
 public:
  using Error::Error;
};
class TypeError : public Error {
 public:
  using Error::Error;
};
class IndexError : public Error {
 public:
  using Error::Error;
};
class RuntimeError : public Error {
 public:
  using Error::Error;
};
// An allocation failed (Python's MemoryError).
class MemoryError : public Error {
 public:
  using Error::Error;
};

namespace detail {
// cat("add2: ", shape, " vs ", other): builds a message from streamable parts.
template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

}  // namespace nthgrad

#pragma once
// Lean recording. While a backward pass runs with create_graph=True, the
// gradient graph it records is kept small, so that the graph of the n-th
// derivative grows polynomially in n instead of exponentially:
// - ops that are pure functions of their inputs look themselves up before
//   computing (`Memo`, hash-consing): an identical op on identical inputs is
//   recorded once, and the later call returns the earlier node's output. The
//   table holds weak references only, and persists across passes, so the
//   derivative of cos(x) taken at order 5 reuses the sin(x) of order 3.
// - elementwise arithmetic becomes one polynomial node in normal form
//   (ops/detail/polynomial.h): multiplications by exact ones and additions of
//   exact zeros vanish there, like terms combine, and a polynomial of a
//   polynomial is inlined, so the nested rules stop stacking.
// - the engine drops gradients that are constant zeros (symbolic zeros).
#include <initializer_list>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/node.h"

namespace nthgrad {

bool lean_recording();

// Turns lean recording on for a backward pass that records (the engine).
class LeanRecordingGuard {
 public:
  explicit LeanRecordingGuard(bool on);
  ~LeanRecordingGuard();
  LeanRecordingGuard(const LeanRecordingGuard&) = delete;
  LeanRecordingGuard& operator=(const LeanRecordingGuard&) = delete;

 private:
  bool previous_;
};

// The one value every element of a constant holds (no NaN), if there is one:
// a constant of ones is a coefficient 1, of zeros a symbolic zero.
std::optional<double> uniform_value(const Variable& v);

namespace lean {

// The nodes and memory an identity names, kept alive while the identity is in
// use: a leaf's AccumulateGrad may be created by the lookup itself, and a node
// or buffer that died could leave its address to another.
struct KeepAlive {
  std::vector<std::shared_ptr<Node>> nodes;
  std::vector<std::shared_ptr<Storage>> storages;
};

// Identity of a variable within one polynomial under construction: its
// gradient edge if it requires grad (the edge's node joins `keep`), else its
// memory.
std::string identity(const Variable& v, KeepAlive& keep);

// Appends the identity of `v` as an input of a memoized op: its gradient edge,
// the memory of its value and that memory's version if it requires grad, its
// single value if it is a uniform constant. Returns false when it has none
// that is safe to reuse across calls: another constant, or memory nthgrad
// does not own (NumPy writes to it do not bump the version).
bool append_key(std::string& key, const Variable& v, KeepAlive& keep);

// Hash-consing of one op call:
//   lean::Memo memo("matmul", {a, b}, {double(ta), double(tb)});
//   if (auto hit = memo.find()) return *hit;
//   ... compute and record y ...
//   return memo.remember(y);
// Inactive (find() empty, remember() a no-op) outside lean recording, with
// grad mode off, when no input requires grad, or when an input has no key.
class Memo {
 public:
  Memo(const char* name, const VariableList& inputs, std::initializer_list<double> attributes = {});
  // Built from a key the caller assembled (the polynomial op's canonical
  // form) and the nodes it names; an empty key is inactive.
  Memo(std::string key, KeepAlive keep)
      : active_(!key.empty() && lean_recording() && is_grad_enabled()), key_(std::move(key)), keep_(std::move(keep)) {}
  std::optional<Variable> find() const;
  Variable remember(const Variable& y) const;

 private:
  bool active_ = false;
  std::string key_;
  // The nodes the key names, alive until the op is recorded (its node then
  // holds them): no other node can take their addresses meanwhile.
  KeepAlive keep_;
};

// Adds the raw bytes of a value to a key.
template <typename T>
void append_bytes(std::string& key, const T& value) {
  key.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

}  // namespace lean

}  // namespace nthgrad

#pragma once
// Argument checks shared by the ops. Each throws the nthgrad error whose
// Python counterpart a user expects, naming the op, the argument and shapes.
#include <string>
#include <utility>

#include "nthgrad/autograd.h"
#include "nthgrad/error.h"
#include "nthgrad/variable.h"

namespace nthgrad::check {

inline void defined(const char* op, const char* arg, const Variable& v) {
  if (!v.defined()) throw ValueError(detail::cat(op, ": argument ", arg, " is undefined (None)"));
}

inline void floating(const char* op, const char* arg, const Variable& v) {
  defined(op, arg, v);
  if (!is_floating(v.dtype()))
    throw TypeError(detail::cat(op, ": argument ", arg, " must be float32 or float64, got ", dtype_name(v.dtype()),
                                " (shape ", shape_str(v.shape()), ")"));
}

inline void same_shape(const char* op, const char* arg0, const Variable& a, const char* arg1, const Variable& b) {
  if (a.shape() != b.shape())
    throw ValueError(detail::cat(op, ": ", arg0, " has shape ", shape_str(a.shape()), " but ", arg1, " has shape ",
                                 shape_str(b.shape()), "; they must be equal"));
}

// Whether an op may write into v's memory in place (optimizer steps, add_,
// copy_, running statistics): not memory nthgrad does not own (a NumPy array,
// possibly read-only, or a DLPack producer), nor memory with a live NumPy view
// or DLPack export, which would see the change and whose from_numpy tensors
// have a storage (and version) of their own. RuntimeError otherwise.
inline void writable(const char* op, const char* arg, const Variable& v) {
  defined(op, arg, v);
  const std::shared_ptr<Storage>& storage = v.value().storage();
  if (!storage->owns_data())
    throw RuntimeError(detail::cat(op, ": ", arg, " (shape ", shape_str(v.shape()),
                                   ") is written in place but its memory belongs to NumPy or a DLPack producer; "
                                   "make it a tensor of its own with nthgrad.tensor (a copy)"));
  if (storage->exports() > 0)
    throw RuntimeError(detail::cat(op, ": ", arg, " (shape ", shape_str(v.shape()),
                                   ") is written in place but a NumPy view of its memory (from .numpy() or "
                                   "np.asarray) or a DLPack export is alive and would see the change; delete it, or "
                                   "take copies with np.array(t)"));
}

// What add_ and copy_ require of the tensor they write: a leaf that is not
// being recorded, which no other variable shares (results of grad that
// alias, a .grad that is a caller's grad_outputs, several handles of one
// gradient would be distinct tensors that change together).
inline void in_place_leaf(const char* op, const Variable& x) {
  defined(op, "x", x);
  if (!x.is_leaf())
    throw RuntimeError(detail::cat(op, ": x of shape ", shape_str(x.shape()),
                                   " is the result of an op; only leaves can be updated in place"));
  if (x.requires_grad() && is_grad_enabled())
    throw RuntimeError(detail::cat(op, ": x requires grad and recording is on; update it inside `with "
                                   "nthgrad.no_grad():`"));
  if (x.impl_ptr().use_count() > 1)
    throw RuntimeError(detail::cat(op, ": x (shape ", shape_str(x.shape()),
                                   ") is also held as another tensor object (e.g. a gradient that aliases another "
                                   "result or the grad_outputs you passed); update a copy instead"));
}

// Called just before an op writes into v's memory in place: checks writable(),
// then bumps the storage version, so that a graph that saved v, or a view of
// it, refuses to differentiate instead of using the new values silently.
inline void prepare_in_place(const char* op, const char* arg, const Variable& v) {
  writable(op, arg, v);
  v.value().storage()->bump_version();
}

// numel(shape) for a shape the op is about to make, with the ValueError for
// a negative dimension or an element count beyond int64 naming the op and
// what the shape is (numel's own message names neither).
inline int64_t numel(const char* op, const std::string& what, const Shape& shape) {
  try {
    return nthgrad::numel(shape);
  } catch (const ValueError& e) {
    throw ValueError(detail::cat(op, ": ", what, ": ", e.what()));
  }
}

// Brings two operands to one floating dtype (float32 with float64 gives
// float64; an integer or bool operand takes the other's float dtype).
std::pair<Variable, Variable> promote(const char* op, const Variable& x0, const Variable& x1);

}  // namespace nthgrad::check

#pragma once
// Array manipulation (technical note section 10).
#include <optional>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

using SliceIndex = std::vector<std::optional<int64_t>>;

Variable broadcast(const Variable& x, const Shape& shape);  // gx = sum_to(gy, x.shape)   [adjoint: sum]
Variable reshape(const Variable& x, const Shape& shape);    // one -1 allowed; gx = reshape(gy, x.shape)
Variable transpose(const Variable& x, const Axes& axes);    // gx = transpose(gy, inverse(axes))
// Sums `x` down to `shape` (the reverse of broadcasting); differentiable.
Variable sum_to(const Variable& x, const Shape& shape);
// x[start_0:stop_0:step_0, ...] with Python's slice rules per axis (negative
// indices count from the end, nullopt is the default end); an empty list
// means the full range of every axis. gx = slice_backward(gy)   [adjoint pair]
Variable slice(const Variable& x, const SliceIndex& start, const SliceIndex& stop, const SliceIndex& step);
// Joins along an existing axis; gx_i = the slice of gy that x_i became.
Variable concatenate(const VariableList& x, int64_t axis);

}  // namespace nthgrad

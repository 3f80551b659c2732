#pragma once
// Array manipulation (technical note section 10).
#include "nthgrad/variable.h"

namespace nthgrad {

Variable broadcast(const Variable& x, const Shape& shape);  // gx = sum_to(gy, x.shape)   [adjoint: sum]
Variable reshape(const Variable& x, const Shape& shape);    // one -1 allowed; gx = reshape(gy, x.shape)
Variable transpose(const Variable& x, const Axes& axes);    // gx = transpose(gy, inverse(axes))
// Sums `x` down to `shape` (the reverse of broadcasting); differentiable.
Variable sum_to(const Variable& x, const Shape& shape);

}  // namespace nthgrad

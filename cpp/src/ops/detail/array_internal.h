#pragma once
// Array helper ops used by other families' rules (not part of the public API).
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad::detail {

// slice with resolved per-axis start and step, and the result's shape.
Variable slice_resolved(const Variable& x, const std::vector<int64_t>& start, const std::vector<int64_t>& step,
                        const Shape& out_shape);
// The adjoint of slice: zeros of x_shape with gy where the slice read.
Variable slice_backward(const Variable& gy, const Shape& x_shape, const std::vector<int64_t>& start,
                        const std::vector<int64_t>& step);
// y_t = x_{t-k} along axis, zero where t - k is outside (slice + slice_backward).
Variable shift_with_zeros(const Variable& x, int64_t axis, int64_t k);

}  // namespace nthgrad::detail

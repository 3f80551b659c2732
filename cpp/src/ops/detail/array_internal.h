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
// The adjoint pair every indexing op reduces to (ops/index.cpp). x is read as
// rows of row_size elements; rows are int64 in range. gather_rows gives
// rows.shape + (row_size,); scatter_rows_add gives (num_rows, row_size) with
// src's rows (src read as (rows.numel(), row_size)) added at `rows`. `name` is
// the node's name (the user's op).
Variable gather_rows(const char* name, const Variable& x, int64_t row_size, const Tensor& rows);
Variable scatter_rows_add(const char* name, const Variable& src, const Tensor& rows, int64_t num_rows,
                          int64_t row_size);
// x gathered along axis at the positions `source` (a gather op).
Variable take_along(const Variable& x, int64_t axis, const std::vector<int64_t>& source);

}  // namespace nthgrad::detail

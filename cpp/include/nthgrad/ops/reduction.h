#pragma once
// Reductions (technical note section 6). An empty axis list means all axes.
#include <utility>

#include "nthgrad/variable.h"

namespace nthgrad {

Variable sum(const Variable& x, const Axes& axis = {}, bool keepdims = false);   // gx = broadcast(gy)
Variable mean(const Variable& x, const Axes& axis = {}, bool keepdims = false);  // gx = broadcast(gy) / n
// max / min over the axes; the gradient goes to the first extreme element.
Variable max(const Variable& x, const Axes& axis = {}, bool keepdims = false);
Variable min(const Variable& x, const Axes& axis = {}, bool keepdims = false);
// The same with the int64 index of that element, a flat position within the
// reduced axes (row-major over them).
std::pair<Variable, Variable> max_with_index(const Variable& x, const Axes& axis = {}, bool keepdims = false);
std::pair<Variable, Variable> min_with_index(const Variable& x, const Axes& axis = {}, bool keepdims = false);
// Product over the axes; gx = gy * (product of the others), exact with zeros
// (built from exclusive running products, no division).
Variable prod(const Variable& x, const Axes& axis = {}, bool keepdims = false);
// Running sum / product along axis; exclusive shifts by one, reverse runs
// from the end. cumsum's gradient is the opposite cumsum; cumprod's is
// built from cumprod and linear_recurrence (exact with zeros).
Variable cumsum(const Variable& x, int64_t axis = 0, bool exclusive = false, bool reverse = false);
Variable cumprod(const Variable& x, int64_t axis = 0, bool exclusive = false, bool reverse = false);
// y_t = a_t y_{t-1} + b_t along axis (reverse: y_t = a_{t+1} y_{t+1} + b_t),
// a and b of one shape; the two directions are each other's adjoint.
Variable linear_recurrence(const Variable& a, const Variable& b, int64_t axis, bool reverse = false);

}  // namespace nthgrad

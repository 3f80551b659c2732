#pragma once
// Logical and comparison ops (technical note section 8), and the minimum /
// maximum family. Comparisons and logical ops return 0/1 in the inputs'
// float dtype (float32 for integer or bool inputs) and have no gradient.
#include "nthgrad/variable.h"

namespace nthgrad {

// 1 for x > 0, -1 for x < 0, alpha at 0. Straight-through by default as
// nnabla (gx = gy); ste = false gives the true zero gradient.
Variable sign(const Variable& x, double alpha = 1.0, bool ste = true);
// Elementwise min / max with broadcasting; on ties x1 gets the gradient (nnabla).
Variable minimum2(const Variable& x0, const Variable& x1);
Variable maximum2(const Variable& x0, const Variable& x1);
// min(x, val): gradient 1 where x < val (0 at the tie); max(x, val): where x > val.
Variable minimum_scalar(const Variable& x, double val = 1.0);
Variable maximum_scalar(const Variable& x, double val = 1.0);

Variable logical_and(const Variable& x0, const Variable& x1);
Variable logical_or(const Variable& x0, const Variable& x1);
Variable logical_xor(const Variable& x0, const Variable& x1);
Variable equal(const Variable& x0, const Variable& x1);
Variable not_equal(const Variable& x0, const Variable& x1);
Variable greater_equal(const Variable& x0, const Variable& x1);
Variable greater(const Variable& x0, const Variable& x1);
Variable less_equal(const Variable& x0, const Variable& x1);
Variable less(const Variable& x0, const Variable& x1);
Variable logical_and_scalar(const Variable& x0, bool val);
Variable logical_or_scalar(const Variable& x0, bool val);
Variable logical_xor_scalar(const Variable& x0, bool val);
Variable greater_scalar(const Variable& x0, double val = 1);
Variable greater_equal_scalar(const Variable& x0, double val = 1);
Variable less_scalar(const Variable& x0, double val = 1);
Variable less_equal_scalar(const Variable& x0, double val = 1);
Variable equal_scalar(const Variable& x0, double val = 1);
Variable not_equal_scalar(const Variable& x0, double val = 1);
Variable logical_not(const Variable& x0);
Variable isnan(const Variable& x0);
Variable isinf(const Variable& x0);
// x0 with NaN (inf) entries replaced by val; those entries get no gradient.
Variable reset_nan(const Variable& x0, double val = 0);
Variable reset_inf(const Variable& x0, double val = 0);

// condition != 0 ? x_true : x_false, NumPy broadcasting of all three;
// condition gets no gradient. (F.where adds nnabla's leading-axes rule.)
Variable where(const Variable& condition, const Variable& x_true, const Variable& x_false);

}  // namespace nthgrad

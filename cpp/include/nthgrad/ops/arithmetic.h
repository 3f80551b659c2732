#pragma once
// Arithmetic (technical note section 7). Two-input ops broadcast as NumPy;
// a broadcast input's gradient is summed back to its shape.
#include "nthgrad/variable.h"

namespace nthgrad {

Variable add2(const Variable& x0, const Variable& x1);  // y = x0 + x1
Variable sub2(const Variable& x0, const Variable& x1);  // y = x0 - x1
Variable mul2(const Variable& x0, const Variable& x1);  // y = x0 * x1
Variable div2(const Variable& x0, const Variable& x1);  // y = x0 / x1
Variable pow2(const Variable& x0, const Variable& x1);  // y = x0 ^ x1
Variable add_scalar(const Variable& x, double val = 1);    // y = x + val
Variable mul_scalar(const Variable& x, double val = 1);    // y = val * x
Variable pow_scalar(const Variable& x, double val = 1);    // y = x ^ val
Variable r_sub_scalar(const Variable& x, double val = 1);  // y = val - x
Variable r_div_scalar(const Variable& x, double val = 1);  // y = val / x
Variable r_pow_scalar(const Variable& x, double val = 1);  // y = val ^ x
Variable add_n(const VariableList& x);                     // y = sum_i x_i (equal shapes)
Variable mul_n(const VariableList& x);                     // y = prod_i x_i (equal shapes)

// x += alpha * other, in place: x must be a float leaf, not recording (grad
// mode off, or x not requiring grad), in memory nthgrad owns (not NumPy's or
// a DLPack producer's), and no other variable may share x itself; otherwise
// RuntimeError. other is cast to x's dtype and must have x's shape. Views of
// x's memory see the change; a graph that saved x raises on backward (its
// storage version changed).
void add_(Variable& x, const Variable& other, double alpha = 1);
// x = src in place (cast to x's dtype, same shape), with add_'s conditions;
// x may be int64 or bool too (buffers such as a step counter), and bool copies
// only into bool.
void copy_(Variable& x, const Variable& src);

Variable operator+(const Variable& a, const Variable& b);
Variable operator-(const Variable& a, const Variable& b);
Variable operator*(const Variable& a, const Variable& b);
Variable operator/(const Variable& a, const Variable& b);
Variable operator-(const Variable& a);
Variable operator+(const Variable& a, double b);
Variable operator+(double a, const Variable& b);
Variable operator-(const Variable& a, double b);
Variable operator-(double a, const Variable& b);
Variable operator*(const Variable& a, double b);
Variable operator*(double a, const Variable& b);
Variable operator/(const Variable& a, double b);
Variable operator/(double a, const Variable& b);

}  // namespace nthgrad

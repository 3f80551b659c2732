#pragma once
// Elementwise math (technical note section 9) and the comparisons that
// backward rules use as masks (section 8; no gradient).
#include "nthgrad/variable.h"

namespace nthgrad {

Variable exp(const Variable& x);       // y = e^x;      gx = gy * y
Variable log(const Variable& x);       // y = ln x;     gx = gy / x
Variable sin(const Variable& x);       // y = sin x;    gx = gy * cos x
Variable cos(const Variable& x);       // y = cos x;    gx = -gy * sin x
Variable abs(const Variable& x);       // y = |x|;      gx = gy * (x >= 0 ? 1 : -1)  (nnabla: +1 at 0)
Variable identity(const Variable& x);  // y = x (a copy node); gx = gy
// Casts to another dtype; the gradient is cast back.
Variable cast(const Variable& x, DType dtype);

// 0/1 in x's dtype; no gradient flows through them.
Variable greater_scalar(const Variable& x0, double val = 1);
Variable greater_equal_scalar(const Variable& x0, double val = 1);
Variable less_scalar(const Variable& x0, double val = 1);
Variable less_equal_scalar(const Variable& x0, double val = 1);
Variable equal_scalar(const Variable& x0, double val = 1);
Variable not_equal_scalar(const Variable& x0, double val = 1);

}  // namespace nthgrad

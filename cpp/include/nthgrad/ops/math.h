#pragma once
// Math (technical note section 9) and related functions.
#include <optional>

#include "nthgrad/variable.h"

namespace nthgrad {

Variable exp(const Variable& x);       // y = e^x;      gx = gy * y
Variable log(const Variable& x);       // y = ln x;     gx = gy / x
Variable sin(const Variable& x);       // y = sin x;    gx = gy * cos x
Variable cos(const Variable& x);       // y = cos x;    gx = -gy * sin x
Variable tan(const Variable& x);       // y = tan x;    gx = gy (1 + y^2)
Variable sinh(const Variable& x);      // gx = gy cosh x
Variable cosh(const Variable& x);      // gx = gy sinh x
Variable asin(const Variable& x);      // gx = gy / sqrt(1 - x^2)
Variable acos(const Variable& x);      // gx = -gy / sqrt(1 - x^2)
Variable atan(const Variable& x);      // gx = gy / (1 + x^2)
Variable asinh(const Variable& x);     // gx = gy / sqrt(x^2 + 1)
Variable acosh(const Variable& x);     // gx = gy / sqrt(x^2 - 1)
Variable atanh(const Variable& x);     // gx = gy / (1 - x^2)
Variable erf(const Variable& x);       // gx = gy 2/sqrt(pi) e^(-x^2)
// atan2(x0, x1): the angle of the point (x1, x0); gx0 = gy x1 / r^2, gx1 = -gy x0 / r^2
Variable atan2(const Variable& x0, const Variable& x1);
Variable abs(const Variable& x);       // y = |x|;      gx = gy * (x >= 0 ? 1 : -1)  (nnabla: +1 at 0)
Variable identity(const Variable& x);  // y = x (a copy node); gx = gy
// Rounding (half away from zero), ceiling, floor. Straight-through by
// default as nnabla (gx = gy); ste = false gives the true zero gradient.
Variable round(const Variable& x, bool ste = true);
Variable ceil(const Variable& x, bool ste = true);
Variable floor(const Variable& x, bool ste = true);
// Casts to another dtype; the gradient is cast back.
Variable cast(const Variable& x, DType dtype);
// Remainder of x0 / x1: fmod (the sign of x0) for floats, as nnabla; for
// int64, Python's % (the sign of x1) unless fmod. gx0 = gy, gx1 = -gy trunc(x0/x1).
Variable mod2(const Variable& x0, const Variable& x1, bool fmod = false);
// No inputs, no gradient.
Variable constant(double val, const Shape& shape, DType dtype = DType::Float32);
Variable arange(double start, double stop, double step = 1, DType dtype = DType::Float32);
Variable linspace(double start, double stop, int64_t num, DType dtype = DType::Float32);
// min(max(x, min), max), with scalar or tensor bounds (then broadcast).
Variable clip_by_value(const Variable& x, double min, double max);
Variable clip_by_value(const Variable& x, const Variable& min, const Variable& max);
// x * clip_norm / max(||x||_2 over axes, clip_norm); empty axes: all.
Variable clip_by_norm(const Variable& x, double clip_norm, const Axes& axes = {});
// The value of x, cut from the graph (stop-gradient).
Variable unlink(const Variable& x);

}  // namespace nthgrad

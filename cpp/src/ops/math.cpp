// Math (technical note section 9) and the related elementwise functions.
// The trigonometric and hyperbolic functions use the fused pattern of
// detail::unary (one kernel for gy * f'(x); f'' in ops below).
#include "nthgrad/ops/math.h"

#include <cmath>

#include "nthgrad/ops/activation.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/logical.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/elementwise.h"

namespace nthgrad {

using detail::UnaryFn;
using kernels::Unary;

namespace {
Variable square(const Variable& x) { return pow_scalar(x, 2.0); }

// d f'(x)/dx of each function, written with ops.
Variable tan_second(const Variable& y, double, double) { return mul_scalar(y, 2.0); }  // d(1 + y^2)/dy
Variable sinh_second(const Variable& x, double, double) { return sinh(x); }
Variable cosh_second(const Variable& x, double, double) { return cosh(x); }
Variable asin_second(const Variable& x, double, double) {  // x (1 - x^2)^-1.5
  return mul2(x, pow_scalar(r_sub_scalar(square(x), 1.0), -1.5));
}
Variable acos_second(const Variable& x, double a, double b) { return mul_scalar(asin_second(x, a, b), -1.0); }
Variable atan_second(const Variable& x, double, double) {  // -2x (1 + x^2)^-2
  return mul_scalar(mul2(x, pow_scalar(add_scalar(square(x), 1.0), -2.0)), -2.0);
}
Variable asinh_second(const Variable& x, double, double) {  // -x (x^2 + 1)^-1.5
  return mul_scalar(mul2(x, pow_scalar(add_scalar(square(x), 1.0), -1.5)), -1.0);
}
Variable acosh_second(const Variable& x, double, double) {  // -x (x^2 - 1)^-1.5
  return mul_scalar(mul2(x, pow_scalar(add_scalar(square(x), -1.0), -1.5)), -1.0);
}
Variable atanh_second(const Variable& x, double, double) {  // 2x (1 - x^2)^-2
  return mul_scalar(mul2(x, pow_scalar(r_sub_scalar(square(x), 1.0), -2.0)), 2.0);
}
constexpr double kTwoOverSqrtPi = 1.1283791670955126;
Variable erf_second(const Variable& x, double, double) {  // -2x 2/sqrt(pi) e^(-x^2)
  return mul2(x, mul_scalar(exp(mul_scalar(square(x), -1.0)), -2.0 * kTwoOverSqrtPi));
}

// round / ceil / floor: straight-through (gx = gy) or a constant.
Variable rounding(const char* name, const Variable& x, Unary kernel, bool ste) {
  check::floating(name, "x", x);
  Tensor y = kernels::unary(kernel, x.value());
  if (!ste) return record_nondiff(y);
  return record(name, {x}, y, kSavesNothing, [](const Ctx& c) { return grads(c.gy()); });
}
}  // namespace

// exp: y = e^x; gx = gy * y
Variable exp(const Variable& x) {
  return detail::unary_composed("exp", x, Unary::Exp, kSavesOutput, [](const Ctx& c) { return c.out(); });
}

// log: y = ln x; gx = gy / x
Variable log(const Variable& x) {
  check::floating("log", "x", x);
  return record("log", {x}, kernels::unary(Unary::Log, x.value()), saves_input(0),
                [](const Ctx& c) { return grads(div2(c.gy(), c.in(0))); });
}

// sin: y = sin x; gx = gy * cos x
Variable sin(const Variable& x) {
  return detail::unary_composed("sin", x, Unary::Sin, saves_input(0), [](const Ctx& c) { return cos(c.in(0)); });
}

// cos: y = cos x; gx = gy * (-sin x)
Variable cos(const Variable& x) {
  return detail::unary_composed("cos", x, Unary::Cos, saves_input(0),
                                [](const Ctx& c) { return mul_scalar(sin(c.in(0)), -1.0); });
}

// tan: y = tan x; gx = tan_backward(gy, y) = gy (1 + y^2)
Variable tan(const Variable& x) { return detail::unary({"tan", "tan_backward", Unary::Tan, true, tan_second}, x); }
// sinh / cosh: gx = gy cosh x / gy sinh x
Variable sinh(const Variable& x) {
  return detail::unary({"sinh", "sinh_backward", Unary::Sinh, false, sinh_second}, x);
}
Variable cosh(const Variable& x) {
  return detail::unary({"cosh", "cosh_backward", Unary::Cosh, false, cosh_second}, x);
}
// asin / acos: gx = +-gy / sqrt(1 - x^2)
Variable asin(const Variable& x) {
  return detail::unary({"asin", "asin_backward", Unary::Asin, false, asin_second}, x);
}
Variable acos(const Variable& x) {
  return detail::unary({"acos", "acos_backward", Unary::Acos, false, acos_second}, x);
}
// atan: gx = gy / (1 + x^2)
Variable atan(const Variable& x) {
  return detail::unary({"atan", "atan_backward", Unary::Atan, false, atan_second}, x);
}
// asinh / acosh: gx = gy / sqrt(x^2 +- 1)
Variable asinh(const Variable& x) {
  return detail::unary({"asinh", "asinh_backward", Unary::Asinh, false, asinh_second}, x);
}
Variable acosh(const Variable& x) {
  return detail::unary({"acosh", "acosh_backward", Unary::Acosh, false, acosh_second}, x);
}
// atanh: gx = gy / (1 - x^2)
Variable atanh(const Variable& x) {
  return detail::unary({"atanh", "atanh_backward", Unary::Atanh, false, atanh_second}, x);
}
// erf: gx = gy 2/sqrt(pi) e^(-x^2)
Variable erf(const Variable& x) { return detail::unary({"erf", "erf_backward", Unary::Erf, false, erf_second}, x); }

// atan2: y = atan2(x0, x1); gx0 = gy x1 / (x0^2 + x1^2), gx1 = -gy x0 / (x0^2 + x1^2)
Variable atan2(const Variable& x0, const Variable& x1) {
  return detail::binary("atan2", x0, x1, kernels::Binary::Atan2, kSavesInputs, [](const Ctx& c) {
    const Variable &a = c.in(0), &b = c.in(1);
    Variable scale = div2(c.gy(), add2(square(a), square(b)));
    Variable ga, gb;
    if (c.needs(0)) ga = sum_to(mul2(scale, b), a.shape());
    if (c.needs(1)) gb = sum_to(mul_scalar(mul2(scale, a), -1.0), b.shape());
    return grads(ga, gb);
  });
}

// abs: y = |x|; gx = gy * (2 * [x >= 0] - 1)   (+1 at 0, as nnabla)
Variable abs(const Variable& x) {
  check::defined("abs", "x", x);
  if (x.dtype() == DType::Int64)  // integers too, as constants: max(x, -x)
    return record_nondiff(kernels::binary(kernels::Binary::Maximum, x.value(), (-x).value()));
  return detail::unary_composed("abs", x, Unary::Abs, saves_input(0), [](const Ctx& c) {
    return add_scalar(mul_scalar(greater_equal_scalar(c.in(0), 0.0), 2.0), -1.0);
  });
}

// identity: y = x (a copy); gx = gy
Variable identity(const Variable& x) {
  check::floating("identity", "x", x);
  return record("identity", {x}, kernels::unary(Unary::Copy, x.value()), kSavesNothing,
                [](const Ctx& c) { return grads(c.gy()); });
}

// round (half away from zero) / ceil / floor: gx = gy (straight-through) unless ste = false
Variable round(const Variable& x, bool ste) { return rounding("round", x, Unary::Round, ste); }
Variable ceil(const Variable& x, bool ste) { return rounding("ceil", x, Unary::Ceil, ste); }
Variable floor(const Variable& x, bool ste) { return rounding("floor", x, Unary::Floor, ste); }

// cast: y = x as dtype; gx = gy cast back to x's dtype
Variable cast(const Variable& x, DType dtype) {
  check::defined("cast", "x", x);
  Tensor y = kernels::cast(x.value(), dtype);
  if (!is_floating(dtype)) return record_nondiff(y);
  return record("cast", {x}, y, kSavesNothing, [](const Ctx& c) {
    if (!is_floating(c.in_dtype(0))) return grads(Variable());
    return grads(cast(c.gy(), c.in_dtype(0)));
  });
}

// mod2: y = x0 - trunc(x0 / x1) x1 (floats); gx0 = gy, gx1 = -gy trunc(x0 / x1)
Variable mod2(const Variable& x0, const Variable& x1, bool fmod) {
  check::defined("mod2", "x0", x0);
  check::defined("mod2", "x1", x1);
  if (x0.dtype() == DType::Int64 && x1.dtype() == DType::Int64) {
    broadcast_shapes("mod2", "x0", x0.shape(), "x1", x1.shape());
    const Tensor& d = x1.value();
    for (int64_t i = 0; i < d.numel(); ++i)
      if (d.data<int64_t>()[i] == 0) throw ValueError("mod2: integer division by zero (x1 has a zero)");
    return record_nondiff(kernels::binary(fmod ? kernels::Binary::Fmod : kernels::Binary::FloorMod, x0.value(), d));
  }
  return detail::binary("mod2", x0, x1, kernels::Binary::Fmod, kSavesInputs | kSavesOutput, [](const Ctx& c) {
    Variable ga, gb;
    if (c.needs(0)) ga = sum_to(c.gy(), c.in_shape(0));
    if (c.needs(1)) {
      Variable quotient;  // trunc(x0 / x1), exactly, as a constant
      {
        NoGradGuard no_grad;
        quotient = round(div2(sub2(c.in(0), c.out()), c.in(1)), false);
      }
      gb = sum_to(mul_scalar(mul2(c.gy(), quotient), -1.0), c.in_shape(1));
    }
    return grads(ga, gb);
  });
}

Variable constant(double val, const Shape& shape, DType dtype) {
  numel(shape);  // rejects negative or overflowing dimensions
  return record_nondiff(Tensor::full(shape, val, dtype));
}

Variable arange(double start, double stop, double step, DType dtype) {
  if (step == 0 || !std::isfinite(step) || !std::isfinite(start) || !std::isfinite(stop))
    throw ValueError(detail::cat("arange: start, stop and step must be finite and step nonzero; got start=", start,
                                 ", stop=", stop, ", step=", step));
  const double count = std::ceil((stop - start) / step);
  if (count > 1e15) throw ValueError(detail::cat("arange: too many values (", count, ")"));
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  if (dtype == DType::Int64 && n > 0) {  // every value must fit, as in cast
    const double last = start + static_cast<double>(n - 1) * step;
    for (double v : {start, last})
      if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
        throw ValueError(detail::cat("arange: the value ", v, " does not fit in int64"));
  }
  return record_nondiff(kernels::arange(start, step, n, dtype));
}

Variable linspace(double start, double stop, int64_t num, DType dtype) {
  if (num < 0) throw ValueError(detail::cat("linspace: num must be non-negative, got ", num));
  if (!is_floating(dtype)) throw TypeError("linspace: dtype must be float32 or float64");
  return record_nondiff(kernels::linspace(start, stop, num, dtype));
}

// clip_by_value: minimum(maximum(x, min), max) (each bound's tie goes as in maximum/minimum)
Variable clip_by_value(const Variable& x, double min, double max) {
  return minimum_scalar(maximum_scalar(x, min), max);
}
Variable clip_by_value(const Variable& x, const Variable& min, const Variable& max) {
  return minimum2(maximum2(x, min), max);
}

// clip_by_norm: x c / max(||x||, c) = x / sqrt(max(||x / c||^2, 1)). Scaled by c first, so that
// c^2 never over- or underflows the dtype; max(., 1) sends no gradient into the sum of squares
// below 1, so a zero x gets gradient 1, not 0 * inf = NaN through the square root.
Variable clip_by_norm(const Variable& x, double clip_norm, const Axes& axes) {
  check::floating("clip_by_norm", "x", x);
  if (!(clip_norm > 0) || !std::isfinite(clip_norm))
    throw ValueError(detail::cat("clip_by_norm: clip_norm must be positive and finite, got ", clip_norm));
  Variable sq = sum(pow_scalar(div2(x, constant(clip_norm, {}, x.dtype())), 2.0), axes, true);
  return div2(x, pow_scalar(maximum_scalar(sq, 1.0), 0.5));
}

Variable unlink(const Variable& x) {
  check::defined("unlink", "x", x);
  return record_nondiff(x.value());
}

}  // namespace nthgrad

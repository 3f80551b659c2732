// Quantization (technical note section 14), the related nnabla quantizers and
// the gradient clipping ops. Forward values come from kernels (kernels/cpu/
// quantize.cpp); every backward is a straight-through estimator written with
// ops: gy times a constant mask (record_nondiff), gy / scale, or gy itself,
// so the rules are linear in gy (double backward through them works) and the
// second derivative in x is zero. clip_grad_by_value / clip_grad_by_norm are
// identities whose rules clip or rescale gy with differentiable ops.
#include "nthgrad/ops/quantize.h"

#include <cmath>
#include <cstring>

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/autograd.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/logical.h"
#include "nthgrad/ops/math.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {

using kernels::Quantizer;
using kernels::QuantizerParams;
using kernels::RoundMode;

// y with the straight-through rule gx = gy * mask (a constant); an all-ones mask is skipped (gx = gy).
Variable straight_through(const char* name, const Variable& x, Tensor y, Tensor mask, bool identity) {
  if (identity) return record(name, {x}, std::move(y), kSavesNothing, [](const Ctx& c) { return grads(c.gy()); });
  Variable m = record_nondiff(std::move(mask));
  return record(name, {x}, std::move(y), kSavesNothing, [m](const Ctx& c) { return grads(mul2(c.gy(), m)); });
}

Variable quantizer(const char* name, const Variable& x, Quantizer q, const QuantizerParams& p) {
  check::floating(name, "x", x);
  auto [y, mask] = kernels::quantize(q, x.value(), p);
  return straight_through(name, x, std::move(y), std::move(mask), !p.fine_grained);
}

// A copy of x's value (the identity ops' output is a tensor of its own).
Tensor copy_of(const Tensor& x) { return Tensor::from_data(x.raw_data(), x.shape(), x.dtype()); }

// nnabla's per-axis rule for quantization parameters: x's rank, each axis 1 or x's size.
void check_param_shape(const char* op, const char* arg, const Variable& p, const Variable& x) {
  check::floating(op, arg, p);
  bool ok = p.ndim() == x.ndim();
  for (int64_t d = 0; ok && d < x.ndim(); ++d) ok = p.shape()[d] == 1 || p.shape()[d] == x.shape()[d];
  if (!ok)
    throw ValueError(detail::cat(op, ": ", arg, " of shape ", shape_str(p.shape()), " must have x's rank and, on ",
                                 "each axis, size 1 or x's size; x has shape ", shape_str(x.shape())));
}

// p's value in x's dtype.
Tensor in_dtype_of(const Variable& p, const Variable& x) {
  return p.dtype() == x.dtype() ? p.value() : kernels::cast(p.value(), x.dtype());
}

// p's value in x's dtype and x's shape.
Tensor spread(const Variable& p, const Variable& x) { return kernels::broadcast_to(in_dtype_of(p, x), x.shape()); }

// Replaces the values of an input in place (nnabla's state updates).
void overwrite(const char* op, const char* arg, const Variable& v, const Tensor& value) {
  check::prepare_in_place(op, arg, v);
  Tensor src = value.dtype() == v.dtype() ? value : kernels::cast(value, v.dtype());
  std::memcpy(v.value().raw_data(), src.raw_data(), static_cast<std::size_t>(v.numel()) * itemsize(v.dtype()));
}

[[noreturn]] void no_gradient(const char* op, const char* what) {
  throw RuntimeError(detail::cat(op, ": the gradient with respect to ", what,
                                 " is not supported (as in nnabla); stop it with .detach() or requires_grad=False"));
}

RoundMode round_mode_arg(const char* op, const std::string& mode) {
  if (mode == "HALF_AWAY_FROM_ZERO") return RoundMode::HalfAwayFromZero;
  if (mode == "HALF_TO_EVEN") return RoundMode::HalfToEven;
  throw ValueError(detail::cat(op, ": round_mode must be 'HALF_AWAY_FROM_ZERO' or 'HALF_TO_EVEN', got '", mode, "'"));
}

}  // namespace

Variable binary_sigmoid(const Variable& x) { return quantizer("binary_sigmoid", x, Quantizer::BinarySigmoid, {}); }

Variable binary_tanh(const Variable& x) { return quantizer("binary_tanh", x, Quantizer::BinaryTanh, {}); }

Variable prune(const Variable& x, double rate) {
  check::floating("prune", "x", x);
  if (!(rate >= 0 && rate <= 1))
    throw ValueError(detail::cat("prune: rate must be in [0, 1], got ", rate, " (x of shape ", shape_str(x.shape()),
                                 ")"));
  return straight_through("prune", x, kernels::prune(x.value(), rate), Tensor(), true);
}

Variable quantize_linear(const Variable& x, const Variable& scale, const Variable& zero_point,
                         const std::string& round_mode, bool narrow_range, const std::string& dtype) {
  const char* op = "quantize_linear";
  check::floating(op, "x", x);
  check_param_shape(op, "scale", scale, x);
  check_param_shape(op, "zero_point", zero_point, x);
  const RoundMode mode = round_mode_arg(op, round_mode);
  double qmin, qmax;
  if (dtype == "int8") {
    qmin = -128, qmax = 127;
  } else if (dtype == "uint8") {
    qmin = 0, qmax = 255;
  } else {
    throw ValueError(detail::cat(op, ": dtype must be int8 or uint8 (numpy.int8, numpy.uint8), got ", dtype));
  }
  if (narrow_range) qmin += 1;
  // nnabla rounds and saturates zero_point in place; written only where it changes
  Tensor z = kernels::round_values(zero_point.value(), mode);
  z = kernels::binary(kernels::Binary::Minimum, kernels::binary(kernels::Binary::Maximum, z,
                                                                Tensor::scalar(qmin, z.dtype())),
                      Tensor::scalar(qmax, z.dtype()));
  if (std::memcmp(z.raw_data(), zero_point.value().raw_data(),
                  static_cast<std::size_t>(z.numel()) * itemsize(z.dtype())) != 0)
    overwrite(op, "zero_point", zero_point, z);
  Tensor y = kernels::quantize_linear(x.value(), spread(scale, x), spread(zero_point, x), mode, qmin, qmax);
  Variable s = record_nondiff(in_dtype_of(scale, x));  // broadcast by div2 in the rule
  return record(op, {x, scale, zero_point}, y, kSavesNothing, [s](const Ctx& c) {
    if (c.needs(1)) no_gradient("quantize_linear", "scale");
    if (c.needs(2)) no_gradient("quantize_linear", "zero_point");
    return grads(div2(c.gy(), s), Variable(), Variable());
  });
}

Variable dequantize_linear(const Variable& x, const Variable& scale, const Variable& zero_point) {
  const char* op = "dequantize_linear";
  check::floating(op, "x", x);
  check_param_shape(op, "scale", scale, x);
  check_param_shape(op, "zero_point", zero_point, x);
  Variable s = record_nondiff(in_dtype_of(scale, x));  // both broadcast by mul2 / sub2 (equal ranks)
  Tensor y;
  {
    NoGradGuard no_grad;
    y = mul2(sub2(x.detach(), record_nondiff(in_dtype_of(zero_point, x))), s).value();
  }
  return record(op, {x, scale, zero_point}, y, kSavesNothing, [s](const Ctx& c) {
    if (c.needs(1)) no_gradient("dequantize_linear", "scale");
    if (c.needs(2)) no_gradient("dequantize_linear", "zero_point");
    return grads(mul2(c.gy(), s), Variable(), Variable());
  });
}

Variable fixed_point_quantize(const Variable& x, bool sign, int64_t n, double delta, bool quantize,
                              bool ste_fine_grained) {
  const char* op = "fixed_point_quantize";
  check::floating(op, "x", x);
  if (!(delta > 0) || !std::isfinite(delta))
    throw ValueError(detail::cat(op, ": delta must be positive and finite, got ", delta));
  if (n - (sign ? 1 : 0) < 1 || n > 64)
    throw ValueError(detail::cat(op, ": n must be in [", sign ? 2 : 1, ", 64] (one bit goes to the sign when sign=",
                                 sign ? "True" : "False", "), got ", n));
  if (!quantize) return x;
  QuantizerParams p;
  p.sign = sign, p.n = n, p.delta = delta, p.fine_grained = ste_fine_grained;
  return quantizer(op, x, Quantizer::FixedPoint, p);
}

Variable pow2_quantize(const Variable& x, bool sign, bool with_zero, int64_t n, int64_t m, bool quantize,
                       bool ste_fine_grained) {
  const char* op = "pow2_quantize";
  check::floating(op, "x", x);
  const int64_t bits = n - (sign ? 1 : 0) - (with_zero ? 1 : 0);
  if (bits < 1 || n > 64)
    throw ValueError(detail::cat(op, ": n must leave at least one bit after the sign and zero bits and be at most ",
                                 "64; got n=", n, " with sign=", sign ? "True" : "False",
                                 ", with_zero=", with_zero ? "True" : "False"));
  if (!quantize) return x;
  QuantizerParams p;
  p.sign = sign, p.with_zero = with_zero, p.n = n, p.m = m, p.fine_grained = ste_fine_grained;
  return quantizer(op, x, Quantizer::Pow2, p);
}

Variable min_max_quantize(const Variable& x, const Variable& qr_min, const Variable& qr_max, const Variable& ql_min,
                          const Variable& ql_max, double decay, bool x_min_max, bool ema, bool ste_fine_grained,
                          double eps, bool quantize) {
  const char* op = "min_max_quantize";
  check::floating(op, "x", x);
  const char* names[4] = {"qr_min", "qr_max", "ql_min", "ql_max"};
  const Variable* ranges[4] = {&qr_min, &qr_max, &ql_min, &ql_max};
  for (int i = 0; i < 4; ++i) {
    check_param_shape(op, names[i], *ranges[i], x);
    if (i > 0) check::same_shape(op, "qr_min", qr_min, names[i], *ranges[i]);
    if (ranges[i]->dtype() != x.dtype())
      throw TypeError(detail::cat(op, ": ", names[i], " is ", dtype_name(ranges[i]->dtype()), " but x is ",
                                  dtype_name(x.dtype()), "; they must have one dtype"));
  }
  if (!quantize) return x;
  Axes axes;  // where the ranges are shared: min / max of x over them
  for (int64_t d = 0; d < x.ndim(); ++d)
    if (ql_min.shape()[d] == 1) axes.push_back(d);
  if (x_min_max) {
    if (x.numel() == 0)
      throw ValueError(detail::cat(op, ": x_min_max needs a non-empty x, got shape ", shape_str(x.shape())));
    Variable xd = x.detach();  // (no axis of size 1: the ranges are per element, x itself)
    Tensor x_min = axes.empty() ? x.value() : min(xd, axes, true).value();
    Tensor x_max = axes.empty() ? x.value() : max(xd, axes, true).value();
    if (ema) {  // qr = decay qr + (1 - decay) x's extreme
      NoGradGuard no_grad;
      auto average = [decay](const Variable& state, const Tensor& now) {
        return add2(mul_scalar(state.detach(), decay), mul_scalar(record_nondiff(now), 1.0 - decay)).value();
      };
      x_min = average(qr_min, x_min);
      x_max = average(qr_max, x_max);
    }
    overwrite(op, "qr_min", qr_min, x_min);
    overwrite(op, "qr_max", qr_max, x_max);
  }
  {  // nnabla keeps qr_max - qr_min >= eps by raising qr_max
    Tensor floor_max = kernels::with_scalar(kernels::WithScalar::Add, qr_min.value(), eps);
    Tensor gap = kernels::binary(kernels::Binary::Sub, qr_max.value(), qr_min.value());
    Tensor narrow = kernels::compare(kernels::Binary::Less, gap, Tensor::scalar(eps, gap.dtype()), gap.dtype());
    if (narrow.numel() > 0 && max(record_nondiff(narrow)).item() > 0)
      overwrite(op, "qr_max", qr_max, kernels::where(narrow, floor_max, qr_max.value()));
  }
  const kernels::MinMaxRange r = kernels::min_max_range(qr_min.value(), qr_max.value(), ql_min.value(), ql_max.value());
  // of the ranges' shape: the ops below broadcast them over x (equal ranks)
  Variable lo = record_nondiff(r.lo), hi = record_nondiff(r.hi), scale = record_nondiff(r.scale);
  Tensor y;
  Variable inside, below, above;
  {
    NoGradGuard no_grad;
    Variable xc = x.detach();
    y = add2(mul2(round(div2(sub2(clip_by_value(xc, lo, hi), lo), scale)), scale), lo).value();
    if (ste_fine_grained) inside = mul2(greater_equal(xc, lo), less_equal(xc, hi));
    if (!x_min_max && !ema) below = less(xc, lo), above = greater(xc, hi);
  }
  const Shape range_shape = qr_min.shape();
  return record(op, {x, qr_min, qr_max, ql_min, ql_max}, y, kSavesNothing,
                [inside, below, above, range_shape](const Ctx& c) {
                  if (c.needs(3)) no_gradient("min_max_quantize", "ql_min");
                  if (c.needs(4)) no_gradient("min_max_quantize", "ql_max");
                  Variable gx = inside.defined() ? mul2(c.gy(), inside) : c.gy();
                  Variable g_min, g_max;  // only the fixed range (no x_min_max, no ema) learns: nnabla
                  if (below.defined() && c.needs(1)) g_min = sum_to(mul2(c.gy(), below), range_shape);
                  if (above.defined() && c.needs(2)) g_max = sum_to(mul2(c.gy(), above), range_shape);
                  return grads(gx, g_min, g_max, Variable(), Variable());
                });
}

Variable clip_grad_by_value(const Variable& x, const Variable& min, const Variable& max) {
  const char* op = "clip_grad_by_value";
  check::floating(op, "x", x);
  check::floating(op, "min", min);
  check::floating(op, "max", max);
  auto check_bound = [&](const char* name, const Variable& v) {
    if (broadcast_shapes(op, name, v.shape(), "x", x.shape()) != x.shape())
      throw ValueError(detail::cat(op, ": ", name, " of shape ", shape_str(v.shape()),
                                   " must broadcast to x's shape ", shape_str(x.shape())));
  };
  check_bound("min", min);
  check_bound("max", max);
  auto as_constant = [&](const Variable& v) {
    return record_nondiff(v.dtype() == x.dtype() ? v.value() : kernels::cast(v.value(), x.dtype()));
  };
  Variable lo = as_constant(min), hi = as_constant(max);
  return record(op, {x}, copy_of(x.value()), kSavesNothing,
                [lo, hi](const Ctx& c) { return grads(clip_by_value(c.gy(), lo, hi)); });
}

// gx = clip_norm gy / sqrt(sum(gy^2 over axes)); nnabla rescales always, not only when larger. Where gy is
// all zero over the axes, gx is 0 (nnabla: 0/0 = NaN): the squared norm reads 1 there through a constant
// mask, so neither the division nor the square root's derivative ever meets a 0.
Variable clip_grad_by_norm(const Variable& x, double clip_norm, const Axes& axes) {
  const char* op = "clip_grad_by_norm";
  check::floating(op, "x", x);
  if (!(clip_norm > 0) || !std::isfinite(clip_norm))
    throw ValueError(detail::cat(op, ": clip_norm must be positive and finite, got ", clip_norm));
  const Axes a = axes.empty() ? Axes{} : normalize_axes(op, axes, x.ndim());
  return record(op, {x}, copy_of(x.value()), kSavesNothing, [a, clip_norm](const Ctx& c) {
    Variable squares = sum(mul2(c.gy(), c.gy()), a, true);
    Variable nonzero = greater_scalar(squares.detach(), 0.0);  // a constant mask
    Variable norm = pow_scalar(where(nonzero, squares, record_nondiff(Tensor::scalar(1.0, squares.dtype()))), 0.5);
    return grads(mul_scalar(div2(c.gy(), norm), clip_norm));
  });
}

}  // namespace nthgrad

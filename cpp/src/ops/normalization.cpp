// Normalization (technical note section 5) and the related normalizations.
// The public ops are compositions of differentiable ops (mean, sub2,
// pow_scalar, mul2, add2, sum, reshape, matmul, where), so the gradient of
// every order is that of the composition. The one fused pair is
// standardize / standardize_backward (the batch statistics and xhat in one
// kernel), whose rules are again written in ops. What is not part of any
// graph (running statistics, spectral_norm's u, mean_subtraction's t) is
// computed from forward values and written in place by plain kernels.
#include "nthgrad/ops/normalization.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/autograd.h"
#include "nthgrad/ops/activation.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/linalg.h"
#include "nthgrad/ops/logical.h"
#include "nthgrad/ops/math.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {

bool contains(const Axes& axes, int64_t a) { return std::find(axes.begin(), axes.end(), a) != axes.end(); }

// The axes of an ndim-array that are not in `keep` (sorted).
Axes other_axes(int64_t ndim, const Axes& keep) {
  Axes out;
  for (int64_t a = 0; a < ndim; ++a)
    if (!contains(keep, a)) out.push_back(a);
  return out;
}

// x's shape with 1 on every axis not in `keep`: the shape of per-channel parameters.
Shape kept_shape(const Shape& shape, const Axes& keep) {
  Shape out(shape.size(), 1);
  for (int64_t a : keep) out[a] = shape[a];
  return out;
}

// A parameter must be floating and of x's dtype.
void check_param_dtype(const char* op, const char* arg, const Variable& v, const Variable& x) {
  check::floating(op, arg, v);
  if (v.dtype() != x.dtype())
    throw TypeError(detail::cat(op, ": ", arg, " is ", dtype_name(v.dtype()), " but x is ", dtype_name(x.dtype()),
                                "; they must have one dtype"));
}

// A defined parameter must be floating, of x's dtype and of exactly `shape`.
void check_param(const char* op, const char* arg, const Variable& v, const Variable& x, const Shape& shape) {
  if (!v.defined()) return;
  check_param_dtype(op, arg, v, x);
  if (v.shape() != shape)
    throw ValueError(detail::cat(op, ": ", arg, " has shape ", shape_str(v.shape()), " but x of shape ",
                                 shape_str(x.shape()), " needs ", shape_str(shape)));
}

// A defined parameter must be floating, of x's dtype, of x's rank, and have
// 1 or x's size on each axis (1 on the axes in `ones`).
void check_broadcast_param(const char* op, const char* arg, const Variable& v, const Variable& x, const Axes& ones) {
  if (!v.defined()) return;
  check_param_dtype(op, arg, v, x);
  bool ok = v.ndim() == x.ndim();
  for (int64_t a = 0; ok && a < x.ndim(); ++a)
    ok = v.shape()[a] == 1 || (v.shape()[a] == x.shape()[a] && !contains(ones, a));
  if (!ok)
    throw ValueError(detail::cat(op, ": ", arg, " of shape ", shape_str(v.shape()), " does not fit x of shape ",
                                 shape_str(x.shape()), ": it needs x's rank, with 1 or x's size on each axis and 1 on ",
                                 axes_str(ones)));
}

void check_eps(const char* op, double eps) {
  if (!(eps >= 0) || !std::isfinite(eps))
    throw ValueError(detail::cat(op, ": eps must be finite and >= 0, got ", eps));
}

int64_t count(const Shape& shape, const Axes& axes) {
  int64_t n = 1;
  for (int64_t a : axes) n *= shape[a];
  return n;
}

struct Standardized {
  Variable y, mean, var;  // y = (x - mean) / sqrt(var + eps) * gamma + beta
};

// x as (A, C, B) with the kept axes the middle block C, when they are
// contiguous and something is reduced: the layout of the fused kernels.
struct Layout {
  int64_t A = 1, C = 1, B = 1;
};
std::optional<Layout> block_layout(const Shape& shape, const Axes& keep, const Axes& reduce) {
  if (reduce.empty()) return std::nullopt;
  for (std::size_t i = 1; i < keep.size(); ++i)
    if (keep[i] != keep[i - 1] + 1) return std::nullopt;
  const int64_t k0 = keep.empty() ? 0 : keep.front(), k1 = keep.empty() ? 0 : keep.back() + 1;
  Layout l;
  for (int64_t a = 0; a < static_cast<int64_t>(shape.size()); ++a)
    (a < k0 ? l.A : a < k1 ? l.C : l.B) *= shape[a];
  if (l.A * l.B == 0 || l.C == 0) return std::nullopt;
  return l;
}

// standardize_backward: gx = rstd (g - mean(g) - xhat mean(g xhat)), means over `reduce`.
// Linear in g and self-adjoint there; its rule is written in ops:
//   gg = standardize_backward(u, xhat, rstd),
//   gxhat = -rstd (u mean(g xhat) + g mean(u xhat)),
//   grstd = sum(u (g - mean(g) - xhat mean(g xhat))).
Variable standardize_backward(const Variable& g, const Variable& xhat, const Variable& rstd, const Layout& l,
                              const Axes& reduce) {
  Tensor gx = kernels::standardize_backward(g.value(), xhat.value(), rstd.value(), l.A, l.C, l.B);
  return record("standardize_backward", {g, xhat, rstd}, gx, kSavesInputs, [l, reduce](const Ctx& c) {
    const Variable& u = c.gy();
    if (!u.defined()) return grads(Variable(), Variable(), Variable());
    const Variable &g = c.in(0), &xhat = c.in(1), &rstd = c.in(2);
    Variable gg, gxhat, grstd;
    Variable m_gh = mean(mul2(g, xhat), reduce, true);
    if (c.needs(0)) gg = standardize_backward(u, xhat, rstd, l, reduce);
    if (c.needs(1))
      gxhat = mul2(mul_scalar(rstd, -1.0), add2(mul2(u, m_gh), mul2(g, mean(mul2(u, xhat), reduce, true))));
    if (c.needs(2)) grstd = sum(mul2(u, sub2(sub2(g, mean(g, reduce, true)), mul2(xhat, m_gh))), reduce, true);
    return grads(gg, gxhat, grstd);
  });
}

// standardize: (xhat, rstd) = ((x - mean) rstd, (var + eps)^-1/2) in one kernel;
// gx = standardize_backward(gxhat, xhat, rstd) - grstd rstd^2 xhat / n (d rstd/dx = -rstd^2 xhat / n).
// Both outputs are saved, so the rule is differentiable through them. `mean`
// and `var` receive the statistics as plain tensors (for running statistics).
Variable standardize_fused(const Variable& x, const Layout& l, const Axes& reduce, double eps, Tensor& mean_out,
                           Tensor& var_out) {
  std::vector<Tensor> k = kernels::standardize(x.value(), l.A, l.C, l.B, eps);
  Shape ks = x.shape();
  for (int64_t a : reduce) ks[a] = 1;
  mean_out = k[1].reshape(ks);
  var_out = k[2].reshape(ks);
  const double n = static_cast<double>(l.A) * static_cast<double>(l.B);
  VariableList out = record("standardize", {x}, {k[0], k[3].reshape(ks)}, Saved{0, 3}, [l, reduce, n](const Ctx& c) {
    Variable xhat = c.out(0), rstd = c.out(1), gx;
    if (c.gy(0).defined()) gx = standardize_backward(c.gy(0), xhat, rstd, l, reduce);
    if (c.gy(1).defined()) {
      Variable t = mul2(mul_scalar(mul2(c.gy(1), pow_scalar(rstd, 2.0)), -1.0 / n), xhat);
      gx = gx.defined() ? add2(gx, t) : t;
    }
    return grads(gx);
  });
  return out[0];
}

// channel_sums: (sum a, sum a b) per channel (the kept-shape `ks`); bilinear, so its
// rule is ga = us + up b, gb = up a.
VariableList channel_sums(const Variable& a, const Variable& b, const Layout& l, const Shape& ks) {
  std::vector<Tensor> k = kernels::channel_sums(a.value(), b.value(), l.A, l.C, l.B);
  return record("channel_sums", {a, b}, {k[0].reshape(ks), k[1].reshape(ks)}, kSavesInputs, [l, ks](const Ctx& c) {
    const Variable &us = c.gy(0), &up = c.gy(1);
    Variable ga, gb;
    if (c.needs(0)) {
      if (up.defined()) ga = mul2(up, c.in(1));
      if (us.defined()) ga = ga.defined() ? add2(ga, us) : broadcast(us, c.in_shape(0));
    }
    if (c.needs(1) && up.defined()) gb = mul2(up, c.in(0));
    return grads(ga, gb);
  });
}

// channel_affine: y = xhat gamma + beta with per-channel gamma, beta of the kept shape `ks` (either
// may be undefined); gxhat = gy gamma, (gbeta, ggamma) = channel_sums(gy, xhat).
Variable channel_affine(const Variable& xhat, const Variable& gamma, const Variable& beta, const Layout& l,
                        const Shape& ks) {
  Tensor y = kernels::channel_affine(xhat.value(), gamma.defined() ? gamma.value() : Tensor(),
                                     beta.defined() ? beta.value() : Tensor(), l.A, l.C, l.B);
  VariableList in{xhat};
  if (gamma.defined()) in.push_back(gamma);
  if (beta.defined()) in.push_back(beta);
  const int ig = gamma.defined() ? 1 : -1, ib = beta.defined() ? static_cast<int>(in.size()) - 1 : -1;
  const Saved saved{gamma.defined() ? uint64_t{3} : uint64_t{1}, 0};
  return record("channel_affine", in, y, saved, [l, ks, ig, ib](const Ctx& c) {
    VariableList g(c.num_inputs());
    const Variable& gy = c.gy();
    if (!gy.defined()) return g;
    if (c.needs(0)) g[0] = ig >= 0 ? mul2(gy, c.in(ig)) : gy;
    if ((ig >= 0 && c.needs(ig)) || (ib >= 0 && c.needs(ib))) {
      VariableList sums = channel_sums(gy, c.in(0), l, ks);
      if (ig >= 0) g[ig] = sums[1];
      if (ib >= 0) g[ib] = sums[0];
    }
    return g;
  });
}

// Batch statistics over `reduce` (kept dimensions), then the affine map.
// Fused kernels (standardize) when the layout allows and the statistics need
// no gradient; otherwise composed of ops, two-pass (no reduction axes: each
// element is its own mean, the variance is 0).
Standardized standardize(const Variable& x, const Axes& reduce, const Variable& beta, const Variable& gamma,
                         double eps, bool stats_need_grad) {
  if (!stats_need_grad) {
    if (auto l = block_layout(x.shape(), other_axes(x.ndim(), reduce), reduce)) {
      Tensor m, v;
      Variable y = standardize_fused(x, *l, reduce, eps, m, v);
      const bool per_channel = (!gamma.defined() || gamma.shape() == m.shape()) &&
                               (!beta.defined() || beta.shape() == m.shape());
      if (per_channel && (gamma.defined() || beta.defined())) {
        y = channel_affine(y, gamma, beta, *l, m.shape());
      } else {
        if (gamma.defined()) y = mul2(y, gamma);
        if (beta.defined()) y = add2(y, beta);
      }
      return {y, record_nondiff(m), record_nondiff(v)};
    }
  }
  if (x.dtype() == DType::Float32) {
    // In float32 x - mean(x) carries the mean's rounding error, ulp(|mean|), which near 1000 with a small
    // spread is a large part of xhat (3% errors in the first derivative); the composed path runs in
    // float64 (as the fused kernel does its statistics) and casts back.
    auto up = [](const Variable& v) { return v.defined() ? cast(v, DType::Float64) : v; };
    Standardized s = standardize(up(x), reduce, up(beta), up(gamma), eps, stats_need_grad);
    return {cast(s.y, DType::Float32), cast(s.mean, DType::Float32), cast(s.var, DType::Float32)};
  }
  Variable mu = reduce.empty() ? x : mean(x, reduce, true);
  Variable xc = sub2(x, mu);
  Variable var = reduce.empty() ? mul2(xc, xc) : mean(pow_scalar(xc, 2.0), reduce, true);
  Variable rstd = pow_scalar(add_scalar(var, eps), -0.5);
  // With per-statistic parameters (batch_normalization) scale the small tensor, not x.
  Variable y = gamma.defined() && gamma.shape() == rstd.shape() ? mul2(xc, mul2(rstd, gamma))
               : gamma.defined()                                 ? mul2(mul2(xc, rstd), gamma)
                                                                 : mul2(xc, rstd);
  // An empty x: the statistics of an empty reduction are NaN, and through rstd gamma's gradient (a sum
  // over no elements, 0) became NaN. y (empty) is then x * 0 * gamma + beta.
  if (x.numel() == 0) y = gamma.defined() ? mul2(mul_scalar(x, 0.0), gamma) : mul_scalar(x, 0.0);
  if (beta.defined()) y = add2(y, beta);
  return {y, mu, var};
}

VariableList with_stats(const Standardized& s, bool output_stat) {
  return output_stat ? VariableList{s.y, s.mean, s.var} : VariableList{s.y};
}

Axes batch_axes(const char* op, const Axes& batch_axis, int64_t ndim) {
  return normalize_axes(op, batch_axis, ndim);
}

// channel_axis and the batch axes of instance / group normalization, which must not overlap.
std::pair<int64_t, Axes> channel_and_batch_axes(const char* op, int64_t channel_axis, const Axes& batch_axis,
                                                int64_t ndim) {
  const int64_t c = normalize_axis(op, channel_axis, ndim);
  Axes batch = batch_axes(op, batch_axis, ndim);
  if (contains(batch, c))
    throw ValueError(detail::cat(op, ": channel_axis ", channel_axis, " is also a batch axis ", axes_str(batch_axis)));
  return {c, batch};
}

// sum over axes, the identity for none (sum's empty list means all axes)
Variable sum_over(const Variable& x, const Axes& axes) { return axes.empty() ? x : sum(x, axes, true); }

void check_p(const char* op, double p) {
  if (!(p >= 1) || !std::isfinite(p))
    throw ValueError(detail::cat(op, ": p must be finite and >= 1, got ", p));
}

void check_distinct(const char* op, const char* a, const Variable& va, const char* b, const Variable& vb) {
  if (va.defined() && vb.defined() && va.value().storage() == vb.value().storage())
    throw RuntimeError(detail::cat(op, ": ", a, " and ", b, " are both updated in place and share memory; pass "
                                   "separate tensors"));
}

}  // namespace

namespace {

// batch_normalization for `op` (batch_ or fused_batch_normalization), which its errors name
VariableList batch_normalization_as(const char* op, const Variable& x, const Variable& beta, const Variable& gamma,
                                    const Variable& mean_, const Variable& variance, const Axes& axes,
                                    double decay_rate, double eps, bool batch_stat, bool output_stat) {
  check::floating(op, "x", x);
  Axes keep = normalize_axes(op, axes, x.ndim());
  Shape ps = kept_shape(x.shape(), keep);
  check_param(op, "beta", beta, x, ps);
  check_param(op, "gamma", gamma, x, ps);
  check_param(op, "mean", mean_, x, ps);
  check_param(op, "variance", variance, x, ps);
  check_eps(op, eps);
  if (batch_stat && (mean_.defined() || variance.defined()) && !(decay_rate >= 0 && decay_rate <= 1))
    throw ValueError(detail::cat(op, ": decay_rate must lie in [0, 1], got ", decay_rate));
  if (!batch_stat && (!mean_.defined() || !variance.defined()))
    throw ValueError(detail::cat(op, ": batch_stat=False normalizes by the running mean and variance, which are None"));
  if (output_stat && !batch_stat)
    throw ValueError(detail::cat(op, ": output_stat=True returns batch statistics and needs batch_stat=True"));
  if (!batch_stat) {  // (x - mean) * scale + beta, the scale rsqrt(variance + eps) gamma made on the small tensors
    Variable scale = pow_scalar(add_scalar(variance, eps), -0.5);
    if (gamma.defined()) scale = mul2(scale, gamma);
    Variable y = mul2(sub2(x, mean_), scale);
    if (beta.defined()) y = add2(y, beta);
    return {y};
  }
  Axes reduce = other_axes(x.ndim(), keep);
  Standardized s = standardize(x, reduce, beta, gamma, eps, output_stat);
  const int64_t n = count(x.shape(), reduce);
  if (n > 0) {  // running statistics: not part of the graph; the unbiased variance (n = 1: the biased one, 0)
    check_distinct(op, "mean", mean_, "variance", variance);
    if (mean_.defined()) check::prepare_in_place(op, "mean", mean_);
    if (variance.defined()) check::prepare_in_place(op, "variance", variance);
    if (mean_.defined()) {
      Tensor m = mean_.value();
      kernels::lerp_into(m, s.mean.value(), decay_rate);
    }
    if (variance.defined()) {
      Tensor v = variance.value();
      const double unbias = n > 1 ? static_cast<double>(n) / static_cast<double>(n - 1) : 1.0;
      kernels::lerp_into(v, kernels::with_scalar(kernels::WithScalar::Mul, s.var.value(), unbias), decay_rate);
    }
  }
  return with_stats(s, output_stat);
}

}  // namespace

// batch_normalization: y = (x - mu) rsqrt(var + eps) gamma + beta; composed of ops (gradient: theirs)
VariableList batch_normalization(const Variable& x, const Variable& beta, const Variable& gamma,
                                 const Variable& mean_, const Variable& variance, const Axes& axes,
                                 double decay_rate, double eps, bool batch_stat, bool output_stat) {
  return batch_normalization_as("batch_normalization", x, beta, gamma, mean_, variance, axes, decay_rate, eps,
                                batch_stat, output_stat);
}

// fused_batch_normalization: relu(batch_normalization(x) + z)
VariableList fused_batch_normalization(const Variable& x, const Variable& beta, const Variable& gamma,
                                       const Variable& mean_, const Variable& variance, const Variable& z,
                                       const Axes& axes, double decay_rate, double eps, bool batch_stat,
                                       const std::string& nonlinearity, bool output_stat) {
  const char* op = "fused_batch_normalization";
  if (nonlinearity != "relu")
    throw ValueError(detail::cat(op, ": nonlinearity must be 'relu', got '", nonlinearity, "'"));
  check::floating(op, "x", x);
  if (z.defined()) {
    check::floating(op, "z", z);
    check::same_shape(op, "x", x, "z", z);
    if (z.dtype() != x.dtype())
      throw TypeError(detail::cat(op, ": z is ", dtype_name(z.dtype()), " but x is ", dtype_name(x.dtype())));
  }
  VariableList out = batch_normalization_as(op, x, beta, gamma, mean_, variance, axes, decay_rate, eps, batch_stat,
                                            output_stat);
  out[0] = relu(z.defined() ? add2(out[0], z) : out[0]);
  return out;
}

// weight_normalization: w g / sqrt(sum_{axes != dim} w^2 + eps)
Variable weight_normalization(const Variable& w, const Variable& g, int64_t dim, double eps) {
  const char* op = "weight_normalization";
  check::floating(op, "w", w);
  check::floating(op, "g", g);
  if (w.ndim() == 0) throw ValueError(detail::cat(op, ": w must have at least one axis, got shape ()"));
  const int64_t d = normalize_axis(op, dim, w.ndim());
  if (g.shape() != Shape{w.shape()[d]})
    throw ValueError(detail::cat(op, ": g has shape ", shape_str(g.shape()), " but w of shape ", shape_str(w.shape()),
                                 " with dim=", dim, " needs (", w.shape()[d], ",)"));
  if (g.dtype() != w.dtype())
    throw TypeError(detail::cat(op, ": g is ", dtype_name(g.dtype()), " but w is ", dtype_name(w.dtype())));
  check_eps(op, eps);
  Variable s = add_scalar(sum_over(pow_scalar(w, 2.0), other_axes(w.ndim(), {d})), eps);
  return mul2(mul2(w, reshape(g, kept_shape(w.shape(), {d}))), pow_scalar(s, -0.5));
}

// norm: (sum |x|^p)^(1/p). |x| = x sign(x) with sign's true zero gradient, so
// a zero entry gets gradient 0 (as torch). An all-zero slice takes the root of
// 1 instead of 0 and is masked to 0, so its gradient is 0, not 0 * inf.
Variable norm(const Variable& x, double p, const Axes& axis, bool keepdims) {
  const char* op = "norm";
  check::floating(op, "x", x);
  check_p(op, p);
  Axes a = normalize_axes(op, axis, x.ndim());
  const bool even = std::fmod(p, 2.0) == 0;
  Variable ax = even ? x : mul2(x, sign(x, 0.0, false));
  Variable s = sum(pow_scalar(ax, p), a, keepdims);
  if (p == 1) return s;
  // s >= 0; only an all-zero slice (s = 0) is masked, so that its gradient is 0 -- a NaN passes through
  Variable nonzero = not_equal_scalar(s, 0.0);
  Variable s_safe = where(nonzero, s, constant(1.0, {}, s.dtype()));
  return mul2(pow_scalar(s_safe, 1.0 / p), nonzero);
}

// norm_normalization: x / max(||x||_p, eps) (nnabla ignores eps: NaN for an all-zero slice)
Variable norm_normalization(const Variable& x, double p, const Axes& axes, double eps) {
  const char* op = "norm_normalization";
  check::floating(op, "x", x);
  check_p(op, p);
  check_eps(op, eps);
  return div2(x, maximum_scalar(norm(x, p, axes, true), eps));
}

// layer_normalization: statistics over every axis except batch_axis
VariableList layer_normalization(const Variable& x, const Variable& beta, const Variable& gamma,
                                 const Axes& batch_axis, double eps, bool output_stat) {
  const char* op = "layer_normalization";
  check::floating(op, "x", x);
  Axes batch = batch_axes(op, batch_axis, x.ndim());
  check_broadcast_param(op, "beta", beta, x, batch);
  check_broadcast_param(op, "gamma", gamma, x, batch);
  check_eps(op, eps);
  return with_stats(standardize(x, other_axes(x.ndim(), batch), beta, gamma, eps, output_stat), output_stat);
}

// instance_normalization: statistics over every axis except channel_axis and batch_axis
VariableList instance_normalization(const Variable& x, const Variable& beta, const Variable& gamma,
                                    int64_t channel_axis, const Axes& batch_axis, double eps, bool output_stat) {
  const char* op = "instance_normalization";
  check::floating(op, "x", x);
  auto [c, batch] = channel_and_batch_axes(op, channel_axis, batch_axis, x.ndim());
  check_broadcast_param(op, "beta", beta, x, {});
  check_broadcast_param(op, "gamma", gamma, x, {});
  check_eps(op, eps);
  Axes keep = batch;
  keep.push_back(c);
  return with_stats(standardize(x, other_axes(x.ndim(), keep), beta, gamma, eps, output_stat), output_stat);
}

// group_normalization: x as (.., G, C/G, ..) at channel_axis, statistics per (batch, group)
VariableList group_normalization(const Variable& x, const Variable& beta, const Variable& gamma,
                                 int64_t num_groups, int64_t channel_axis, const Axes& batch_axis, double eps,
                                 bool output_stat) {
  const char* op = "group_normalization";
  check::floating(op, "x", x);
  auto [c, batch] = channel_and_batch_axes(op, channel_axis, batch_axis, x.ndim());
  const int64_t C = x.shape()[c];
  if (num_groups < 1 || C % num_groups != 0)
    throw ValueError(detail::cat(op, ": num_groups=", num_groups, " must be positive and divide the ", C,
                                 " channels of x of shape ", shape_str(x.shape())));
  check_broadcast_param(op, "beta", beta, x, batch);
  check_broadcast_param(op, "gamma", gamma, x, batch);
  check_eps(op, eps);
  Shape grouped = x.shape();
  grouped[c] = C / num_groups;
  grouped.insert(grouped.begin() + c, num_groups);
  Axes keep{c};
  for (int64_t b : batch) keep.push_back(b < c ? b : b + 1);
  Standardized s = standardize(reshape(x, grouped), other_axes(x.ndim() + 1, keep), {}, {}, eps, output_stat);
  Variable y = reshape(s.y, x.shape());
  if (gamma.defined()) y = mul2(y, gamma);
  if (beta.defined()) y = add2(y, beta);
  return with_stats({y, s.mean, s.var}, output_stat);
}

// tensor_normalization: batch_normalization's statistics without running ones
VariableList tensor_normalization(const Variable& x, const Axes& axes, const Variable& beta, const Variable& gamma,
                                  double eps, bool output_stat) {
  const char* op = "tensor_normalization";
  check::floating(op, "x", x);
  Axes keep = normalize_axes(op, axes, x.ndim());
  Shape ps = kept_shape(x.shape(), keep);
  check_param(op, "beta", beta, x, ps);
  check_param(op, "gamma", gamma, x, ps);
  check_eps(op, eps);
  return with_stats(standardize(x, other_axes(x.ndim(), keep), beta, gamma, eps, output_stat), output_stat);
}

// weight_standardization: (w - mean) / sqrt(var + eps) per output channel
VariableList weight_standardization(const Variable& w, int64_t channel_axis, double eps, bool output_stat) {
  const char* op = "weight_standardization";
  check::floating(op, "w", w);
  const int64_t c = normalize_axis(op, channel_axis, w.ndim());
  check_eps(op, eps);
  return with_stats(standardize(w, other_axes(w.ndim(), {c}), {}, {}, eps, output_stat), output_stat);
}

// spectral_norm: W / (u^T W v), u and v from power iteration (constants of the graph)
VariableList spectral_norm(const Variable& w, const Variable& u, int64_t dim, int64_t itr, double eps, bool test,
                           bool output_u) {
  const char* op = "spectral_norm";
  check::floating(op, "w", w);
  check::floating(op, "u", u);
  if (w.ndim() == 0) throw ValueError(detail::cat(op, ": w must have at least one axis, got shape ()"));
  const int64_t d = normalize_axis(op, dim, w.ndim());
  const int64_t d0 = w.shape()[d];
  if (u.shape() != Shape{d0})
    throw ValueError(detail::cat(op, ": u has shape ", shape_str(u.shape()), " but w of shape ", shape_str(w.shape()),
                                 " with dim=", dim, " needs (", d0, ",)"));
  if (u.dtype() != w.dtype())
    throw TypeError(detail::cat(op, ": u is ", dtype_name(u.dtype()), " but w is ", dtype_name(w.dtype())));
  if (itr < 1) throw ValueError(detail::cat(op, ": itr must be >= 1, got ", itr));
  if (!(eps > 0) || !std::isfinite(eps)) throw ValueError(detail::cat(op, ": eps must be finite and > 0, got ", eps));
  if (d0 == 0 || w.numel() == 0) throw ValueError(detail::cat(op, ": w of shape ", shape_str(w.shape()), " is empty"));
  Axes perm{d};
  for (int64_t a = 0; a < w.ndim(); ++a)
    if (a != d) perm.push_back(a);
  Variable wm = reshape(d == 0 ? w : transpose(w, perm), {d0, w.numel() / d0});
  Variable uc, vc;  // (1, d0) and (d1, 1), constants
  {
    NoGradGuard no_grad;
    auto unit = [eps](const Variable& a) { return div2(a, pow_scalar(add_scalar(sum(pow_scalar(a, 2.0)), eps), 0.5)); };
    Variable wd = wm.detach();
    uc = reshape(u.detach(), {1, d0});
    for (int64_t i = 0; i < itr; ++i) {
      vc = unit(matmul(wd, uc, true, true));  // W^T u: (d1, 1)
      uc = unit(matmul(vc, wd, true, true));  // (W v)^T: (1, d0)
    }
  }
  Variable sigma = matmul(matmul(uc, wm), vc);  // (1, 1)
  Variable y = div2(wm, sigma);
  if (d != 0) {
    Shape ts{d0};
    for (int64_t a : perm)
      if (a != d) ts.push_back(w.shape()[a]);
    Axes back(w.ndim());
    for (int64_t i = 0; i < w.ndim(); ++i) back[perm[i]] = i;
    y = transpose(reshape(y, ts), back);
  } else {
    y = reshape(y, w.shape());
  }
  Variable u_new = reshape(uc, {d0});
  if (!test) {
    check::prepare_in_place(op, "u", u);
    Tensor target = u.value();
    kernels::lerp_into(target, u_new.value(), 0.0);
  }
  if (!output_u) return {y};
  return {y, record_nondiff(u_new.value())};
}

// mean_subtraction: y = x - rm, rm = rm + (mu - rm) / (t + 1) when updating
Variable mean_subtraction(const Variable& x, const Variable& mean_, const Variable& t, int64_t base_axis,
                          bool update_running_mean) {
  const char* op = "mean_subtraction";
  check::floating(op, "x", x);
  if (base_axis < 0 || base_axis >= x.ndim())
    throw ValueError(detail::cat(op, ": base_axis must be in [0, ", x.ndim(), ") for x of shape ",
                                 shape_str(x.shape()), ", got ", base_axis));
  Shape ms(x.shape().begin() + base_axis, x.shape().end());
  check_param(op, "mean", mean_, x, ms);
  check::defined(op, "mean", mean_);
  if (!update_running_mean) return sub2(x, mean_);
  check::defined(op, "t", t);
  if (t.numel() != 1 || t.dtype() == DType::Bool)
    throw ValueError(detail::cat(op, ": t must be one int64 or float counter, got ", dtype_name(t.dtype()),
                                 " of shape ", shape_str(t.shape())));
  if (!(t.item() >= 0) || !std::isfinite(t.item()))
    throw ValueError(detail::cat(op, ": the counter t must be finite and >= 0, got ", t.item()));
  check_distinct(op, "mean", mean_, "t", t);
  check::prepare_in_place(op, "mean", mean_);
  check::prepare_in_place(op, "t", t);
  const double c = 1.0 / (t.item() + 1.0);
  Axes batch;
  for (int64_t a = 0; a < base_axis; ++a) batch.push_back(a);
  Variable mu = batch.empty() ? x : mean(x, batch, false);
  // the old running mean, copied before it is overwritten below
  Variable kept = record_nondiff(kernels::with_scalar(kernels::WithScalar::Mul, mean_.value(), 1.0 - c));
  Variable rm = add2(kept, mul_scalar(mu, c));
  Variable y = sub2(x, rm);  // before the writes below
  Tensor target = mean_.value();
  kernels::lerp_into(target, rm.value(), 0.0);
  Tensor counter = t.value();
  kernels::add_scalar_into(counter, 1.0);
  return y;
}

}  // namespace nthgrad

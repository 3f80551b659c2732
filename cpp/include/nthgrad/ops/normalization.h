#pragma once
// Normalization (technical note section 5) and the related normalizations.
// Every op is composed of differentiable ops (the fused statistics op
// standardize, mean, sub2, pow_scalar, mul2, ...), so its gradient is again a
// graph of ops and every order follows.
// Statistics are two-pass (the variance is the mean of (x - mean)^2), which
// stays accurate for inputs far from zero. An undefined beta / gamma means no
// shift / no scale. Ops with `output_stat` return (y, mean, var), the biased
// statistics with kept dimensions; the others return {y}.
#include <string>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

// y = (x - mu) / sqrt(var + eps) * gamma + beta, the statistics over every
// axis not in `axes`. beta, gamma, mean, variance have x's shape with 1 on
// the axes not in `axes` (e.g. (1, C, 1, 1)). batch_stat: mu, var from the
// batch, and a defined mean / variance is updated in place:
// m = r m + (1 - r) mu, v = r v + (1 - r) var n / (n - 1), r = decay_rate.
// Otherwise mu = mean, var = variance (both required). grad: x, beta, gamma
// (and mean, variance when batch_stat is false). State written in place
// (here, in spectral_norm and mean_subtraction) must be memory nthgrad owns
// that nothing else holds (RuntimeError otherwise, before any write).
VariableList batch_normalization(const Variable& x, const Variable& beta, const Variable& gamma,
                                 const Variable& mean, const Variable& variance, const Axes& axes = {1},
                                 double decay_rate = 0.9, double eps = 1e-5, bool batch_stat = true,
                                 bool output_stat = false);
// relu(batch_normalization(x, ...) + z), z undefined or of x's shape.
VariableList fused_batch_normalization(const Variable& x, const Variable& beta, const Variable& gamma,
                                       const Variable& mean, const Variable& variance, const Variable& z,
                                       const Axes& axes = {1}, double decay_rate = 0.9, double eps = 1e-5,
                                       bool batch_stat = true, const std::string& nonlinearity = "relu",
                                       bool output_stat = false);
// w g / sqrt(sum over the axes other than dim of w^2 + eps), g of shape (w.shape[dim],).
Variable weight_normalization(const Variable& w, const Variable& g, int64_t dim = 0, double eps = 1e-12);
// (sum |x|^p)^(1/p) over axis (empty: all), p >= 1. An all-zero slice has
// norm 0 and gradient 0 (as torch; nnabla gives NaN).
Variable norm(const Variable& x, double p = 2, const Axes& axis = {}, bool keepdims = false);
// x / max(||x||_p, eps) over axes (kept; empty: all), p >= 1.
Variable norm_normalization(const Variable& x, double p = 2, const Axes& axes = {}, double eps = 1e-12);
// Statistics over every axis not in batch_axis; beta, gamma of x's rank with
// each dimension 1 or x's.
VariableList layer_normalization(const Variable& x, const Variable& beta, const Variable& gamma,
                                 const Axes& batch_axis = {0}, double eps = 1e-5, bool output_stat = false);
// Statistics over every axis except channel_axis and batch_axis.
VariableList instance_normalization(const Variable& x, const Variable& beta, const Variable& gamma,
                                    int64_t channel_axis = 1, const Axes& batch_axis = {0}, double eps = 1e-5,
                                    bool output_stat = false);
// The channels split into num_groups groups; statistics per (batch, group)
// over the group's channels and every other axis. The statistics have the
// grouped shape: x's with channel_axis replaced by (num_groups, 1).
VariableList group_normalization(const Variable& x, const Variable& beta, const Variable& gamma,
                                 int64_t num_groups, int64_t channel_axis = 1, const Axes& batch_axis = {0},
                                 double eps = 1e-5, bool output_stat = false);
// Statistics over every axis not in `axes`; beta, gamma shaped as in
// batch_normalization. No running statistics.
VariableList tensor_normalization(const Variable& x, const Axes& axes, const Variable& beta = {},
                                  const Variable& gamma = {}, double eps = 1e-5, bool output_stat = false);
// (w - mean) / sqrt(var + eps), statistics over every axis except channel_axis.
VariableList weight_standardization(const Variable& w, int64_t channel_axis = 0, double eps = 1e-5,
                                    bool output_stat = false);
// W / sigma with W = w as a (w.shape[dim], rest) matrix and sigma = u^T W v
// after itr power iterations v = W^T u / |W^T u|, u = W v / |W v| (norms
// sqrt(. + eps)); u and v are constants of the graph. Unless test, the new u
// is written into u in place. Returns {w_sn} or, with output_u, {w_sn, u}.
VariableList spectral_norm(const Variable& w, const Variable& u, int64_t dim = 0, int64_t itr = 1,
                           double eps = 1e-12, bool test = false, bool output_u = false);
// y = x - rm with rm the running mean of shape x.shape[base_axis:]. With
// update_running_mean: rm = rm + (mu - rm) / (t + 1), mu the mean over the
// axes before base_axis, written into mean in place with t += 1 (t: one
// element); the gradient is the exact one of that expression.
Variable mean_subtraction(const Variable& x, const Variable& mean, const Variable& t, int64_t base_axis = 1,
                          bool update_running_mean = true);

}  // namespace nthgrad

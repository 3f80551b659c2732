#pragma once
// Surrogate gradients (issue 10): a Heaviside spike H(x) = 1 where x > 0
// else 0 (H(0) = 0) in x's dtype, whose backward is gy * sigma'(x; alpha)
// with sigma' built from differentiable ops of x and alpha -- never from the
// saved output -- so sigma'', sigma''', ... follow at every order and alpha
// (a tensor that requires grad) gets the meta-gradient d/d alpha of a
// first-order gradient. H itself does not depend on alpha: its first-order
// gradient in alpha is zero.
#include <functional>
#include <string>

#include "nthgrad/variable.h"

namespace nthgrad {

// The surrogates, by the name users pass (`method`), and sigma'(x; a, b):
//   "heaviside"          0 (no surrogate)
//   "super"              1 / (a|x| + 1)^2                  (SuperSpike; Norse's super_fn)
//   "fast_sigmoid"       1 / (a|x| + 1)^2                  (snnTorch; a = slope)
//   "triangle"           a max(0, 1 - |x|)
//   "tanh"               1 - tanh^2(a x)                   (heavi_tanh_fn, logistic_fn)
//   "circ"               a^3 / (x^2 + a^2)^1.5             (heavi_circ_fn, circ_dist_fn)
//   "heavi_erfc"         2 exp(-(a x)^2) / sqrt(pi)
//   "atan"               (a / 2) / (1 + (pi a x / 2)^2)
//   "sigmoid"            a s (1 - s), s = sigmoid(a x)     (finite for every input)
//   "straight_through"   1
//   "spike_rate_escape"  a exp(-b |x - 1|)                 (a = slope, b = beta)
// Throws ValueError listing these for any other name.
Variable surrogate_derivative(const std::string& method, const Variable& x, const Variable& alpha, double beta = 1);

// H(x) forward (or `z`, a given spike tensor of x's shape, for the stochastic
// forwards), gy * sigma'(x; alpha, beta) backward. alpha: a tensor that
// broadcasts to x (a 0-d one for a scalar); cast to x's dtype.
Variable surrogate_heaviside(const Variable& x, const std::string& method, const Variable& alpha,
                             const Variable& z = Variable(), double beta = 1);

// A surrogate of one's own: H(x) forward (or z), backward gy * derivative(x),
// where derivative builds sigma'(x) with ops (a tensor that broadcasts to x),
// so every order follows from the ops it used; a constant derivative still
// gives a zero second order.
using Derivative = std::function<Variable(const Variable&)>;
Variable surrogate_custom(const Variable& x, const Derivative& derivative, const Variable& z = Variable());

}  // namespace nthgrad

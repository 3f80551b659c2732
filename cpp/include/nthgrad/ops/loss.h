#pragma once
// Loss functions (technical note section 13). Elementwise losses are not
// reduced. Every loss is composed of differentiable ops, so every order works.
#include <optional>
#include <string>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

// softplus(x) - x t = -[t log s(x) + (1-t) log(1-s(x))], x logits, t of x's shape;
// gx = gy (s(x) - t), gt = -gy x (nnabla raises for t; the math is defined, as torch's)
Variable sigmoid_cross_entropy(const Variable& x, const Variable& target);
// -[t log x + (1-t) log(1-x)], x probabilities (log clamped at the dtype's smallest normal tiny, as nnabla,
// with slope 1/tiny below it: at a saturated x the gradient is nnabla's -gy t/tiny, every order finite);
// gx = gy (x - t) / (x (1-x)), gt = gy (log(1-x) - log x)
Variable binary_cross_entropy(const Variable& x, const Variable& target);
// -log_softmax(x)[label] along axis (nullopt: the last); target int64 (float accepted, truncated) of x's
// shape with 1 at axis; label -1 gives 0 and no gradient. gx = gy (softmax(x) - onehot)
Variable softmax_cross_entropy(const Variable& x, const Variable& target, std::optional<int64_t> axis = std::nullopt);
// -log x[label] along axis, x probabilities (log clamped as binary_cross_entropy's); labels as
// softmax_cross_entropy. gx = -gy onehot / x
Variable categorical_cross_entropy(const Variable& x, const Variable& target,
                                   std::optional<int64_t> axis = std::nullopt);
Variable squared_error(const Variable& x0, const Variable& x1);   // (x0 - x1)^2, broadcast
// |x0 - x1|; gx0 = gy (x0 > x1 ? 1 : -1), gx1 = -gx0 (nnabla: -gy for x0 at x0 == x1)
Variable absolute_error(const Variable& x0, const Variable& x1);
// d^2 if |d| < delta else delta (2|d| - delta), d = x0 - x1 (twice torch's huber_loss)
Variable huber_loss(const Variable& x0, const Variable& x1, double delta = 1.0);
// max(0, |x0 - x1| - epsilon)
Variable epsilon_insensitive_loss(const Variable& x0, const Variable& x1, double epsilon);
// sum over the axes from base_axis of p (log(p + 1e-8) - log(q + 1e-8)) (nnabla's shift: p = 0 adds 0),
// shape p.shape[:base_axis] + (1,)
Variable kl_multinomial(const Variable& p, const Variable& q, int64_t base_axis = 1);

}  // namespace nthgrad

// Activations (technical note section 4). Rules are written in terms of the
// saved output where the derivative is a polynomial in y, so that every
// order stays a polynomial in y.
#include "nthgrad/ops/activation.h"

#include "nthgrad/ops/math.h"
#include "ops/detail/elementwise.h"

namespace nthgrad {

using kernels::Unary;

// tanh: y = tanh x; gx = gy * (1 - y^2)
Variable tanh(const Variable& x) {
  return detail::unary("tanh", x, Unary::Tanh,
                       [](const Variable&, const Variable& y) { return r_sub_scalar(pow_scalar(y, 2.0), 1.0); });
}

// sigmoid: y = 1 / (1 + e^-x); gx = gy * y * (1 - y)
Variable sigmoid(const Variable& x) {
  return detail::unary("sigmoid", x, Unary::Sigmoid,
                       [](const Variable&, const Variable& y) { return mul2(y, r_sub_scalar(y, 1.0)); });
}

// relu: y = max(0, x); gx = gy * [x > 0]   (0 at x = 0)
Variable relu(const Variable& x) {
  return detail::unary("relu", x, Unary::Relu,
                       [](const Variable& x, const Variable&) { return greater_scalar(x, 0.0); });
}

}  // namespace nthgrad

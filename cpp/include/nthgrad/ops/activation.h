#pragma once
// Activations (technical note section 4). Each elementwise one has a fused
// first-order backward op "<name>_backward" whose own rule is written in ops,
// so every order works and a plain backward runs one kernel per op.
#include "nthgrad/variable.h"

namespace nthgrad {

Variable sigmoid(const Variable& x);  // y = 1/(1+e^-x);          gx = gy * y(1-y)
Variable swish(const Variable& x);    // y = x sigma(x);           gx = gy * s(1 + x(1-s))
Variable tanh(const Variable& x);     // y = tanh x;               gx = gy * (1 - y^2)
Variable relu(const Variable& x);     // y = max(0, x);            gx = gy * [y > 0]   (0 at 0)
Variable leaky_relu(const Variable& x, double alpha = 0.1);  // gx = gy * (x > 0 ? 1 : alpha)  (alpha at 0)
// y = exp(x) / sum exp(x) along axis (negative counts from the end);  gx = y (gy - sum(gy y))
Variable softmax(const Variable& x, int64_t axis = -1);
// y = x - logsumexp(x) along axis;  gx = gy - exp(y) sum(gy)
Variable log_softmax(const Variable& x, int64_t axis = -1);
Variable elu(const Variable& x, double alpha = 1.0);  // x > 0 ? x : alpha (e^x - 1)
Variable selu(const Variable& x, double scale = 1.05070098735548, double alpha = 1.673263242354377);
// concat(relu(x), relu(-x)) along axis; gx = gy0 [x > 0] - gy1 [x <= 0]  (nnabla: -gy1 at 0)
Variable crelu(const Variable& x, int64_t axis = 1);
// concat(elu(x, alpha), elu(-x, alpha)) along axis
Variable celu(const Variable& x, double alpha = 1.0, int64_t axis = 1);
// x0 >= 0 ? x0 : w x0 with w = x1 (1 element, or x0.shape[base_axis] elements along base_axis)
Variable prelu(const Variable& x0, const Variable& x1, int64_t base_axis = 1);
Variable gelu(const Variable& x);          // 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))
Variable mish(const Variable& x);          // x tanh(softplus(x))
Variable relu6(const Variable& x);         // min(max(0, x), 6); gradient 0 at 0 and 6
Variable hard_sigmoid(const Variable& x);  // clip(0.2x + 0.5, 0, 1); gradient 0.2 on [-2.5, 2.5]
Variable hard_tanh(const Variable& x);     // clip(x, -1, 1); gradient 1 on [-1, 1]
Variable log_sigmoid(const Variable& x);   // log sigma(x);      gx = gy sigma(-x)
Variable softplus(const Variable& x, double beta = 1.0);  // log(1 + e^(beta x)) / beta;  gx = gy sigma(beta x)
Variable softsign(const Variable& x);      // x / (1 + |x|);     gx = gy / (1 + |x|)^2
Variable tanh_shrink(const Variable& x);   // x - tanh x;        gx = gy tanh^2 x
Variable sinc(const Variable& x);          // sin x / x (1 at 0); gx = gy (x cos x - sin x) / x^2 (0 at 0)

}  // namespace nthgrad

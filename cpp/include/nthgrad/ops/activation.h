#pragma once
// Activations (technical note section 4).
#include "nthgrad/variable.h"

namespace nthgrad {

Variable tanh(const Variable& x);     // y = tanh x;        gx = gy * (1 - y^2)
Variable sigmoid(const Variable& x);  // y = 1/(1+e^-x);    gx = gy * y * (1 - y)
Variable relu(const Variable& x);     // y = max(0, x);     gx = gy * (x > 0)   (0 at x = 0)

}  // namespace nthgrad

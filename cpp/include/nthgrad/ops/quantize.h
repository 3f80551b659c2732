#pragma once
// Quantization (technical note section 14), the related quantizers, and the gradient
// clipping ops clip_grad_by_value / clip_grad_by_norm.
#include <string>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

}  // namespace nthgrad

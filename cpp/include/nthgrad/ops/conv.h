#pragma once
// Neural network layers (technical note section 2): convolution, depthwise_convolution,
// deconvolution, depthwise_deconvolution.
#include <string>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

}  // namespace nthgrad

#pragma once
// Reductions (technical note section 6). An empty axis list means all axes.
#include "nthgrad/variable.h"

namespace nthgrad {

Variable sum(const Variable& x, const Axes& axis = {}, bool keepdims = false);   // gx = broadcast(gy)
Variable mean(const Variable& x, const Axes& axis = {}, bool keepdims = false);  // gx = broadcast(gy) / n

}  // namespace nthgrad

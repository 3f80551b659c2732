#pragma once
// Pooling (technical note section 3): max_pooling, average_pooling, global_average_pooling,
// sum_pooling, unpooling, embed.
#include <string>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

}  // namespace nthgrad

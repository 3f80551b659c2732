#pragma once
// Normalization (technical note section 5) and the related normalizations.
#include <string>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

}  // namespace nthgrad

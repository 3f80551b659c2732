#pragma once
// Loss functions (technical note section 13).
#include <string>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

}  // namespace nthgrad

#pragma once
// Stochasticity (technical note section 12) and the random sources: every one
// takes an explicit seed or a Generator; same seed, same numbers everywhere.
#include "nthgrad/variable.h"

namespace nthgrad {}  // namespace nthgrad

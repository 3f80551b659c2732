#pragma once
// Signal processing (technical note section 11): interpolate, fft, ifft, and
// the related stft / istft.
#include "nthgrad/variable.h"

namespace nthgrad {}  // namespace nthgrad

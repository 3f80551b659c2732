#pragma once
// Recurrent layers (technical note section 2): rnn, lstm, gru; and the related
// multi_head_attention.
#include <string>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

}  // namespace nthgrad

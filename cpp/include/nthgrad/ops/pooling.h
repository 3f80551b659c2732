#pragma once
// Pooling (technical note section 3): max_pooling, average_pooling, global_average_pooling,
// sum_pooling, unpooling, embed.
#include <string>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

// The pooling windows (len(kernel) = n in {2, 3}) act on the last n axes of x
// (channel_last: the n axes before the last); every leading axis is a batch
// axis. stride empty -> kernel, pad empty -> 0. Window o starts at o s - p;
// O = floor((L + 2p - k) / s) + 1 with ignore_border, else floor((L + p - 1) / s) + 1
// (every window that starts inside the input); windows are clipped to the input.

// The max of each window (padding never wins; ties: the first maximum in
// row-major window order; a NaN wins). gx = gy scatter-added at the argmax
// (op "max_pooling_backward", whose gradient gathers at the argmax again).
Variable max_pooling(const Variable& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride = {},
                     bool ignore_border = true, const std::vector<int64_t>& pad = {}, bool channel_last = false);
// The sum of each window divided by the window clipped to [-p, L + p)
// (including_pad) or by its number of input elements. gx =
// average_pooling_backward(gy) (the same weights spread over each window),
// whose gradient is average_pooling again   [adjoint pair]
Variable average_pooling(const Variable& x, const std::vector<int64_t>& kernel,
                         const std::vector<int64_t>& stride = {}, bool ignore_border = true,
                         const std::vector<int64_t>& pad = {}, bool channel_last = false, bool including_pad = true);
// The sum of each window. gx = sum_pooling_backward(gy), whose gradient is sum_pooling   [adjoint pair]
Variable sum_pooling(const Variable& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride = {},
                     bool ignore_border = true, const std::vector<int64_t>& pad = {}, bool channel_last = false);
// x (N, C, ...) -> (N, C, 1, 1): the mean over every axis after axis 1 (mean + reshape).
Variable global_average_pooling(const Variable& x);
// Each element repeated k_i times along the i-th of the last n = len(kernel)
// axes (n >= 1; channel_last: the n axes before the last). reshape +
// broadcast + reshape; gx = the sum over each block.
Variable unpooling(const Variable& x, const std::vector<int64_t>& kernel, bool channel_last = false);
// y = w[x0]: rows of w (W_0, W_1..) at the int64 indices x0 (each in [0, W_0)),
// shape x0.shape + w.shape[1:]. gw = gy scatter-added at x0 (repeated indices
// accumulate); x0 gets no gradient.
Variable embed(const Variable& x0, const Variable& w);

}  // namespace nthgrad

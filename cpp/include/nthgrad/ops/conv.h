#pragma once
// Neural network layers (technical note section 2): convolution, depthwise_convolution,
// deconvolution, depthwise_deconvolution, and the weight-gradient op they share.
// pad / stride / dilation: one entry per spatial axis; empty means 0 / 1 / 1.
// x is (M..., C, L...) (every axis before base_axis a batch axis), or (M..., L..., C) with channel_last.
#include <string>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

// y = x (*) weight + bias, grouped N-d cross-correlation; weight (C', C/group, K...) (channel_last:
// (C', K..., C/group)). gx = deconvolution(gy, weight), gw = convolution_weight_grad(x, gy), gb = sum(gy).
Variable convolution(const Variable& x, const Variable& weight, const Variable& bias = {}, int64_t base_axis = 1,
                     const std::vector<int64_t>& pad = {}, const std::vector<int64_t>& stride = {},
                     const std::vector<int64_t>& dilation = {}, int64_t group = 1, bool channel_last = false);
// The adjoint of convolution with the same weight, which here is (C, C'/group, K...) for x with C
// channels; output size s(L-1) - 2p + d(k-1) + 1 + output_padding, output_padding < max(s, d) as
// torch's (entries >= s pad x with zeros first). gx = convolution(gy, weight),
// gw = convolution_weight_grad(gy, x), gb = sum(gy).
Variable deconvolution(const Variable& x, const Variable& weight, const Variable& bias = {}, int64_t base_axis = 1,
                       const std::vector<int64_t>& pad = {}, const std::vector<int64_t>& stride = {},
                       const std::vector<int64_t>& dilation = {}, int64_t group = 1, bool channel_last = false,
                       const std::vector<int64_t>& output_padding = {});
// Weight gradient of convolution(x, w) for output gradient gy, w of kernel size `kernel`: bilinear in
// (x, gy). d/dx = deconvolution(gy, g), d/dgy = convolution(x, g) for an incoming weight-shaped g.
Variable convolution_weight_grad(const Variable& x, const Variable& gy, const std::vector<int64_t>& kernel,
                                 int64_t base_axis = 1, const std::vector<int64_t>& pad = {},
                                 const std::vector<int64_t>& stride = {}, const std::vector<int64_t>& dilation = {},
                                 int64_t group = 1, bool channel_last = false);
// convolution with group = C of x (C, L...) and weight (C*multiplier, K...) seen as (C*m, 1, K...).
Variable depthwise_convolution(const Variable& x, const Variable& weight, const Variable& bias = {},
                               int64_t base_axis = 1, const std::vector<int64_t>& pad = {},
                               const std::vector<int64_t>& stride = {}, const std::vector<int64_t>& dilation = {},
                               int64_t multiplier = 1);
// deconvolution with group = C/divisor of x (C, L...) and weight (C, K...) seen as (C, 1, K...).
Variable depthwise_deconvolution(const Variable& x, const Variable& weight, const Variable& bias = {},
                                 int64_t base_axis = 1, const std::vector<int64_t>& pad = {},
                                 const std::vector<int64_t>& stride = {}, const std::vector<int64_t>& dilation = {},
                                 int64_t divisor = 1);

}  // namespace nthgrad

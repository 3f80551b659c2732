#pragma once
// Quantization (technical note section 14), the related quantizers, and the gradient
// clipping ops clip_grad_by_value / clip_grad_by_norm. The quantizers' backward is a
// straight-through estimator: gy times a constant mask (or gy itself), so the rule is
// linear in gy (double backward through it works) and the second derivative in x is 0.
#include <optional>
#include <string>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

Variable binary_sigmoid(const Variable& x);  // x > 0 ? 1 : 0;   gx = 0.5 gy [|x| < 1]
Variable binary_tanh(const Variable& x);     // x > 0 ? 1 : -1;  gx = gy [|x| < 1]
// x where |x| >= t, else 0, t = the floor((size-1) rate)-th smallest |x| of the whole array; gx = gy
Variable prune(const Variable& x, double rate = 0.9);
// clip(round(x / scale) + clip(round(zero_point)), qmin, qmax) as floats; dtype "int8" [-128, 127] or
// "uint8" [0, 255], narrow_range raises qmin by 1; round_mode "HALF_AWAY_FROM_ZERO" or "HALF_TO_EVEN".
// zero_point is rounded and saturated in place (nnabla). gx = gy / scale; scale and zero_point get no
// gradient (asking for one raises at backward time).
Variable quantize_linear(const Variable& x, const Variable& scale, const Variable& zero_point,
                         const std::string& round_mode = "HALF_AWAY_FROM_ZERO", bool narrow_range = false,
                         const std::string& dtype = "int8");
// (x - zero_point) scale; gx = gy scale (scale / zero_point: raises at backward time)
Variable dequantize_linear(const Variable& x, const Variable& scale, const Variable& zero_point);
// Uniform quantization with step delta to [-max, max] (sign) or [0, max], max = (2^(n-sign) - 1) delta;
// gx = gy inside that range with ste_fine_grained, else gy. quantize = false: x itself.
Variable fixed_point_quantize(const Variable& x, bool sign = true, int64_t n = 8, double delta = 0.0625,
                              bool quantize = true, bool ste_fine_grained = true);
// Power-of-two quantization to +-2^k, k in [m - (2^(n') - 1), m] (n' = n - sign - with_zero), optionally 0;
// gx = gy where the rounded power is <= 2^m (and x >= 0 unless sign) with ste_fine_grained, else gy.
Variable pow2_quantize(const Variable& x, bool sign = true, bool with_zero = true, int64_t n = 8, int64_t m = 1,
                       bool quantize = true, bool ste_fine_grained = true);
// Min-max quantization to the levels [ql_min, ql_max] of the range [qr_min, qr_max] (nudged so that 0 is
// a level); qr_min / qr_max are replaced in place by x's min / max (x_min_max) or their moving average
// (x_min_max and ema). The four range inputs have one shape: x's rank, each axis 1 or x's size.
// gx = gy inside the nudged range (ste_fine_grained) or gy; without x_min_max and ema, qr_min / qr_max get
// the sum of gy below / above the range; ql_min / ql_max get none (raises at backward time).
Variable min_max_quantize(const Variable& x, const Variable& qr_min, const Variable& qr_max, const Variable& ql_min,
                          const Variable& ql_max, double decay = 0.999, bool x_min_max = false, bool ema = false,
                          bool ste_fine_grained = true, double eps = 0.01, bool quantize = true);
// Identity forward; gx = clip(gy, min, max) (min / max broadcast to x, no gradient).
Variable clip_grad_by_value(const Variable& x, const Variable& min, const Variable& max);
// Identity forward; gx = clip_norm gy / ||gy||_2 over axes (empty: all), always rescaled (nnabla); an all-zero
// gy over the axes gives 0 (nnabla: NaN).
Variable clip_grad_by_norm(const Variable& x, double clip_norm = 1.0, const Axes& axes = {});

}  // namespace nthgrad

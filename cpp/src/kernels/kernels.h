#pragma once
// Kernels: pure compute on tensors, no autograd. Each entry point takes
// tensors that the op layer has already checked (dtypes, shapes, axes) and
// returns a new tensor. CPU only for now; a CUDA build would dispatch here on
// the tensors' device.
#include <utility>
#include <vector>

#include "nthgrad/tensor.h"

namespace nthgrad::kernels {

// Elementwise functions of one floating input. `a` and `b` are the op's
// scalar parameters where it has any (noted per entry).
enum class Unary {
  // math
  Neg, Exp, Log, Sin, Cos, Tan, Sinh, Cosh, Asin, Acos, Atan, Asinh, Acosh, Atanh, Erf, Abs, Copy,
  Round,  // half away from zero
  Ceil, Floor,
  Sign,  // a: the value at 0
  // activations
  Tanh, Sigmoid, Relu, Swish, LogSigmoid,
  Softplus,  // a: beta
  Softsign, Gelu, Mish,
  Elu,        // a: alpha
  Selu,       // a: scale, b: alpha
  LeakyRelu,  // a: alpha
  Relu6, HardSigmoid, HardTanh, TanhShrink, Sinc,
  // masks and replacement (no gradient of their own)
  IsNan, IsInf, LogicalNot,
  ResetNan,  // a: the replacement
  ResetInf,  // a: the replacement
};
Tensor unary(Unary op, const Tensor& x, double a = 0, double b = 0);

// gy * f'(z) in one pass: the first-order backward of the differentiable
// entries above, where z is the op's output for Tanh, Sigmoid, Relu, Relu6
// and Tan, and its input for the others.
Tensor unary_grad(Unary op, const Tensor& gy, const Tensor& z, double a = 0, double b = 0);

// Elementwise functions of two inputs of one dtype, with NumPy broadcasting.
// Arithmetic needs a floating dtype; comparisons and logical ops take any
// dtype and return 0/1 in `out` (a floating dtype).
enum class Binary {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum, Atan2,
  Fmod,      // C fmod: the sign of x0
  FloorMod,  // Python %: the sign of x1 (integers only)
  Equal, NotEqual, Greater, GreaterEqual, Less, LessEqual, LogicalAnd, LogicalOr, LogicalXor,
};
Tensor binary(Binary op, const Tensor& a, const Tensor& b);
Tensor compare(Binary op, const Tensor& a, const Tensor& b, DType out);

// x op val, elementwise. The comparisons and logical ops return 0/1 in x's
// dtype; the logical ones read val as a bool.
enum class WithScalar {
  Add, Mul, Div, Pow, RSub, RDiv, RPow, Maximum, Minimum,
  Greater, GreaterEqual, Less, LessEqual, Equal, NotEqual, LogicalAnd, LogicalOr, LogicalXor,
};
Tensor with_scalar(WithScalar op, const Tensor& x, double val);

// y += alpha * x in place (same shape and dtype): the one kernel that writes
// into an existing tensor, for in-place updates of leaves (ops: add_).
void add_into(Tensor& y, const Tensor& x, double alpha);

// cond ? a : b with NumPy broadcasting of all three (cond: any dtype, read as
// != 0; a and b of one dtype).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Reductions over sorted, distinct axes. float32 sums and products are
// accumulated in double, float64 sums blockwise, so that 10^7 terms lose no
// more than a few ulps.
Tensor sum(const Tensor& x, const Axes& axes, bool keepdims);
Tensor mean(const Tensor& x, const Axes& axes, bool keepdims);
Tensor prod(const Tensor& x, const Axes& axes, bool keepdims);
// max or min over the axes, and the int64 flat index of the first extreme
// element within the reduced axes (row-major over them). NaN wins.
std::pair<Tensor, Tensor> max_min(bool is_max, const Tensor& x, const Axes& axes, bool keepdims);
// 1 at the element of x's shape that `index` (from max_min) names, 0 elsewhere.
Tensor index_mask(const Tensor& index, const Shape& x_shape, const Axes& axes, DType dtype);

// Running sums or products along one axis; exclusive shifts by one (the first
// is 0 or 1), reverse runs from the end.
enum class Cumulative { Sum, Prod };
Tensor cumulative(Cumulative op, const Tensor& x, int64_t axis, bool exclusive, bool reverse);
// y_t = a_t * y_{t-1} + b_t along `axis` (y_{-1} = 0); reverse:
// y_t = a_{t+1} * y_{t+1} + b_t (y_n = 0). a_j weighs the step between j-1
// and j in both directions, so the two are each other's adjoint.
Tensor linear_recurrence(const Tensor& a, const Tensor& b, int64_t axis, bool reverse);

// softmax / log_softmax along one axis, max-shifted.
Tensor softmax(const Tensor& x, int64_t axis, bool log);
// y * (gy - sum(gy * y)) for softmax, gy - exp(y) * sum(gy) for log_softmax.
Tensor softmax_grad(const Tensor& gy, const Tensor& y, int64_t axis, bool log);

Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x, const Axes& perm);
// Float to int64 raises for NaN, inf and values out of range.
Tensor cast(const Tensor& x, DType dtype);
// y[i...] = x[start + i * step ...] per axis, y of `out_shape` (steps may be negative).
Tensor slice(const Tensor& x, const std::vector<int64_t>& start, const std::vector<int64_t>& step,
             const Shape& out_shape);
// The adjoint of slice: zeros of `x_shape` with gy written where slice read.
Tensor slice_backward(const Tensor& gy, const Shape& x_shape, const std::vector<int64_t>& start,
                      const std::vector<int64_t>& step);
// Inputs of one dtype, equal shapes except along `axis`.
Tensor concatenate(const std::vector<Tensor>& xs, int64_t axis);
// start, start + step, ... (n values), in dtype.
Tensor arange(double start, double step, int64_t n, DType dtype);
// n evenly spaced values from start to stop, both included.
Tensor linspace(double start, double stop, int64_t n, DType dtype);

// op(a) @ op(b) over broadcast batch axes; a, b of rank >= 2.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b);
// (M, D) @ (D, L) + bias(L) with bias optional (undefined).
Tensor affine(const Tensor& x, const Tensor& w, const Tensor& bias);

// ---- array: gather / scatter / sort / pad / tile (issue 7) ----



// ---- linalg: decompositions per matrix, parallel over the batch (issue 7) ----



// ---- signal: fft, interpolate (issue 7) ----
// Complex DFT of x (..., N_1..N_d, 2), the last axis holding (re, im), over
// the d = signal_ndim axes before the last: y_k = scale * sum_n x_n e^{-+2 pi i k.n/N}
// (inverse: +). O(N log N) for every length (radix 2, Bluestein otherwise),
// computed in double; independent transforms run in parallel.
Tensor fft(const Tensor& x, int64_t signal_ndim, bool inverse, double scale);
// Resampling of the last n = sizes.size() axes (n <= 3): linear (multilinear
// weights of floor(c) and min(floor(c) + 1, L - 1)) or nearest (floor(c)
// clipped to L - 1), c the source coordinate of output o by `InterpCoord`.
enum class InterpMode { Linear, Nearest };
enum class InterpCoord {
  Asymmetric,      // o L / O
  AlignCorners,    // o (L - 1) / (O - 1), 0 when O = 1
  HalfPixel,       // max(0, (o + 1/2) L / O - 1/2)
  HalfPixelForNN,  // (o + 1/2) L / O
};
Tensor interpolate(const Tensor& x, const Shape& out_sizes, InterpMode mode, InterpCoord coord);
// Its adjoint: zeros with the last axes of `in_sizes`, gy scatter-added with the same weights.
Tensor interpolate_backward(const Tensor& gy, const Shape& in_sizes, InterpMode mode, InterpCoord coord);
// (N, K) matrix M[n][k] = window[n] * coef[k] * (sine ? sin : cos)(2 pi k n / N), N = window.size(),
// K = coef.size(); the real-DFT bases of stft / istft.
Tensor dft_matrix(const std::vector<double>& window, const std::vector<double>& coef, bool sine, DType dtype);



// ---- random: counter-based generator and samplers (issue 7) ----



}  // namespace nthgrad::kernels

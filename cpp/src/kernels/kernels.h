#pragma once
// Kernels: pure compute on tensors, no autograd. Each entry point takes
// tensors that the op layer has already checked (dtypes, shapes, axes) and
// returns a new tensor. CPU only for now; a CUDA build would dispatch here on
// the tensors' device.
#include <string>
#include <utility>
#include <vector>

#include "nthgrad/ops/optim.h"
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
// y (m, l) = x (m, d) @ w + bias, w of shape (d, l), or (l, d) read transposed (transpose_w).
Tensor affine(const Tensor& x, const Tensor& w, const Tensor& bias, bool transpose_w = false);

// ---- array: gather / scatter / sort / pad / tile (issue 7) ----
// Row gathers: x read as (num_rows, row_size), `rows` int64 in range (the op
// checks); y has shape rows.shape + (row_size,). Any dtype.
Tensor gather_rows(const Tensor& x, int64_t row_size, const Tensor& rows);
// The adjoint: zeros (num_rows, row_size) with src's rows (src read as
// (rows.numel(), row_size)) added at `rows`; duplicates accumulate in index
// order whatever the number of threads. row_size is explicit: with no rows it
// cannot be inferred from src.
Tensor scatter_rows_add(const Tensor& src, const Tensor& rows, int64_t num_rows, int64_t row_size);
// The same with "last write wins" instead of adding; *all_unique says
// whether no row was written twice.
Tensor scatter_rows_set(const Tensor& src, const Tensor& rows, int64_t num_rows, int64_t row_size, bool* all_unique);
// 1 (in dtype) where rows[i] does not occur again later in `rows`, 0 where
// it does: the writes that survive a scatter with "last one wins".
Tensor last_occurrence(const Tensor& rows, int64_t num_rows, DType dtype);
// Row-major flat offsets into `dims` of coords (M, Y...) -> (Y...);
// negative coordinates count from the end; one out of range throws
// IndexError "<op>: index v is out of range for <what[j]>".
Tensor ravel_index(const Tensor& coords, const Shape& dims, const char* op, const std::vector<std::string>& what);
// Flat offsets into x_shape of an index along `axis` (index of x's rank,
// no larger than x on the other axes): offset of (i_0, .., index[i], .., i_n).
Tensor along_axis_offsets(const Tensor& index, const Shape& x_shape, int64_t axis, const char* op,
                          const std::string& what);
// Stable argsort along axis (positions along it, int64). NaN sorts above
// +inf (last ascending, first descending); -0 equals +0.
Tensor argsort(const Tensor& x, int64_t axis, bool descending);
// x (samples, n): per row the k positions of the largest (smallest) values
// (of |x| if by_abs), in rank order, lower index first among ties.
Tensor top_k_indices(const Tensor& x, int64_t k, bool by_abs, bool largest);
// sorted (rows, n), values (rows, m) of one dtype: per value the first
// position whose element is >= it (right: >), int64 (rows, m).
Tensor searchsorted(const Tensor& sorted, const Tensor& values, bool right);


// ---- linalg: decompositions per matrix, parallel over the batch (issue 7) ----
// x is (B, N, N). inv: a singular matrix gives inf/NaN entries; det: LU
// determinant (0 for an exactly singular one, 1 for N = 0); logdet: log|det|
// as sum log|u_ii| (-inf when singular); cholesky: reads the lower triangle,
// an item that is not positive definite gives a NaN-filled factor.
Tensor batch_inv(const Tensor& x);
Tensor batch_det(const Tensor& x);
Tensor batch_logdet(const Tensor& x);
Tensor batch_cholesky(const Tensor& x, bool upper);
// (..., M) -> (..., M, M) with x on the diagonal; and its adjoint, the diagonal
// of the last two (equal) axes.
Tensor matrix_diag(const Tensor& x);
Tensor matrix_diag_part(const Tensor& x);
// x with the elements outside the upper (j - i >= k) or lower (j - i <= k)
// triangle of the last two axes set to 0.
Tensor trilu(const Tensor& x, int64_t k, bool upper);



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
// Philox4x32-10 (Salmon et al., SC'11): 4 x 32-bit outputs of one counter
// block under a 2 x 32-bit key.
void philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);
// Where a draw takes its numbers: element i of the output reads the counter
// blocks (offset + i, j) for j = 0, 1, ... under the key `seed`, so results
// do not depend on the number of threads. The caller reserves the counters.
struct RandomKey {
  uint64_t seed = 0;
  uint64_t offset = 0;
};
// Samplers: the checks (parameters in range, shape valid) are the op's.
Tensor random_uniform(const Shape& shape, double low, double high, DType dtype, RandomKey key);  // [low, high)
Tensor random_normal(const Shape& shape, double mu, double sigma, DType dtype, RandomKey key);
Tensor random_int(const Shape& shape, int64_t low, int64_t high, RandomKey key);  // int64 in [low, high)
Tensor random_binomial(const Shape& shape, int64_t n, double p, DType dtype, RandomKey key);
Tensor random_gamma(const Shape& shape, double k, double theta, DType dtype, RandomKey key);
Tensor random_beta(const Shape& shape, double alpha, double beta, DType dtype, RandomKey key);
// 1 where u >= p (u uniform in [0, 1), 53 bits whatever the dtype), else 0.
Tensor dropout_mask(const Shape& shape, double p, DType dtype, RandomKey key);
// ValueError unless every row (along the last axis) of w is finite, >= 0,
// with a positive sum and, without replacement, `draws` positive entries.
void check_choice_weights(const Tensor& w, int64_t draws, bool replace);
// Weighted draws along the last axis of w (checked as above): int64 indices
// of shape w.shape[:-1] + (draws,). With replacement draw d of row r reads
// counter offset + r * draws + d; without, entry i of row r reads
// offset + r * n + i (one exponential clock per entry).
Tensor random_choice_index(const Tensor& w, int64_t draws, bool replace, RandomKey key);


// ---- conv (issue 8) ----
// One convolution seen from its input: x (B, C, L...) and weight
// (C', C/group, K...) give y (B, C', O...), O = (L + 2p - d(k-1) - 1)/s + 1.
// channel_last: x (B, L..., C), weight (C', K..., C/group), y (B, O..., C').
// Deconvolution is conv_transpose of the convolution it is the adjoint of.
// The op checks every size; the kernels trust them.
struct ConvGeometry {
  int64_t batch = 1, channels = 0, out_channels = 0, group = 1;
  Shape in_size, out_size, kernel;
  std::vector<int64_t> pad, stride, dilation;
  bool channel_last = false;
};
// y = x * w (+ bias, shape (C'))
Tensor conv_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g);
// x-shaped adjoint of conv_forward applied to a y-shaped gy (+ bias, shape (C)): deconvolution
Tensor conv_transpose(const Tensor& gy, const Tensor& w, const Tensor& bias, const ConvGeometry& g);
// weight-shaped: gw = sum over batch and positions of gy (x) windows of x
Tensor conv_weight_grad(const Tensor& x, const Tensor& gy, const ConvGeometry& g);



// ---- pooling (issue 8) ----
// Window geometry of max / sum / average pooling over 2 or 3 spatial axes.
// x is read as (outer, L_0, L_1, L_2, inner): outer = the leading axes, inner
// = C for channel_last (else 1); 2-d pooling has L_0 = O_0 = k_0 = s_0 = 1,
// p_0 = 0. Window o along axis d covers [o s_d - p_d, o s_d - p_d + k_d),
// clipped to [0, L_d). The op layer checks the geometry.
struct PoolGeometry {
  int64_t outer = 1, inner = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1}, pad[3] = {0, 0, 0};
};
// The max of each (non-empty) window, and in `argmax` the int64 flat offset
// into x of the first maximum in row-major window order; a NaN wins (the first one).
Tensor max_pooling(const Tensor& x, const PoolGeometry& g, const Shape& y_shape, Tensor& argmax);
// y_o = w_o * (sum of window o), w_o = prod_d f_d(o_d): 1 (Sum), 1 / (the
// window clipped to [-p, L + p)) (AverageIncludingPad), 1 / (its real
// elements) (AverageValid).
enum class PoolWeight { Sum, AverageIncludingPad, AverageValid };
Tensor window_pooling(const Tensor& x, const PoolGeometry& g, PoolWeight w, const Shape& y_shape);
// Its adjoint: gx_i = sum over the windows o that contain i of w_o gy_o.
Tensor window_pooling_backward(const Tensor& gy, const PoolGeometry& g, PoolWeight w, const Shape& x_shape);



// ---- sequence (issue 8) ----
// The LSTM cell: gates (B, 4H) are the pre-activations in the order i, f, g,
// o; c = sig(f) c_prev + sig(i) tanh(g), h = sig(o) tanh(c). Returns (h, c).
std::pair<Tensor, Tensor> lstm_cell(const Tensor& gates, const Tensor& c_prev);
// Its adjoint: the gradients (of gates, of c_prev) from gh and gc (both
// (B, H)), given the cell's inputs and its c.
std::pair<Tensor, Tensor> lstm_cell_backward(const Tensor& gh, const Tensor& gc, const Tensor& gates,
                                             const Tensor& c_prev, const Tensor& c);



// ---- normalization (issue 8) ----
// In place, same shape and dtype: y = keep * y + (1 - keep) * x (keep = 0:
// a plain copy of x). The running statistics and spectral_norm's u.
void lerp_into(Tensor& y, const Tensor& x, double keep);
// y += val in place, for float or int64 counters (mean_subtraction's t).
void add_scalar_into(Tensor& y, double val);
// x read as (A, C, B), statistics per c over (A, B), two-pass and accumulated
// in double: {xhat = (x - mean) rstd (x's shape), mean, var (biased), rstd =
// (var + eps)^-1/2} with the last three of shape (C,). A * B > 0.
std::vector<Tensor> standardize(const Tensor& x, int64_t A, int64_t C, int64_t B, double eps);
// Its first-order backward, in one kernel: rstd (g - mean(g) - xhat mean(g xhat)),
// the means per c over (A, B); g, xhat (A, C, B), rstd (C,).
Tensor standardize_backward(const Tensor& g, const Tensor& xhat, const Tensor& rstd, int64_t A, int64_t C, int64_t B);
// x (A, C, B) -> x gamma[c] + beta[c]; gamma, beta (C values) may be undefined (1, 0).
Tensor channel_affine(const Tensor& x, const Tensor& gamma, const Tensor& beta, int64_t A, int64_t C, int64_t B);
// a, b (A, C, B) -> {sum a, sum a b} per c over (A, B), accumulated in double, each of shape (C,).
std::vector<Tensor> channel_sums(const Tensor& a, const Tensor& b, int64_t A, int64_t C, int64_t B);



// ---- quantize (issue 8) ----
// Elementwise quantizers: the quantized x and the straight-through mask
// (gx = gy * mask), both of x's dtype, in one pass (kernels/cpu/quantize.cpp).
enum class Quantizer { BinarySigmoid, BinaryTanh, FixedPoint, Pow2 };
struct QuantizerParams {
  bool sign = true;
  bool with_zero = true;
  int64_t n = 8;
  int64_t m = 1;
  double delta = 0.0625;
  bool fine_grained = true;  // false: the mask is all ones
};
std::pair<Tensor, Tensor> quantize(Quantizer q, const Tensor& x, const QuantizerParams& p);
// x with every |x| below the floor((size-1) rate)-th smallest |x| set to 0 (rate 1: all).
Tensor prune(const Tensor& x, double rate);
enum class RoundMode { HalfAwayFromZero, HalfToEven };
Tensor round_values(const Tensor& x, RoundMode mode);
// clip(round(x / scale) + zero_point, qmin, qmax); scale and zero_point of x's shape and dtype.
Tensor quantize_linear(const Tensor& x, const Tensor& scale, const Tensor& zero_point, RoundMode mode, double qmin,
                       double qmax);
// Min-max quantizer ranges, all of one shape: scale = (qr_max - qr_min) / (ql_max - ql_min) and the
// range [lo, hi] shifted so that the zero point (ql_min - qr_min / scale, rounded into [ql_min, ql_max])
// is a level.
struct MinMaxRange {
  Tensor scale, lo, hi;
};
MinMaxRange min_max_range(const Tensor& qr_min, const Tensor& qr_max, const Tensor& ql_min, const Tensor& ql_max);


// ---- optim (issue 9): fused optimizer updates, in place (kernels/cpu/optim.cpp) ----
// p, grad and every buffer share p's shape and dtype; a null buffer means the
// rule does not use it (the options: nthgrad/ops/optim.h).
void sgd_step(Tensor& p, const Tensor& grad, Tensor* momentum_buffer, const SgdStep& o);
void adam_step(Tensor& p, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor* max_exp_avg_sq,
               const AdamStep& o);
// grad_avg non-null: centered; momentum_buffer non-null: momentum > 0
void rmsprop_step(Tensor& p, const Tensor& grad, Tensor& square_avg, Tensor* grad_avg, Tensor* momentum_buffer,
                  const RmspropStep& o);
void adagrad_step(Tensor& p, const Tensor& grad, Tensor& state_sum, const AdagradStep& o);

// ---- hard functions (issue 11, kernels/cpu/cluster.cpp) ----
// Lloyd's k-means per sample: x (B, N, D) float; uniforms (k,) float64 in
// [0, 1) drive the k-means++ seeding, the same for every sample (so a
// sample's result does not depend on the batch). Runs `iters` rounds of
// assignment (nearest centre, the lower index on ties) and update (the mean
// of the assigned points; an empty cluster keeps its centre), then orders the
// centres lexicographically and assigns every point once more. Returns the
// centres (B, k, D) in x's dtype and the int64 labels (B, N) into them.
std::pair<Tensor, Tensor> kmeans(const Tensor& x, const Tensor& uniforms, int64_t iters);

// ---- lean derivative graphs (issue 12, kernels/cpu/polynomial.cpp) ----
// y = sum_t coef[t] * prod_i atoms[i]^powers[t * atoms.size() + i], elementwise,
// for atoms of one shape and floating dtype (powers may be negative).
Tensor polynomial(const std::vector<Tensor>& atoms, const std::vector<double>& coef,
                  const std::vector<int32_t>& powers);

}  // namespace nthgrad::kernels

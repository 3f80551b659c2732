// Signal processing (technical note section 11): interpolate and its adjoint,
// fft / ifft and their adjoints (kernel ops whose rules are each other), and
// stft / istft composed of slices, concatenate and matmul.
#include "nthgrad/ops/signal.h"

#include <cmath>
#include <limits>

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/linalg.h"
#include "ops/detail/array_internal.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {

using kernels::InterpCoord;
using kernels::InterpMode;

struct InterpSpec {
  InterpMode mode;
  InterpCoord coord;
};

InterpSpec interp_spec(const char* op, const Variable& x, const std::string& mode, bool align_corners,
                       bool half_pixel, bool half_pixel_for_nn) {
  if (mode != "linear" && mode != "nearest")
    throw ValueError(detail::cat(op, ": mode must be 'linear' or 'nearest', got '", mode, "' (input of shape ",
                                 shape_str(x.shape()), ")"));
  if (align_corners && half_pixel)
    throw ValueError(detail::cat(op, ": align_corners=True and half_pixel=True cannot be used together ",
                                 "(input of shape ", shape_str(x.shape()), ")"));
  const InterpMode m = mode == "linear" ? InterpMode::Linear : InterpMode::Nearest;
  InterpCoord c = InterpCoord::Asymmetric;
  if (m == InterpMode::Nearest && half_pixel_for_nn)
    c = InterpCoord::HalfPixelForNN;
  else if (align_corners)
    c = InterpCoord::AlignCorners;
  else if (half_pixel)
    c = InterpCoord::HalfPixel;
  return {m, c};
}

Shape last_axes(const Shape& s, std::size_t n) { return Shape(s.end() - static_cast<std::ptrdiff_t>(n), s.end()); }

Variable interp_backward_resolved(const Variable& gy, const Shape& in_sizes, InterpSpec s);

// interpolate with resolved output sizes: gx = interpolate_backward(gy)
Variable interp_resolved(const Variable& x, const Shape& out_sizes, InterpSpec s) {
  const Shape in_sizes = last_axes(x.shape(), out_sizes.size());
  return record("interpolate", {x}, kernels::interpolate(x.value(), out_sizes, s.mode, s.coord), kSavesNothing,
                [in_sizes, s](const Ctx& c) { return grads(interp_backward_resolved(c.gy(), in_sizes, s)); });
}

// interpolate_backward: the scatter-add with interpolate's weights; gx = interpolate(gy)
Variable interp_backward_resolved(const Variable& gy, const Shape& in_sizes, InterpSpec s) {
  const Shape out_sizes = last_axes(gy.shape(), in_sizes.size());
  return record("interpolate_backward", {gy}, kernels::interpolate_backward(gy.value(), in_sizes, s.mode, s.coord),
                kSavesNothing, [out_sizes, s](const Ctx& c) { return grads(interp_resolved(c.gy(), out_sizes, s)); });
}

// x (..., L_1..L_n, C) <-> (..., C, L_1..L_n)
Axes channel_first_perm(int64_t ndim, int64_t n) {
  Axes p;
  for (int64_t d = 0; d < ndim - n - 1; ++d) p.push_back(d);
  p.push_back(ndim - 1);
  for (int64_t d = ndim - n - 1; d < ndim - 1; ++d) p.push_back(d);
  return p;
}

Axes inverse_perm(const Axes& p) {
  Axes inv(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) inv[p[i]] = static_cast<int64_t>(i);
  return inv;
}

}  // namespace

// interpolate: y = W x with constant multilinear / nearest weights W; gx = W^T gy = interpolate_backward(gy)
Variable interpolate(const Variable& x, const std::vector<double>& scale, const std::vector<int64_t>& output_size,
                     const std::string& mode, bool align_corners, bool half_pixel, bool half_pixel_for_nn,
                     bool channel_last) {
  check::floating("interpolate", "x", x);
  const InterpSpec s = interp_spec("interpolate", x, mode, align_corners, half_pixel, half_pixel_for_nn);
  if (scale.empty() == output_size.empty())
    throw ValueError(detail::cat("interpolate: exactly one of scale and output_size must be given (x of shape ",
                                 shape_str(x.shape()), ")"));
  const std::size_t n = scale.empty() ? output_size.size() : scale.size();
  if (n < 1 || n > 3)
    throw ValueError(detail::cat("interpolate: only 1-, 2- and 3-D interpolation exist; got ", n,
                                 " sizes for x of shape ", shape_str(x.shape())));
  const int64_t nd = x.ndim(), need = static_cast<int64_t>(n) + (channel_last ? 1 : 0);
  if (nd < need)
    throw ValueError(detail::cat("interpolate: x of shape ", shape_str(x.shape()), " has fewer than ", need,
                                 " axes, needed for ", n, "-D interpolation",
                                 channel_last ? " with channel_last" : ""));
  const Variable xc = channel_last ? transpose(x, channel_first_perm(nd, static_cast<int64_t>(n))) : x;
  const Shape in_sizes = last_axes(xc.shape(), n);
  Shape out_sizes(n);
  for (std::size_t k = 0; k < n; ++k) {
    if (in_sizes[k] < 1)
      throw ValueError(detail::cat("interpolate: cannot resample an axis of size 0 (x of shape ",
                                   shape_str(x.shape()), ")"));
    if (scale.empty()) {
      out_sizes[k] = output_size[k];
    } else {
      if (!(scale[k] > 0) || !std::isfinite(scale[k]))
        throw ValueError(detail::cat("interpolate: scale must be positive and finite, got ", scale[k]));
      const double o = std::floor(scale[k] * static_cast<double>(in_sizes[k]));
      if (!(o < 9.0e18))
        throw ValueError(detail::cat("interpolate: scale ", scale[k], " gives an output size beyond 64-bit integers ",
                                     "for x of shape ", shape_str(x.shape())));
      out_sizes[k] = static_cast<int64_t>(o);
    }
    if (out_sizes[k] < 1)
      throw ValueError(detail::cat("interpolate: output sizes must be >= 1, got ", shape_str(out_sizes),
                                   " for x of shape ", shape_str(x.shape())));
  }
  Shape y_shape = xc.shape();
  std::copy(out_sizes.begin(), out_sizes.end(), y_shape.end() - static_cast<std::ptrdiff_t>(n));
  for (int64_t d = 0, count = 1; d < static_cast<int64_t>(y_shape.size()); ++d)
    count = checked_mul(count, std::max<int64_t>(y_shape[d], 1), "interpolate", y_shape);
  Variable y = interp_resolved(xc, out_sizes, s);
  return channel_last ? transpose(y, inverse_perm(channel_first_perm(nd, static_cast<int64_t>(n)))) : y;
}

Variable interpolate_backward(const Variable& gy, const Shape& x_size, const std::string& mode, bool align_corners,
                              bool half_pixel, bool half_pixel_for_nn) {
  check::floating("interpolate_backward", "gy", gy);
  const InterpSpec s = interp_spec("interpolate_backward", gy, mode, align_corners, half_pixel, half_pixel_for_nn);
  const std::size_t n = x_size.size();
  if (n < 1 || n > 3 || gy.ndim() < static_cast<int64_t>(n))
    throw ValueError(detail::cat("interpolate_backward: x_size ", shape_str(x_size),
                                 " must have 1 to 3 entries, no more than the axes of gy of shape ",
                                 shape_str(gy.shape())));
  const Shape out_sizes = last_axes(gy.shape(), n);
  for (std::size_t k = 0; k < n; ++k)
    if (x_size[k] < 1 || out_sizes[k] < 1)
      throw ValueError(detail::cat("interpolate_backward: sizes must be >= 1; got x_size ", shape_str(x_size),
                                   " and gy of shape ", shape_str(gy.shape())));
  Shape x_shape = gy.shape();
  std::copy(x_size.begin(), x_size.end(), x_shape.end() - static_cast<std::ptrdiff_t>(n));
  for (int64_t d = 0, count = 1; d < static_cast<int64_t>(x_shape.size()); ++d)
    count = checked_mul(count, std::max<int64_t>(x_shape[d], 1), "interpolate_backward", x_shape);
  return interp_backward_resolved(gy, x_size, s);
}

namespace {

void check_fft(const char* op, const Variable& x, int64_t signal_ndim) {
  check::floating(op, "x", x);
  if (signal_ndim < 1 || signal_ndim > 3)
    throw ValueError(detail::cat(op, ": signal_ndim must be 1, 2 or 3, got ", signal_ndim, " (x of shape ",
                                 shape_str(x.shape()), ")"));
  if (x.ndim() < signal_ndim + 1 || x.shape().back() != 2)
    throw ValueError(detail::cat(op, ": x must have shape (..., N_1, ..., N_", signal_ndim,
                                 ", 2) with the last axis holding (real, imaginary); got x of shape ",
                                 shape_str(x.shape())));
}

double signal_size(const Variable& x, int64_t signal_ndim) {
  double n = 1;
  for (int64_t d = x.ndim() - 1 - signal_ndim; d < x.ndim() - 1; ++d) n *= static_cast<double>(x.shape()[d]);
  return n;
}

// scale * DFT (inverse: with e^{+...}) over the signal axes, recorded as `name`;
// its adjoint is scale * the opposite DFT, recorded as `adjoint`, and back.
Variable dft(const char* name, const char* adjoint, const Variable& x, int64_t d, bool inverse, double scale) {
  return record(name, {x}, kernels::fft(x.value(), d, inverse, scale), kSavesNothing,
                [name, adjoint, d, inverse, scale](const Ctx& c) {
                  return grads(dft(adjoint, name, c.gy(), d, !inverse, scale));
                });
}

}  // namespace

// fft: y = s F x (s = 1 or 1/sqrt(N)); gx = s F^H gy = fft_backward(gy)
Variable fft(const Variable& x, int64_t signal_ndim, bool normalized) {
  check_fft("fft", x, signal_ndim);
  const double n = signal_size(x, signal_ndim);
  const double scale = normalized && n > 0 ? 1.0 / std::sqrt(n) : 1.0;
  return dft("fft", "fft_backward", x, signal_ndim, false, scale);
}

// ifft: y = s F^H x (s = 1/N or 1/sqrt(N)); gx = s F gy = ifft_backward(gy)
Variable ifft(const Variable& x, int64_t signal_ndim, bool normalized) {
  check_fft("ifft", x, signal_ndim);
  const double n = signal_size(x, signal_ndim);
  const double scale = n > 0 ? (normalized ? 1.0 / std::sqrt(n) : 1.0 / n) : 1.0;
  return dft("ifft", "ifft_backward", x, signal_ndim, true, scale);
}

namespace {

constexpr double kPi = 3.14159265358979323846;
const std::vector<int64_t> kOnes2{1, 1}, kOnes3{1, 1, 1};

struct StftArgs {
  int64_t window_size, stride, fft_size;
  std::vector<double> window;  // fft_size samples
  bool center, reflect;
  int64_t pad() const { return center ? fft_size / 2 : 0; }
  int64_t bins() const { return fft_size / 2 + 1; }
};

StftArgs stft_args(const char* op, int64_t window_size, int64_t stride, int64_t fft_size,
                   const std::string& window_type, bool center, const std::string& pad_mode) {
  if (window_size < 1 || stride < 1 || fft_size < 1)
    throw ValueError(detail::cat(op, ": window_size, stride and fft_size must be >= 1; got window_size=",
                                 window_size, ", stride=", stride, ", fft_size=", fft_size));
  if (fft_size < window_size)
    throw ValueError(detail::cat(op, ": fft_size (", fft_size, ") must be at least window_size (", window_size, ")"));
  if (fft_size > (int64_t{1} << 26))
    throw ValueError(detail::cat(op, ": fft_size ", fft_size, " is too large (at most 2^26)"));
  if (window_type != "hanning" && window_type != "hamming" && window_type != "rectangular")
    throw ValueError(detail::cat(op, ": window_type must be 'hanning', 'hamming' or 'rectangular', got '",
                                 window_type, "'"));
  if (pad_mode != "reflect" && pad_mode != "constant")
    throw ValueError(detail::cat(op, ": pad_mode must be 'reflect' or 'constant', got '", pad_mode, "'"));
  StftArgs a{window_size, stride, fft_size, std::vector<double>(static_cast<std::size_t>(fft_size), 0.0), center,
             pad_mode == "reflect"};
  const int64_t left = (fft_size - window_size) / 2;
  for (int64_t i = 0; i < window_size; ++i) {
    const double c = std::cos(2.0 * kPi * static_cast<double>(i) / static_cast<double>(window_size));
    a.window[left + i] = window_type == "hanning" ? 0.5 - 0.5 * c : window_type == "hamming" ? 0.54 - 0.46 * c : 1.0;
  }
  return a;
}

// frames[b, t, n] = x[b, t S + n] (t < T, n < N) from x (B, L), L >= (T-1) S + N or
// zero-extended: ceil(N/S) shifted slices of x seen as (B, R, S), concatenated.
Variable frame(const Variable& x, int64_t T, int64_t N, int64_t S) {
  const int64_t B = x.shape()[0], L = x.shape()[1];
  if (T == 1) return reshape(detail::slice_resolved(x, {0, 0}, kOnes2, {B, N}), {B, 1, N});  // any stride
  // with T >= 2 frames, S <= L - N, so R S < L + S stays within twice the signal
  const int64_t q = (N - 1) / S + 1, R = T - 1 + q;
  const Variable xe = L >= R * S ? detail::slice_resolved(x, {0, 0}, kOnes2, {B, R * S})
                                 : detail::slice_backward(x, {B, R * S}, {0, 0}, kOnes2);
  const Variable r = reshape(xe, {B, R, S});
  VariableList parts;
  for (int64_t j = 0; j < q; ++j) parts.push_back(detail::slice_resolved(r, {0, j, 0}, kOnes3, {B, T, S}));
  const Variable f = q == 1 ? parts[0] : concatenate(parts, 2);
  return q * S == N ? f : detail::slice_resolved(f, {0, 0, 0}, kOnes3, {B, T, N});
}

// The adjoint of frame: frames (B, T, N) overlap-added into (B, L).
Variable overlap_add(const Variable& f, int64_t S, int64_t L) {
  const int64_t B = f.shape()[0], T = f.shape()[1], N = f.shape()[2];
  if (T == 1) {  // any stride
    const Variable f2 = reshape(f, {B, N});
    return L <= N ? detail::slice_resolved(f2, {0, 0}, kOnes2, {B, L})
                  : detail::slice_backward(f2, {B, L}, {0, 0}, kOnes2);
  }
  const int64_t q = (N - 1) / S + 1, R = T - 1 + q;
  const Variable fe = q * S == N ? f : detail::slice_backward(f, {B, T, q * S}, {0, 0, 0}, kOnes3);
  VariableList parts;
  for (int64_t j = 0; j < q; ++j)
    parts.push_back(detail::slice_backward(detail::slice_resolved(fe, {0, 0, j * S}, kOnes3, {B, T, S}), {B, R, S},
                                           {0, j, 0}, kOnes3));
  const Variable flat = reshape(q == 1 ? parts[0] : add_n(parts), {B, R * S});
  return L <= R * S ? detail::slice_resolved(flat, {0, 0}, kOnes2, {B, L})
                    : detail::slice_backward(flat, {B, L}, {0, 0}, kOnes2);
}

// The adjoint of pad(x, {p, p}, reflect or constant) for x (B, L): g (B, L + 2p) -> (B, L),
// the mirrored parts added back (as_stft_backward).
Variable pad_both_adjoint(const Variable& g, int64_t p, bool reflect) {
  if (p == 0) return g;
  const int64_t B = g.shape()[0], L = g.shape()[1] - 2 * p;
  const Variable mid = detail::slice_resolved(g, {0, p}, kOnes2, {B, L});
  if (!reflect) return mid;
  const Variable left = detail::slice_backward(detail::slice_resolved(g, {0, 0}, kOnes2, {B, p}), {B, L}, {0, p},
                                               {1, -1});
  const Variable right = detail::slice_backward(detail::slice_resolved(g, {0, p + L}, kOnes2, {B, p}), {B, L},
                                                {0, L - 2}, {1, -1});
  return add_n({mid, left, right});
}

// 1 / (sum over frames of window^2) on the overlap-added length (T-1) S + N;
// 0 where istft cuts (the padding when center). NOLA: no zero inside.
Tensor inverse_window(const char* op, const StftArgs& a, int64_t T, DType dtype) {
  const int64_t N = a.fft_size, S = a.stride, len = (T - 1) * S + N, p = a.pad();
  std::vector<double> w2(static_cast<std::size_t>(len), 0.0), inv(static_cast<std::size_t>(len), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) w2[t * S + n] += a.window[n] * a.window[n];
  for (int64_t i = p; i < len - p; ++i) {
    if (!(w2[i] >= 1e-11))
      throw ValueError(detail::cat(op, ": the nonzero overlap-add (NOLA) condition fails: the squared windows sum to ",
                                   w2[i], " at sample ", i, " (window_size=", a.window_size, ", stride=", S,
                                   ", fft_size=", N, ", center=", a.center ? "True" : "False", ")"));
    inv[i] = 1.0 / w2[i];
  }
  return kernels::cast(Tensor::from_data(inv.data(), {len}, DType::Float64), dtype);
}

// Per-bin weights of the real DFT: 1 for analysis (stft); for synthesis
// (istft) alpha_k = 1/N for k = 0 and k = N/2 (N even), else 2/N.
std::vector<double> bin_weights(const StftArgs& a, bool synthesis) {
  const int64_t N = a.fft_size, K = a.bins();
  std::vector<double> coef(static_cast<std::size_t>(K), 1.0);
  if (synthesis)
    for (int64_t k = 0; k < K; ++k) coef[k] = (k == 0 || 2 * k == N ? 1.0 : 2.0) / static_cast<double>(N);
  return coef;
}

Variable constant_vector(const std::vector<double>& v, const Shape& shape, DType dtype) {
  return record_nondiff(kernels::cast(Tensor::from_data(v.data(), shape, DType::Float64), dtype));
}

// From this fft_size on, the real DFTs of stft / istft run through the fft op
// (O(N log N) per frame) instead of a dense (N, K) matrix (O(N K) per frame,
// but one GEMM; faster for short frames).
constexpr int64_t kFftFrom = 256;

// frames (B, T, N) -> the weighted DFT of window * frames over bins k < K:
// y_r = coef_k Re, y_i = coef_k Im, each (B, K, T). Its adjoint is spectrum_to_frames.
std::pair<Variable, Variable> frames_to_spectrum(const Variable& frames, const StftArgs& a, bool synthesis) {
  const int64_t B = frames.shape()[0], T = frames.shape()[1], N = frames.shape()[2], K = a.bins();
  const DType dtype = frames.dtype();
  const std::vector<double> coef = bin_weights(a, synthesis);
  if (N < kFftFrom) {  // matmul with c = coef w cos, s = -coef w sin
    std::vector<double> neg(coef);
    for (double& v : neg) v = -v;
    const Variable f2 = reshape(frames, {B * T, N});
    auto one = [&](Tensor m) {
      return transpose(reshape(matmul(f2, record_nondiff(std::move(m))), {B, T, K}), {0, 2, 1});
    };
    return {one(kernels::dft_matrix(a.window, coef, false, dtype)),
            one(kernels::dft_matrix(a.window, neg, true, dtype))};
  }
  const std::vector<int64_t> ones4{1, 1, 1, 1};
  const Variable fw = mul2(frames, constant_vector(a.window, {N}, dtype));
  const Variable z = detail::slice_backward(reshape(fw, {B, T, N, 1}), {B, T, N, 2}, {0, 0, 0, 0}, ones4);
  const Variable spec = dft("fft", "fft_backward", z, 1, false, 1.0);
  auto part = [&](int64_t c) {
    Variable y = transpose(reshape(detail::slice_resolved(spec, {0, 0, 0, c}, ones4, {B, T, K, 1}), {B, T, K}),
                           {0, 2, 1});
    return synthesis ? mul2(y, constant_vector(coef, {K, 1}, dtype)) : y;
  };
  return {part(0), part(1)};
}

// (y_r, y_i) (B, K, T) -> frames (B, T, N):
// f_n = w_n sum_k coef_k (y_r cos - y_i sin)(2 pi k n / N), the adjoint of frames_to_spectrum.
Variable spectrum_to_frames(const Variable& y_r, const Variable& y_i, const StftArgs& a, bool synthesis) {
  const int64_t B = y_r.shape()[0], K = y_r.shape()[1], T = y_r.shape()[2], N = a.fft_size;
  const DType dtype = y_r.dtype();
  const std::vector<double> coef = bin_weights(a, synthesis);
  if (N < kFftFrom) {
    std::vector<double> neg(coef);
    for (double& v : neg) v = -v;
    auto rows = [&](const Variable& y) { return reshape(transpose(y, {0, 2, 1}), {B * T, K}); };
    const Variable c = record_nondiff(kernels::dft_matrix(a.window, coef, false, dtype));
    const Variable s = record_nondiff(kernels::dft_matrix(a.window, neg, true, dtype));
    return reshape(add2(matmul(rows(y_r), c, false, true), matmul(rows(y_i), s, false, true)), {B, T, N});
  }
  // Re of the unnormalized inverse DFT of coef * (y_r + i y_i), zero above bin K: the real
  // part drops what a one-sided spectrum cannot hold (the imaginary parts of bins 0 and N/2)
  const std::vector<int64_t> ones4{1, 1, 1, 1};
  auto part = [&](const Variable& y) {
    const Variable yc = synthesis ? mul2(y, constant_vector(coef, {K, 1}, dtype)) : y;
    return reshape(transpose(yc, {0, 2, 1}), {B, T, K, 1});
  };
  const Variable spec = detail::slice_backward(concatenate({part(y_r), part(y_i)}, 3), {B, T, N, 2}, {0, 0, 0, 0},
                                               ones4);
  const Variable z = dft("fft_backward", "fft", spec, 1, true, 1.0);
  const Variable re = reshape(detail::slice_resolved(z, {0, 0, 0, 0}, ones4, {B, T, N, 1}), {B, T, N});
  return mul2(re, constant_vector(a.window, {N}, dtype));
}

void check_reflect(const char* op, const StftArgs& a, int64_t L, const char* arg, const Shape& shape) {
  if (a.reflect && a.pad() > 0 && a.pad() > L - 1)
    throw ValueError(detail::cat(op, ": reflect padding of ", a.pad(), " samples (fft_size/2) needs a signal of ",
                                 "more than ", a.pad(), " samples; it has ", L, " (", arg, " of shape ",
                                 shape_str(shape), ")"));
}

}  // namespace

// stft: y = DFT(window * frames(pad(x))); linear in x, so its gradient is the
// same composition transposed (slice_backward, add_n, matmul), to every order
std::pair<Variable, Variable> stft(const Variable& x, int64_t window_size, int64_t stride, int64_t fft_size,
                                   const std::string& window_type, bool center, const std::string& pad_mode,
                                   bool as_istft_backward) {
  check::floating("stft", "x", x);
  if (x.ndim() != 2)
    throw ValueError(detail::cat("stft: x must have shape (batch_size, sample_size), got ", shape_str(x.shape())));
  const StftArgs a = stft_args("stft", window_size, stride, fft_size, window_type, center, pad_mode);
  if (as_istft_backward && a.reflect)
    throw ValueError("stft: pad_mode must be 'constant' with as_istft_backward=True (the adjoint of istft's cut "
                     "is a zero padding)");
  const int64_t B = x.shape()[0], L = x.shape()[1], N = fft_size, S = stride, p = a.pad();
  if (L + 2 * p < N)
    throw ValueError(detail::cat("stft: x of shape ", shape_str(x.shape()), " is shorter than one frame (fft_size=",
                                 N, center ? ", after padding by fft_size/2" : "", ")"));
  check_reflect("stft", a, L, "x", x.shape());
  const int64_t T = (L + 2 * p - N) / S + 1;
  const Variable xp = p == 0 ? x : pad(x, {p, p}, a.reflect ? "reflect" : "constant");
  if (!as_istft_backward) return frames_to_spectrum(frame(xp, T, N, S), a, false);
  // the adjoint of istft: istft's cut -> zero padding, its division by the
  // squared-window sum (a constant diagonal) -> the same, its overlap-add -> framing
  const int64_t len = (T - 1) * S + N;
  const Variable inv = record_nondiff(inverse_window("stft", a, T, x.dtype()));
  const Variable xw = mul2(detail::slice_resolved(xp, {0, 0}, kOnes2, {B, len}), inv);
  return frames_to_spectrum(frame(xw, T, N, S), a, true);
}

// istft: x = cut(overlap_add(window * IDFT(y)) / sum of squared windows);
// linear in (y_r, y_i), gradients by the transposed composition
Variable istft(const Variable& y_r0, const Variable& y_i0, int64_t window_size, int64_t stride, int64_t fft_size,
               const std::string& window_type, bool center, const std::string& pad_mode, bool as_stft_backward) {
  check::floating("istft", "y_r", y_r0);
  check::floating("istft", "y_i", y_i0);
  check::same_shape("istft", "y_r", y_r0, "y_i", y_i0);
  const StftArgs a = stft_args("istft", window_size, stride, fft_size, window_type, center, pad_mode);
  if (y_r0.ndim() != 3 || y_r0.shape()[1] != a.bins() || y_r0.shape()[2] < 1)
    throw ValueError(detail::cat("istft: y_r and y_i must have shape (batch_size, fft_size/2 + 1 = ", a.bins(),
                                 ", frames >= 1), got ", shape_str(y_r0.shape())));
  auto [y_r, y_i] = check::promote("istft", y_r0, y_i0);
  const int64_t B = y_r.shape()[0], T = y_r.shape()[2], N = fft_size, S = stride, p = a.pad();
  const int64_t span = checked_mul(T - 1, S, "istft", y_r.shape());  // the signal spans (T - 1) S + N samples
  if (span > std::numeric_limits<int64_t>::max() - N)
    throw ValueError(detail::cat("istft: ", T, " frames of stride ", S, " overflow the signal length"));
  const int64_t len = span + N;
  if (!as_stft_backward) {
    const Variable ola = overlap_add(spectrum_to_frames(y_r, y_i, a, true), S, len);
    const Variable x = mul2(ola, record_nondiff(inverse_window("istft", a, T, y_r.dtype())));
    return p == 0 ? x : detail::slice_resolved(x, {0, p}, kOnes2, {B, len - 2 * p});
  }
  // the adjoint of stft: DFT -> its transpose, framing -> overlap-add, padding -> its adjoint
  check_reflect("istft", a, len - 2 * p, "y_r", y_r.shape());
  const Variable ola = overlap_add(spectrum_to_frames(y_r, y_i, a, false), S, len);
  return pad_both_adjoint(ola, p, a.reflect);
}

}  // namespace nthgrad

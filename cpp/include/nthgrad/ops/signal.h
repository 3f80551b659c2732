#pragma once
// Signal processing (technical note section 11): interpolate, fft, ifft, and
// the related stft / istft.
#include <string>
#include <utility>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

// Resamples the last n axes of x (n = len(output_size or scale) in {1, 2, 3};
// exactly one of the two is non-empty; from scale, O = floor(scale * L)).
// mode 'linear' (multilinear) or 'nearest'. Source coordinate of output o:
// align_corners o (L-1)/(O-1); half_pixel max(0, (o+1/2) L/O - 1/2); default
// o L/O; nearest with half_pixel_for_nn (o+1/2) L/O. channel_last: x is
// (..., L_1..L_n, C). gx = interpolate_backward(gy)   [adjoint pair]
Variable interpolate(const Variable& x, const std::vector<double>& scale, const std::vector<int64_t>& output_size,
                     const std::string& mode = "linear", bool align_corners = false, bool half_pixel = false,
                     bool half_pixel_for_nn = false, bool channel_last = false);
// The adjoint of interpolate (channel first): gy (..., O_1..O_n) scatter-added
// into zeros (..., L_1..L_n), L = x_size, with the same weights; its gradient
// is interpolate again.
Variable interpolate_backward(const Variable& gy, const Shape& x_size, const std::string& mode = "linear",
                              bool align_corners = false, bool half_pixel = false, bool half_pixel_for_nn = false);

// Complex DFT of x (..., N_1..N_d, 2) (last axis: re, im) over the d =
// signal_ndim axes before the last; normalized: times 1/sqrt(prod N).
// gx = scale * unnormalized inverse DFT of gy (op "fft_backward", whose
// gradient is fft again)   [adjoint pair]
Variable fft(const Variable& x, int64_t signal_ndim, bool normalized = false);
// Inverse DFT with 1/prod N (normalized: 1/sqrt(prod N)). gx = scale * forward
// DFT of gy (op "ifft_backward", whose gradient is ifft again)   [adjoint pair]
Variable ifft(const Variable& x, int64_t signal_ndim, bool normalized = false);

// Short-time Fourier transform of x (B, L) as nnabla: frames of fft_size
// samples every `stride` (x padded by fft_size/2 on both sides when center,
// 'reflect' or 'constant'), times the window (window_size samples centred in
// fft_size; 'hanning', 'hamming', 'rectangular'), then the real DFT:
// (y_r, y_i) of shape (B, fft_size/2 + 1, frames). Composed of slices,
// concatenate and matmul, so every order of gradient follows.
// as_istft_backward: the adjoint of istft instead (pad_mode must be 'constant').
std::pair<Variable, Variable> stft(const Variable& x, int64_t window_size, int64_t stride, int64_t fft_size,
                                   const std::string& window_type = "hanning", bool center = true,
                                   const std::string& pad_mode = "reflect", bool as_istft_backward = false);
// Inverse STFT: the inverse real DFT of each frame times the window,
// overlap-added and divided by the overlap-added squared window (NOLA must
// hold), then cut by fft_size/2 on both sides when center. pad_mode is used
// only with as_stft_backward, which gives the adjoint of stft instead.
Variable istft(const Variable& y_r, const Variable& y_i, int64_t window_size, int64_t stride, int64_t fft_size,
               const std::string& window_type = "hanning", bool center = true, const std::string& pad_mode = "reflect",
               bool as_stft_backward = false);

}  // namespace nthgrad

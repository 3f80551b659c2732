// Kernels of the pooling family: max pooling with its argmax, and the
// weighted window sum (sum / average pooling) with its adjoint. Every window
// is a box, so each axis gets a table of its windows' clipped ranges and
// weights, and the kernels loop over raw pointers. The adjoint adds each
// weighted gy over its window, one (batch, channel) plane per thread; with
// channel_last it is a gather instead (each input element sums the outputs
// whose windows contain it), parallel over input lines. Either way no two
// threads write one element.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

// One spatial axis: window o reads [lo[o], hi[o]) with factor f[o] of its
// weight; input i lies in the windows [first[i], last[i]).
struct AxisWindows {
  std::vector<int64_t> lo, hi, first, last;
  std::vector<double> f;
};

AxisWindows axis_windows(const PoolGeometry& g, int d, PoolWeight w) {
  const int64_t L = g.in[d], O = g.out[d], k = g.kernel[d], s = g.stride[d], p = g.pad[d];
  AxisWindows a;
  a.lo.resize(O);
  a.hi.resize(O);
  a.f.resize(O);
  a.first.assign(L, O);
  a.last.assign(L, 0);
  for (int64_t o = 0; o < O; ++o) {
    const int64_t start = o * s - p;
    a.lo[o] = std::max<int64_t>(start, 0);
    a.hi[o] = std::max(a.lo[o], std::min(start + k, L));
    int64_t count = 1;
    if (w == PoolWeight::AverageIncludingPad) count = std::min(start + k, L + p) - start;
    if (w == PoolWeight::AverageValid) count = a.hi[o] - a.lo[o];
    a.f[o] = count > 0 ? 1.0 / static_cast<double>(count) : 0.0;
    for (int64_t i = a.lo[o]; i < a.hi[o]; ++i) {
      a.first[i] = std::min(a.first[i], o);
      a.last[i] = std::max(a.last[i], o + 1);
    }
  }
  return a;
}

struct Windows {
  AxisWindows ax[3];
  Windows(const PoolGeometry& g, PoolWeight w) : ax{axis_windows(g, 0, w), axis_windows(g, 1, w), axis_windows(g, 2, w)} {}
};

// Rows per parallel chunk so that one chunk does about kGrainSize element reads.
int64_t grain(int64_t work_per_row) { return std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(work_per_row, 1)); }

// A work estimate: the product of non-negative sizes, saturating (kernel sizes up to 2^31 on three axes
// overflow int64; the windows themselves are clipped to the input).
int64_t work(std::initializer_list<int64_t> sizes) {
  int64_t r = 1;
  for (int64_t v : sizes)
    if (__builtin_mul_overflow(r, v, &r)) return std::numeric_limits<int64_t>::max();
  return r;
}

// The kernels run over lines: (outer, n0, n1) positions, each with a contiguous
// last axis, so that the index arithmetic (divisions) is per line, not per element.
struct Line {
  int64_t n, i0, i1;
};
Line split_line(int64_t r, const int64_t dims[3]) {
  Line l;
  l.i1 = r % dims[1];
  r /= dims[1];
  l.i0 = r % dims[0];
  l.n = r / dims[0];
  return l;
}

}  // namespace

Tensor max_pooling(const Tensor& x, const PoolGeometry& g, const Shape& y_shape, Tensor& argmax) {
  Tensor y = Tensor::empty(y_shape, x.dtype());
  argmax = Tensor::empty(y_shape, DType::Int64);
  if (y.numel() == 0) return y;
  const Windows win(g, PoolWeight::Sum);
  const int64_t L1 = g.in[1], L2 = g.in[2], O2 = g.out[2], C = g.inner;
  const int64_t in_block = g.in[0] * L1 * L2 * C;
  const int64_t window = work({g.kernel[0], g.kernel[1], g.kernel[2]});
  cpu::dispatch_floating(x.dtype(), "max_pooling kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int64_t* pa = argmax.data<int64_t>();
    const AxisWindows &a0 = win.ax[0], &a1 = win.ax[1], &a2 = win.ax[2];
    using Rel = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
    const bool vector_channels = C > 1 && in_block <= std::numeric_limits<Rel>::max();
    cpu::parallel_for(0, g.outer * g.out[0] * g.out[1], grain(work({O2, window, C})), [&](int64_t b, int64_t e) {
      std::vector<T> best(vector_channels ? C : 0);
      std::vector<Rel> rel(vector_channels ? C : 0);
      for (int64_t r = b; r < e; ++r) {
        const Line o = split_line(r, g.out);
        const int64_t base = o.n * in_block;
        const int64_t z0 = a0.lo[o.i0], z1 = a0.hi[o.i0], v0 = a1.lo[o.i1], v1 = a1.hi[o.i1];
        for (int64_t o2 = 0; o2 < O2; ++o2) {
          const int64_t u0 = a2.lo[o2], u1 = a2.hi[o2];
          // Per channel, the window's first element starts the search; a later one wins only if strictly
          // greater (ties go to the first maximum) or NaN while the best is not.
          const int64_t first = base + ((z0 * L1 + v0) * L2 + u0) * C;
          T* yr = py + (r * O2 + o2) * C;
          int64_t* ar = pa + (r * O2 + o2) * C;
          if (vector_channels) {
            // channel_last: the loop over the channels is innermost and contiguous; it keeps the offset
            // from `first` in an integer as wide as T, so that compare and select vectorize.
            const T* x0 = px + first;
            for (int64_t c = 0; c < C; ++c) {
              best[c] = x0[c];
              rel[c] = 0;
            }
            for (int64_t z = z0; z < z1; ++z)
              for (int64_t v = v0; v < v1; ++v)
                for (int64_t u = u0; u < u1; ++u) {
                  const Rel off = static_cast<Rel>((((z - z0) * L1 + (v - v0)) * L2 + (u - u0)) * C);
                  const T* xs = x0 + off;
                  for (int64_t c = 0; c < C; ++c) {
                    const T val = xs[c], b0 = best[c];
                    const bool wins = val > b0 || (val != val && b0 == b0);
                    best[c] = wins ? val : b0;
                    rel[c] = wins ? off : rel[c];
                  }
                }
            for (int64_t c = 0; c < C; ++c) {
              yr[c] = best[c];
              ar[c] = first + rel[c] + c;
            }
            continue;
          }
          for (int64_t c = 0; c < C; ++c) {
            T b0 = px[first + c];
            int64_t arg = first + c;
            for (int64_t z = z0; z < z1; ++z)
              for (int64_t v = v0; v < v1; ++v) {
                const int64_t row = base + (z * L1 + v) * L2 * C + c;
                for (int64_t u = u0; u < u1; ++u) {
                  const T val = px[row + u * C];
                  const bool wins = val > b0 || (val != val && b0 == b0);
                  b0 = wins ? val : b0;
                  arg = wins ? row + u * C : arg;
                }
              }
            yr[c] = b0;
            ar[c] = arg;
          }
        }
      }
    });
  });
  return y;
}

Tensor window_pooling(const Tensor& x, const PoolGeometry& g, PoolWeight w, const Shape& y_shape) {
  Tensor y = Tensor::zeros(y_shape, x.dtype());
  if (y.numel() == 0) return y;
  const Windows win(g, w);
  const int64_t L1 = g.in[1], L2 = g.in[2], O2 = g.out[2], C = g.inner;
  const int64_t in_block = g.in[0] * L1 * L2 * C;
  const int64_t window = work({g.kernel[0], g.kernel[1], g.kernel[2]});
  cpu::dispatch_floating(x.dtype(), "pooling kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const AxisWindows &a0 = win.ax[0], &a1 = win.ax[1], &a2 = win.ax[2];
    cpu::parallel_for(0, g.outer * g.out[0] * g.out[1], grain(work({O2, window, C})), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const Line o = split_line(r, g.out);
        const int64_t base = o.n * in_block;
        const int64_t z0 = a0.lo[o.i0], z1 = a0.hi[o.i0], v0 = a1.lo[o.i1], v1 = a1.hi[o.i1];
        const double f01 = a0.f[o.i0] * a1.f[o.i1];
        for (int64_t o2 = 0; o2 < O2; ++o2) {
          const int64_t u0 = a2.lo[o2], u1 = a2.hi[o2];
          const T weight = static_cast<T>(f01 * a2.f[o2]);
          T* yr = py + (r * O2 + o2) * C;  // zeros from Tensor::zeros
          if (C == 1) {
            T acc = 0;
            for (int64_t z = z0; z < z1; ++z)
              for (int64_t v = v0; v < v1; ++v) {
                const T* row = px + base + (z * L1 + v) * L2;
                for (int64_t u = u0; u < u1; ++u) acc += row[u];
              }
            *yr = weight * acc;
            continue;
          }
          for (int64_t z = z0; z < z1; ++z)
            for (int64_t v = v0; v < v1; ++v)
              for (int64_t u = u0; u < u1; ++u) {
                const T* xs = px + base + ((z * L1 + v) * L2 + u) * C;
                for (int64_t c = 0; c < C; ++c) yr[c] += xs[c];
              }
          for (int64_t c = 0; c < C; ++c) yr[c] *= weight;
        }
      }
    });
  });
  return y;
}

Tensor window_pooling_backward(const Tensor& gy, const PoolGeometry& g, PoolWeight w, const Shape& x_shape) {
  Tensor gx = Tensor::zeros(x_shape, gy.dtype());
  if (gx.numel() == 0 || gy.numel() == 0) return gx;
  const Windows win(g, w);
  const int64_t O1 = g.out[1], O2 = g.out[2], L2 = g.in[2], C = g.inner;
  const int64_t out_block = g.out[0] * O1 * O2 * C;
  // Each input element lies in about prod(k / s) windows.
  int64_t overlap = 1;
  for (int d = 0; d < 3; ++d) overlap = work({overlap, (g.kernel[d] + g.stride[d] - 1) / g.stride[d]});
  cpu::dispatch_floating(gy.dtype(), "pooling backward kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = gy.data<T>();
    T* px = gx.data<T>();
    const AxisWindows &a0 = win.ax[0], &a1 = win.ax[1], &a2 = win.ax[2];
    if (C == 1) {
      // Channel first: each (batch, channel) plane of gx belongs to one thread, which adds each weighted
      // gy over its window (as the forward reads it); no write is shared between threads.
      const int64_t in_block = g.in[0] * g.in[1] * L2;
      const int64_t window = work({g.kernel[0], g.kernel[1], g.kernel[2]});
      cpu::parallel_for(0, g.outer, grain(work({out_block, window})), [&](int64_t b, int64_t e) {
        for (int64_t n = b; n < e; ++n) {
          const T* gplane = pg + n * out_block;
          T* xplane = px + n * in_block;
          for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
            for (int64_t o1 = 0; o1 < O1; ++o1) {
              const double f01 = a0.f[o0] * a1.f[o1];
              const T* gline = gplane + (o0 * O1 + o1) * O2;
              for (int64_t o2 = 0; o2 < O2; ++o2) {
                const T val = static_cast<T>(f01 * a2.f[o2]) * gline[o2];
                for (int64_t z = a0.lo[o0]; z < a0.hi[o0]; ++z)
                  for (int64_t v = a1.lo[o1]; v < a1.hi[o1]; ++v) {
                    T* row = xplane + (z * g.in[1] + v) * L2;
                    for (int64_t u = a2.lo[o2]; u < a2.hi[o2]; ++u) row[u] += val;
                  }
              }
            }
        }
      });
      return;
    }
    // channel_last: each input element gathers the outputs whose windows contain it, so the work splits
    // over input lines (there may be a single batch item) without shared writes.
    cpu::parallel_for(0, g.outer * g.in[0] * g.in[1], grain(work({L2, overlap, C})), [&](int64_t b, int64_t e) {
      std::vector<T> scaled(O2 * C);  // one line of gy times its windows' weights
      for (int64_t r = b; r < e; ++r) {
        const Line i = split_line(r, g.in);
        const int64_t base = i.n * out_block;
        for (int64_t z = a0.first[i.i0]; z < a0.last[i.i0]; ++z)
          for (int64_t v = a1.first[i.i1]; v < a1.last[i.i1]; ++v) {
            const double fzv = a0.f[z] * a1.f[v];
            const T* gline = pg + base + (z * O1 + v) * O2 * C;
            for (int64_t u = 0; u < O2; ++u) {
              const T weight = static_cast<T>(fzv * a2.f[u]);
              for (int64_t c = 0; c < C; ++c) scaled[u * C + c] = weight * gline[u * C + c];
            }
            for (int64_t i2 = 0; i2 < L2; ++i2) {
              T* xr = px + (r * L2 + i2) * C;  // zeros from Tensor::zeros
              for (int64_t u = a2.first[i2]; u < a2.last[i2]; ++u) {
                const T* gs = scaled.data() + u * C;
                for (int64_t c = 0; c < C; ++c) xr[c] += gs[c];
              }
            }
          }
      }
    });
  });
  return gx;
}

}  // namespace nthgrad::kernels

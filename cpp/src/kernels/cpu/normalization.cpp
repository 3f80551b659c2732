// Kernels of the normalization family: the in-place updates of running
// statistics (batch_normalization, mean_subtraction) and of spectral_norm's
// vector u. They write into existing tensors and are never part of a graph.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

// Over channel c of a and b seen as (A, C, B): (sum a, sum a*b), accumulated in double.
template <typename T>
std::pair<double, double> channel_sum_pair(const T* pa, const T* pb, int64_t A, int64_t C, int64_t B, int64_t c) {
  double s = 0, p = 0;
  for (int64_t i = 0; i < A; ++i) {
    const int64_t off = (i * C + c) * B;
    for (int64_t j = 0; j < B; ++j) {
      s += pa[off + j];
      p += static_cast<double>(pa[off + j]) * pb[off + j];
    }
  }
  return {s, p};
}

}  // namespace

void lerp_into(Tensor& y, const Tensor& x, double keep) {
  cpu::dispatch_floating(y.dtype(), "lerp_into kernel", [&](auto tag) {
    using T = decltype(tag);
    T* py = y.data<T>();
    const T* px = x.data<T>();
    const T k = static_cast<T>(keep), m = static_cast<T>(1 - keep);
    cpu::parallel_for(0, y.numel(), cpu::kGrainSize, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) py[i] = keep == 0 ? px[i] : k * py[i] + m * px[i];
    });
  });
}

void add_scalar_into(Tensor& y, double val) {
  cpu::dispatch_all(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      throw TypeError("add_scalar_into kernel: bool tensors cannot be incremented");
    } else {
      T* py = y.data<T>();
      for (int64_t i = 0; i < y.numel(); ++i) py[i] = static_cast<T>(py[i] + val);
    }
  });
}

// Channel c owns the strips x[a][c][0..B) for every a; channels are
// independent, so the parallel loop runs over them.
std::vector<Tensor> standardize(const Tensor& x, int64_t A, int64_t C, int64_t B, double eps) {
  Tensor xhat = Tensor::empty(x.shape(), x.dtype());
  Tensor mean = Tensor::empty({C}, x.dtype()), var = Tensor::empty({C}, x.dtype()),
         rstd = Tensor::empty({C}, x.dtype());
  cpu::dispatch_floating(x.dtype(), "standardize kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = xhat.data<T>();
    T *pm = mean.data<T>(), *pv = var.data<T>(), *pr = rstd.data<T>();
    const double n = static_cast<double>(A) * static_cast<double>(B);
    cpu::parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double s = 0;
        for (int64_t a = 0; a < A; ++a) {
          const T* row = px + (a * C + c) * B;
          for (int64_t b = 0; b < B; ++b) s += row[b];
        }
        const double mu = s / n;
        double ss = 0;
        for (int64_t a = 0; a < A; ++a) {
          const T* row = px + (a * C + c) * B;
          for (int64_t b = 0; b < B; ++b) {
            const double d = row[b] - mu;
            ss += d * d;
          }
        }
        const double v = ss / n, r = 1.0 / std::sqrt(v + eps);
        pm[c] = static_cast<T>(mu);
        pv[c] = static_cast<T>(v);
        pr[c] = static_cast<T>(r);
        // x - mu in double: with mu rounded to T first, float32 inputs near 1000 of a small spread lost
        // their xhat (and gradients) to mu's rounding error (ulp(1000) / std).
        for (int64_t a = 0; a < A; ++a) {
          const int64_t off = (a * C + c) * B;
          for (int64_t b = 0; b < B; ++b) py[off + b] = static_cast<T>((static_cast<double>(px[off + b]) - mu) * r);
        }
      }
    });
  });
  return {xhat, mean, var, rstd};
}

Tensor standardize_backward(const Tensor& g, const Tensor& xhat, const Tensor& rstd, int64_t A, int64_t C, int64_t B) {
  Tensor gx = Tensor::empty(g.shape(), g.dtype());
  cpu::dispatch_floating(g.dtype(), "standardize_backward kernel", [&](auto tag) {
    using T = decltype(tag);
    const T *pg = g.data<T>(), *ph = xhat.data<T>(), *pr = rstd.data<T>();
    T* po = gx.data<T>();
    const double n = static_cast<double>(A) * static_cast<double>(B);
    cpu::parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const auto [sg, sgh] = channel_sum_pair(pg, ph, A, C, B, c);
        const T mg = static_cast<T>(sg / n), mgh = static_cast<T>(sgh / n), r = pr[c];
        for (int64_t a = 0; a < A; ++a) {
          const int64_t off = (a * C + c) * B;
          for (int64_t b = 0; b < B; ++b) po[off + b] = r * (pg[off + b] - mg - ph[off + b] * mgh);
        }
      }
    });
  });
  return gx;
}

Tensor channel_affine(const Tensor& x, const Tensor& gamma, const Tensor& beta, int64_t A, int64_t C, int64_t B) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  cpu::dispatch_floating(x.dtype(), "channel_affine kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* pg = gamma.defined() ? gamma.data<T>() : nullptr;
    const T* pb = beta.defined() ? beta.data<T>() : nullptr;
    T* py = y.data<T>();
    cpu::parallel_for(0, A * C, std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(B, 1)),
                      [&](int64_t r0, int64_t r1) {
                        for (int64_t r = r0; r < r1; ++r) {
                          const int64_t c = r % C;
                          const T g = pg ? pg[c] : T(1), b = pb ? pb[c] : T(0);
                          const T* xr = px + r * B;
                          T* yr = py + r * B;
                          for (int64_t i = 0; i < B; ++i) yr[i] = xr[i] * g + b;
                        }
                      });
  });
  return y;
}

std::vector<Tensor> channel_sums(const Tensor& a, const Tensor& b, int64_t A, int64_t C, int64_t B) {
  Tensor sa = Tensor::empty({C}, a.dtype()), sab = Tensor::empty({C}, a.dtype());
  cpu::dispatch_floating(a.dtype(), "channel_sums kernel", [&](auto tag) {
    using T = decltype(tag);
    const T *pa = a.data<T>(), *pb = b.data<T>();
    T *ps = sa.data<T>(), *pp = sab.data<T>();
    cpu::parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const auto [s, p] = channel_sum_pair(pa, pb, A, C, B, c);
        ps[c] = static_cast<T>(s);
        pp[c] = static_cast<T>(p);
      }
    });
  });
  return {sa, sab};
}

}  // namespace nthgrad::kernels

// Kernels of the signal family: the complex FFT over 1-3 axes, multilinear /
// nearest resampling and its adjoint, and the real-DFT bases of stft.
#include <algorithm>
#include <cmath>
#include <complex>
#include <memory>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

using Complex = std::complex<double>;
constexpr double kPi = 3.14159265358979323846;

// e^{-2 pi i num / den}, with num reduced modulo den first so that large
// products k * n lose no accuracy.
Complex twiddle(int64_t num, int64_t den) {
  const int64_t r = num % den;
  const double a = -2.0 * kPi * static_cast<double>(r) / static_cast<double>(den);
  return {std::cos(a), std::sin(a)};
}

// Iterative radix-2 decimation in time, forward sign, in place; n a power of two.
class Radix2 {
 public:
  explicit Radix2(int64_t n) : n_(n), tw_(static_cast<std::size_t>(n / 2)), rev_(static_cast<std::size_t>(n)) {
    for (int64_t k = 0; k < n / 2; ++k) tw_[k] = twiddle(k, n);
    int bits = 0;
    while ((int64_t{1} << bits) < n) ++bits;
    for (int64_t i = 0; i < n; ++i) {
      int64_t r = 0;
      for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
      rev_[i] = r;
    }
  }
  void run(Complex* a) const {
    for (int64_t i = 0; i < n_; ++i)
      if (i < rev_[i]) std::swap(a[i], a[rev_[i]]);
    for (int64_t len = 2; len <= n_; len <<= 1) {
      const int64_t half = len / 2, step = n_ / len;
      for (int64_t i = 0; i < n_; i += len) {
        for (int64_t j = 0; j < half; ++j) {
          const Complex u = a[i + j];
          const Complex v = a[i + j + half] * tw_[j * step];
          a[i + j] = u + v;
          a[i + j + half] = u - v;
        }
      }
    }
  }

 private:
  int64_t n_;
  std::vector<Complex> tw_;
  std::vector<int64_t> rev_;
};

bool power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

// A forward DFT of one length: radix 2 for powers of two, Bluestein's chirp-z
// (a convolution done with a power-of-two FFT of length m >= 2n - 1) otherwise.
class Plan {
 public:
  explicit Plan(int64_t n) : n_(n) {
    if (power_of_two(n)) {
      radix_ = std::make_unique<Radix2>(n);
      return;
    }
    m_ = 1;
    while (m_ < 2 * n - 1) m_ <<= 1;
    radix_ = std::make_unique<Radix2>(m_);
    // chirp w_k = e^{-i pi k^2 / n}: k^2 is taken modulo 2n (its period) in integers
    chirp_.resize(static_cast<std::size_t>(n));
    for (int64_t k = 0; k < n; ++k) {
      const int64_t k2 = static_cast<int64_t>((static_cast<unsigned __int128>(k) * static_cast<unsigned __int128>(k)) %
                                              static_cast<unsigned __int128>(2 * n));
      chirp_[k] = twiddle(k2, 2 * n);
    }
    // FFT of b (b_k = conj(w_k) at k and m - k), with the 1/m of the inverse folded in
    filter_.assign(static_cast<std::size_t>(m_), Complex(0, 0));
    filter_[0] = std::conj(chirp_[0]);
    for (int64_t k = 1; k < n; ++k) filter_[k] = filter_[m_ - k] = std::conj(chirp_[k]);
    radix_->run(filter_.data());
    for (Complex& f : filter_) f /= static_cast<double>(m_);
  }
  int64_t work_size() const { return m_; }
  // Forward DFT of a[0..n), in place; `work` holds work_size() elements.
  void forward(Complex* a, Complex* work) const {
    if (n_ <= 1) return;
    if (m_ == 0) {
      radix_->run(a);
      return;
    }
    for (int64_t k = 0; k < n_; ++k) work[k] = a[k] * chirp_[k];
    std::fill(work + n_, work + m_, Complex(0, 0));
    radix_->run(work);
    // inverse FFT of work * filter as conj(FFT(conj(.)))
    for (int64_t k = 0; k < m_; ++k) work[k] = std::conj(work[k] * filter_[k]);
    radix_->run(work);
    for (int64_t k = 0; k < n_; ++k) a[k] = std::conj(work[k]) * chirp_[k];
  }

 private:
  int64_t n_;
  int64_t m_ = 0;  // 0: radix 2 directly
  std::unique_ptr<Radix2> radix_;
  std::vector<Complex> chirp_, filter_;
};

}  // namespace

Tensor fft(const Tensor& x, int64_t signal_ndim, bool inverse, double scale) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  if (y.numel() == 0) return y;
  const int64_t total = x.numel() / 2;  // complex elements
  std::vector<Complex> buf(static_cast<std::size_t>(total));
  cpu::dispatch_floating(x.dtype(), "fft kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    // inverse = conj(forward(conj(x)))
    const double sign = inverse ? -1.0 : 1.0;
    cpu::parallel_for(0, total, cpu::kGrainSize, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) buf[i] = Complex(px[2 * i], sign * static_cast<double>(px[2 * i + 1]));
    });
  });
  const int64_t nd = x.ndim();
  for (int64_t a = nd - 1 - signal_ndim; a < nd - 1; ++a) {
    const int64_t n = x.shape()[a];
    if (n <= 1) continue;
    int64_t inner = 1;
    for (int64_t d = a + 1; d < nd - 1; ++d) inner *= x.shape()[d];
    const int64_t lines = total / n;
    const Plan plan(n);
    const double cost = static_cast<double>(std::max(n, plan.work_size())) * 20.0;
    const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(cpu::kGrainSize / cost));
    cpu::parallel_for(0, lines, grain, [&](int64_t b, int64_t e) {
      std::vector<Complex> line(static_cast<std::size_t>(n)), work(static_cast<std::size_t>(plan.work_size()));
      for (int64_t l = b; l < e; ++l) {
        Complex* base = buf.data() + (l / inner) * n * inner + l % inner;
        for (int64_t j = 0; j < n; ++j) line[j] = base[j * inner];
        plan.forward(line.data(), work.data());
        for (int64_t j = 0; j < n; ++j) base[j * inner] = line[j];
      }
    });
  }
  cpu::dispatch_floating(x.dtype(), "fft kernel", [&](auto tag) {
    using T = decltype(tag);
    T* py = y.data<T>();
    const double sign = inverse ? -1.0 : 1.0;
    cpu::parallel_for(0, total, cpu::kGrainSize, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        py[2 * i] = static_cast<T>(scale * buf[i].real());
        py[2 * i + 1] = static_cast<T>(sign * scale * buf[i].imag());
      }
    });
  });
  return y;
}

namespace {

// Per output position along one axis: the two source indices and the weight
// of the second (the first has 1 - w1). Nearest: i1 = i0 and w1 = 0.
struct AxisTable {
  std::vector<int64_t> i0, i1;
  std::vector<double> w1;
};

AxisTable axis_table(int64_t L, int64_t O, InterpMode mode, InterpCoord coord) {
  AxisTable t;
  t.i0.resize(static_cast<std::size_t>(O));
  t.i1.resize(static_cast<std::size_t>(O));
  t.w1.resize(static_cast<std::size_t>(O));
  for (int64_t o = 0; o < O; ++o) {
    const double od = static_cast<double>(o), Ld = static_cast<double>(L), Od = static_cast<double>(O);
    double c = 0;
    switch (coord) {
      case InterpCoord::Asymmetric: c = od * Ld / Od; break;
      case InterpCoord::AlignCorners: c = O > 1 ? od * (Ld - 1) / (Od - 1) : 0.0; break;
      case InterpCoord::HalfPixel: c = std::max(0.0, (od + 0.5) * Ld / Od - 0.5); break;
      case InterpCoord::HalfPixelForNN: c = (od + 0.5) * Ld / Od; break;
    }
    const int64_t f = std::min<int64_t>(static_cast<int64_t>(std::floor(c)), L - 1);
    t.i0[o] = std::max<int64_t>(f, 0);
    if (mode == InterpMode::Nearest) {
      t.i1[o] = t.i0[o];
      t.w1[o] = 0;
    } else {
      t.i1[o] = std::min<int64_t>(t.i0[o] + 1, L - 1);
      t.w1[o] = c - static_cast<double>(t.i0[o]);
    }
  }
  return t;
}

// The interpolated block seen as 3-D (missing leading axes have size 1).
struct Geometry {
  int64_t outer = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  AxisTable tab[3];
  Geometry(const Shape& in_shape, const Shape& out_sizes, const Shape& in_sizes, InterpMode mode, InterpCoord coord) {
    const int64_t n = static_cast<int64_t>(out_sizes.size());
    for (int64_t d = 0; d < static_cast<int64_t>(in_shape.size()) - n; ++d) outer *= in_shape[d];
    for (int64_t k = 0; k < n; ++k) {
      in[3 - n + k] = in_sizes[k];
      out[3 - n + k] = out_sizes[k];
    }
    for (int k = 0; k < 3; ++k) tab[k] = axis_table(in[k], out[k], mode, coord);
  }
  int64_t in_block() const { return in[0] * in[1] * in[2]; }
  int64_t out_block() const { return out[0] * out[1] * out[2]; }
};

Shape tail(const Shape& s, std::size_t n) { return Shape(s.end() - static_cast<std::ptrdiff_t>(n), s.end()); }

}  // namespace

Tensor interpolate(const Tensor& x, const Shape& out_sizes, InterpMode mode, InterpCoord coord) {
  Shape y_shape = x.shape();
  const std::size_t n = out_sizes.size();
  std::copy(out_sizes.begin(), out_sizes.end(), y_shape.end() - static_cast<std::ptrdiff_t>(n));
  Tensor y = Tensor::empty(y_shape, x.dtype());
  if (y.numel() == 0) return y;
  const Geometry g(x.shape(), out_sizes, tail(x.shape(), n), mode, coord);
  const int64_t rows = g.outer * g.out[0] * g.out[1];
  const int64_t ow = g.out[2];
  const bool linear = mode == InterpMode::Linear;
  cpu::dispatch_floating(x.dtype(), "interpolate kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    cpu::parallel_for(0, rows, std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(ow, 1)), [&](int64_t b,
                                                                                                    int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t oy = r % g.out[1], oz = (r / g.out[1]) % g.out[0], o = r / (g.out[1] * g.out[0]);
        const T* src = px + o * g.in_block();
        T* dst = py + r * ow;
        const int64_t z[2] = {g.tab[0].i0[oz], g.tab[0].i1[oz]}, yy[2] = {g.tab[1].i0[oy], g.tab[1].i1[oy]};
        const double wz[2] = {1 - g.tab[0].w1[oz], g.tab[0].w1[oz]}, wy[2] = {1 - g.tab[1].w1[oy], g.tab[1].w1[oy]};
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t xx[2] = {g.tab[2].i0[ox], g.tab[2].i1[ox]};
          const double wx[2] = {1 - g.tab[2].w1[ox], g.tab[2].w1[ox]};
          if (!linear) {
            dst[ox] = src[(z[0] * g.in[1] + yy[0]) * g.in[2] + xx[0]];
            continue;
          }
          double acc = 0;
          for (int cz = 0; cz < 2; ++cz)
            for (int cy = 0; cy < 2; ++cy)
              for (int cx = 0; cx < 2; ++cx)
                acc += wz[cz] * wy[cy] * wx[cx] *
                       static_cast<double>(src[(z[cz] * g.in[1] + yy[cy]) * g.in[2] + xx[cx]]);
          dst[ox] = static_cast<T>(acc);
        }
      }
    });
  });
  return y;
}

Tensor interpolate_backward(const Tensor& gy, const Shape& in_sizes, InterpMode mode, InterpCoord coord) {
  Shape x_shape = gy.shape();
  const std::size_t n = in_sizes.size();
  std::copy(in_sizes.begin(), in_sizes.end(), x_shape.end() - static_cast<std::ptrdiff_t>(n));
  Tensor gx = Tensor::zeros(x_shape, gy.dtype());
  if (gx.numel() == 0 || gy.numel() == 0) return gx;
  const Geometry g(x_shape, tail(gy.shape(), n), in_sizes, mode, coord);
  const bool linear = mode == InterpMode::Linear;
  cpu::dispatch_floating(gy.dtype(), "interpolate_backward kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = gy.data<T>();
    T* px = gx.data<T>();
    // Each outer slice of gx receives only from its own slice of gy: no write is shared between threads.
    cpu::parallel_for(0, g.outer, std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(g.out_block(), 1)),
                      [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* src = pg + o * g.out_block();
        T* dst = px + o * g.in_block();
        for (int64_t oz = 0; oz < g.out[0]; ++oz) {
          const int64_t z[2] = {g.tab[0].i0[oz], g.tab[0].i1[oz]};
          const double wz[2] = {1 - g.tab[0].w1[oz], g.tab[0].w1[oz]};
          for (int64_t oy = 0; oy < g.out[1]; ++oy) {
            const int64_t yy[2] = {g.tab[1].i0[oy], g.tab[1].i1[oy]};
            const double wy[2] = {1 - g.tab[1].w1[oy], g.tab[1].w1[oy]};
            for (int64_t ox = 0; ox < g.out[2]; ++ox) {
              const double v = static_cast<double>(src[(oz * g.out[1] + oy) * g.out[2] + ox]);
              const int64_t xx[2] = {g.tab[2].i0[ox], g.tab[2].i1[ox]};
              const double wx[2] = {1 - g.tab[2].w1[ox], g.tab[2].w1[ox]};
              if (!linear) {
                dst[(z[0] * g.in[1] + yy[0]) * g.in[2] + xx[0]] += static_cast<T>(v);
                continue;
              }
              for (int cz = 0; cz < 2; ++cz)
                for (int cy = 0; cy < 2; ++cy)
                  for (int cx = 0; cx < 2; ++cx)
                    dst[(z[cz] * g.in[1] + yy[cy]) * g.in[2] + xx[cx]] += static_cast<T>(wz[cz] * wy[cy] * wx[cx] * v);
            }
          }
        }
      }
    });
  });
  return gx;
}

Tensor dft_matrix(const std::vector<double>& window, const std::vector<double>& coef, bool sine, DType dtype) {
  const int64_t N = static_cast<int64_t>(window.size()), K = static_cast<int64_t>(coef.size());
  Tensor m = Tensor::empty({N, K}, dtype);
  cpu::dispatch_floating(dtype, "dft_matrix kernel", [&](auto tag) {
    using T = decltype(tag);
    T* pm = m.data<T>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        // angle 2 pi (k n mod N) / N, exact in the integer part
        const double a = 2.0 * kPi * static_cast<double>((k * n) % N) / static_cast<double>(N);
        pm[n * K + k] = static_cast<T>(window[n] * coef[k] * (sine ? std::sin(a) : std::cos(a)));
      }
  });
  return m;
}

}  // namespace nthgrad::kernels

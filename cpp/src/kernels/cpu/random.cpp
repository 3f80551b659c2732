// Random numbers: the Philox4x32-10 counter-based generator (Salmon, Moraes,
// Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC'11) and the
// distribution transforms, written here so that the bits are the same on every
// platform (std::*_distribution are implementation-defined).
//
// Element i of a draw reads its own sequence of counter blocks
// (offset + i, j), j = 0, 1, ...: words 0-1 of the 128-bit counter hold
// offset + i, words 2-3 hold j. A sampler that needs a variable number of
// numbers per element (rejection) just reads further along its own sequence,
// so every element depends only on (seed, offset + i), never on the thread
// that computes it. Uniform doubles take 53 bits (a multiple of 2^-53),
// uniform floats 24 bits (a multiple of 2^-24), so the integer-derived values
// (uniforms, randint, binomial by inversion, dropout masks, choices) are
// bit-identical everywhere; samplers that go through log/cos/sqrt (normal,
// gamma, beta, large-n binomial) follow the platform's libm to the last ulp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

// No fused multiply-add contraction here: a contracted a*b+c rounds once, not
// twice, and would make the samples differ between CPUs with and without FMA.
// (GCC in ISO mode, -std=c++17 without extensions, already does not contract.)
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace nthgrad::kernels {

void philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments
  uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    const uint64_t p0 = uint64_t{kM0} * c0;
    const uint64_t p1 = uint64_t{kM1} * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

namespace {

// Philox per element costs some 40 integer operations: parallel above this.
constexpr int64_t kRandomGrain = 8192;
constexpr double kTwoPi = 6.283185307179586476925286766559;

// The numbers of one element: the words of blocks (counter, 0), (counter, 1), ...
class Stream {
 public:
  Stream(RandomKey key, uint64_t element)
      : key_{static_cast<uint32_t>(key.seed), static_cast<uint32_t>(key.seed >> 32)}, counter_(key.offset + element) {}

  uint32_t next32() {
    if (pos_ == 4) refill();
    return buf_[pos_++];
  }
  uint64_t next64() {
    const uint64_t hi = next32();
    return (hi << 32) | next32();
  }
  double uniform() { return static_cast<double>(next64() >> 11) * 0x1.0p-53; }             // [0, 1)
  double uniform_open0() { return static_cast<double>((next64() >> 11) + 1) * 0x1.0p-53; }  // (0, 1]
  float uniform24() { return static_cast<float>(next32() >> 8) * 0x1.0p-24f; }              // [0, 1)
  // Box-Muller (the cosine branch).
  double normal() {
    const double r = std::sqrt(-2.0 * std::log(uniform_open0()));
    return r * std::cos(kTwoPi * uniform());
  }

 private:
  void refill() {
    const uint32_t c[4] = {static_cast<uint32_t>(counter_), static_cast<uint32_t>(counter_ >> 32),
                           static_cast<uint32_t>(block_), static_cast<uint32_t>(block_ >> 32)};
    philox4x32_10(c, key_, buf_);
    ++block_;
    pos_ = 0;
  }
  uint32_t key_[2];
  uint64_t counter_;
  uint64_t block_ = 0;
  uint32_t buf_[4] = {0, 0, 0, 0};
  int pos_ = 4;
};

// y[i] = draw(stream of element i, T{}) for every element, in parallel.
template <typename T, typename F>
Tensor sample_as(const Shape& shape, RandomKey key, const F& draw) {
  Tensor y = Tensor::empty(shape, dtype_of<T>::value);
  T* py = y.data<T>();
  cpu::parallel_for(0, y.numel(), kRandomGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      Stream s(key, static_cast<uint64_t>(i));
      py[i] = draw(s, T{});
    }
  });
  return y;
}

// The same in a floating dtype.
template <typename F>
Tensor sample(const Shape& shape, DType dtype, RandomKey key, const F& draw) {
  return cpu::dispatch_floating(dtype, "random", [&](auto tag) {
    using T = decltype(tag);
    return sample_as<T>(shape, key, draw);
  });
}

// A value computed in double, rounded to T, kept inside [low, high).
template <typename T>
T below(double v, double low, double high) {
  T y = static_cast<T>(v);
  const T hi = static_cast<T>(high), lo = static_cast<T>(low);
  if (y >= hi && hi > lo) y = std::nextafter(hi, lo);
  return y;
}

// log(k!) for integral k >= 0: a table below 16, Stirling's series above
// (error below 1e-12 there). Our own because std::lgamma may write the
// global signgam (a data race between threads).
double log_factorial(double k) {
  static const std::vector<double> table = [] {
    std::vector<double> t(16, 0.0);
    for (int i = 2; i < 16; ++i) t[i] = t[i - 1] + std::log(static_cast<double>(i));
    return t;
  }();
  if (k < 16) return table[static_cast<int>(k)];
  const double x = k + 1.0, r = 1.0 / x, r2 = r * r;
  return (x - 0.5) * std::log(x) - x + 0.91893853320467274178 + r * (1.0 / 12 - r2 * (1.0 / 360 - r2 / 1260));
}

// log(a!) - log(b!) for integral a, b >= 0 without the cancellation of two
// values near n log n (some 1e17 for n = 2^53, whose rounding error exceeded
// the whole acceptance margin of BTRS): Stirling's series of both, with
// the difference of their leading terms written through d = a - b (exact).
double log_factorial_diff(double a, double b) {
  if (a < 16 || b < 16) return log_factorial(a) - log_factorial(b);
  auto tail = [](double x) {
    const double r = 1.0 / x, r2 = r * r;
    return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 / 1260));
  };
  const double d = a - b, y = b + 1.0;
  return (a + 0.5) * std::log1p(d / y) + d * std::log(y) - d + tail(a + 1.0) - tail(y);
}

// Binomial(n, p), p <= 1/2, by inversion (walking the pmf from 0): for n p < 10.
int64_t binomial_inversion(Stream& s, int64_t n, double p) {
  const double q = 1.0 - p, ratio = p / q;
  const double f0 = std::exp(static_cast<double>(n) * std::log1p(-p));
  for (;;) {
    double u = s.uniform(), f = f0;
    for (int64_t k = 0; k <= n; ++k) {
      if (u < f) return k;
      u -= f;
      f *= ratio * static_cast<double>(n - k) / static_cast<double>(k + 1);
      if (f == 0) break;  // the rest of the pmf underflowed: no need to walk up to n (2^53 steps)
    }
    // u fell beyond the rounded total mass (probability ~1e-16): draw again
  }
}

// Binomial(n, p), p <= 1/2, n p >= 10: Hormann's BTRS, transformed
// rejection with squeeze ("The generation of binomial random variates",
// J. Stat. Comput. Simul. 46, 1993).
int64_t binomial_btrs(Stream& s, int64_t n, double p) {
  const double nd = static_cast<double>(n), q = 1.0 - p;
  const double spq = std::sqrt(nd * p * q);
  const double b = 1.15 + 2.53 * spq;
  const double a = -0.0873 + 0.0248 * b + 0.01 * p;
  const double c = nd * p + 0.5;
  const double v_r = 0.92 - 4.2 / b;
  const double alpha = (2.83 + 5.1 / b) * spq;
  const double lpq = std::log(p / q);
  const double m = std::floor((nd + 1.0) * p);
  for (;;) {
    const double u = s.uniform() - 0.5;
    double v = s.uniform();
    const double us = 0.5 - std::fabs(u);
    const double k = std::floor((2.0 * a / us + b) * u + c);
    if (!(k >= 0.0 && k <= nd)) continue;  // also rejects the NaN/inf of us = 0
    if (us >= 0.07 && v <= v_r) return static_cast<int64_t>(k);
    v = std::log(v * alpha / (a / (us * us) + b));
    if (v <= log_factorial_diff(m, k) + log_factorial_diff(nd - m, nd - k) + (k - m) * lpq)
      return static_cast<int64_t>(k);
  }
}

double binomial_draw(Stream& s, int64_t n, double p) {
  if (n == 0 || p == 0.0) return 0.0;
  if (p == 1.0) return static_cast<double>(n);
  const bool flip = p > 0.5;
  const double pp = flip ? 1.0 - p : p;
  const int64_t k = static_cast<double>(n) * pp < 10.0 ? binomial_inversion(s, n, pp) : binomial_btrs(s, n, pp);
  return static_cast<double>(flip ? n - k : k);
}

// Gamma(k, 1) for k >= 1: Marsaglia and Tsang, "A simple method for
// generating gamma variables" (ACM TOMS 26, 2000).
double gamma_mt(Stream& s, double k) {
  const double d = k - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = s.normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = s.uniform_open0();
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v;
    if (std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) return d * v;
  }
}

// log of a Gamma(k, 1) draw; k < 1 by the boost Gamma(k) = Gamma(k + 1) U^(1/k),
// kept in logs so that tiny k does not underflow to log(0).
double log_gamma_draw(Stream& s, double k) {
  if (k >= 1.0) return std::log(gamma_mt(s, k));
  const double g = gamma_mt(s, k + 1.0);
  return std::log(g) + std::log(s.uniform_open0()) / k;
}

double gamma_draw(Stream& s, double k) {
  if (k >= 1.0) return gamma_mt(s, k);
  return std::exp(log_gamma_draw(s, k));
}

// x * y as a 128-bit product: the high word, and the low word in *lo.
uint64_t mul_hi_lo(uint64_t x, uint64_t y, uint64_t* lo) {
  const uint64_t x0 = x & 0xFFFFFFFFu, x1 = x >> 32, y0 = y & 0xFFFFFFFFu, y1 = y >> 32;
  const uint64_t p00 = x0 * y0, p01 = x0 * y1, p10 = x1 * y0, p11 = x1 * y1;
  const uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);
  *lo = (mid << 32) | (p00 & 0xFFFFFFFFu);
  return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

// Uniform in [0, range) without bias: Lemire's multiply-and-reject
// ("Fast random integer generation in an interval", ACM TOMACS 29, 2019).
uint64_t bounded(Stream& s, uint64_t range) {
  uint64_t lo;
  uint64_t hi = mul_hi_lo(s.next64(), range, &lo);
  if (lo < range) {
    const uint64_t threshold = (0 - range) % range;
    while (lo < threshold) hi = mul_hi_lo(s.next64(), range, &lo);
  }
  return hi;
}

}  // namespace

Tensor random_uniform(const Shape& shape, double low, double high, DType dtype, RandomKey key) {
  const double width = high - low;
  const bool finite_width = std::isfinite(width);
  return sample(shape, dtype, key, [=](Stream& s, auto tag) {
    using T = decltype(tag);
    const double u = std::is_same_v<T, float> ? static_cast<double>(s.uniform24()) : s.uniform();
    const double v = finite_width ? low + width * u : low * (1.0 - u) + high * u;
    return below<T>(v, low, high);
  });
}

Tensor random_normal(const Shape& shape, double mu, double sigma, DType dtype, RandomKey key) {
  return sample(shape, dtype, key, [=](Stream& s, auto tag) {
    using T = decltype(tag);
    return static_cast<T>(mu + sigma * s.normal());
  });
}

Tensor random_int(const Shape& shape, int64_t low, int64_t high, RandomKey key) {
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);  // high > low (checked)
  return sample_as<int64_t>(shape, key, [=](Stream& s, int64_t) {
    const uint64_t v = static_cast<uint64_t>(low) + bounded(s, range);  // wraps modulo 2^64 into [low, high)
    return v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
               ? static_cast<int64_t>(v)
               : -static_cast<int64_t>(~v) - 1;  // two's complement without implementation-defined casts
  });
}

Tensor random_binomial(const Shape& shape, int64_t n, double p, DType dtype, RandomKey key) {
  return sample(shape, dtype, key, [=](Stream& s, auto tag) {
    using T = decltype(tag);
    return static_cast<T>(binomial_draw(s, n, p));
  });
}

Tensor random_gamma(const Shape& shape, double k, double theta, DType dtype, RandomKey key) {
  return sample(shape, dtype, key, [=](Stream& s, auto tag) {
    using T = decltype(tag);
    return static_cast<T>(gamma_draw(s, k) * theta);
  });
}

Tensor random_beta(const Shape& shape, double alpha, double beta, DType dtype, RandomKey key) {
  return sample(shape, dtype, key, [=](Stream& s, auto tag) {
    using T = decltype(tag);
    // X / (X + Y) with X ~ Gamma(alpha), Y ~ Gamma(beta), from their logs
    const double la = log_gamma_draw(s, alpha);
    const double lb = log_gamma_draw(s, beta);
    // Both logs are -inf only for parameters near DBL_MIN (log U / k overflows):
    // then X / (X + Y) is 0 or 1, and 1 with probability alpha / (alpha + beta)
    // (the limit for tiny parameters); -inf - -inf would make it NaN.
    if (std::isinf(la) && std::isinf(lb)) return s.uniform() < alpha / (alpha + beta) ? T(1) : T(0);
    // exp(la - logaddexp(la, lb)): keeps results down to the subnormals, where
    // 1 / (1 + exp(lb - la)) flushed everything below ~5e-309 to 0.
    // ((la - hi) first: la - (hi + log1p(..)) would lose the log1p term to la's rounding)
    const double hi = std::max(la, lb);
    return static_cast<T>(std::exp((la - hi) - std::log1p(std::exp(std::min(la, lb) - hi))));
  });
}

Tensor dropout_mask(const Shape& shape, double p, DType dtype, RandomKey key) {
  return sample(shape, dtype, key, [=](Stream& s, auto tag) {
    using T = decltype(tag);
    return s.uniform() >= p ? T(1) : T(0);
  });
}

void check_choice_weights(const Tensor& w, int64_t draws, bool replace) {
  const int64_t n = w.shape().back();
  const int64_t rows = n == 0 ? 0 : w.numel() / n;
  cpu::dispatch_floating(w.dtype(), "random_choice", [&](auto tag) {
    using T = decltype(tag);
    const T* pw = w.data<T>();
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = pw + r * n;
      double total = 0;
      int64_t positive = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (!(row[i] >= 0) || !std::isfinite(static_cast<double>(row[i])))
          throw ValueError(detail::cat("random_choice: w must hold finite, non-negative weights; row ", r,
                                       " of w (shape ", shape_str(w.shape()), ") has ", row[i], " at index ", i));
        total += static_cast<double>(row[i]);
        positive += row[i] > 0;
      }
      if (!(total > 0))
        throw ValueError(detail::cat("random_choice: row ", r, " of w (shape ", shape_str(w.shape()),
                                     ") has no positive weight"));
      if (!std::isfinite(total))
        throw ValueError(detail::cat("random_choice: the weights of row ", r, " of w (shape ", shape_str(w.shape()),
                                     ") sum to infinity; scale them down"));
      if (!replace && positive < draws)
        throw ValueError(detail::cat("random_choice: cannot draw ", draws, " without replacement from row ", r,
                                     " of w (shape ", shape_str(w.shape()), "), which has only ", positive,
                                     " positive weights"));
    }
  });
}

Tensor random_choice_index(const Tensor& w, int64_t draws, bool replace, RandomKey key) {
  const int64_t n = w.shape().back();
  const int64_t rows = n == 0 ? 0 : w.numel() / n;
  Shape out_shape(w.shape().begin(), w.shape().end() - 1);
  out_shape.push_back(draws);
  Tensor index = Tensor::empty(out_shape, DType::Int64);
  if (index.numel() == 0) return index;
  int64_t* pi = index.data<int64_t>();
  cpu::dispatch_floating(w.dtype(), "random_choice", [&](auto tag) {
    using T = decltype(tag);
    const T* pw = w.data<T>();
    const int64_t grain = std::max<int64_t>(1, kRandomGrain / (n + draws));
    if (replace) {
      // Draw d of row r: u uniform in [0, total), the first i with u < cumsum[i].
      cpu::parallel_for(0, rows, grain, [&](int64_t b, int64_t e) {
        std::vector<double> cum(n);
        for (int64_t r = b; r < e; ++r) {
          const T* row = pw + r * n;
          double acc = 0;
          int64_t last_positive = 0;
          for (int64_t i = 0; i < n; ++i) {
            acc += static_cast<double>(row[i]);
            cum[i] = acc;
            if (row[i] > 0) last_positive = i;
          }
          for (int64_t d = 0; d < draws; ++d) {
            Stream s(key, static_cast<uint64_t>(r * draws + d));
            const double u = s.uniform() * acc;
            const int64_t i = std::upper_bound(cum.begin(), cum.end(), u) - cum.begin();
            pi[r * draws + d] = std::min(i, last_positive);  // u rounded up to the total: the last positive
          }
        }
      });
    } else {
      // Exponential races (Efraimidis and Spirakis): entry i arrives at
      // E_i / w_i with E_i ~ Exp(1); the first `draws` arrivals, in order,
      // are distributed as successive weighted draws without replacement.
      cpu::parallel_for(0, rows, grain, [&](int64_t b, int64_t e) {
        std::vector<double> arrival(n);
        std::vector<int64_t> order(n);
        for (int64_t r = b; r < e; ++r) {
          const T* row = pw + r * n;
          for (int64_t i = 0; i < n; ++i) {
            Stream s(key, static_cast<uint64_t>(r * n + i));
            // log(E_i / w_i), in logs: E_i / w_i overflows to inf for a subnormal w_i,
            // which would tie with the zero weights (inf) and let one of those be drawn.
            const double log_clock = std::log(-std::log(s.uniform_open0()));
            arrival[i] = row[i] > 0 ? log_clock - std::log(static_cast<double>(row[i]))
                                    : std::numeric_limits<double>::infinity();
          }
          std::iota(order.begin(), order.end(), int64_t{0});
          std::partial_sort(order.begin(), order.begin() + draws, order.end(), [&](int64_t i, int64_t j) {
            return arrival[i] < arrival[j] || (arrival[i] == arrival[j] && i < j);
          });
          std::copy(order.begin(), order.begin() + draws, pi + r * draws);
        }
      });
    }
  });
  return index;
}

}  // namespace nthgrad::kernels

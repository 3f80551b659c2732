// Quantizer kernels (issue 8): forward values and straight-through masks in
// one pass, prune's threshold, quantize_linear's rounding, min-max ranges.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

double round_value(double v, RoundMode mode) {
  const double r = std::round(v);  // half away from zero
  if (mode == RoundMode::HalfToEven && std::abs(v - r) == 0.5) return 2.0 * std::round(v * 0.5);
  return r;
}

// The quantized value q and its mask c of one element.
struct Quantized {
  double q, c;
};

// The precomputed bounds of one quantizer call.
struct Bounds {
  double lo = 0, hi = 0, p_min = 0, threshold = 0;
};

Bounds bounds(Quantizer q, const QuantizerParams& p) {
  Bounds b;
  if (q == Quantizer::FixedPoint) {
    const int64_t bits = p.sign ? p.n - 1 : p.n;
    b.hi = (std::ldexp(1.0, static_cast<int>(bits)) - 1.0) * p.delta;
    b.lo = p.sign ? -b.hi : 0.0;
  } else if (q == Quantizer::Pow2) {
    int64_t bits = p.sign ? p.n - 1 : p.n;
    if (p.with_zero) bits -= 1;
    const double m = static_cast<double>(p.m);
    b.hi = std::exp2(m);                                                   // p_max
    b.p_min = std::exp2(m - (std::exp2(static_cast<double>(bits)) - 1));  // the smallest power
    b.threshold = b.p_min * std::pow(2.0, -0.5);  // below it, with_zero rounds to 0
  }
  return b;
}

Quantized quantize_one(Quantizer q, double x, const QuantizerParams& p, const Bounds& b) {
  switch (q) {
    case Quantizer::BinarySigmoid:
      return {x > 0 ? 1.0 : 0.0, std::abs(x) < 1 ? 0.5 : 0.0};
    case Quantizer::BinaryTanh:
      return {x > 0 ? 1.0 : -1.0, std::abs(x) < 1 ? 1.0 : 0.0};
    case Quantizer::FixedPoint: {
      double y;
      if (x > b.hi)
        y = b.hi;
      else if (x < b.lo)
        y = b.lo;
      else
        y = std::copysign(std::floor(std::abs(x) / p.delta + 0.5) * p.delta, x);
      const bool inside = !(x > b.hi) && !(x < b.lo);
      return {y == 0 ? 0.0 : y, (!p.fine_grained || inside) ? 1.0 : 0.0};
    }
    case Quantizer::Pow2: {
      const double ax = std::abs(x);
      const double rounded = std::exp2(std::round(std::log2(ax)));
      double y = rounded;
      if (y > b.hi)
        y = b.hi;
      else if (y < b.p_min)
        y = (p.with_zero && ax < b.threshold) ? 0.0 : b.p_min;
      if (x < 0) y = p.sign ? -y : (p.with_zero ? 0.0 : b.p_min);
      double c = 1.0;
      if (p.fine_grained && (rounded > b.hi || (!p.sign && x < 0))) c = 0.0;
      return {y, c};
    }
  }
  return {x, 1.0};
}

}  // namespace

std::pair<Tensor, Tensor> quantize(Quantizer q, const Tensor& x, const QuantizerParams& p) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  const Bounds b = bounds(q, p);
  cpu::dispatch_floating(x.dtype(), "quantize kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    T* pm = mask.data<T>();
    cpu::parallel_for(0, x.numel(), cpu::kGrainSize, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const Quantized r = quantize_one(q, static_cast<double>(px[i]), p, b);
        py[i] = static_cast<T>(r.q);
        pm[i] = static_cast<T>(r.c);
      }
    });
  });
  return {y, mask};
}

Tensor prune(const Tensor& x, double rate) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const int64_t n = x.numel();
  cpu::dispatch_floating(x.dtype(), "prune kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    if (n == 0) return;
    std::vector<T> a(static_cast<std::size_t>(n));
    // NaN sorts as +inf: nth_element needs a strict weak order (NaN would break it and read out of bounds)
    for (int64_t i = 0; i < n; ++i) a[i] = std::isnan(px[i]) ? std::numeric_limits<T>::infinity() : std::abs(px[i]);
    // nnabla's rate is a float and its index (size - 1) * rate a float product: 100 * 0.29f is 29 there but
    // 28.999... in double. The float product can round above size - 1 (size > 2^24), hence the clamp.
    const float rate_f = static_cast<float>(rate);
    const int64_t k = std::min<int64_t>(static_cast<int64_t>(static_cast<float>(n - 1) * rate_f), n - 1);
    std::nth_element(a.begin(), a.begin() + k, a.end());
    T threshold = a[k];
    if (rate_f == 1.0f) threshold += T(1);  // nnabla: rate 1 prunes every entry
    cpu::parallel_for(0, n, cpu::kGrainSize, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) py[i] = std::abs(px[i]) < threshold ? T(0) : px[i];
    });
  });
  return y;
}

Tensor round_values(const Tensor& x, RoundMode mode) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  cpu::dispatch_floating(x.dtype(), "round kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) py[i] = static_cast<T>(round_value(px[i], mode));
  });
  return y;
}

Tensor quantize_linear(const Tensor& x, const Tensor& scale, const Tensor& zero_point, RoundMode mode, double qmin,
                       double qmax) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  cpu::dispatch_floating(x.dtype(), "quantize_linear kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const T* ps = scale.data<T>();
    const T* pz = zero_point.data<T>();
    T* py = y.data<T>();
    cpu::parallel_for(0, x.numel(), cpu::kGrainSize, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        // x / scale in T, as nnabla divides in the array's dtype before rounding
        const double v = round_value(static_cast<double>(px[i] / ps[i]), mode) + static_cast<double>(pz[i]);
        py[i] = static_cast<T>(std::isnan(v) ? v : std::clamp(v, qmin, qmax));
      }
    });
  });
  return y;
}

MinMaxRange min_max_range(const Tensor& qr_min, const Tensor& qr_max, const Tensor& ql_min, const Tensor& ql_max) {
  MinMaxRange r{Tensor::empty(qr_min.shape(), qr_min.dtype()), Tensor::empty(qr_min.shape(), qr_min.dtype()),
                Tensor::empty(qr_min.shape(), qr_min.dtype())};
  cpu::dispatch_floating(qr_min.dtype(), "min_max_quantize kernel", [&](auto tag) {
    using T = decltype(tag);
    const T *rmin = qr_min.data<T>(), *rmax = qr_max.data<T>(), *lmin = ql_min.data<T>(), *lmax = ql_max.data<T>();
    T *s = r.scale.data<T>(), *lo = r.lo.data<T>(), *hi = r.hi.data<T>();
    for (int64_t i = 0; i < qr_min.numel(); ++i) {
      s[i] = (rmax[i] - rmin[i]) / (lmax[i] - lmin[i]);
      const T from_min = lmin[i] - rmin[i] / s[i];
      const T zero_point = from_min <= lmin[i] ? lmin[i] : (from_min >= lmax[i] ? lmax[i] : std::round(from_min));
      lo[i] = (lmin[i] - zero_point) * s[i];
      hi[i] = (lmax[i] - zero_point) * s[i];
    }
  });
  return r;
}

}  // namespace nthgrad::kernels

// k-means, one sample per task (the hard function nthgrad::hard::kmeans).
// Each sample is clustered in double whatever the dtype, so float32 and
// float64 inputs cluster alike.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

// The squared distance between points a and b of dimension d.
double distance2(const double* a, const double* b, int64_t d) {
  double sum = 0;
  for (int64_t j = 0; j < d; ++j) sum += (a[j] - b[j]) * (a[j] - b[j]);
  return sum;
}

// The index of the centre nearest to point p (the lower index on ties).
int64_t nearest(const double* p, const std::vector<double>& centres, int64_t k, int64_t d) {
  int64_t best = 0;
  double best_dist = std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < k; ++c) {
    const double dist = distance2(p, centres.data() + c * d, d);
    if (dist < best_dist) {
      best_dist = dist;
      best = c;
    }
  }
  return best;
}

// k-means++ seeding (Arthur and Vassilvitskii, 2007) driven by the given uniforms u[0..k): the first centre is
// point floor(u[0] n), each next one a point drawn with probability proportional to its squared distance to the
// nearest centre so far (uniformly when every distance is zero).
void seed_centres(const double* x, int64_t n, int64_t k, int64_t d, const double* u, std::vector<double>& centres) {
  std::vector<double> nearest2(n, std::numeric_limits<double>::infinity());
  int64_t chosen = std::min<int64_t>(static_cast<int64_t>(u[0] * static_cast<double>(n)), n - 1);
  for (int64_t c = 0; c < k; ++c) {
    if (c > 0) {
      double total = 0;
      for (int64_t i = 0; i < n; ++i) total += nearest2[i];
      if (total > 0) {
        const double target = u[c] * total;
        double running = 0;
        for (int64_t i = 0; i < n; ++i) {
          if (nearest2[i] == 0) continue;
          chosen = i;  // the last point with a weight, should rounding leave the target beyond the running sum
          running += nearest2[i];
          if (running > target) break;
        }
      } else {
        chosen = std::min<int64_t>(static_cast<int64_t>(u[c] * static_cast<double>(n)), n - 1);
      }
    }
    std::copy(x + chosen * d, x + (chosen + 1) * d, centres.begin() + c * d);
    for (int64_t i = 0; i < n; ++i) nearest2[i] = std::min(nearest2[i], distance2(x + i * d, x + chosen * d, d));
  }
}

template <typename T>
void cluster_sample(const T* xs, const double* u, int64_t n, int64_t k, int64_t d, int64_t iters,
                    T* centres_out, int64_t* labels) {
  // The sample divided by the power of two at or above its largest |x| (exact both ways): squared distances and
  // sums of huge finite values (1e200) would overflow to inf, tie every point to centre 0 and make inf
  // centres. Scaled back at the end.
  double largest = 0;
  for (int64_t i = 0; i < n * d; ++i) largest = std::max(largest, std::abs(static_cast<double>(xs[i])));
  int exponent = 0;
  std::frexp(largest, &exponent);  // largest < 2^exponent <= 2^1024, so |x| / 2^(exponent - 1) < 2
  const double scale = largest == 0 ? 1.0 : std::ldexp(1.0, exponent - 1);
  std::vector<double> scaled(n * d);
  for (int64_t i = 0; i < n * d; ++i) scaled[i] = static_cast<double>(xs[i]) / scale;
  const double* x = scaled.data();
  std::vector<double> centres(k * d), sums(k * d);
  std::vector<int64_t> counts(k);
  seed_centres(x, n, k, d, u, centres);
  for (int64_t it = 0; it < iters; ++it) {
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = nearest(x + i * d, centres, k, d);
      ++counts[c];
      for (int64_t j = 0; j < d; ++j) sums[c * d + j] += x[i * d + j];
    }
    for (int64_t c = 0; c < k; ++c)
      if (counts[c] > 0)
        for (int64_t j = 0; j < d; ++j) centres[c * d + j] = sums[c * d + j] / static_cast<double>(counts[c]);
  }
  // Lexicographic order of the centres (stable), so the result does not depend on the order of the draw.
  std::vector<int64_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return std::lexicographical_compare(centres.begin() + a * d, centres.begin() + (a + 1) * d,
                                        centres.begin() + b * d, centres.begin() + (b + 1) * d);
  });
  std::vector<double> sorted(k * d);
  for (int64_t c = 0; c < k; ++c)
    for (int64_t j = 0; j < d; ++j) sorted[c * d + j] = centres[order[c] * d + j];
  for (int64_t i = 0; i < k * d; ++i) centres_out[i] = static_cast<T>(sorted[i] * scale);
  for (int64_t i = 0; i < n; ++i) labels[i] = nearest(x + i * d, sorted, k, d);
}

}  // namespace

std::pair<Tensor, Tensor> kmeans(const Tensor& x, const Tensor& uniforms, int64_t iters) {
  const int64_t b = x.shape()[0], n = x.shape()[1], d = x.shape()[2], k = uniforms.numel();
  Tensor centres = Tensor::empty({b, k, d}, x.dtype());
  Tensor labels = Tensor::empty({b, n}, DType::Int64);
  cpu::dispatch_floating(x.dtype(), "kmeans kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const double* pu = uniforms.data<double>();
    T* pc = centres.data<T>();
    int64_t* pl = labels.data<int64_t>();
    cpu::parallel_for(0, b, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t s = lo; s < hi; ++s)
        cluster_sample(px + s * n * d, pu, n, k, d, iters, pc + s * k * d, pl + s * n);
    });
  });
  return {centres, labels};
}

}  // namespace nthgrad::kernels

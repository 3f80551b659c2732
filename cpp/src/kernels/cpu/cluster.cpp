// k-means, one sample per task (the hard function nthgrad::hard::kmeans).
// Distances and means accumulate in double whatever the dtype, so float32 and
// float64 inputs cluster alike.
#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

// The index of the centre nearest to point p (the lower index on ties).
template <typename T>
int64_t nearest(const T* p, const std::vector<double>& centres, int64_t k, int64_t d) {
  int64_t best = 0;
  double best_dist = std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < k; ++c) {
    double dist = 0;
    for (int64_t j = 0; j < d; ++j) {
      const double diff = static_cast<double>(p[j]) - centres[c * d + j];
      dist += diff * diff;
    }
    if (dist < best_dist) {
      best_dist = dist;
      best = c;
    }
  }
  return best;
}

template <typename T>
void cluster_sample(const T* x, const int64_t* init, int64_t n, int64_t k, int64_t d, int64_t iters, T* centres_out,
                    int64_t* labels) {
  std::vector<double> centres(k * d), sums(k * d);
  std::vector<int64_t> counts(k);
  for (int64_t c = 0; c < k; ++c)
    for (int64_t j = 0; j < d; ++j) centres[c * d + j] = static_cast<double>(x[init[c] * d + j]);
  for (int64_t it = 0; it < iters; ++it) {
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = nearest(x + i * d, centres, k, d);
      ++counts[c];
      for (int64_t j = 0; j < d; ++j) sums[c * d + j] += static_cast<double>(x[i * d + j]);
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
  for (int64_t i = 0; i < k * d; ++i) centres_out[i] = static_cast<T>(sorted[i]);
  for (int64_t i = 0; i < n; ++i) labels[i] = nearest(x + i * d, sorted, k, d);
}

}  // namespace

std::pair<Tensor, Tensor> kmeans(const Tensor& x, const Tensor& init, int64_t iters) {
  const int64_t b = x.shape()[0], n = x.shape()[1], d = x.shape()[2], k = init.shape()[1];
  Tensor centres = Tensor::empty({b, k, d}, x.dtype());
  Tensor labels = Tensor::empty({b, n}, DType::Int64);
  cpu::dispatch_floating(x.dtype(), "kmeans kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const int64_t* pi = init.data<int64_t>();
    T* pc = centres.data<T>();
    int64_t* pl = labels.data<int64_t>();
    cpu::parallel_for(0, b, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t s = lo; s < hi; ++s)
        cluster_sample(px + s * n * d, pi + s * k, n, k, d, iters, pc + s * k * d, pl + s * n);
    });
  });
  return {centres, labels};
}

}  // namespace nthgrad::kernels

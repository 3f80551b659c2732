// Reductions over axes: sum, mean, prod, max/min with their index.
//
// After merging neighbouring axes of the same kind, the two common layouts
// ([kept, reduced] and [reduced, kept]) are rows and columns of a matrix;
// any other layout is first transposed to [kept, reduced] (max, min, prod)
// or, for sum and mean, walked with strides.
//
// Accuracy: float32 sums and products accumulate in double; a whole-tensor
// sum adds fixed blocks of kBlock elements and then the block sums, so the
// result does not depend on the number of threads.
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/strided.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

constexpr int64_t kBlock = 4096;

using cpu::Acc;

struct Block {
  int64_t size;
  bool reduced;
};

// Merged runs of kept / reduced axes, size-1 axes dropped.
std::vector<Block> blocks_of(const Shape& shape, const Axes& axes) {
  std::vector<Block> blocks;
  std::vector<bool> reduced(shape.size(), false);
  for (int64_t a : axes) reduced[a] = true;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!blocks.empty() && blocks.back().reduced == reduced[d])
      blocks.back().size *= shape[d];
    else
      blocks.push_back({shape[d], reduced[d]});
  }
  return blocks;
}

Shape reduced_shape(const Shape& shape, const Axes& axes, bool keepdims) {
  std::vector<bool> reduced(shape.size(), false);
  for (int64_t a : axes) reduced[a] = true;
  Shape out;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (!reduced[d])
      out.push_back(shape[d]);
    else if (keepdims)
      out.push_back(1);
  }
  return out;
}

// The permutation [kept axes..., reduced axes...] and the sizes of both parts.
struct KeptFirst {
  Axes perm;
  int64_t kept = 1, reduced = 1;
};
KeptFirst kept_first(const Shape& shape, const Axes& axes) {
  KeptFirst k;
  std::vector<bool> red(shape.size(), false);
  for (int64_t a : axes) red[a] = true;
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (!red[d]) {
      k.perm.push_back(static_cast<int64_t>(d));
      k.kept *= shape[d];
    }
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (red[d]) {
      k.perm.push_back(static_cast<int64_t>(d));
      k.reduced *= shape[d];
    }
  return k;
}

// sum over a contiguous run, in Acc<T>. For float, every element goes into
// one of eight double accumulators (so a float sum is exact but for the
// final rounding of each double add); the compiler vectorizes the float ->
// double conversions and the adds, where Eigen's cast<double>() ran element
// by element (10x slower).
template <typename T>
Acc<T> run_sum(const T* p, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(p[i + k]);
    double total = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; ++i) total += static_cast<double>(p[i]);
    return total;
  } else {
    return cpu::ConstArrayMap<T>(p, n).sum();
  }
}

template <typename T>
void sum_impl(const Tensor& x, const Axes& axes, Tensor& y, double scale) {
  using A = Acc<T>;
  const T* px = x.data<T>();
  T* py = y.data<T>();
  const std::vector<Block> blocks = blocks_of(x.shape(), axes);
  const int64_t out_n = y.numel();
  const A s = static_cast<A>(scale);
  if (x.numel() == 0) {  // empty reductions are 0 (times scale: the mean of nothing is NaN)
    for (int64_t i = 0; i < out_n; ++i) py[i] = static_cast<T>(A(0) * s);
    return;
  }
  if (blocks.empty() || (blocks.size() == 1 && !blocks[0].reduced)) {  // nothing reduced
    for (int64_t i = 0; i < out_n; ++i) py[i] = static_cast<T>(px[i] * s);
    return;
  }
  if (blocks.size() == 1) {  // everything: fixed blocks, then their sums
    const int64_t n = x.numel(), nb = (n + kBlock - 1) / kBlock;
    std::vector<A> partial(nb);
    cpu::parallel_for(0, nb, 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) partial[i] = run_sum(px + i * kBlock, std::min(kBlock, n - i * kBlock));
    });
    A total = A(0);
    for (A v : partial) total += v;
    py[0] = static_cast<T>(total * s);
    return;
  }
  if (blocks.size() == 2 && !blocks[0].reduced) {  // [kept, reduced]: row sums
    const int64_t rows = blocks[0].size, cols = blocks[1].size;
    cpu::parallel_for(0, rows, std::max<int64_t>(1, cpu::kGrainSize / cols), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        A acc = A(0);
        for (int64_t c = 0; c < cols; c += kBlock) acc += run_sum(px + r * cols + c, std::min(kBlock, cols - c));
        py[r] = static_cast<T>(acc * s);
      }
    });
    return;
  }
  if (blocks.size() == 2) {  // [reduced, kept]: column sums, accumulated row by row
    const int64_t rows = blocks[0].size, cols = blocks[1].size;
    cpu::parallel_for(0, cols, std::max<int64_t>(64, cpu::kGrainSize / rows), [&](int64_t b, int64_t e) {
      std::vector<A> acc(e - b, A(0));
      for (int64_t r = 0; r < rows; ++r) {
        const T* row = px + r * cols + b;
        for (int64_t j = 0; j < e - b; ++j) acc[j] += static_cast<A>(row[j]);  // vectorized across columns
      }
      for (int64_t j = 0; j < e - b; ++j) py[b + j] = static_cast<T>(acc[j] * s);
    });
    return;
  }
  // General layout: for each output element, walk its reduced sub-array.
  std::vector<int64_t> block_stride(blocks.size());
  for (int64_t i = static_cast<int64_t>(blocks.size()) - 1, stride = 1; i >= 0; --i) {
    block_stride[i] = stride;
    stride *= blocks[i].size;
  }
  Shape kept_shape, red_shape;
  std::vector<int64_t> kept_stride, red_stride;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    (blocks[i].reduced ? red_shape : kept_shape).push_back(blocks[i].size);
    (blocks[i].reduced ? red_stride : kept_stride).push_back(block_stride[i]);
  }
  auto reduced_plan = cpu::make_plan<1>(red_shape, {red_stride});
  cpu::parallel_for(0, out_n, 64, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      int64_t base = 0, r = o;
      for (int64_t d = static_cast<int64_t>(kept_shape.size()) - 1; d >= 0; --d) {
        base += (r % kept_shape[d]) * kept_stride[d];
        r /= kept_shape[d];
      }
      A acc = A(0);
      const int64_t inner_stride = reduced_plan.strides[0].back();
      // A sequential walk: every row adds into the one accumulator.
      cpu::for_each_row(
          reduced_plan,
          [&](int64_t, const std::array<int64_t, 1>& in, int64_t n) {
            const T* p = px + base + in[0];
            for (int64_t i = 0; i < n; ++i) acc += p[i * inner_stride];
          },
          /*parallel=*/false);
      py[o] = static_cast<T>(acc * s);
    }
  });
}

Tensor sum_scaled(const char* what, const Tensor& x, const Axes& axes, bool keepdims, double scale) {
  Tensor y = Tensor::empty(reduced_shape(x.shape(), axes, keepdims), x.dtype());
  cpu::dispatch_floating(x.dtype(), what, [&](auto tag) { sum_impl<decltype(tag)>(x, axes, y, scale); });
  return y;
}

// x as a contiguous (kept, reduced) matrix: x itself when the layout already
// is, else a transposed copy.
Tensor kept_first_copy(const Tensor& x, const KeptFirst& k) {
  bool identity = true;
  for (std::size_t i = 0; i < k.perm.size(); ++i) identity = identity && k.perm[i] == static_cast<int64_t>(i);
  return identity ? x : transpose(x, k.perm);
}

}  // namespace

Tensor sum(const Tensor& x, const Axes& axes, bool keepdims) { return sum_scaled("sum kernel", x, axes, keepdims, 1.0); }

Tensor mean(const Tensor& x, const Axes& axes, bool keepdims) {
  int64_t n = 1;
  for (int64_t a : axes) n *= x.shape()[a];
  // n = 0: 0 * inf = NaN, the mean of nothing (as NumPy).
  const double scale = n == 0 ? std::numeric_limits<double>::infinity() : 1.0 / static_cast<double>(n);
  return sum_scaled("mean kernel", x, axes, keepdims, scale);
}

Tensor prod(const Tensor& x, const Axes& axes, bool keepdims) {
  const KeptFirst k = kept_first(x.shape(), axes);
  Tensor y = Tensor::empty(reduced_shape(x.shape(), axes, keepdims), x.dtype());
  if (y.numel() == 0) return y;
  Tensor m = kept_first_copy(x, k);
  cpu::dispatch_floating(x.dtype(), "prod kernel", [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    const T* pm = m.data<T>();
    T* py = y.data<T>();
    const int64_t rows = k.kept, cols = k.reduced;
    cpu::parallel_for(0, rows, std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(cols, 1)),
                      [&](int64_t b, int64_t e) {
                        for (int64_t r = b; r < e; ++r) {
                          A acc = A(1);
                          for (int64_t c = 0; c < cols; ++c) acc *= pm[r * cols + c];
                          py[r] = static_cast<T>(acc);
                        }
                      });
  });
  return y;
}

std::pair<Tensor, Tensor> max_min(bool is_max, const Tensor& x, const Axes& axes, bool keepdims) {
  const KeptFirst k = kept_first(x.shape(), axes);
  const Shape out_shape = reduced_shape(x.shape(), axes, keepdims);
  Tensor y = Tensor::empty(out_shape, x.dtype());
  Tensor index = Tensor::empty(out_shape, DType::Int64);
  if (y.numel() == 0) return {y, index};
  Tensor m = kept_first_copy(x, k);
  cpu::dispatch_floating(x.dtype(), "max/min kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* pm = m.data<T>();
    T* py = y.data<T>();
    int64_t* pi = index.data<int64_t>();
    const int64_t rows = k.kept, cols = k.reduced;
    cpu::parallel_for(0, rows, std::max<int64_t>(1, cpu::kGrainSize / cols), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* row = pm + r * cols;
        int64_t best = 0;
        for (int64_t c = 1; c < cols && !std::isnan(row[best]); ++c) {
          // The first extreme element wins ties; the first NaN wins outright.
          if (std::isnan(row[c]) || (is_max ? row[c] > row[best] : row[c] < row[best])) best = c;
        }
        py[r] = row[best];
        pi[r] = best;
      }
    });
  });
  return {y, index};
}

Tensor index_mask(const Tensor& index, const Shape& x_shape, const Axes& axes, DType dtype) {
  const KeptFirst k = kept_first(x_shape, axes);
  Shape permuted(k.perm.size());
  for (std::size_t i = 0; i < k.perm.size(); ++i) permuted[i] = x_shape[k.perm[i]];
  Tensor mask = Tensor::zeros(permuted, dtype);
  const int64_t* pi = index.data<int64_t>();
  cpu::dispatch_floating(dtype, "index_mask kernel", [&](auto tag) {
    using T = decltype(tag);
    T* pm = mask.data<T>();
    for (int64_t r = 0; r < k.kept && k.reduced > 0; ++r) pm[r * k.reduced + pi[r]] = T(1);
  });
  Axes inverse(k.perm.size());
  for (std::size_t i = 0; i < k.perm.size(); ++i) inverse[k.perm[i]] = static_cast<int64_t>(i);
  return kept_first_copy(mask, KeptFirst{inverse});
}

}  // namespace nthgrad::kernels

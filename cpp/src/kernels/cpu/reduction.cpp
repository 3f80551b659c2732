// Sum over axes. After merging neighbouring axes of the same kind, the two
// common layouts ([kept, reduced] and [reduced, kept]) go to Eigen's row and
// column sums; any other layout sums each output element over a strided walk.
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/strided.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

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

template <typename T>
void sum_impl(const Tensor& x, const Axes& axes, Tensor& y) {
  const T* px = x.data<T>();
  T* py = y.data<T>();
  const std::vector<Block> blocks = blocks_of(x.shape(), axes);
  const int64_t out_n = y.numel();
  if (x.numel() == 0) {  // empty reductions are 0
    for (int64_t i = 0; i < out_n; ++i) py[i] = T(0);
    return;
  }
  if (blocks.empty() || (blocks.size() == 1 && !blocks[0].reduced)) {  // nothing reduced
    std::copy(px, px + out_n, py);
    return;
  }
  if (blocks.size() == 1) {  // everything reduced
    py[0] = cpu::ConstArrayMap<T>(px, x.numel()).sum();
    return;
  }
  if (blocks.size() == 2 && !blocks[0].reduced) {  // [kept, reduced]: row sums
    const int64_t rows = blocks[0].size, cols = blocks[1].size;
    cpu::parallel_for(0, rows, std::max<int64_t>(1, cpu::kGrainSize / cols), [&](int64_t b, int64_t e) {
      cpu::ArrayMap<T>(py + b, e - b) = cpu::ConstMatrixMap<T>(px + b * cols, e - b, cols).rowwise().sum().array();
    });
    return;
  }
  if (blocks.size() == 2) {  // [reduced, kept]: column sums
    const int64_t rows = blocks[0].size, cols = blocks[1].size;
    cpu::parallel_for(0, cols, std::max<int64_t>(1, cpu::kGrainSize / rows), [&](int64_t b, int64_t e) {
      cpu::ArrayMap<T>(py + b, e - b) =
          cpu::ConstMatrixMap<T>(px, rows, cols).middleCols(b, e - b).colwise().sum().transpose().array();
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
      T acc = T(0);
      const int64_t inner_stride = reduced_plan.strides[0].back();
      // Sequential walk (we are already inside a parallel region).
      cpu::for_each_row(reduced_plan, [&](int64_t, const std::array<int64_t, 1>& in, int64_t n) {
        const T* p = px + base + in[0];
        for (int64_t i = 0; i < n; ++i) acc += p[i * inner_stride];
      });
      py[o] = acc;
    }
  });
}

}  // namespace

Tensor sum(const Tensor& x, const Axes& axes, bool keepdims) {
  Shape out_shape;
  std::vector<bool> reduced(x.shape().size(), false);
  for (int64_t a : axes) reduced[a] = true;
  for (std::size_t d = 0; d < x.shape().size(); ++d) {
    if (!reduced[d])
      out_shape.push_back(x.shape()[d]);
    else if (keepdims)
      out_shape.push_back(1);
  }
  Tensor y = Tensor::empty(out_shape, x.dtype());
  cpu::dispatch_floating(x.dtype(), "sum kernel", [&](auto tag) {
    sum_impl<decltype(tag)>(x, axes, y);
  });
  return y;
}

}  // namespace nthgrad::kernels

#pragma once
// Strided iteration shared by broadcasting, transposition and reduction:
// an output walked in row-major order while each input is read with its own
// element strides (0 along a broadcast axis).
#include <array>
#include <cstdint>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "nthgrad/shape.h"

namespace nthgrad::kernels::cpu {

// Element strides of a contiguous tensor of `shape`.
inline std::vector<int64_t> row_major_strides(const Shape& shape) {
  std::vector<int64_t> st(shape.size());
  int64_t s = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    st[d] = s;
    s *= shape[d];
  }
  return st;
}

// A tensor seen as (outer, n, inner) around `axis`: outer * inner lines of n
// elements, one `inner` apart (the kernels that run along one axis).
struct Lines {
  int64_t outer = 1, n = 1, inner = 1;
  Lines(const Shape& shape, int64_t axis) {
    for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
      if (d < axis) outer *= shape[d];
      if (d == axis) n = shape[d];
      if (d > axis) inner *= shape[d];
    }
  }
  int64_t count() const { return outer * inner; }
  // Offset of element 0 of line l; element t is at start(l) + t * inner.
  int64_t start(int64_t l) const { return (l / inner) * n * inner + l % inner; }
};

template <std::size_t N>
struct StridedPlan {
  Shape shape;                                 // output shape, merged and without size-1 axes
  std::array<std::vector<int64_t>, N> strides;  // per input, per axis of `shape`
};

// Row-major strides of `shape`, with 0 on axes where the input is broadcast
// (shape of the input right-aligned against `out_shape`).
inline std::vector<int64_t> broadcast_strides(const Shape& in_shape, const Shape& out_shape) {
  std::vector<int64_t> st(out_shape.size(), 0);
  int64_t s = 1;
  for (int64_t i = static_cast<int64_t>(in_shape.size()) - 1; i >= 0; --i) {
    int64_t o = i + static_cast<int64_t>(out_shape.size() - in_shape.size());
    st[o] = in_shape[i] == 1 ? 0 : s;
    s = checked_mul(s, in_shape[i], "broadcast", in_shape);
  }
  return st;
}

// Drops size-1 axes and merges neighbours that every input walks as one.
template <std::size_t N>
StridedPlan<N> make_plan(const Shape& shape, const std::array<std::vector<int64_t>, N>& strides) {
  StridedPlan<N> p;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !p.shape.empty();
    for (std::size_t k = 0; k < N && merge; ++k)
      merge = p.strides[k].back() == checked_mul(strides[k][d], shape[d], "strided kernel", shape);
    if (merge) {
      p.shape.back() = checked_mul(p.shape.back(), shape[d], "strided kernel", shape);
      for (std::size_t k = 0; k < N; ++k) p.strides[k].back() = strides[k][d];
    } else {
      p.shape.push_back(shape[d]);
      for (std::size_t k = 0; k < N; ++k) p.strides[k].push_back(strides[k][d]);
    }
  }
  if (p.shape.empty()) {  // a single element
    p.shape.push_back(1);
    for (std::size_t k = 0; k < N; ++k) p.strides[k].push_back(0);
  }
  return p;
}

// Calls row(out_offset, in_offsets, inner) for each run of the innermost
// axis, rows split across threads when there is enough work and `parallel`
// (pass false when `row` accumulates into shared state).
template <std::size_t N, typename F>
void for_each_row(const StridedPlan<N>& p, const F& row, bool parallel = true) {
  const int64_t nd = static_cast<int64_t>(p.shape.size());
  const int64_t inner = p.shape[nd - 1];
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < nd; ++d) rows = checked_mul(rows, p.shape[d], "strided kernel", p.shape);
  const int64_t grain = parallel ? std::max<int64_t>(1, kGrainSize / std::max<int64_t>(inner, 1)) : rows;
  parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> idx(nd > 1 ? nd - 1 : 1, 0);
    std::array<int64_t, N> off{};
    int64_t r = begin;
    for (int64_t d = nd - 2; d >= 0; --d) {  // index of row `begin`
      idx[d] = r % p.shape[d];
      r /= p.shape[d];
      for (std::size_t k = 0; k < N; ++k) off[k] += idx[d] * p.strides[k][d];
    }
    for (int64_t i = begin; i < end; ++i) {
      row(i * inner, off, inner);
      for (int64_t d = nd - 2; d >= 0; --d) {  // odometer step
        for (std::size_t k = 0; k < N; ++k) off[k] += p.strides[k][d];
        if (++idx[d] < p.shape[d]) break;
        for (std::size_t k = 0; k < N; ++k) off[k] -= p.shape[d] * p.strides[k][d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace nthgrad::kernels::cpu

// Kernels of indexing and sorting: a row gather and its adjoint scatter-add,
// index arithmetic with bounds checks, a stable radix argsort, top-k and
// searchsorted.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/strided.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

// The coordinates of flat position `p` in `shape` (row-major).
void unravel(int64_t p, const Shape& shape, std::vector<int64_t>& coord) {
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    coord[d] = shape[d] ? p % shape[d] : 0;
    p = shape[d] ? p / shape[d] : 0;
  }
}

// Unsigned keys whose unsigned order is the order we sort by: floats by
// value with -0 == +0 and every NaN above +inf (NumPy puts NaN last), int64
// by value; `descending` flips the order (NaN then comes first, as torch).
template <typename T>
auto sort_key(T v, bool descending) {
  if constexpr (std::is_same_v<T, float>) {
    uint32_t u;
    if (std::isnan(v)) v = std::numeric_limits<float>::quiet_NaN();
    if (v == 0) v = 0;  // -0 -> +0
    std::memcpy(&u, &v, 4);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return descending ? ~u : u;
  } else if constexpr (std::is_same_v<T, double>) {
    uint64_t u;
    if (std::isnan(v)) v = std::numeric_limits<double>::quiet_NaN();
    if (v == 0) v = 0;
    std::memcpy(&u, &v, 8);
    u = (u >> 63) ? ~u : (u | (uint64_t{1} << 63));
    return descending ? ~u : u;
  } else {
    uint64_t u = static_cast<uint64_t>(static_cast<int64_t>(v)) ^ (uint64_t{1} << 63);
    return descending ? ~u : u;
  }
}

// Stable argsort of keys[0..n) into order[0..n) (LSD radix, 8-bit digits;
// digits that every key shares are skipped). tmp_* are scratch of size n.
template <typename K>
void radix_argsort(std::vector<K>& keys, std::vector<uint32_t>& order, std::vector<K>& tmp_keys,
                   std::vector<uint32_t>& tmp_order) {
  const std::size_t n = keys.size();
  std::iota(order.begin(), order.end(), 0u);
  if (n < 64) {
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
    return;
  }
  for (unsigned shift = 0; shift < sizeof(K) * 8; shift += 8) {
    std::size_t count[257] = {0};
    for (std::size_t i = 0; i < n; ++i) ++count[((keys[i] >> shift) & 0xFF) + 1];
    if (std::find(count + 1, count + 257, n) != count + 257) continue;  // one digit for all
    for (int b = 0; b < 256; ++b) count[b + 1] += count[b];
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t dst = count[(keys[i] >> shift) & 0xFF]++;
      tmp_keys[dst] = keys[i];
      tmp_order[dst] = order[i];
    }
    keys.swap(tmp_keys);
    order.swap(tmp_order);
  }
}

}  // namespace

Tensor gather_rows(const Tensor& x, int64_t row_size, const Tensor& rows) {
  Shape shape = rows.shape();
  shape.push_back(row_size);
  Tensor y = Tensor::empty(shape, x.dtype());
  if (y.numel() == 0) return y;
  const int64_t k = rows.numel();
  const int64_t* pr = rows.data<int64_t>();
  cpu::dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    cpu::parallel_for(0, k, std::max<int64_t>(1, cpu::kGrainSize / row_size), [&](int64_t b, int64_t e) {
      if (row_size == 1) {
        for (int64_t i = b; i < e; ++i) py[i] = px[pr[i]];
      } else {
        for (int64_t i = b; i < e; ++i) std::memcpy(py + i * row_size, px + pr[i] * row_size, row_size * sizeof(T));
      }
    });
  });
  return y;
}

Tensor scatter_rows_add(const Tensor& src, const Tensor& rows, int64_t num_rows, int64_t row_size) {
  const int64_t k = rows.numel();
  Tensor y = Tensor::zeros({num_rows, row_size}, src.dtype());
  if (src.numel() == 0) return y;
  const int64_t* pr = rows.data<int64_t>();
  cpu::dispatch_floating(src.dtype(), "scatter_rows_add kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* ps = src.data<T>();
    T* py = y.data<T>();
    // In index order, so the sums are the same on every run. Random
    // read-modify-writes are bound by memory, and splitting the destination
    // rows between threads was slower on this machine than one thread; wide
    // rows split their columns between threads instead.
    cpu::parallel_for(0, row_size, std::max<int64_t>(64, cpu::kGrainSize / std::max<int64_t>(k, 1)),
                      [&](int64_t c0, int64_t c1) {
                        if (row_size == 1) {
                          for (int64_t i = 0; i < k; ++i) py[pr[i]] += ps[i];
                          return;
                        }
                        for (int64_t i = 0; i < k; ++i) {
                          T* dst = py + pr[i] * row_size;
                          const T* src_row = ps + i * row_size;
                          for (int64_t j = c0; j < c1; ++j) dst[j] += src_row[j];
                        }
                      });
  });
  return y;
}

Tensor scatter_rows_set(const Tensor& src, const Tensor& rows, int64_t num_rows, int64_t row_size, bool* all_unique) {
  const int64_t k = rows.numel();
  Tensor y = Tensor::zeros({num_rows, row_size}, src.dtype());
  *all_unique = true;
  if (src.numel() == 0) return y;
  const int64_t* pr = rows.data<int64_t>();
  const int64_t bytes = row_size * static_cast<int64_t>(itemsize(src.dtype()));
  const char* ps = static_cast<const char*>(src.raw_data());
  char* py = static_cast<char*>(y.raw_data());
  // one bit per row (fits a cache level where a byte per row would not)
  std::vector<uint64_t> written(static_cast<std::size_t>(num_rows / 64 + 1), 0);
  uint64_t repeated = 0;
  auto mark = [&](int64_t r) {
    uint64_t& word = written[r >> 6];
    const uint64_t bit = uint64_t{1} << (r & 63);
    repeated |= word & bit;
    word |= bit;
  };
  // In index order (one thread, as scatter_rows_add): the last write stays.
  cpu::dispatch_floating(src.dtype(), "scatter_rows_set kernel", [&](auto tag) {
    using T = decltype(tag);
    if (row_size == 1) {
      const T* s = src.data<T>();
      T* d = y.data<T>();
      for (int64_t i = 0; i < k; ++i) {
        mark(pr[i]);
        d[pr[i]] = s[i];
      }
      return;
    }
    for (int64_t i = 0; i < k; ++i) {
      mark(pr[i]);
      std::memcpy(py + pr[i] * bytes, ps + i * bytes, bytes);
    }
  });
  *all_unique = repeated == 0;
  return y;
}

Tensor last_occurrence(const Tensor& rows, int64_t num_rows, DType dtype) {
  const int64_t k = rows.numel();
  const int64_t* pr = rows.data<int64_t>();
  std::vector<char> last(k, 1);
  if (num_rows <= 4 * k + 4096) {
    // Walking backwards, a row met before is an overwritten write.
    std::vector<char> seen(num_rows, 0);
    for (int64_t i = k - 1; i >= 0; --i) {
      char& slot = seen[pr[i]];
      if (slot) last[i] = 0;
      slot = 1;
    }
  } else {  // few writes into many rows: a hash set
    std::unordered_map<int64_t, char> seen;
    for (int64_t i = k - 1; i >= 0; --i) last[i] = seen.emplace(pr[i], 1).second;
  }
  Tensor y = Tensor::empty(rows.shape(), dtype);
  cpu::dispatch_floating(dtype, "last_occurrence kernel", [&](auto tag) {
    using T = decltype(tag);
    T* py = y.data<T>();
    for (int64_t i = 0; i < k; ++i) py[i] = static_cast<T>(last[i]);
  });
  return y;
}

Tensor ravel_index(const Tensor& coords, const Shape& dims, const char* op, const std::vector<std::string>& what) {
  const int64_t m = static_cast<int64_t>(dims.size());
  Shape out(coords.shape().begin() + 1, coords.shape().end());
  Tensor y = Tensor::empty(out, DType::Int64);
  const int64_t n = y.numel();
  const int64_t* pc = coords.data<int64_t>();
  int64_t* py = y.data<int64_t>();
  cpu::parallel_for(0, n, cpu::kGrainSize, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      int64_t off = 0;
      for (int64_t j = 0; j < m; ++j) {
        const int64_t v = pc[j * n + i];
        const int64_t w = v < 0 ? v + dims[j] : v;
        if (w < 0 || w >= dims[j])
          throw IndexError(detail::cat(op, ": index ", v, " is out of range for ", what[j]));
        off = off * dims[j] + w;
      }
      py[i] = off;
    }
  });
  return y;
}

Tensor along_axis_offsets(const Tensor& index, const Shape& x_shape, int64_t axis, const char* op,
                          const std::string& what) {
  Tensor y = Tensor::empty(index.shape(), DType::Int64);
  const int64_t nd = static_cast<int64_t>(x_shape.size());
  const std::vector<int64_t> stride = cpu::row_major_strides(x_shape);
  const int64_t n_axis = x_shape[axis];
  const Shape& is = index.shape();
  const int64_t* pi = index.data<int64_t>();
  int64_t* py = y.data<int64_t>();
  cpu::parallel_for(0, index.numel(), cpu::kGrainSize, [&](int64_t b, int64_t e) {
    std::vector<int64_t> coord(nd, 0);
    unravel(b, is, coord);
    for (int64_t p = b; p < e; ++p) {
      const int64_t v = pi[p];
      const int64_t w = v < 0 ? v + n_axis : v;
      if (w < 0 || w >= n_axis) throw IndexError(detail::cat(op, ": index ", v, " is out of range for ", what));
      int64_t off = 0;
      for (int64_t d = 0; d < nd; ++d) off += (d == axis ? w : coord[d]) * stride[d];
      py[p] = off;
      for (int64_t d = nd - 1; d >= 0; --d) {  // odometer step
        if (++coord[d] < is[d]) break;
        coord[d] = 0;
      }
    }
  });
  return y;
}

Tensor argsort(const Tensor& x, int64_t axis, bool descending) {
  Tensor y = Tensor::empty(x.shape(), DType::Int64);
  if (x.numel() == 0) return y;
  const cpu::Lines rows(x.shape(), axis);
  int64_t* py = y.data<int64_t>();
  cpu::dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      throw TypeError("argsort kernel: bool tensors are not sorted");
    } else {
      using K = decltype(sort_key(T{}, false));
      const T* px = x.data<T>();
      cpu::parallel_for(0, rows.count(), std::max<int64_t>(1, cpu::kGrainSize / rows.n), [&](int64_t b, int64_t e) {
        std::vector<K> keys(rows.n), tmp_keys(rows.n);
        std::vector<uint32_t> order(rows.n), tmp_order(rows.n);
        for (int64_t r = b; r < e; ++r) {
          const int64_t base = rows.start(r);
          keys.resize(rows.n);
          for (int64_t i = 0; i < rows.n; ++i) keys[i] = sort_key(px[base + i * rows.inner], descending);
          radix_argsort(keys, order, tmp_keys, tmp_order);
          for (int64_t i = 0; i < rows.n; ++i) py[base + i * rows.inner] = order[i];
        }
      });
    }
  });
  return y;
}

Tensor top_k_indices(const Tensor& x, int64_t k, bool by_abs, bool largest) {
  const int64_t samples = x.shape()[0], n = x.shape()[1];
  Tensor y = Tensor::empty({samples, k}, DType::Int64);
  if (y.numel() == 0) return y;
  int64_t* py = y.data<int64_t>();
  cpu::dispatch_floating(x.dtype(), "top_k kernel", [&](auto tag) {
    using T = decltype(tag);
    using K = decltype(sort_key(T{}, false));
    const T* px = x.data<T>();
    cpu::parallel_for(0, samples, std::max<int64_t>(1, cpu::kGrainSize / n), [&](int64_t b, int64_t e) {
      std::vector<K> keys(n);
      std::vector<int64_t> order(n);
      for (int64_t s = b; s < e; ++s) {
        for (int64_t i = 0; i < n; ++i) {
          const T v = px[s * n + i];
          keys[i] = sort_key(by_abs ? std::abs(v) : v, largest);
        }
        std::iota(order.begin(), order.end(), int64_t{0});
        // rank order; among equal values the lower index first
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t c) {
          return keys[a] < keys[c] || (keys[a] == keys[c] && a < c);
        });
        std::copy(order.begin(), order.begin() + k, py + s * k);
      }
    });
  });
  return y;
}

Tensor searchsorted(const Tensor& sorted, const Tensor& values, bool right) {
  const int64_t rows = sorted.shape()[0], n = sorted.shape()[1], m = values.shape()[1];
  Tensor y = Tensor::empty({rows, m}, DType::Int64);
  if (y.numel() == 0) return y;
  int64_t* py = y.data<int64_t>();
  cpu::dispatch_all(sorted.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      throw TypeError("searchsorted kernel: bool tensors are not searched");
    } else {
      const T* ps = sorted.data<T>();
      const T* pv = values.data<T>();
      cpu::parallel_for(0, rows * m, cpu::kGrainSize / 16, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const int64_t r = i / m;
          const T* row = ps + r * n;
          const auto key = sort_key(pv[i], false);
          // first position whose key is >= (right: >) the value's
          int64_t lo = 0, hi = n;
          while (lo < hi) {
            const int64_t mid = (lo + hi) / 2;
            const auto km = sort_key(row[mid], false);
            if (right ? km <= key : km < key) lo = mid + 1; else hi = mid;
          }
          py[i] = lo;
        }
      });
    }
  });
  return y;
}

}  // namespace nthgrad::kernels

// The elementwise polynomial of lean derivative graphs (ops/detail/polynomial.h):
// y = sum_t coef_t * prod_i a_i^p_ti. Evaluated in blocks of elements: the
// powers each atom needs are tabled once per block, then each term is built
// up in a block buffer and added in, so the inner loops are plain
// vectorizable products.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

constexpr int64_t kBlock = 256;

template <typename T>
void polynomial_chunk(const std::vector<const T*>& atoms, const std::vector<double>& coef,
                      const std::vector<int32_t>& powers, T* y, int64_t begin, int64_t end) {
  const std::size_t n_atoms = atoms.size();
  // The powers of each atom that some term needs, a_i^1 .. a_i^max_i, are
  // computed once per block (table[offset[i] + q - 1] is a_i^q).
  std::vector<int> max_power(n_atoms, 0), offset(n_atoms, 0);
  for (std::size_t t = 0; t < coef.size(); ++t)
    for (std::size_t i = 0; i < n_atoms; ++i)
      max_power[i] = std::max(max_power[i], std::abs(powers[t * n_atoms + i]));
  int rows = 0;
  for (std::size_t i = 0; i < n_atoms; ++i) {
    offset[i] = rows;
    rows += max_power[i];
  }
  std::vector<T> table(static_cast<std::size_t>(rows) * kBlock);
  T term[kBlock];
  for (int64_t b = begin; b < end; b += kBlock) {
    const int64_t len = std::min<int64_t>(kBlock, end - b);
    for (std::size_t i = 0; i < n_atoms; ++i) {
      const T* a = atoms[i] + b;
      for (int q = 1; q <= max_power[i]; ++q) {
        T* row = &table[static_cast<std::size_t>(offset[i] + q - 1) * kBlock];
        const T* prev = row - kBlock;
        if (q == 1)
          for (int64_t j = 0; j < len; ++j) row[j] = a[j];
        else
          for (int64_t j = 0; j < len; ++j) row[j] = prev[j] * a[j];
      }
    }
    for (int64_t j = 0; j < len; ++j) y[b + j] = T(0);
    for (std::size_t t = 0; t < coef.size(); ++t) {
      for (int64_t j = 0; j < len; ++j) term[j] = static_cast<T>(coef[t]);
      for (std::size_t i = 0; i < n_atoms; ++i) {
        const int p = powers[t * n_atoms + i];
        if (p == 0) continue;
        const T* row = &table[static_cast<std::size_t>(offset[i] + std::abs(p) - 1) * kBlock];
        if (p > 0)
          for (int64_t j = 0; j < len; ++j) term[j] *= row[j];
        else
          for (int64_t j = 0; j < len; ++j) term[j] /= row[j];
      }
      for (int64_t j = 0; j < len; ++j) y[b + j] += term[j];
    }
  }
}

template <typename T>
Tensor polynomial_typed(const std::vector<Tensor>& atoms, const std::vector<double>& coef,
                        const std::vector<int32_t>& powers) {
  const Tensor& first = atoms.front();
  Tensor y = Tensor::empty(first.shape(), first.dtype());
  std::vector<const T*> data;
  for (const Tensor& a : atoms) data.push_back(a.data<T>());
  T* out = y.data<T>();
  cpu::parallel_for(0, y.numel(), cpu::kGrainSize,
                    [&](int64_t b, int64_t e) { polynomial_chunk<T>(data, coef, powers, out, b, e); });
  return y;
}

}  // namespace

Tensor polynomial(const std::vector<Tensor>& atoms, const std::vector<double>& coef,
                  const std::vector<int32_t>& powers) {
  if (atoms.front().dtype() == DType::Float64) return polynomial_typed<double>(atoms, coef, powers);
  return polynomial_typed<float>(atoms, coef, powers);
}

}  // namespace nthgrad::kernels

// The elementwise polynomial of lean derivative graphs (ops/detail/polynomial.h):
// y = sum_t coef_t * prod_i a_i^p_ti. Evaluated in blocks of elements: the
// powers above 1 each atom needs are tabled once per block, then each term is
// built up in a block buffer (the first one in the output itself) and added
// in, so the inner loops are plain vectorizable products and a product of
// two atoms costs two passes.
#include <algorithm>
#include <cstdlib>
#include <memory>
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
  // Powers 2 .. max_i of each atom that some term needs are tabled once per
  // block (table[offset[i] + q - 2] is a_i^q); a power of 1 reads the atom.
  std::vector<int> max_power(n_atoms, 0), offset(n_atoms, 0);
  for (std::size_t t = 0; t < coef.size(); ++t)
    for (std::size_t i = 0; i < n_atoms; ++i)
      max_power[i] = std::max(max_power[i], std::abs(powers[t * n_atoms + i]));
  int rows = 0;
  for (std::size_t i = 0; i < n_atoms; ++i) {
    offset[i] = rows;
    rows += std::max(0, max_power[i] - 1);
  }
  std::unique_ptr<T[]> table(rows > 0 ? new T[static_cast<std::size_t>(rows) * kBlock] : nullptr);
  auto row = [&](std::size_t i, int q) { return &table[static_cast<std::size_t>(offset[i] + q - 2) * kBlock]; };
  T term[kBlock];
  for (int64_t b = begin; b < end; b += kBlock) {
    const int64_t len = std::min<int64_t>(kBlock, end - b);
    for (std::size_t i = 0; i < n_atoms; ++i) {
      const T* a = atoms[i] + b;
      for (int q = 2; q <= max_power[i]; ++q) {
        T* r = row(i, q);
        const T* prev = q == 2 ? a : row(i, q - 1);
        for (int64_t j = 0; j < len; ++j) r[j] = prev[j] * a[j];
      }
    }
    for (std::size_t t = 0; t < coef.size(); ++t) {
      T* dst = t == 0 ? y + b : term;  // the first term is written in place
      const T c = static_cast<T>(coef[t]);
      bool first = true;
      for (std::size_t i = 0; i < n_atoms; ++i) {
        const int p = powers[t * n_atoms + i];
        if (p == 0) continue;
        const T* f = std::abs(p) == 1 ? atoms[i] + b : row(i, std::abs(p));
        if (first && p > 0)
          for (int64_t j = 0; j < len; ++j) dst[j] = c * f[j];
        else if (first)
          for (int64_t j = 0; j < len; ++j) dst[j] = c / f[j];
        else if (p > 0)
          for (int64_t j = 0; j < len; ++j) dst[j] *= f[j];
        else
          for (int64_t j = 0; j < len; ++j) dst[j] /= f[j];
        first = false;
      }
      if (first)
        for (int64_t j = 0; j < len; ++j) dst[j] = c;
      if (t > 0)
        for (int64_t j = 0; j < len; ++j) y[b + j] += term[j];
    }
  }
}

template <typename T>
Tensor polynomial_typed(const std::vector<Tensor>& atoms, const std::vector<double>& coef,
                        const std::vector<int32_t>& powers) {
  const Tensor& first = atoms.front();
  if (coef.empty()) return Tensor::zeros(first.shape(), first.dtype());
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

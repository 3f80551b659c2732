// Linear algebra kernels: one Eigen decomposition per matrix of a (B, N, N)
// batch, parallel over the batch; and the diagonal / triangle layout kernels
// (matrix_diag, matrix_diag_part, trilu). Inputs are checked by the op layer.
// No kernel here throws inside parallel_for except by allocation failure,
// which parallel_for carries out of the region.
#include <Eigen/Cholesky>
#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

// Batch items per parallel chunk: about kGrainSize flops of O(n^3) work each.
int64_t batch_grain(int64_t n) {
  const int64_t work = std::max<int64_t>(1, n * n * std::max<int64_t>(1, n));
  return std::max<int64_t>(1, cpu::kGrainSize / work);
}

// Calls f(T{}, item index, const T* matrix) for each of the B matrices of x (B, N, N).
template <typename F>
void for_each_matrix(const Tensor& x, const char* what, F&& f) {
  const int64_t b = x.shape()[0], n = x.shape()[1];
  cpu::dispatch_floating(x.dtype(), what, [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    cpu::parallel_for(0, b, batch_grain(n), [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) f(T{}, i, px + i * n * n);
    });
  });
}

template <typename T>
using Lu = Eigen::PartialPivLU<cpu::RowMajorMatrix<T>>;

}  // namespace

Tensor batch_inv(const Tensor& x) {
  const int64_t n = x.shape()[1];
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  if (y.numel() == 0) return y;
  for_each_matrix(x, "batch_inv kernel", [&](auto tag, int64_t i, const auto* a) {
    using T = decltype(tag);
    cpu::MatrixMap<T> Y(y.data<T>() + i * n * n, n, n);
    // A zero pivot divides by zero: a singular matrix gives inf/NaN entries (no exception).
    Y.noalias() = Lu<T>(cpu::ConstMatrixMap<T>(a, n, n)).inverse();
  });
  return y;
}

Tensor batch_det(const Tensor& x) {
  const int64_t b = x.shape()[0], n = x.shape()[1];
  Tensor y = Tensor::empty({b}, x.dtype());
  if (b == 0) return y;
  for_each_matrix(x, "batch_det kernel", [&](auto tag, int64_t i, const auto* a) {
    using T = decltype(tag);
    // det of a 0 x 0 matrix is 1, as NumPy; a singular matrix has a zero pivot, so 0.
    y.data<T>()[i] = n == 0 ? T(1) : Lu<T>(cpu::ConstMatrixMap<T>(a, n, n)).determinant();
  });
  return y;
}

Tensor batch_logdet(const Tensor& x) {
  const int64_t b = x.shape()[0], n = x.shape()[1];
  Tensor y = Tensor::empty({b}, x.dtype());
  if (b == 0) return y;
  for_each_matrix(x, "batch_logdet kernel", [&](auto tag, int64_t i, const auto* a) {
    using T = decltype(tag);
    // log|det| = sum log|u_ii| of the LU factor: no overflow of the product for
    // large n; a zero pivot gives -inf.
    cpu::Acc<T> s = 0;
    if (n > 0) {
      Lu<T> lu(cpu::ConstMatrixMap<T>(a, n, n));
      const auto& m = lu.matrixLU();
      for (int64_t k = 0; k < n; ++k) s += std::log(std::abs(static_cast<cpu::Acc<T>>(m(k, k))));
    }
    y.data<T>()[i] = static_cast<T>(s);
  });
  return y;
}

Tensor batch_cholesky(const Tensor& x, bool upper) {
  const int64_t n = x.shape()[1];
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  if (y.numel() == 0) return y;
  for_each_matrix(x, "batch_cholesky kernel", [&](auto tag, int64_t i, const auto* a) {
    using T = decltype(tag);
    cpu::MatrixMap<T> Y(y.data<T>() + i * n * n, n, n);
    // Reads the lower triangle only. A matrix that is not positive definite
    // (or holds NaN) gives a factor filled with NaN for that item.
    Eigen::LLT<cpu::RowMajorMatrix<T>> llt(cpu::ConstMatrixMap<T>(a, n, n));
    if (llt.info() != Eigen::Success) {
      Y.setConstant(std::numeric_limits<T>::quiet_NaN());
    } else if (upper) {
      Y.noalias() = llt.matrixU().toDenseMatrix();
    } else {
      Y.noalias() = llt.matrixL().toDenseMatrix();
    }
  });
  return y;
}

Tensor matrix_diag(const Tensor& x) {
  const int64_t m = x.shape().back();
  const int64_t outer = m == 0 ? 0 : x.numel() / m;
  Shape shape = x.shape();
  shape.push_back(m);
  Tensor y = Tensor::zeros(shape, x.dtype());
  if (y.numel() == 0) return y;
  cpu::dispatch_floating(x.dtype(), "matrix_diag kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    cpu::parallel_for(0, outer, std::max<int64_t>(1, cpu::kGrainSize / (m * m)), [&](int64_t s, int64_t e) {
      for (int64_t o = s; o < e; ++o)
        for (int64_t k = 0; k < m; ++k) py[(o * m + k) * m + k] = px[o * m + k];
    });
  });
  return y;
}

Tensor matrix_diag_part(const Tensor& x) {
  const int64_t m = x.shape().back();
  Shape shape(x.shape().begin(), x.shape().end() - 1);
  Tensor y = Tensor::empty(shape, x.dtype());
  if (y.numel() == 0) return y;
  const int64_t outer = y.numel() / m;
  cpu::dispatch_floating(x.dtype(), "matrix_diag_part kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    cpu::parallel_for(0, outer, std::max<int64_t>(1, cpu::kGrainSize / m), [&](int64_t s, int64_t e) {
      for (int64_t o = s; o < e; ++o)
        for (int64_t k = 0; k < m; ++k) py[o * m + k] = px[(o * m + k) * m + k];
    });
  });
  return y;
}

Tensor trilu(const Tensor& x, int64_t k, bool upper) {
  const int64_t rows = x.shape()[x.ndim() - 2], cols = x.shape()[x.ndim() - 1];
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  if (y.numel() == 0) return y;
  const int64_t mats = y.numel() / (rows * cols);
  cpu::dispatch_floating(x.dtype(), "trilu kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    // Element (i, j) is kept when j - i >= k (upper, numpy.triu) or j - i <= k (lower, numpy.tril).
    cpu::parallel_for(0, mats * rows, std::max<int64_t>(1, cpu::kGrainSize / cols), [&](int64_t s, int64_t e) {
      for (int64_t r = s; r < e; ++r) {
        const int64_t i = r % rows;
        for (int64_t j = 0; j < cols; ++j) {
          const bool keep = upper ? j - i >= k : j - i <= k;
          py[r * cols + j] = keep ? px[r * cols + j] : T(0);
        }
      }
    });
  });
  return y;
}

}  // namespace nthgrad::kernels

// Matrix products through OpenBLAS (the scipy-openblas32 wheel, whose
// symbols carry a scipy_ prefix, so it cannot clash with the BLAS of NumPy or
// PyTorch in one process). OpenBLAS runs single-threaded: a large product is
// cut here into one block of C per OpenMP thread, each block one OpenBLAS call
// on its thread. OpenBLAS's own thread pool alternating with the OpenMP
// regions of the other kernels made both spin against each other (GEMM fell
// from 129 to 20 GFLOP/s in a trial on this machine kind).
#include "kernels/cpu/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/strided.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {
namespace cpu {

namespace {

// Below this many multiply-adds a product runs on one thread.
constexpr int64_t kParallelGemmWork = 64 * 64 * 64;

void single_threaded_openblas() {
  static std::once_flag once;
  std::call_once(once, [] { scipy_openblas_set_num_threads(1); });
}

blasint blas_int(int64_t v, const char* what) {
  if (v > std::numeric_limits<blasint>::max())
    throw ValueError(detail::cat("matrix product: ", what, " = ", v, " exceeds the 32-bit BLAS interface"));
  return static_cast<blasint>(v);
}

// One call on the calling thread.
template <typename T>
void blas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
               int64_t ldb, T beta, T* c, int64_t ldc) {
  const auto op_a = ta ? CblasTrans : CblasNoTrans, op_b = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    scipy_cblas_sgemm(CblasRowMajor, op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    scipy_cblas_dgemm(CblasRowMajor, op_a, op_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // BLAS would leave beta * C; with beta == 0 that must not keep C's NaNs
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  single_threaded_openblas();
  blas_int(std::max({m, n, k, lda, ldb, ldc}), "a dimension");
  const bool parallel = m * n * k >= kParallelGemmWork && !omp_in_parallel() && omp_get_max_threads() > 1;
  if (!parallel) {
    blas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // One block of C per thread along its longer side; blocks a multiple of 16
  // long, so each starts on a whole SIMD panel.
  const int threads = omp_get_max_threads();
  const bool split_rows = m >= n;
  const int64_t len = split_rows ? m : n;
  const int64_t chunk = ((len + threads - 1) / threads + 15) / 16 * 16;
  parallel_for(0, threads, 1, [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t s = std::min(len, chunk * w), e = std::min(len, s + chunk);
      if (s >= e) continue;
      if (split_rows)  // rows s..e of op(A): row s of A, or column s of A stored transposed
        blas_gemm(ta, tb, e - s, n, k, alpha, ta ? a + s : a + s * lda, lda, b, ldb, beta, c + s * ldc, ldc);
      else  // columns s..e of op(B)
        blas_gemm(ta, tb, m, e - s, k, alpha, a, lda, tb ? b + s * ldb : b + s, ldb, beta, c + s, ldc);
    }
  });
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);

}  // namespace cpu

namespace {

// op(a) (p, q) times op(b) (q, r) into c (p, r); a and b stored row-major untransposed.
template <typename T>
void product(const T* a, const T* b, T* c, int64_t p, int64_t q, int64_t r, bool ta, bool tb) {
  cpu::gemm<T>(ta, tb, p, r, q, T(1), a, ta ? p : q, b, tb ? q : r, T(0), c, r);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const int64_t na = a.ndim(), nb = b.ndim();
  const int64_t p = ta ? a.shape()[na - 1] : a.shape()[na - 2];
  const int64_t q = ta ? a.shape()[na - 2] : a.shape()[na - 1];
  const int64_t r = tb ? b.shape()[nb - 2] : b.shape()[nb - 1];
  const Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  const Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes("matmul kernel", "a", batch_a, "b", batch_b);
  Shape out_shape = batch;
  out_shape.push_back(p);
  out_shape.push_back(r);
  Tensor y = Tensor::empty(out_shape, a.dtype());
  const int64_t nbatch = numel(batch);
  if (y.numel() == 0) return y;
  // Element offset of each batch item in a and b (broadcast batch axes reuse items).
  std::vector<int64_t> off_a(nbatch), off_b(nbatch);
  {
    auto sa = cpu::broadcast_strides(batch_a, batch), sb = cpu::broadcast_strides(batch_b, batch);
    for (int64_t i = 0; i < nbatch; ++i) {
      int64_t rem = i, oa = 0, ob = 0;
      for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
        int64_t k = rem % batch[d];
        rem /= batch[d];
        oa += k * sa[d];
        ob += k * sb[d];
      }
      off_a[i] = oa * p * q;
      off_b[i] = ob * q * r;
    }
  }
  cpu::dispatch_floating(a.dtype(), "matmul kernel", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = y.data<T>();
    auto item = [&](int64_t i) { product<T>(pa + off_a[i], pb + off_b[i], pc + i * p * r, p, q, r, ta, tb); };
    // Many small products: one per thread. Few large ones: cpu::gemm's threads.
    if (nbatch > 1 && p * q * r < 64 * 64 * 64) {
      cpu::parallel_for(0, nbatch, std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(1, p * r)),
                        [&](int64_t s, int64_t e) {
                          for (int64_t i = s; i < e; ++i) item(i);
                        });
    } else {
      for (int64_t i = 0; i < nbatch; ++i) item(i);
    }
  });
  return y;
}

Tensor affine(const Tensor& x, const Tensor& w, const Tensor& bias, bool transpose_w) {
  const int64_t m = x.shape()[0], d = x.shape()[1], l = w.shape()[transpose_w ? 0 : 1];
  Tensor y = Tensor::empty({m, l}, x.dtype());
  if (y.numel() == 0) return y;
  cpu::dispatch_floating(x.dtype(), "affine kernel", [&](auto tag) {
    using T = decltype(tag);
    // The bias is written first and the product added to it (beta = 1): one pass over y.
    T* py = y.data<T>();
    if (bias.defined())
      for (int64_t i = 0; i < m; ++i) std::copy_n(bias.data<T>(), l, py + i * l);
    cpu::gemm<T>(false, transpose_w, m, l, d, T(1), x.data<T>(), d, w.data<T>(), transpose_w ? d : l,
                 T(bias.defined() ? 1 : 0), py, l);
  });
  return y;
}

}  // namespace nthgrad::kernels


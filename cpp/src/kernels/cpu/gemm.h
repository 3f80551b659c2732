#pragma once
// The general matrix product every CPU kernel uses (matmul, affine,
// convolution): one entry point, so the BLAS behind it is chosen in one place.
#include <cstdint>

namespace nthgrad::kernels::cpu {

// C (m x n, row-major, row stride ldc) = alpha * op(A) op(B) + beta * C.
// op(A) is m x k: A is stored row-major with row stride lda, as (m x k), or
// as (k x m) when trans_a. Likewise op(B) is k x n, stored (k x n) or, when
// trans_b, (n x k). beta == 0 overwrites C (its NaNs included).
// Called outside a parallel region, a large product is split over the
// threads; inside one (a kernel's parallel_for over disjoint outputs) it runs
// on the calling thread only.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace nthgrad::kernels::cpu

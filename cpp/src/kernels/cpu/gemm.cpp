// Matrix products through Eigen's GEMM, threaded by product() below (or, for
// batches of small matrices, one product per thread).
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/strided.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

// Below this many multiply-adds a product runs on one thread.
constexpr int64_t kParallelGemmWork = 64 * 64 * 64;

// C = A·B with the larger dimension of C split into one block per thread,
// each block a single-threaded Eigen product (Eigen stays on one thread
// inside a parallel region). Measured faster on this kind of machine than
// Eigen's own threading, whose threads busy-wait on one another, notably for
// the A^T·B products of weight gradients.
template <typename CMap, typename EA, typename EB>
void product(CMap& C, const EA& A, const EB& B) {
  const int64_t p = C.rows(), r = C.cols(), q = A.cols();
  if (p * q * r < kParallelGemmWork || omp_in_parallel() || omp_get_max_threads() == 1) {
    C.noalias() = A * B;
    return;
  }
  const bool split_rows = p >= r;
  const int64_t n = split_rows ? p : r;
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads();
    const int64_t chunk = ((n + threads - 1) / threads + 7) / 8 * 8;  // whole SIMD-friendly blocks
    const int64_t b = std::min(n, chunk * omp_get_thread_num());
    const int64_t e = std::min(n, b + chunk);
    if (b < e) {
      if (split_rows)
        C.middleRows(b, e - b).noalias() = A.middleRows(b, e - b) * B;
      else
        C.middleCols(b, e - b).noalias() = A * B.middleCols(b, e - b);
    }
  }
}

template <typename T>
void gemm(const T* a, const T* b, T* c, int64_t p, int64_t q, int64_t r, bool ta, bool tb) {
  // op(a) is (p, q), op(b) is (q, r); a and b are stored row-major untransposed.
  cpu::MatrixMap<T> C(c, p, r);
  cpu::ConstMatrixMap<T> A(a, ta ? q : p, ta ? p : q);
  cpu::ConstMatrixMap<T> B(b, tb ? r : q, tb ? q : r);
  if (q == 0) {
    C.setZero();
  } else if (!ta && !tb) {
    product(C, A, B);
  } else if (ta && !tb) {
    product(C, A.transpose(), B);
  } else if (!ta && tb) {
    product(C, A, B.transpose());
  } else {
    product(C, A.transpose(), B.transpose());
  }
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
    auto item = [&](int64_t i) { gemm<T>(pa + off_a[i], pb + off_b[i], pc + i * p * r, p, q, r, ta, tb); };
    // Many small products: one per thread. Few large ones: Eigen's threads.
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

Tensor affine(const Tensor& x, const Tensor& w, const Tensor& bias) {
  const int64_t m = x.shape()[0], d = x.shape()[1], l = w.shape()[1];
  Tensor y = Tensor::empty({m, l}, x.dtype());
  if (y.numel() == 0) return y;
  cpu::dispatch_floating(x.dtype(), "affine kernel", [&](auto tag) {
    using T = decltype(tag);
    cpu::MatrixMap<T> Y(y.data<T>(), m, l);
    if (d == 0)
      Y.setZero();
    else
      product(Y, cpu::ConstMatrixMap<T>(x.data<T>(), m, d), cpu::ConstMatrixMap<T>(w.data<T>(), d, l));
    if (bias.defined()) Y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias.data<T>(), l);
  });
  return y;
}

}  // namespace nthgrad::kernels

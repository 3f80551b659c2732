// Matrix products through Eigen's blocked GEMM kernel, threaded by
// gemm_parallel() below (or, for batches of small matrices, one product per
// thread), with packing buffers reused per thread.
#include <omp.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/strided.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

using Eigen::Index;

// Below this many multiply-adds a product runs on one thread.
constexpr int64_t kParallelGemmWork = 64 * 64 * 64;

// Eigen's blocked GEMM packs panels of both operands into two buffers (a few
// hundred KB for the MLP's products). Called through its expression API it
// allocates them on the heap per product, which costs an allocation, page
// faults and a free each time, and showed as +0.7 MB of peak memory in the
// MLP training step. Here the calling thread keeps one pair of buffers per
// worker and lends them to every product (as MKL keeps its own). They are
// sized before the parallel region, where an allocation failure may throw.
template <typename T>
class Packing {
 public:
  // Eigen's blocking of a column-major product of rows x cols with inner
  // dimension depth (a row-major result is its transpose: rows and cols swap).
  struct Blocking : Eigen::internal::level3_blocking<T, T> {
    Blocking(Index rows, Index cols, Index depth) {
      this->m_kc = depth;
      this->m_mc = rows;
      this->m_nc = cols;
      Eigen::internal::computeProductBlockingSizes<T, T>(this->m_kc, this->m_mc, this->m_nc, Index(1));
    }
    Index a_size() const { return this->m_kc * this->m_mc; }
    Index b_size() const { return this->m_kc * this->m_nc; }
    void lend(T* a, T* b) {
      this->m_blockA = a;
      this->m_blockB = b;
    }
  };

  struct Buffer {
    std::unique_ptr<T[], decltype(&Eigen::internal::aligned_free)> data{nullptr, &Eigen::internal::aligned_free};
    Index size = 0;
    void reserve(Index n) {
      if (n <= size) return;
      T* p = static_cast<T*>(Eigen::internal::aligned_malloc(static_cast<std::size_t>(n) * sizeof(T)));  // throws
      data.reset(p);
      size = n;
    }
  };
  struct Buffers {
    Buffer a, b;
  };

  // The calling thread's buffers, one pair per worker, sized for `blocking`
  // (here, before any parallel region: an allocation failure throws).
  static std::vector<Buffers>& reserve(int workers, const Blocking& blocking) {
    thread_local std::vector<Buffers> pool;
    if (static_cast<int>(pool.size()) < workers) pool.resize(workers);
    for (int w = 0; w < workers; ++w) {
      pool[w].a.reserve(blocking.a_size());
      pool[w].b.reserve(blocking.b_size());
    }
    return pool;
  }
};

// C (rows x cols, row-major, row stride ldc) = op(A) op(B) on worker w's
// buffers. op(A) is RowMajor (A itself, row stride lda) or ColMajor (A
// stored transposed, column stride lda); likewise op(B).
template <typename T, int AOrder, int BOrder>
void gemm_block(typename Packing<T>::Blocking& blocking, Index rows, Index cols, Index depth, const T* a, Index lda,
                const T* b, Index ldb, T* c, Index ldc) {
  for (Index i = 0; i < rows; ++i) std::fill_n(c + i * ldc, cols, T(0));  // the kernel accumulates into C
  Eigen::internal::general_matrix_matrix_product<Index, T, AOrder, false, T, BOrder, false, Eigen::RowMajor, 1>::run(
      rows, cols, depth, a, lda, b, ldb, c, 1, ldc, T(1), blocking);
}

// C = op(A) op(B) with C (p x r) cut into one block per thread along its
// longer side (Eigen's own threading made its threads busy-wait on one
// another on this kind of machine, notably for the A^T B of weight
// gradients); each block is a single-threaded product.
template <typename T, int AOrder, int BOrder>
void gemm_parallel(const T* a, const T* b, T* c, int64_t p, int64_t q, int64_t r) {
  using Blocking = typename Packing<T>::Blocking;
  const Index lda = AOrder == Eigen::RowMajor ? q : p, ldb = BOrder == Eigen::RowMajor ? r : q;
  // where row i of op(A) and column j of op(B) start
  auto a_row = [&](int64_t i) { return a + (AOrder == Eigen::RowMajor ? i * q : i); };
  auto b_col = [&](int64_t j) { return b + (BOrder == Eigen::RowMajor ? j : j * q); };
  const bool parallel = p * q * r >= kParallelGemmWork && !omp_in_parallel() && omp_get_max_threads() > 1;
  const int threads = parallel ? omp_get_max_threads() : 1;
  const bool split_rows = p >= r;
  const int64_t n = split_rows ? p : r;
  const int64_t chunk = ((n + threads - 1) / threads + 7) / 8 * 8;  // whole SIMD-friendly blocks
  // Every block is at most chunk long: buffers sized for that serve them all.
  Blocking blocking(split_rows ? r : std::min(chunk, r), split_rows ? std::min(chunk, p) : p, q);
  auto& buffers = Packing<T>::reserve(threads, blocking);  // this thread's; the workers borrow them
  if (!parallel) {
    blocking.lend(buffers[0].a.data.get(), buffers[0].b.data.get());
    gemm_block<T, AOrder, BOrder>(blocking, p, r, q, a, lda, b, ldb, c, r);
    return;
  }
  // One block per worker, as parallel_for does (which also carries exceptions out of the region).
  cpu::parallel_for(0, threads, 1, [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t s = std::min(n, chunk * w);
      const int64_t e = std::min(n, s + chunk);
      if (s >= e) continue;
      Blocking mine = blocking;
      mine.lend(buffers[w].a.data.get(), buffers[w].b.data.get());
      if (split_rows)
        gemm_block<T, AOrder, BOrder>(mine, e - s, r, q, a_row(s), lda, b, ldb, c + s * r, r);
      else
        gemm_block<T, AOrder, BOrder>(mine, p, e - s, q, a, lda, b_col(s), ldb, c + s, r);
    }
  });
}

template <typename T>
void gemm(const T* a, const T* b, T* c, int64_t p, int64_t q, int64_t r, bool ta, bool tb) {
  // op(a) is (p, q), op(b) is (q, r); a and b are stored row-major untransposed.
  if (q == 0) {
    std::fill_n(c, p * r, T(0));
  } else if (!ta && !tb) {
    gemm_parallel<T, Eigen::RowMajor, Eigen::RowMajor>(a, b, c, p, q, r);
  } else if (ta && !tb) {
    gemm_parallel<T, Eigen::ColMajor, Eigen::RowMajor>(a, b, c, p, q, r);
  } else if (!ta && tb) {
    gemm_parallel<T, Eigen::RowMajor, Eigen::ColMajor>(a, b, c, p, q, r);
  } else {
    gemm_parallel<T, Eigen::ColMajor, Eigen::ColMajor>(a, b, c, p, q, r);
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
    gemm<T>(x.data<T>(), w.data<T>(), y.data<T>(), m, d, l, false, false);
    if (bias.defined()) Y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias.data<T>(), l);
  });
  return y;
}

}  // namespace nthgrad::kernels

// ---- cpu::gemm (gemm.h): the general product for the kernels of issue 8 ----
// (Eigen's expression API for now; issue 8 routes it through OpenBLAS.)
namespace nthgrad::kernels::cpu {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  using Stride = Eigen::OuterStride<>;
  using ConstMap = Eigen::Map<const RowMajorMatrix<T>, 0, Stride>;
  Eigen::Map<RowMajorMatrix<T>, 0, Stride> C(c, m, n, Stride(ldc));
  ConstMap A(a, trans_a ? k : m, trans_a ? m : k, Stride(lda));
  ConstMap B(b, trans_b ? n : k, trans_b ? k : n, Stride(ldb));
  if (beta == T(0)) C.setZero();
  else if (beta != T(1)) C *= beta;
  if (k == 0) return;
  if (!trans_a && !trans_b) C.noalias() += alpha * A * B;
  else if (trans_a && !trans_b) C.noalias() += alpha * A.transpose() * B;
  else if (!trans_a && trans_b) C.noalias() += alpha * A * B.transpose();
  else C.noalias() += alpha * A.transpose() * B.transpose();
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);

}  // namespace nthgrad::kernels::cpu

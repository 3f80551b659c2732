// Kernels of the convolution family: im2col + cpu::gemm for the forward
// product, gemm + col2im for its adjoint (deconvolution, the data gradient),
// im2col + gemm for the weight gradient, in both layouts without transposing
// any tensor.
//
// Channel-first, per batch item and group g, the column matrix col (Cg*K
// rows, O columns) holds in row r = (c, k_1..k_n), column o = (o_1..o_n), the
// input value x[c, o*s - p + k*d] (zero in the padding). Then
//   y_g  = w_g col                 (Cog x O)
//   col  = w_g^T gy_g, col2im      (the adjoint: scatter-add of the same entries)
//   gw_g += gy_g col^T             (Cog x Cg*K)
// channel_last uses the transposed col (O rows of K*Cg contiguous channel
// runs) and the same products transposed (see im2col_channel_last).
// A 1x1 kernel with stride 1 and no padding has col = x: no im2col at all.
//
// Threads: with at least as many batch items as threads, one item per
// thread at a time (each with its own col buffer; gemm then runs on the
// calling thread); with fewer, items in turn, im2col / col2im split over
// rows / channels and each gemm threaded by itself.
//
// Stride 1 (output = the valid positions of the padded input) takes faster
// paths instead, in both layouts (see Direct below): no column matrix, the
// K products run on shifted views of a once-padded input. Among those, 2-d
// 3x3 kernels without dilation, channel-first, with at least 8 channels per
// group and one item per thread, use Winograd F(2x2, 3x3) (2.25x fewer
// multiply-adds; see winograd_conv). NTHGRAD_CONV_IM2COL=1 /
// NTHGRAD_CONV_WINOGRAD=0 (read at each call) fall back, for the tests.
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

// Sizes of one convolution in channel-first form.
struct Plan {
  int64_t n = 0;                       // spatial axes
  int64_t B = 1, C = 0, Co = 0, G = 1;  // batch, in / out channels, groups
  int64_t Cg = 0, Cog = 0;              // channels per group
  int64_t L = 1, O = 1, K = 1;          // spatial sizes (products)
  int64_t rows = 0;                     // Cg * K: rows of the column matrix
  int64_t w_size = 0;                   // Co * rows
  std::vector<int64_t> in, out, ker, pad, stride, dil, in_stride;
  bool pointwise = false;  // col == x
  bool channel_last = false;

  explicit Plan(const ConvGeometry& g)
      : n(static_cast<int64_t>(g.kernel.size())), B(g.batch), C(g.channels), Co(g.out_channels), G(g.group),
        in(g.in_size), out(g.out_size), ker(g.kernel), pad(g.pad), stride(g.stride), dil(g.dilation),
        channel_last(g.channel_last) {
    Cg = C / G;
    Cog = Co / G;
    in_stride.assign(n, 1);
    for (int64_t a = n - 1; a >= 0; --a) {
      if (a + 1 < n) in_stride[a] = in_stride[a + 1] * in[a + 1];
      L *= in[a];
      O *= out[a];
      K *= ker[a];
    }
    rows = Cg * K;
    w_size = Co * rows;
    pointwise = K == 1;
    for (int64_t a = 0; a < n; ++a) pointwise = pointwise && stride[a] == 1 && pad[a] == 0;
  }
  // Multiply-adds of one batch item's product, to decide on threads.
  int64_t item_work() const { return std::max<int64_t>(1, Co * O * rows); }
};

// The column rows [r0, r1) of one channel group of one batch item: gathers
// from x into col (Scatter = false, im2col) or adds col into x (Scatter =
// true, col2im). The last spatial axis is the inner loop: its in-range
// output positions [lo, hi) read x at a fixed stride, the rest is padding.
template <bool Scatter, typename T>
void im2col_rows(const Plan& p, std::conditional_t<Scatter, T*, const T*> x,
                 std::conditional_t<Scatter, const T*, T*> col, int64_t r0, int64_t r1) {
  const int64_t n = p.n, last = n - 1;
  const int64_t on = p.out[last], ln = p.in[last], sn = p.stride[last];
  const int64_t outer = p.O / std::max<int64_t>(1, on);
  std::vector<int64_t> off(n);  // input index = o * s + off, per axis
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r / p.K;
    int64_t kr = r % p.K;
    for (int64_t a = last; a >= 0; --a) {
      off[a] = (kr % p.ker[a]) * p.dil[a] - p.pad[a];
      kr /= p.ker[a];
    }
    const int64_t o_last = off[last];
    const int64_t lo = std::min(on, o_last >= 0 ? 0 : (-o_last + sn - 1) / sn);
    const int64_t hi = std::max(lo, ln - 1 - o_last >= 0 ? std::min(on, (ln - 1 - o_last) / sn + 1) : 0);
    auto xc = x + c * p.L;
    auto row = col + r * p.O;
    for (int64_t q = 0; q < outer; ++q) {
      bool inside = true;
      int64_t xoff = o_last;
      int64_t rem = q;
      for (int64_t a = last - 1; a >= 0; --a) {
        const int64_t i = (rem % p.out[a]) * p.stride[a] + off[a];
        rem /= p.out[a];
        inside = inside && i >= 0 && i < p.in[a];
        xoff += i * p.in_stride[a];
      }
      auto seg = row + q * on;
      if constexpr (Scatter) {
        if (!inside) continue;
        T* xs = xc + xoff;
        for (int64_t o = lo; o < hi; ++o) xs[o * sn] += seg[o];
      } else {
        if (!inside) {
          std::fill_n(seg, on, T(0));
          continue;
        }
        std::fill_n(seg, lo, T(0));
        const T* xs = xc + xoff;
        if (sn == 1) {
          std::copy(xs + lo, xs + hi, seg + lo);
        } else {
          for (int64_t o = lo; o < hi; ++o) seg[o] = xs[o * sn];
        }
        std::fill(seg + hi, seg + on, T(0));
      }
    }
  }
}

// im2col of one group (x: its Cg channel planes) into col.
template <typename T>
void im2col(const Plan& p, const T* x, T* col, bool parallel) {
  if (!parallel) return im2col_rows<false, T>(p, x, col, 0, p.rows);
  cpu::parallel_for(0, p.rows, std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(1, p.O)),
                    [&](int64_t s, int64_t e) { im2col_rows<false, T>(p, x, col, s, e); });
}

// col2im of one group: adds col into x (its Cg channel planes). In parallel
// by channels, whose rows write disjoint planes.
template <typename T>
void col2im(const Plan& p, const T* col, T* x, bool parallel) {
  if (!parallel) return im2col_rows<true, T>(p, x, col, 0, p.rows);
  cpu::parallel_for(0, p.Cg, std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(1, p.K * p.O)),
                    [&](int64_t s, int64_t e) {
    im2col_rows<true, T>(p, x, col, s * p.K, e * p.K);
  });
}

// A scratch buffer left uninitialized (every element is written before it is read).
template <typename T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<std::size_t>(n)]);
}

bool batch_parallel(const Plan& p) {
  return p.B > 1 && p.B >= omp_get_max_threads() && p.B * p.item_work() >= cpu::kGrainSize;
}

// Calls item(b, col, parallel_inside) for every batch item b, with a column
// buffer of col_size elements owned by the calling thread.
template <typename T, typename F>
void over_batch(const Plan& p, int64_t col_size, const F& item) {
  if (batch_parallel(p)) {
    cpu::parallel_for(0, p.B, std::max<int64_t>(1, cpu::kGrainSize / p.item_work()), [&](int64_t s, int64_t e) {
      const auto col = scratch<T>(col_size);
      for (int64_t b = s; b < e; ++b) item(b, col.get(), false);
    });
  } else {
    const auto col = scratch<T>(col_size);
    for (int64_t b = 0; b < p.B; ++b) item(b, col.get(), true);
  }
}

template <typename T>
void add_bias(T* y, const T* bias, int64_t channels, int64_t size) {
  if (!bias) return;
  for (int64_t c = 0; c < channels; ++c) {
    T* yc = y + c * size;
    const T v = bias[c];
    for (int64_t i = 0; i < size; ++i) yc[i] += v;
  }
}

template <typename T>
void add_bias_channel_last(T* y, const T* bias, int64_t size, int64_t channels) {
  if (!bias) return;
  for (int64_t i = 0; i < size; ++i)
    for (int64_t c = 0; c < channels; ++c) y[i * channels + c] += bias[c];
}

// ---- channel_last: col is (O, K*Cg), row o holds for each kernel offset k
// the Cg channels of the group at input position o*s - p + k*d, a contiguous
// run of x (M, L..., C). Then y_b (O, C') = col w_g^T, written in place with
// row stride C'; the weight (C', K..., Cg) is already (C', K*Cg). ----

// Output positions [o0, o1), channels [c0, c1) of the group (x points at its
// first channel): gathers x into col (im2col) or adds col into x (col2im).
template <bool Scatter, typename T>
void im2col_channel_last(const Plan& p, std::conditional_t<Scatter, T*, const T*> x,
                         std::conditional_t<Scatter, const T*, T*> col, int64_t o0, int64_t o1, int64_t c0,
                         int64_t c1) {
  const int64_t n = p.n;
  std::vector<int64_t> base(n);
  for (int64_t o = o0; o < o1; ++o) {
    int64_t rem = o;
    for (int64_t a = n - 1; a >= 0; --a) {
      base[a] = (rem % p.out[a]) * p.stride[a] - p.pad[a];
      rem /= p.out[a];
    }
    for (int64_t kr = 0; kr < p.K; ++kr) {
      bool inside = true;
      int64_t pos = 0, kk = kr;
      for (int64_t a = n - 1; a >= 0; --a) {
        const int64_t i = base[a] + (kk % p.ker[a]) * p.dil[a];
        kk /= p.ker[a];
        inside = inside && i >= 0 && i < p.in[a];
        pos += i * p.in_stride[a];
      }
      auto seg = col + o * p.rows + kr * p.Cg;
      if constexpr (Scatter) {
        if (!inside) continue;
        T* xs = x + pos * p.C;
        for (int64_t c = c0; c < c1; ++c) xs[c] += seg[c];
      } else {
        if (inside) {
          std::copy(x + pos * p.C + c0, x + pos * p.C + c1, seg + c0);
        } else {
          std::fill(seg + c0, seg + c1, T(0));
        }
      }
    }
  }
}

template <typename T>
void im2col_cl(const Plan& p, const T* x, T* col, bool parallel) {
  if (!parallel) return im2col_channel_last<false, T>(p, x, col, 0, p.O, 0, p.Cg);
  cpu::parallel_for(0, p.O, std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(1, p.rows)),
                    [&](int64_t s, int64_t e) { im2col_channel_last<false, T>(p, x, col, s, e, 0, p.Cg); });
}

// In parallel by channels, which write disjoint elements of x.
template <typename T>
void col2im_cl(const Plan& p, const T* col, T* x, bool parallel) {
  if (!parallel) return im2col_channel_last<true, T>(p, x, col, 0, p.O, 0, p.Cg);
  cpu::parallel_for(0, p.Cg, std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(1, p.K * p.O)),
                    [&](int64_t s, int64_t e) { im2col_channel_last<true, T>(p, x, col, 0, p.O, s, e); });
}

// ---- the three products, per batch item and group ----

template <typename T>
void forward(const Plan& p, const T* x, const T* w, const T* bias, T* y) {
  over_batch<T>(p, p.pointwise ? 0 : p.rows * p.O, [&](int64_t b, T* col, bool inner) {
    for (int64_t g = 0; g < p.G; ++g) {
      const T* wg = w + g * p.Cog * p.rows;
      if (p.channel_last) {
        const T* xg = x + b * p.L * p.C + g * p.Cg;
        if (!p.pointwise) im2col_cl(p, xg, col, inner);
        cpu::gemm<T>(false, true, p.O, p.Cog, p.rows, T(1), p.pointwise ? xg : col, p.pointwise ? p.C : p.rows, wg,
                     p.rows, T(0), y + b * p.O * p.Co + g * p.Cog, p.Co);
      } else {
        const T* xg = x + (b * p.C + g * p.Cg) * p.L;
        if (!p.pointwise) im2col(p, xg, col, inner);
        cpu::gemm<T>(false, false, p.Cog, p.O, p.rows, T(1), wg, p.rows, p.pointwise ? xg : col, p.O, T(0),
                     y + (b * p.Co + g * p.Cog) * p.O, p.O);
      }
    }
    if (p.channel_last) {
      add_bias_channel_last(y + b * p.O * p.Co, bias, p.O, p.Co);
    } else {
      add_bias(y + b * p.Co * p.O, bias, p.Co, p.O);
    }
  });
}

template <typename T>
void transpose_conv(const Plan& p, const T* gy, const T* w, const T* bias, T* x) {
  over_batch<T>(p, p.pointwise ? 0 : p.rows * p.O, [&](int64_t b, T* col, bool inner) {
    T* xb = x + b * p.C * p.L;
    if (!p.pointwise) std::fill_n(xb, p.C * p.L, T(0));
    for (int64_t g = 0; g < p.G; ++g) {
      const T* wg = w + g * p.Cog * p.rows;
      if (p.channel_last) {
        const T* gyg = gy + b * p.O * p.Co + g * p.Cog;
        T* xg = xb + g * p.Cg;
        if (p.pointwise) {
          cpu::gemm<T>(false, false, p.O, p.Cg, p.Cog, T(1), gyg, p.Co, wg, p.rows, T(0), xg, p.C);
        } else {
          cpu::gemm<T>(false, false, p.O, p.rows, p.Cog, T(1), gyg, p.Co, wg, p.rows, T(0), col, p.rows);
          col2im_cl(p, col, xg, inner);
        }
      } else {
        const T* gyg = gy + (b * p.Co + g * p.Cog) * p.O;
        T* xg = xb + g * p.Cg * p.L;
        if (p.pointwise) {
          cpu::gemm<T>(true, false, p.rows, p.O, p.Cog, T(1), wg, p.rows, gyg, p.O, T(0), xg, p.O);
        } else {
          cpu::gemm<T>(true, false, p.rows, p.O, p.Cog, T(1), wg, p.rows, gyg, p.O, T(0), col, p.O);
          col2im(p, col, xg, inner);
        }
      }
    }
    if (p.channel_last) {
      add_bias_channel_last(xb, bias, p.L, p.C);
    } else {
      add_bias(xb, bias, p.C, p.L);
    }
  });
}

// gw_g += gy_g col^T (channel_last: gy_g^T col) for the items [b0, b1) into acc (zeroed here).
template <typename T>
void weight_grad_items(const Plan& p, const T* x, const T* gy, T* acc, T* col, int64_t b0, int64_t b1, bool inner) {
  std::fill_n(acc, p.w_size, T(0));
  for (int64_t b = b0; b < b1; ++b) {
    for (int64_t g = 0; g < p.G; ++g) {
      T* accg = acc + g * p.Cog * p.rows;
      if (p.channel_last) {
        const T* xg = x + b * p.L * p.C + g * p.Cg;
        if (!p.pointwise) im2col_cl(p, xg, col, inner);
        cpu::gemm<T>(true, false, p.Cog, p.rows, p.O, T(1), gy + b * p.O * p.Co + g * p.Cog, p.Co,
                     p.pointwise ? xg : col, p.pointwise ? p.C : p.rows, T(1), accg, p.rows);
      } else {
        const T* xg = x + (b * p.C + g * p.Cg) * p.L;
        if (!p.pointwise) im2col(p, xg, col, inner);
        cpu::gemm<T>(false, true, p.Cog, p.rows, p.O, T(1), gy + (b * p.Co + g * p.Cog) * p.O, p.O,
                     p.pointwise ? xg : col, p.O, T(1), accg, p.rows);
      }
    }
  }
}

// Batch-parallel: one partial sum per chunk of items, added in chunk order
// (the result does not depend on which thread ran which chunk).
template <typename T>
void weight_grad(const Plan& p, const T* x, const T* gy, T* gw) {
  const int64_t col_size = p.pointwise ? 0 : p.rows * p.O;
  if (!batch_parallel(p)) {
    const auto col = scratch<T>(col_size);
    weight_grad_items(p, x, gy, gw, col.get(), 0, p.B, true);
    return;
  }
  const int64_t chunks = std::min<int64_t>(p.B, omp_get_max_threads());
  const auto partial = scratch<T>((chunks - 1) * p.w_size);  // zeroed by weight_grad_items
  cpu::parallel_for(0, chunks, 1, [&](int64_t s, int64_t e) {
    const auto col = scratch<T>(col_size);
    for (int64_t t = s; t < e; ++t) {
      T* acc = t == 0 ? gw : partial.get() + (t - 1) * p.w_size;
      weight_grad_items(p, x, gy, acc, col.get(), p.B * t / chunks, p.B * (t + 1) / chunks, false);
    }
  });
  for (int64_t t = 1; t < chunks; ++t) {
    const T* src = partial.get() + (t - 1) * p.w_size;
    for (int64_t i = 0; i < p.w_size; ++i) gw[i] += src[i];
  }
}

// ---- stride 1, channel-first: no column matrix. Each item is padded once
// into xp (C, P...) (P = L + 2p); on the padded grid (flat strides ps) the
// output position o reads xp at o.ps + off_k, off_k = sum_a k_a d_a ps_a.
// So Y' (Co, N) = sum_k W_k xp[:, off_k : off_k + N] with W_k (Co, Cg) the
// weight's slice at offset k, gathered into wk (K, Co, Cg), and the shifted
// view of xp a plain matrix (leading dimension Ptot); N = 1 + sum_a (O_a - 1)
// ps_a spans every output position, the columns in between ("junk", o_a past
// O_a on some axis) are cropped away. The adjoint scatters W_k^T gy' into the
// same views of a zeroed xp (gy' = gy on the padded grid, junk zero) and
// crops the interior; the weight gradient is gW_k = gy' xp[:, off_k...]^T.
// The K products (K = Cg instead of Cg*K) run as fast as the one im2col
// product, and the im2col / col2im passes are gone. ----

// NTHGRAD_CONV_IM2COL=1 turns this path off (the tests compare both).
bool direct_enabled() {
  const char* v = std::getenv("NTHGRAD_CONV_IM2COL");
  return !(v && v[0] == '1');
}

struct Direct {
  int64_t Ptot = 1, N = 1;
  std::vector<int64_t> ps, off;  // padded strides, kernel offsets

  explicit Direct(const Plan& p) : ps(p.n, 1), off(p.K, 0) {
    for (int64_t a = p.n - 1; a >= 0; --a) {
      if (a + 1 < p.n) ps[a] = ps[a + 1] * (p.in[a + 1] + 2 * p.pad[a + 1]);
      Ptot *= p.in[a] + 2 * p.pad[a];
      N += (p.out[a] - 1) * ps[a];
    }
    for (int64_t k = 0; k < p.K; ++k) {
      int64_t kr = k;
      for (int64_t a = p.n - 1; a >= 0; --a) {
        off[k] += (kr % p.ker[a]) * p.dil[a] * ps[a];
        kr /= p.ker[a];
      }
    }
  }
  // Stride 1 everywhere and the output exactly the valid positions.
  static bool applies(const Plan& p) {
    if (p.pointwise || p.n == 0) return false;
    for (int64_t a = 0; a < p.n; ++a) {
      if (p.stride[a] != 1 || p.pad[a] < 0 || p.in[a] < 1 || p.out[a] < 1) return false;
      if (p.out[a] != p.in[a] + 2 * p.pad[a] - p.dil[a] * (p.ker[a] - 1)) return false;
    }
    return true;
  }
  // Flat offset on a grid with strides ps of line q (all axes but the last)
  // of a grid of sizes `size`, each index shifted by `shift`.
  int64_t line(const Plan& p, const std::vector<int64_t>& size, int64_t q, bool shift) const {
    int64_t o = shift ? p.pad[p.n - 1] : 0;
    for (int64_t a = p.n - 2; a >= 0; --a) {
      o += (q % size[a] + (shift ? p.pad[a] : 0)) * ps[a];
      q /= size[a];
    }
    return o;
  }
};

// wk (K, Co, Cg) from w (Co, Cg, K), or back (Back: w += wk).
template <bool Back, typename T>
void gather_weight(const Plan& p, std::conditional_t<Back, T*, const T*> w,
                   std::conditional_t<Back, const T*, T*> wk) {
  for (int64_t r = 0; r < p.Co * p.Cg; ++r)
    for (int64_t k = 0; k < p.K; ++k) {
      if constexpr (Back)
        w[r * p.K + k] += wk[k * p.Co * p.Cg + r];
      else
        wk[k * p.Co * p.Cg + r] = w[r * p.K + k];
    }
}

// Channels [c0, c1) of src (c, size...) onto the grid of dst (row stride
// `stride`, interior shifted by the padding when `shift`): x onto its padded
// planes, or gy onto the padded-width output grid. The rest of dst (padding,
// junk columns) is zeroed when `fresh`, else still zero from the last item:
// only the interior is ever written. The inverse of crop_channels.
template <typename T>
void place_channels(const Plan& p, const Direct& d, const T* src, const std::vector<int64_t>& size, int64_t total,
                    T* dst, int64_t stride, bool shift, int64_t c0, int64_t c1, bool fresh) {
  const int64_t ln = size[p.n - 1], lines = total / ln;
  for (int64_t c = c0; c < c1; ++c) {
    T* t = dst + c * stride;
    if (fresh) std::fill_n(t, stride, T(0));
    const T* sc = src + c * total;
    for (int64_t q = 0; q < lines; ++q) std::copy_n(sc + q * ln, ln, t + d.line(p, size, q, shift));
  }
}

// Channels [c0, c1): dst (c, size...) = src on its grid (row stride `stride`,
// interior shifted by the padding when `shift`) + bias.
template <typename T>
void crop_channels(const Plan& p, const Direct& d, const T* src, int64_t stride, const std::vector<int64_t>& size,
                   int64_t total, bool shift, const T* bias, T* dst, int64_t c0, int64_t c1) {
  const int64_t ln = size[p.n - 1], lines = total / ln;
  for (int64_t c = c0; c < c1; ++c) {
    const T* s = src + c * stride;
    T* t = dst + c * total;
    const T v = bias ? bias[c] : T(0);
    for (int64_t q = 0; q < lines; ++q) {
      const T* sl = s + d.line(p, size, q, shift);
      T* tl = t + q * ln;
      for (int64_t i = 0; i < ln; ++i) tl[i] = sl[i] + v;
    }
  }
}

// f(c0, c1) over channels [0, c), in parallel when asked.
template <typename F>
void over_channels(int64_t c, int64_t per_channel, bool parallel, const F& f) {
  if (!parallel) return f(0, c);
  cpu::parallel_for(0, c, std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(1, per_channel)), f);
}

// Calls item(b, a, z, parallel_inside, fresh) for every batch item, with
// scratch buffers a (a_size) and z (z_size) owned by the calling thread;
// fresh: the buffers' first use.
template <typename T, typename F>
void over_batch2(const Plan& p, int64_t a_size, int64_t z_size, const F& item) {
  if (batch_parallel(p)) {
    cpu::parallel_for(0, p.B, std::max<int64_t>(1, cpu::kGrainSize / p.item_work()), [&](int64_t s, int64_t e) {
      const auto a = scratch<T>(a_size), z = scratch<T>(z_size);
      for (int64_t b = s; b < e; ++b) item(b, a.get(), z.get(), false, b == s);
    });
  } else {
    const auto a = scratch<T>(a_size), z = scratch<T>(z_size);
    for (int64_t b = 0; b < p.B; ++b) item(b, a.get(), z.get(), true, b == 0);
  }
}

template <typename T>
void forward_direct(const Plan& p, const T* x, const T* w, const T* bias, T* y) {
  const Direct d(p);
  const auto wk = scratch<T>(p.w_size);
  gather_weight<false, T>(p, w, wk.get());
  over_batch2<T>(p, p.C * d.Ptot, p.Co * d.N, [&](int64_t b, T* xp, T* yp, bool inner, bool fresh) {
    over_channels(p.C, d.Ptot, inner, [&](int64_t s, int64_t e) {
      place_channels(p, d, x + b * p.C * p.L, p.in, p.L, xp, d.Ptot, true, s, e, fresh);
    });
    for (int64_t g = 0; g < p.G; ++g)
      for (int64_t k = 0; k < p.K; ++k)
        cpu::gemm<T>(false, false, p.Cog, d.N, p.Cg, T(1), wk.get() + (k * p.Co + g * p.Cog) * p.Cg, p.Cg,
                     xp + g * p.Cg * d.Ptot + d.off[k], d.Ptot, k == 0 ? T(0) : T(1), yp + g * p.Cog * d.N, d.N);
    over_channels(p.Co, p.O, inner, [&](int64_t s, int64_t e) {
      crop_channels(p, d, yp, d.N, p.out, p.O, false, bias, y + b * p.Co * p.O, s, e);
    });
  });
}

template <typename T>
void transpose_direct(const Plan& p, const T* gy, const T* w, const T* bias, T* x) {
  const Direct d(p);
  const auto wk = scratch<T>(p.w_size);
  gather_weight<false, T>(p, w, wk.get());
  over_batch2<T>(p, p.C * d.Ptot, p.Co * d.N, [&](int64_t b, T* xp, T* gyp, bool inner, bool fresh) {
    over_channels(p.Co, d.N, inner, [&](int64_t s, int64_t e) {
      place_channels(p, d, gy + b * p.Co * p.O, p.out, p.O, gyp, d.N, false, s, e, fresh);
    });
    // off[0] = 0: the first product (beta 0) writes [0, N) of each plane, the tail is zeroed
    for (int64_t c = 0; c < p.C; ++c) std::fill(xp + c * d.Ptot + d.N, xp + (c + 1) * d.Ptot, T(0));
    for (int64_t g = 0; g < p.G; ++g)
      for (int64_t k = 0; k < p.K; ++k)
        cpu::gemm<T>(true, false, p.Cg, d.N, p.Cog, T(1), wk.get() + (k * p.Co + g * p.Cog) * p.Cg, p.Cg,
                     gyp + g * p.Cog * d.N, d.N, k == 0 ? T(0) : T(1), xp + g * p.Cg * d.Ptot + d.off[k], d.Ptot);
    over_channels(p.C, p.L, inner, [&](int64_t s, int64_t e) {
      crop_channels(p, d, xp, d.Ptot, p.in, p.L, true, bias, x + b * p.C * p.L, s, e);
    });
  });
}

// ---- the same for channel_last: xp (P..., C), gy' (N, Co); the shifted
// views are blocks of rows (leading dimension C), and the weight (Co, K, Cg)
// serves in place: W_k of group g is its Cog x Cg block at column k*Cg. ----

// src (size..., ch) onto the grid of dst (grid positions, ch per position;
// interior shifted by the padding when `shift`), the rest zeroed when
// `fresh`: as place_channels, and the inverse of crop_rows_cl.
template <typename T>
void place_rows_cl(const Plan& p, const Direct& d, const T* src, const std::vector<int64_t>& size, int64_t total,
                   int64_t ch, T* dst, int64_t grid, bool shift, bool fresh) {
  if (fresh) std::fill_n(dst, grid * ch, T(0));
  const int64_t ln = size[p.n - 1], lines = total / ln;
  for (int64_t q = 0; q < lines; ++q) std::copy_n(src + q * ln * ch, ln * ch, dst + d.line(p, size, q, shift) * ch);
}

// dst (size..., ch) = src on its grid (interior shifted by the padding when `shift`) + bias.
template <typename T>
void crop_rows_cl(const Plan& p, const Direct& d, const T* src, const std::vector<int64_t>& size, int64_t total,
                  bool shift, int64_t ch, const T* bias, T* dst) {
  const int64_t ln = size[p.n - 1], lines = total / ln;
  for (int64_t q = 0; q < lines; ++q) {
    const T* sl = src + d.line(p, size, q, shift) * ch;
    T* tl = dst + q * ln * ch;
    if (!bias) {
      std::copy_n(sl, ln * ch, tl);
      continue;
    }
    for (int64_t i = 0; i < ln; ++i)
      for (int64_t c = 0; c < ch; ++c) tl[i * ch + c] = sl[i * ch + c] + bias[c];
  }
}

template <typename T>
void forward_direct_cl(const Plan& p, const T* x, const T* w, const T* bias, T* y) {
  const Direct d(p);
  over_batch2<T>(p, d.Ptot * p.C, d.N * p.Co, [&](int64_t b, T* xp, T* yp, bool, bool fresh) {
    place_rows_cl(p, d, x + b * p.L * p.C, p.in, p.L, p.C, xp, d.Ptot, true, fresh);
    for (int64_t g = 0; g < p.G; ++g)
      for (int64_t k = 0; k < p.K; ++k)
        cpu::gemm<T>(false, true, d.N, p.Cog, p.Cg, T(1), xp + d.off[k] * p.C + g * p.Cg, p.C,
                     w + g * p.Cog * p.rows + k * p.Cg, p.rows, k == 0 ? T(0) : T(1), yp + g * p.Cog, p.Co);
    crop_rows_cl(p, d, yp, p.out, p.O, false, p.Co, bias, y + b * p.O * p.Co);
  });
}

template <typename T>
void transpose_direct_cl(const Plan& p, const T* gy, const T* w, const T* bias, T* x) {
  const Direct d(p);
  over_batch2<T>(p, d.Ptot * p.C, d.N * p.Co, [&](int64_t b, T* xp, T* gyp, bool, bool fresh) {
    place_rows_cl(p, d, gy + b * p.O * p.Co, p.out, p.O, p.Co, gyp, d.N, false, fresh);
    std::fill(xp + d.N * p.C, xp + d.Ptot * p.C, T(0));  // rows [0, N): the first product (beta 0)
    for (int64_t g = 0; g < p.G; ++g)
      for (int64_t k = 0; k < p.K; ++k)
        cpu::gemm<T>(false, false, d.N, p.Cg, p.Cog, T(1), gyp + g * p.Cog, p.Co, w + g * p.Cog * p.rows + k * p.Cg,
                     p.rows, k == 0 ? T(0) : T(1), xp + d.off[k] * p.C + g * p.Cg, p.C);
    crop_rows_cl(p, d, xp, p.in, p.L, true, p.C, bias, x + b * p.L * p.C);
  });
}

// gwk (K, Co, Cg) += the items [b0, b1) (channel_last: gwk is (Co, K, Cg) like the weight).
template <typename T>
void weight_grad_direct_items(const Plan& p, const Direct& d, const T* x, const T* gy, T* gwk, T* xp, T* gyp,
                              int64_t b0, int64_t b1, bool inner) {
  for (int64_t b = b0; b < b1; ++b) {
    const bool fresh = b == b0;
    if (p.channel_last) {
      place_rows_cl(p, d, x + b * p.L * p.C, p.in, p.L, p.C, xp, d.Ptot, true, fresh);
      place_rows_cl(p, d, gy + b * p.O * p.Co, p.out, p.O, p.Co, gyp, d.N, false, fresh);
      for (int64_t g = 0; g < p.G; ++g)
        for (int64_t k = 0; k < p.K; ++k)
          cpu::gemm<T>(true, false, p.Cog, p.Cg, d.N, T(1), gyp + g * p.Cog, p.Co, xp + d.off[k] * p.C + g * p.Cg, p.C,
                       T(1), gwk + g * p.Cog * p.rows + k * p.Cg, p.rows);
      continue;
    }
    over_channels(p.C, d.Ptot, inner, [&](int64_t s, int64_t e) {
      place_channels(p, d, x + b * p.C * p.L, p.in, p.L, xp, d.Ptot, true, s, e, fresh);
    });
    over_channels(p.Co, d.N, inner, [&](int64_t s, int64_t e) {
      place_channels(p, d, gy + b * p.Co * p.O, p.out, p.O, gyp, d.N, false, s, e, fresh);
    });
    for (int64_t g = 0; g < p.G; ++g)
      for (int64_t k = 0; k < p.K; ++k)
        cpu::gemm<T>(false, true, p.Cog, p.Cg, d.N, T(1), gyp + g * p.Cog * d.N, d.N, xp + g * p.Cg * d.Ptot + d.off[k],
                     d.Ptot, T(1), gwk + (k * p.Co + g * p.Cog) * p.Cg, p.Cg);
  }
}

// As weight_grad: one partial sum per chunk of items, added in chunk order.
template <typename T>
void weight_grad_direct(const Plan& p, const T* x, const T* gy, T* gw) {
  const Direct d(p);
  const bool par = batch_parallel(p);
  const int64_t chunks = par ? std::min<int64_t>(p.B, omp_get_max_threads()) : 1;
  const auto partial = scratch<T>(chunks * p.w_size);
  std::fill_n(partial.get(), chunks * p.w_size, T(0));
  if (!par) {
    const auto xp = scratch<T>(p.C * d.Ptot), gyp = scratch<T>(p.Co * d.N);
    weight_grad_direct_items(p, d, x, gy, partial.get(), xp.get(), gyp.get(), 0, p.B, true);
  } else {
    cpu::parallel_for(0, chunks, 1, [&](int64_t s, int64_t e) {
      const auto xp = scratch<T>(p.C * d.Ptot), gyp = scratch<T>(p.Co * d.N);
      for (int64_t t = s; t < e; ++t)
        weight_grad_direct_items(p, d, x, gy, partial.get() + t * p.w_size, xp.get(), gyp.get(), p.B * t / chunks,
                                 p.B * (t + 1) / chunks, false);
    });
  }
  for (int64_t t = 1; t < chunks; ++t) {
    const T* src = partial.get() + t * p.w_size;
    T* acc = partial.get();
    for (int64_t i = 0; i < p.w_size; ++i) acc[i] += src[i];
  }
  if (p.channel_last) {  // gw is zero
    std::copy_n(partial.get(), p.w_size, gw);
  } else {
    gather_weight<true, T>(p, gw, partial.get());
  }
}

// ---- 3x3, stride 1, dilation 1, 2-d, channel-first: Winograd F(2x2, 3x3).
// Each 2x2 output tile is A^T [(G g G^T) . (B^T d B)] A over its 4x4 input
// patch d: per input channel 16 products instead of 36, so the 16 GEMMs
// M_e (Co, tiles) = U_e (Co, Cg) V_e (Cg, tiles) hold 2.25x fewer
// multiply-adds than the direct product; the transforms are adds only (and
// halves), and keep float32 within a few ulps of the direct sum. The
// adjoint (stride 1) is the same convolution of gy padded by 2 - p with the
// flipped, transposed kernel. NTHGRAD_CONV_WINOGRAD=0 turns it off. ----

bool winograd_enabled() {
  const char* v = std::getenv("NTHGRAD_CONV_WINOGRAD");
  return !(v && v[0] == '0');
}

// Only with one item per thread at a time: the transforms run on the item's
// thread (with fewer items the direct path threads its GEMMs and copies).
// And only for outputs of at least 14 x 14 (196 pixels): on small images the
// tile transforms cost more than the products save (fwd + bwd, batch 32, 32
// -> 32 channels, AMD EPYC: 8x8 1.64 vs 1.43 ms direct, 12x12 2.88 vs 2.63,
// 16x16 3.69 vs 4.25).
bool winograd_applies(const Plan& p) {
  if (p.n != 2 || p.channel_last || !Direct::applies(p) || p.Cg < 8 || p.Cog < 8 || !batch_parallel(p)) return false;
  if (p.out[0] * p.out[1] < 196) return false;
  for (int64_t a = 0; a < 2; ++a)
    if (p.ker[a] != 3 || p.dil[a] != 1 || p.pad[a] > 2) return false;
  return true;
}

// U (16, Co, Cg), U_e = (G g G^T)_e for the kernel g = wf(co, c, i, j).
template <typename T, typename F>
void winograd_weights(int64_t Co, int64_t Cg, const F& wf, T* U) {
  for (int64_t co = 0; co < Co; ++co)
    for (int64_t c = 0; c < Cg; ++c) {
      T g[3][3], t[4][3];
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) g[i][j] = wf(co, c, i, j);
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[0][j];
        t[1][j] = T(0.5) * (g[0][j] + g[1][j] + g[2][j]);
        t[2][j] = T(0.5) * (g[0][j] - g[1][j] + g[2][j]);
        t[3][j] = g[2][j];
      }
      for (int i = 0; i < 4; ++i) {
        const T u[4] = {t[i][0], T(0.5) * (t[i][0] + t[i][1] + t[i][2]), T(0.5) * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; ++j) U[((i * 4 + j) * Co + co) * Cg + c] = u[j];
      }
    }
}

// The tiling of one Winograd convolution: output (Ho, Wo) in th x tw tiles
// of 2x2, input zero-padded by (ph, pw) into (Hp, Wp) planes.
struct WinoGrid {
  int64_t C, H, W, ph, pw, th, tw, nt, Wp, P, ves;
  static constexpr int64_t JB = 32;  // tiles per block of the transforms' vector loops
  WinoGrid(int64_t C_, int64_t H_, int64_t W_, int64_t ph_, int64_t pw_, int64_t Ho, int64_t Wo)
      : C(C_), H(H_), W(W_), ph(ph_), pw(pw_), th((Ho + 1) / 2), tw((Wo + 1) / 2), nt(th * tw), Wp(2 * tw + 2),
        P((2 * th + 2) * Wp), ves(C * nt + 48) {}  // V_e a little more than C nt apart: 2^k strides share cache sets
  int64_t scratch_size() const { return C * P + 16 * ves; }
};

// Pads one item xb (C, H, W) into xp (fresh: zero its padding first) and
// writes V_e (C, nt) = (B^T d B)_e at V + e ves.
template <typename T>
void winograd_input(const WinoGrid& q, const T* xb, T* xp, T* V, bool fresh) {
  const int64_t C = q.C, H = q.H, W = q.W, P = q.P, Wp = q.Wp, th = q.th, tw = q.tw, nt = q.nt, ves = q.ves;
  constexpr int64_t JB = WinoGrid::JB;
  if (fresh) std::fill_n(xp, C * P, T(0));  // the padding stays zero: only the interior is written
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < H; ++h) std::copy_n(xb + (c * H + h) * W, W, xp + c * P + (h + q.ph) * Wp + q.pw);
    // V_e (C, nt) = (B^T d B)_e
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ti = 0; ti < th; ++ti) {
        const T* r = xp + c * P + 2 * ti * Wp;
        T* v = V + c * nt + ti * tw;
        for (int64_t j0 = 0; j0 < tw; j0 += JB) {
          const int64_t jn = std::min(JB, tw - j0);
          T d[4][4][JB], t[4][4][JB];
          for (int a = 0; a < 4; ++a)
            for (int k = 0; k < 4; ++k)
              for (int64_t j = 0; j < jn; ++j) d[a][k][j] = r[a * Wp + 2 * (j0 + j) + k];
          for (int k = 0; k < 4; ++k)
            for (int64_t j = 0; j < jn; ++j) {
              t[0][k][j] = d[0][k][j] - d[2][k][j];
              t[1][k][j] = d[1][k][j] + d[2][k][j];
              t[2][k][j] = d[2][k][j] - d[1][k][j];
              t[3][k][j] = d[1][k][j] - d[3][k][j];
            }
          for (int i = 0; i < 4; ++i) {
            T* v0 = v + (i * 4) * ves + j0;
            T* v1 = v0 + ves;
            T* v2 = v1 + ves;
            T* v3 = v2 + ves;
            for (int64_t j = 0; j < jn; ++j) {
              v0[j] = t[i][0][j] - t[i][2][j];
              v1[j] = t[i][1][j] + t[i][2][j];
              v2[j] = t[i][2][j] - t[i][1][j];
              v3[j] = t[i][1][j] - t[i][3][j];
            }
          }
        }
      }
}

// y (B, Co, Ho, Wo) (+ bias) = the convolution of x (B, C, H, W), zero-padded
// by (ph, pw), with the kernel whose transform is U; Ho = H + 2ph - 2.
template <typename T>
void winograd_conv(const Plan& p, const T* x, int64_t C, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t Co,
                   int64_t Ho, int64_t Wo, const T* U, const T* bias, T* y) {
  const WinoGrid q(C, H, W, ph, pw, Ho, Wo);
  const int64_t G = p.G, Cg = C / G, Cog = Co / G;
  const int64_t th = q.th, tw = q.tw, nt = q.nt, ves = q.ves, mes = Co * nt + 48;
  constexpr int64_t JB = WinoGrid::JB;
  over_batch2<T>(p, q.scratch_size(), 16 * mes, [&](int64_t b, T* xp, T* M, bool, bool fresh) {
    winograd_input(q, x + b * C * H * W, xp, xp + C * q.P, fresh);
    const T* V = xp + C * q.P;
    for (int64_t e = 0; e < 16; ++e)
      for (int64_t g = 0; g < G; ++g)
        cpu::gemm<T>(false, false, Cog, nt, Cg, T(1), U + (e * Co + g * Cog) * Cg, Cg, V + e * ves + g * Cg * nt, nt,
                     T(0), M + e * mes + g * Cog * nt, nt);
    // y tile = A^T m A
    T* yb = y + b * Co * Ho * Wo;
    for (int64_t co = 0; co < Co; ++co) {
      const T bv = bias ? bias[co] : T(0);
      for (int64_t ti = 0; ti < th; ++ti) {
        const T* m = M + co * nt + ti * tw;
        T* y0 = yb + (co * Ho + 2 * ti) * Wo;
        T* y1 = y0 + Wo;
        const bool row1 = 2 * ti + 1 < Ho;
        for (int64_t j0 = 0; j0 < tw; j0 += JB) {
          const int64_t jn = std::min(JB, tw - j0);
          T sm[2][4][JB], o[2][2][JB];
          for (int k = 0; k < 4; ++k) {
            const T* m0 = m + k * mes + j0;
            const T *m1 = m0 + 4 * mes, *m2 = m1 + 4 * mes, *m3 = m2 + 4 * mes;
            for (int64_t j = 0; j < jn; ++j) {
              sm[0][k][j] = m0[j] + m1[j] + m2[j];
              sm[1][k][j] = m1[j] - m2[j] - m3[j];
            }
          }
          for (int i = 0; i < 2; ++i)
            for (int64_t j = 0; j < jn; ++j) {
              o[i][0][j] = sm[i][0][j] + sm[i][1][j] + sm[i][2][j] + bv;
              o[i][1][j] = sm[i][1][j] - sm[i][2][j] - sm[i][3][j] + bv;
            }
          const int64_t full = std::min(jn, Wo / 2 - j0);  // tiles with both columns inside
          for (int i = 0; i < (row1 ? 2 : 1); ++i) {
            T* yr = (i ? y1 : y0) + 2 * j0;
            for (int64_t j = 0; j < full; ++j) {
              yr[2 * j] = o[i][0][j];
              yr[2 * j + 1] = o[i][1][j];
            }
            if (full < jn) yr[2 * full] = o[i][0][full];  // odd Wo: the last tile's first column
          }
        }
      }
    }
  });
}

template <typename T>
void forward_winograd(const Plan& p, const T* x, const T* w, const T* bias, T* y) {
  const auto U = scratch<T>(16 * p.Co * p.Cg);
  winograd_weights<T>(p.Co, p.Cg, [&](int64_t co, int64_t c, int i, int j) { return w[((co * p.Cg + c) * 3 + i) * 3 + j]; },
                      U.get());
  winograd_conv<T>(p, x, p.C, p.in[0], p.in[1], p.pad[0], p.pad[1], p.Co, p.out[0], p.out[1], U.get(), bias, y);
}

// The adjoint: x (B, C, L) = gy (B, Co, O) convolved with w' (C, Cog, 3, 3),
// w'[g Cg + c, o] = w[g Cog + o, c] flipped, padded by 2 - p.
template <typename T>
void transpose_winograd(const Plan& p, const T* gy, const T* w, const T* bias, T* x) {
  const auto U = scratch<T>(16 * p.C * p.Cog);
  winograd_weights<T>(p.C, p.Cog, [&](int64_t ci, int64_t o, int i, int j) {
    const int64_t g = ci / p.Cg, c = ci % p.Cg;
    return w[(((g * p.Cog + o) * p.Cg + c) * 3 + (2 - i)) * 3 + (2 - j)];
  }, U.get());
  winograd_conv<T>(p, gy, p.Co, p.out[0], p.out[1], 2 - p.pad[0], 2 - p.pad[1], p.C, p.in[0], p.in[1], U.get(), bias,
                   x);
}

// The weight gradient, the adjoint of the same tile products in g:
// gU_e (Co, Cg) = sum over items and tiles of (A gy A^T)_e V_e^T, then
// gw = G^T gU G. Tiles past an odd output edge see gy = 0 there.
template <typename T>
void weight_grad_winograd(const Plan& p, const T* x, const T* gy, T* gw) {
  const int64_t Ho = p.out[0], Wo = p.out[1];
  const WinoGrid q(p.C, p.in[0], p.in[1], p.pad[0], p.pad[1], Ho, Wo);
  const int64_t Co = p.Co, Cg = p.Cg, Cog = p.Cog, G = p.G, th = q.th, tw = q.tw, nt = q.nt, mes = Co * nt + 48;
  const int64_t us = 16 * Co * Cg;
  constexpr int64_t JB = WinoGrid::JB;
  const bool par = batch_parallel(p);
  const int64_t chunks = par ? std::min<int64_t>(p.B, omp_get_max_threads()) : 1;
  const auto partial = scratch<T>(chunks * us);
  std::fill_n(partial.get(), chunks * us, T(0));
  auto items = [&](int64_t b0, int64_t b1, T* gU) {
    const auto buf = scratch<T>(q.scratch_size() + 16 * mes);
    T* xp = buf.get();
    T* V = xp + q.C * q.P;
    T* M = xp + q.scratch_size();
    for (int64_t b = b0; b < b1; ++b) {
      winograd_input(q, x + b * q.C * q.H * q.W, xp, V, b == b0);
      const T* gyb = gy + b * Co * Ho * Wo;
      for (int64_t co = 0; co < Co; ++co)
        for (int64_t ti = 0; ti < th; ++ti) {
          const T* g0r = gyb + (co * Ho + 2 * ti) * Wo;
          const bool row1 = 2 * ti + 1 < Ho;
          T* m = M + co * nt + ti * tw;
          for (int64_t j0 = 0; j0 < tw; j0 += JB) {
            const int64_t jn = std::min(JB, tw - j0);
            T g[2][2][JB], r[4][2][JB];
            for (int a = 0; a < 2; ++a)
              for (int l = 0; l < 2; ++l)
                for (int64_t j = 0; j < jn; ++j) {
                  const int64_t col = 2 * (j0 + j) + l;
                  g[a][l][j] = (a == 0 || row1) && col < Wo ? g0r[a * Wo + col] : T(0);
                }
            for (int l = 0; l < 2; ++l)
              for (int64_t j = 0; j < jn; ++j) {
                r[0][l][j] = g[0][l][j];
                r[1][l][j] = g[0][l][j] + g[1][l][j];
                r[2][l][j] = g[0][l][j] - g[1][l][j];
                r[3][l][j] = -g[1][l][j];
              }
            for (int i = 0; i < 4; ++i) {
              T* m0 = m + (i * 4) * mes + j0;
              T* m1 = m0 + mes;
              T* m2 = m1 + mes;
              T* m3 = m2 + mes;
              for (int64_t j = 0; j < jn; ++j) {
                m0[j] = r[i][0][j];
                m1[j] = r[i][0][j] + r[i][1][j];
                m2[j] = r[i][0][j] - r[i][1][j];
                m3[j] = -r[i][1][j];
              }
            }
          }
        }
      for (int64_t e = 0; e < 16; ++e)
        for (int64_t g = 0; g < G; ++g)
          cpu::gemm<T>(false, true, Cog, Cg, nt, T(1), M + e * mes + g * Cog * nt, nt, V + e * q.ves + g * Cg * nt, nt,
                       T(1), gU + (e * Co + g * Cog) * Cg, Cg);
    }
  };
  if (!par) {
    items(0, p.B, partial.get());
  } else {
    cpu::parallel_for(0, chunks, 1, [&](int64_t s, int64_t e) {
      for (int64_t t = s; t < e; ++t) items(p.B * t / chunks, p.B * (t + 1) / chunks, partial.get() + t * us);
    });
  }
  T* gU = partial.get();
  for (int64_t t = 1; t < chunks; ++t)
    for (int64_t i = 0; i < us; ++i) gU[i] += gU[t * us + i];
  for (int64_t co = 0; co < Co; ++co)
    for (int64_t c = 0; c < Cg; ++c) {
      T u[4][4], t[3][4];
      for (int e = 0; e < 16; ++e) u[e / 4][e % 4] = gU[(e * Co + co) * Cg + c];
      for (int k = 0; k < 4; ++k) {
        t[0][k] = u[0][k] + T(0.5) * (u[1][k] + u[2][k]);
        t[1][k] = T(0.5) * (u[1][k] - u[2][k]);
        t[2][k] = T(0.5) * (u[1][k] + u[2][k]) + u[3][k];
      }
      T* o = gw + (co * Cg + c) * 9;
      for (int i = 0; i < 3; ++i) {
        o[i * 3 + 0] += t[i][0] + T(0.5) * (t[i][1] + t[i][2]);
        o[i * 3 + 1] += T(0.5) * (t[i][1] - t[i][2]);
        o[i * 3 + 2] += T(0.5) * (t[i][1] + t[i][2]) + t[i][3];
      }
    }
}

// The shape of a data tensor with flattened batch: (B, C, S...) or (B, S..., C).
Shape data_shape(const ConvGeometry& g, int64_t channels, const Shape& spatial) {
  Shape s{g.batch};
  if (!g.channel_last) s.push_back(channels);
  s.insert(s.end(), spatial.begin(), spatial.end());
  if (g.channel_last) s.push_back(channels);
  return s;
}

}  // namespace

Tensor conv_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g) {
  const Plan p(g);
  Tensor y = Tensor::empty(data_shape(g, p.Co, g.out_size), x.dtype());
  if (y.numel() == 0) return y;
  cpu::dispatch_floating(x.dtype(), "convolution kernel", [&](auto tag) {
    using T = decltype(tag);
    if (winograd_applies(p) && direct_enabled() && winograd_enabled())
      return forward_winograd<T>(p, x.data<T>(), w.data<T>(), bias.defined() ? bias.data<T>() : nullptr, y.data<T>());
    if (Direct::applies(p) && direct_enabled())
      return p.channel_last
                 ? forward_direct_cl<T>(p, x.data<T>(), w.data<T>(), bias.defined() ? bias.data<T>() : nullptr,
                                        y.data<T>())
                 : forward_direct<T>(p, x.data<T>(), w.data<T>(), bias.defined() ? bias.data<T>() : nullptr, y.data<T>());
    forward<T>(p, x.data<T>(), w.data<T>(), bias.defined() ? bias.data<T>() : nullptr, y.data<T>());
  });
  return y;
}

Tensor conv_transpose(const Tensor& gy, const Tensor& w, const Tensor& bias, const ConvGeometry& g) {
  const Plan p(g);
  Tensor x = Tensor::empty(data_shape(g, p.C, g.in_size), gy.dtype());
  if (x.numel() == 0) return x;
  cpu::dispatch_floating(gy.dtype(), "deconvolution kernel", [&](auto tag) {
    using T = decltype(tag);
    if (winograd_applies(p) && direct_enabled() && winograd_enabled())
      return transpose_winograd<T>(p, gy.data<T>(), w.data<T>(), bias.defined() ? bias.data<T>() : nullptr,
                                   x.data<T>());
    if (Direct::applies(p) && direct_enabled())
      return p.channel_last ? transpose_direct_cl<T>(p, gy.data<T>(), w.data<T>(),
                                                     bias.defined() ? bias.data<T>() : nullptr, x.data<T>())
                            : transpose_direct<T>(p, gy.data<T>(), w.data<T>(), bias.defined() ? bias.data<T>() : nullptr,
                                 x.data<T>());
    transpose_conv<T>(p, gy.data<T>(), w.data<T>(), bias.defined() ? bias.data<T>() : nullptr, x.data<T>());
  });
  return x;
}

Tensor conv_weight_grad(const Tensor& x, const Tensor& gy, const ConvGeometry& g) {
  const Plan p(g);
  Shape ws{p.Co};
  if (!g.channel_last) ws.push_back(p.Cg);
  ws.insert(ws.end(), g.kernel.begin(), g.kernel.end());
  if (g.channel_last) ws.push_back(p.Cg);
  Tensor gw = Tensor::zeros(ws, x.dtype());
  if (gw.numel() == 0 || p.B == 0 || p.O == 0) return gw;
  cpu::dispatch_floating(x.dtype(), "convolution_weight_grad kernel", [&](auto tag) {
    using T = decltype(tag);
    if (winograd_applies(p) && direct_enabled() && winograd_enabled())
      return weight_grad_winograd<T>(p, x.data<T>(), gy.data<T>(), gw.data<T>());
    if (Direct::applies(p) && direct_enabled()) return weight_grad_direct<T>(p, x.data<T>(), gy.data<T>(), gw.data<T>());
    weight_grad<T>(p, x.data<T>(), gy.data<T>(), gw.data<T>());
  });
  return gw;
}

}  // namespace nthgrad::kernels

// Kernels of the convolution family: im2col + cpu::gemm for the forward
// product, gemm + col2im for its adjoint (deconvolution, the data gradient),
// im2col + gemm for the weight gradient. Channel-first throughout; a
// channel_last tensor is transposed to channel-first and back.
//
// Per batch item and group g the column matrix col (Cg*K rows, O columns)
// holds in row r = (c, k_1..k_n), column o = (o_1..o_n), the input value
// x[c, o*s - p + k*d] (zero in the padding). Then
//   y_g  = w_g col                 (Cog x O)
//   col  = w_g^T gy_g, col2im      (the adjoint: scatter-add of the same entries)
//   gw_g += gy_g col^T             (Cog x Cg*K)
// A 1x1 kernel with stride 1 and no padding has col = x: no im2col at all.
//
// Threads: with at least as many batch items as threads, one item per
// thread at a time (each with its own col buffer; gemm then runs on the
// calling thread); with fewer, items in turn, im2col / col2im split over
// rows / channels and each gemm threaded by itself.
#include <omp.h>

#include <algorithm>
#include <cstring>
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

  explicit Plan(const ConvGeometry& g)
      : n(static_cast<int64_t>(g.kernel.size())), B(g.batch), C(g.channels), Co(g.out_channels), G(g.group),
        in(g.in_size), out(g.out_size), ker(g.kernel), pad(g.pad), stride(g.stride), dil(g.dilation) {
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
  cpu::parallel_for(0, p.rows, std::max<int64_t>(1, cpu::kGrainSize / p.O),
                    [&](int64_t s, int64_t e) { im2col_rows<false, T>(p, x, col, s, e); });
}

// col2im of one group: adds col into x (its Cg channel planes). In parallel
// by channels, whose rows write disjoint planes.
template <typename T>
void col2im(const Plan& p, const T* col, T* x, bool parallel) {
  if (!parallel) return im2col_rows<true, T>(p, x, col, 0, p.rows);
  cpu::parallel_for(0, p.Cg, std::max<int64_t>(1, cpu::kGrainSize / (p.K * p.O)), [&](int64_t s, int64_t e) {
    im2col_rows<true, T>(p, x, col, s * p.K, e * p.K);
  });
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
      std::vector<T> col(static_cast<std::size_t>(col_size));
      for (int64_t b = s; b < e; ++b) item(b, col.data(), false);
    });
  } else {
    std::vector<T> col(static_cast<std::size_t>(col_size));
    for (int64_t b = 0; b < p.B; ++b) item(b, col.data(), true);
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
void forward(const Plan& p, const T* x, const T* w, const T* bias, T* y) {
  over_batch<T>(p, p.pointwise ? 0 : p.rows * p.O, [&](int64_t b, T* col, bool inner) {
    for (int64_t g = 0; g < p.G; ++g) {
      const T* xg = x + (b * p.C + g * p.Cg) * p.L;
      if (!p.pointwise) im2col(p, xg, col, inner);
      cpu::gemm<T>(false, false, p.Cog, p.O, p.rows, T(1), w + g * p.Cog * p.rows, p.rows, p.pointwise ? xg : col,
                   p.O, T(0), y + (b * p.Co + g * p.Cog) * p.O, p.O);
    }
    add_bias(y + b * p.Co * p.O, bias, p.Co, p.O);
  });
}

template <typename T>
void transpose_conv(const Plan& p, const T* gy, const T* w, const T* bias, T* x) {
  over_batch<T>(p, p.pointwise ? 0 : p.rows * p.O, [&](int64_t b, T* col, bool inner) {
    T* xb = x + b * p.C * p.L;
    for (int64_t g = 0; g < p.G; ++g) {
      const T* gyg = gy + (b * p.Co + g * p.Cog) * p.O;
      const T* wg = w + g * p.Cog * p.rows;
      T* xg = xb + g * p.Cg * p.L;
      if (p.pointwise) {
        cpu::gemm<T>(true, false, p.rows, p.O, p.Cog, T(1), wg, p.rows, gyg, p.O, T(0), xg, p.O);
      } else {
        cpu::gemm<T>(true, false, p.rows, p.O, p.Cog, T(1), wg, p.rows, gyg, p.O, T(0), col, p.O);
        std::fill_n(xg, p.Cg * p.L, T(0));
        col2im(p, col, xg, inner);
      }
    }
    add_bias(xb, bias, p.C, p.L);
  });
}

// gw_g += gy_g col^T for the items [b0, b1) into acc (zeroed here).
template <typename T>
void weight_grad_items(const Plan& p, const T* x, const T* gy, T* acc, T* col, int64_t b0, int64_t b1, bool inner) {
  std::fill_n(acc, p.w_size, T(0));
  for (int64_t b = b0; b < b1; ++b) {
    for (int64_t g = 0; g < p.G; ++g) {
      const T* xg = x + (b * p.C + g * p.Cg) * p.L;
      if (!p.pointwise) im2col(p, xg, col, inner);
      cpu::gemm<T>(false, true, p.Cog, p.rows, p.O, T(1), gy + (b * p.Co + g * p.Cog) * p.O, p.O,
                   p.pointwise ? xg : col, p.O, T(1), acc + g * p.Cog * p.rows, p.rows);
    }
  }
}

// Batch-parallel: one partial sum per chunk of items, added in chunk order
// (the result does not depend on which thread ran which chunk).
template <typename T>
void weight_grad(const Plan& p, const T* x, const T* gy, T* gw) {
  const int64_t col_size = p.pointwise ? 0 : p.rows * p.O;
  if (!batch_parallel(p)) {
    std::vector<T> col(static_cast<std::size_t>(col_size));
    weight_grad_items(p, x, gy, gw, col.data(), 0, p.B, true);
    return;
  }
  const int64_t chunks = std::min<int64_t>(p.B, omp_get_max_threads());
  std::vector<T> partial(static_cast<std::size_t>((chunks - 1) * p.w_size));
  cpu::parallel_for(0, chunks, 1, [&](int64_t s, int64_t e) {
    std::vector<T> col(static_cast<std::size_t>(col_size));
    for (int64_t t = s; t < e; ++t) {
      T* acc = t == 0 ? gw : partial.data() + (t - 1) * p.w_size;
      weight_grad_items(p, x, gy, acc, col.data(), p.B * t / chunks, p.B * (t + 1) / chunks, false);
    }
  });
  for (int64_t t = 1; t < chunks; ++t) {
    const T* src = partial.data() + (t - 1) * p.w_size;
    for (int64_t i = 0; i < p.w_size; ++i) gw[i] += src[i];
  }
}

// channel_last <-> channel-first for a (lead, spatial..., C) tensor and back.
Axes channels_first_perm(int64_t n) {
  Axes perm{0, n + 1};
  for (int64_t a = 1; a <= n; ++a) perm.push_back(a);
  return perm;
}
Axes channels_last_perm(int64_t n) {
  Axes perm{0};
  for (int64_t a = 2; a <= n + 1; ++a) perm.push_back(a);
  perm.push_back(1);
  return perm;
}

Shape cf_shape(int64_t lead, int64_t channels, const Shape& spatial) {
  Shape s{lead, channels};
  s.insert(s.end(), spatial.begin(), spatial.end());
  return s;
}

// The operands in channel-first layout (transposed copies for channel_last).
struct ChannelFirst {
  const ConvGeometry& g;
  int64_t n;
  Tensor x_like(const Tensor& t, int64_t channels, const Shape& spatial) const {
    if (!g.channel_last) return t;
    Shape cl{g.batch};
    cl.insert(cl.end(), spatial.begin(), spatial.end());
    cl.push_back(channels);
    return transpose(t.reshape(cl), channels_first_perm(n));
  }
  Tensor weight(const Tensor& w) const {
    if (!g.channel_last) return w;
    return transpose(w, channels_first_perm(n));
  }
  Tensor back(const Tensor& t) const { return g.channel_last ? transpose(t, channels_last_perm(n)) : t; }
};

}  // namespace

Tensor conv_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g) {
  const Plan p(g);
  const ChannelFirst cf{g, p.n};
  const Tensor xc = cf.x_like(x, p.C, g.in_size), wc = cf.weight(w);
  Tensor y = Tensor::empty(cf_shape(p.B, p.Co, g.out_size), x.dtype());
  if (y.numel() > 0) {
    cpu::dispatch_floating(x.dtype(), "convolution kernel", [&](auto tag) {
      using T = decltype(tag);
      forward<T>(p, xc.data<T>(), wc.data<T>(), bias.defined() ? bias.data<T>() : nullptr, y.data<T>());
    });
  }
  return cf.back(y);
}

Tensor conv_transpose(const Tensor& gy, const Tensor& w, const Tensor& bias, const ConvGeometry& g) {
  const Plan p(g);
  const ChannelFirst cf{g, p.n};
  const Tensor gyc = cf.x_like(gy, p.Co, g.out_size), wc = cf.weight(w);
  Tensor x = Tensor::empty(cf_shape(p.B, p.C, g.in_size), gy.dtype());
  if (x.numel() > 0) {
    cpu::dispatch_floating(gy.dtype(), "deconvolution kernel", [&](auto tag) {
      using T = decltype(tag);
      transpose_conv<T>(p, gyc.data<T>(), wc.data<T>(), bias.defined() ? bias.data<T>() : nullptr, x.data<T>());
    });
  }
  return cf.back(x);
}

Tensor conv_weight_grad(const Tensor& x, const Tensor& gy, const ConvGeometry& g) {
  const Plan p(g);
  const ChannelFirst cf{g, p.n};
  const Tensor xc = cf.x_like(x, p.C, g.in_size), gyc = cf.x_like(gy, p.Co, g.out_size);
  Shape ws{p.Co, p.Cg};
  ws.insert(ws.end(), g.kernel.begin(), g.kernel.end());
  Tensor gw = Tensor::zeros(ws, x.dtype());
  if (gw.numel() > 0 && p.B > 0 && p.O > 0) {
    cpu::dispatch_floating(x.dtype(), "convolution_weight_grad kernel", [&](auto tag) {
      using T = decltype(tag);
      weight_grad<T>(p, xc.data<T>(), gyc.data<T>(), gw.data<T>());
    });
  }
  return cf.back(gw);
}

}  // namespace nthgrad::kernels

// Matrix products (technical note sections 2 and 9). Their rules are again
// matrix products, so every order reuses the same GEMM.
#include "nthgrad/ops/linalg.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <tuple>

#include "autograd/lean.h"
#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/math.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {
std::string matmul_shapes(const Variable& a, const Variable& b, bool ta, bool tb) {
  return detail::cat("a of shape ", shape_str(a.shape()), ta ? " (transposed)" : "", " and b of shape ",
                     shape_str(b.shape()), tb ? " (transposed)" : "");
}

void check_matmul(const char* op, const Variable& a, const Variable& b, bool ta, bool tb, int64_t min_rank) {
  check::floating(op, "a", a);
  check::floating(op, "b", b);
  if (a.ndim() < min_rank || b.ndim() < min_rank)
    throw ValueError(detail::cat(op, ": operands must have rank >= ", min_rank, "; got ", matmul_shapes(a, b, ta, tb)));
  const int64_t qa = a.shape()[a.ndim() - (ta ? 2 : 1)];
  const int64_t qb = b.shape()[b.ndim() - (tb ? 1 : 2)];
  if (qa != qb)
    throw ValueError(detail::cat(op, ": inner dimensions differ (", qa, " vs ", qb, ") for ",
                                 matmul_shapes(a, b, ta, tb)));
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  broadcast_shapes(op, "the batch axes of a", ba, "the batch axes of b", bb);
}

Variable matmul_op(const char* name, const Variable& a0, const Variable& b0, bool ta, bool tb) {
  auto [a, b] = check::promote(name, a0, b0);
  // ga = gy·op(b)^T (transposed back if ta), gb = op(a)^T·gy (transposed back if tb)
  // ga reads b and gb reads a: keep each only if the other may need a gradient.
  const Saved saved{(b.requires_grad() ? 1u : 0u) | (a.requires_grad() ? 2u : 0u), 0};
  lean::Memo memo(name, {a, b}, {double(ta), double(tb)});  // lean derivative graphs
  if (auto hit = memo.find()) return *hit;
  return memo.remember(record(name, {a, b}, kernels::matmul(a.value(), b.value(), ta, tb), saved, [ta, tb](const Ctx& c) {
    const Variable& gy = c.gy();
    Variable ga, gb;
    if (c.needs(0)) {
      const Variable& b = c.in(1);
      ga = sum_to(ta ? matmul(b, gy, tb, true) : matmul(gy, b, false, !tb), c.in_shape(0));
    }
    if (c.needs(1)) {
      const Variable& a = c.in(0);
      gb = sum_to(tb ? matmul(gy, a, true, ta) : matmul(a, gy, !ta, false), c.in_shape(1));
    }
    return grads(ga, gb);
  }));
}
}  // namespace

Variable matmul(const Variable& a, const Variable& b, bool transpose_a, bool transpose_b) {
  check_matmul("matmul", a, b, transpose_a, transpose_b, 2);
  return matmul_op("matmul", a, b, transpose_a, transpose_b);
}

Variable batch_matmul(const Variable& a, const Variable& b, bool transpose_a, bool transpose_b) {
  check_matmul("batch_matmul", a, b, transpose_a, transpose_b, 3);
  if (a.ndim() != b.ndim())
    throw ValueError(detail::cat("batch_matmul: a and b must have equal rank; got ",
                                 matmul_shapes(a, b, transpose_a, transpose_b)));
  return matmul_op("batch_matmul", a, b, transpose_a, transpose_b);
}

// affine: y = x2·w2 + b with x2 = x as (M, D), w2 = weight as (D, L);
// gx = gy2·w2^T, gw = x2^T·gy2, gb = sum of gy2 over rows   [all matmul / sum]
namespace {

// Mixed float32 / float64 operands of affine / linear promote to float64, as
// the binary ops do (bias may be undefined).
std::tuple<Variable, Variable, Variable> promote_product_operands(const Variable& x, const Variable& weight,
                                                                  const Variable& bias) {
  const bool f64 = x.dtype() == DType::Float64 || weight.dtype() == DType::Float64 ||
                   (bias.defined() && bias.dtype() == DType::Float64);
  auto promoted = [f64](const Variable& v) {
    return !v.defined() || !f64 || v.dtype() == DType::Float64 ? v : cast(v, DType::Float64);
  };
  return {promoted(x), promoted(weight), promoted(bias)};
}

// What the rules of affine and linear keep: gx reads the weight and gw reads
// x, so each only if the other may need a gradient.
Saved product_saves(const Variable& x, const Variable& weight) {
  return {(weight.requires_grad() ? 1u : 0u) | (x.requires_grad() ? 2u : 0u), 0};
}

}  // namespace

Variable affine(const Variable& x, const Variable& weight, const Variable& bias, int64_t base_axis) {
  check::floating("affine", "x", x);
  check::floating("affine", "weight", weight);
  if (base_axis < 0 || base_axis > x.ndim())
    throw IndexError(detail::cat("affine: base_axis ", base_axis, " is out of range for x of shape ",
                                 shape_str(x.shape())));
  const Shape& xs = x.shape();
  int64_t m = 1, d = 1;
  for (int64_t i = 0; i < x.ndim(); ++i) {
    int64_t& n = i < base_axis ? m : d;
    n = checked_mul(n, xs[i], "affine", xs);
  }
  if (weight.ndim() < 1 || weight.shape()[0] != d)
    throw ValueError(detail::cat("affine: weight of shape ", shape_str(weight.shape()), " does not fit x of shape ",
                                 shape_str(xs), " with base_axis=", base_axis, " (weight.shape[0] must be ", d, ")"));
  Shape out_tail(weight.shape().begin() + 1, weight.shape().end());
  const int64_t l = numel(out_tail);
  if (bias.defined()) {
    check::floating("affine", "bias", bias);
    if (bias.shape() != out_tail)
      throw ValueError(detail::cat("affine: bias of shape ", shape_str(bias.shape()), " does not match weight of shape ",
                                   shape_str(weight.shape()), " (expected ", shape_str(out_tail), ")"));
  }
  Shape y_shape(xs.begin(), xs.begin() + base_axis);
  y_shape.insert(y_shape.end(), out_tail.begin(), out_tail.end());
  const auto [xp, wp, bp] = promote_product_operands(x, weight, bias);
  Tensor y = kernels::affine(xp.value().reshape({m, d}), wp.value().reshape({d, l}),
                             bp.defined() ? bp.value().reshape({l}) : Tensor());
  VariableList inputs{xp, wp};
  if (bp.defined()) inputs.push_back(bp);
  return record("affine", inputs, y.reshape(y_shape), product_saves(xp, wp), [m, d, l](const Ctx& c) {
    const Variable gy = reshape(c.gy(), {m, l});
    VariableList g(c.num_inputs());
    if (c.needs(0)) g[0] = reshape(matmul(gy, reshape(c.in(1), {d, l}), false, true), c.in_shape(0));
    if (c.needs(1)) g[1] = reshape(matmul(reshape(c.in(0), {m, d}), gy, true, false), c.in_shape(1));
    if (c.num_inputs() > 2 && c.needs(2)) g[2] = reshape(sum(gy, {0}), c.in_shape(2));
    return g;
  });
}

// linear: y = x W^T + b for W (out, in); gx = gy W, gW = gy^T x, gb = sum gy
Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
  const char* op = "linear";
  check::floating(op, "x", x);
  check::floating(op, "weight", weight);
  if (weight.ndim() != 2)
    throw ValueError(detail::cat(op, ": weight must be 2-D (out_features, in_features), got shape ",
                                 shape_str(weight.shape())));
  const int64_t l = weight.shape()[0], d = weight.shape()[1];
  const Shape& xs = x.shape();
  if (x.ndim() < 1 || xs.back() != d)
    throw ValueError(detail::cat(op, ": x of shape ", shape_str(xs), " must have ", d,
                                 " features in its last axis, to match weight of shape ", shape_str(weight.shape())));
  if (bias.defined()) {
    check::floating(op, "bias", bias);
    if (bias.shape() != Shape{l})
      throw ValueError(detail::cat(op, ": bias of shape ", shape_str(bias.shape()), " does not match weight of shape ",
                                   shape_str(weight.shape()), " (expected (", l, ",))"));
  }
  int64_t m = 1;
  for (int64_t i = 0; i + 1 < x.ndim(); ++i) m = checked_mul(m, xs[i], op, xs);
  Shape y_shape(xs.begin(), xs.end() - 1);
  y_shape.push_back(l);
  const auto [xp, wp, bp] = promote_product_operands(x, weight, bias);
  Tensor y = kernels::affine(xp.value().reshape({m, d}), wp.value(), bp.defined() ? bp.value() : Tensor(), true);
  VariableList inputs{xp, wp};
  if (bp.defined()) inputs.push_back(bp);
  return record(op, inputs, y.reshape(y_shape), product_saves(xp, wp), [m, d, l](const Ctx& c) {
    const Variable gy = reshape(c.gy(), {m, l});
    VariableList g(c.num_inputs());
    if (c.needs(0)) g[0] = reshape(matmul(gy, c.in(1)), c.in_shape(0));
    if (c.needs(1)) g[1] = matmul(gy, reshape(c.in(0), {m, d}), true, false);
    if (c.num_inputs() > 2 && c.needs(2)) g[2] = sum(gy, {0});
    return g;
  });
}

// dot: NumPy's dot, by reshape / transpose / matmul (so its gradients are theirs)
Variable dot(const Variable& a, const Variable& b) {
  check::floating("dot", "a", a);
  check::floating("dot", "b", b);
  if (a.ndim() == 0 || b.ndim() == 0) return mul2(a, b);
  const int64_t k = a.shape().back();
  const int64_t kb = b.ndim() == 1 ? b.shape()[0] : b.shape()[b.ndim() - 2];
  if (k != kb)
    throw ValueError(detail::cat("dot: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
                                 " are not aligned: ", k, " (last axis of a) != ", kb,
                                 b.ndim() == 1 ? " (b)" : " (second-to-last axis of b)"));
  Shape out(a.shape().begin(), a.shape().end() - 1);
  Variable a2 = reshape(a, {numel(out), k});
  if (b.ndim() == 1) return reshape(matmul(a2, reshape(b, {k, 1})), out);
  // b (..., k, n) -> (k, ... * n): move axis -2 to the front
  Axes perm{b.ndim() - 2};
  for (int64_t d = 0; d < b.ndim(); ++d)
    if (d != b.ndim() - 2) perm.push_back(d);
  Variable b2 = reshape(transpose(b, perm), {k, -1});
  for (int64_t d = 0; d < b.ndim(); ++d)
    if (d != b.ndim() - 2) out.push_back(b.shape()[d]);
  return reshape(matmul(a2, b2), out);
}

// ---- decompositions, einsum, diagonals and triangles (issue 7) ----

namespace {
void check_square_batch(const char* op, const Variable& x) {
  check::floating(op, "x", x);
  if (x.ndim() != 3 || x.shape()[1] != x.shape()[2])
    throw ValueError(detail::cat(op, ": x must be a batch of square matrices of shape (B, N, N); got x of shape ",
                                 shape_str(x.shape())));
}

// x with its last two axes swapped (the batch of transposes).
Variable transpose_last2(const Variable& x) {
  Axes perm(x.ndim());
  std::iota(perm.begin(), perm.end(), int64_t{0});
  std::swap(perm[x.ndim() - 1], perm[x.ndim() - 2]);
  return transpose(x, perm);
}
}  // namespace

// batch_inv: Y = X^-1; gX = -Y^T gY Y^T   [batch_matmul of the saved Y]
Variable batch_inv(const Variable& x) {
  check_square_batch("batch_inv", x);
  return record("batch_inv", {x}, kernels::batch_inv(x.value()), kSavesOutput, [](const Ctx& c) {
    const Variable y = c.out(0);
    return grads(-batch_matmul(batch_matmul(y, c.gy(), true, false), y, false, true));
  });
}

namespace {
// A batch with a singular item takes the cofactor rule when its B N^4 minor entries are at most this.
constexpr int64_t kCofactorMaxEntries = int64_t{1} << 24;

// The cofactor matrices of x (B, N, N): C[b, i, j] = (-1)^(i+j) det(x[b] without row i and column j),
// = d det / d x; from gathers and batch_det of the minors, so differentiable at every order.
Variable cofactors(const Variable& x) {
  const int64_t b = x.shape()[0], n = x.shape()[1];
  std::vector<int64_t> others;  // row i: 0 .. n-1 without i
  std::vector<double> sign;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (j != i) others.push_back(j);
      sign.push_back((i + j) % 2 ? -1.0 : 1.0);
    }
  const Variable idx(Tensor::from_data(others.data(), {n, n - 1}, DType::Int64));
  // rows then columns: (B, i, n-1, N), then (B, i, n-1, j, n-1); to (B, i, j, n-1, n-1)
  Variable minors = gather(gather(x, idx, 1, 0), idx, 3, 0);
  minors = reshape(transpose(minors, {0, 1, 3, 2, 4}), {b * n * n, n - 1, n - 1});
  const Variable s(cast(Variable(Tensor::from_data(sign.data(), {1, n, n}, DType::Float64)), x.dtype()));
  return reshape(batch_det(minors), {b, n, n}) * s;
}

// True when some item is singular or nearly so: |det| at most sqrt(eps) times Hadamard's bound (the
// product of the row norms), or an inverse entry not finite. gy y X^-T is then NaN (0 * inf) or, near
// singular, y X^-T's own derivative (the next order) cancels catastrophically; the derivative of det
// is the cofactor matrix, finite and exact everywhere.
bool near_singular(const Tensor& x, const Tensor& det, const Tensor& inv) {
  const int64_t b = x.shape()[0], n = x.shape()[1];
  const double tol = std::sqrt(x.dtype() == DType::Float32 ? 1.1920929e-7 : 2.220446049250313e-16);
  for (int64_t k = 0; k < b; ++k) {
    double bound = 1;
    for (int64_t i = 0; i < n; ++i) {
      double row = 0;
      for (int64_t j = 0; j < n; ++j) row = std::hypot(row, x.at((k * n + i) * n + j));
      bound *= row;
    }
    if (!(std::fabs(det.at(k)) > tol * bound)) return true;
  }
  for (int64_t i = 0; i < inv.numel(); ++i)
    if (!std::isfinite(inv.at(i))) return true;
  return false;
}
}  // namespace

// batch_det: y = det X; gX = gy y X^-T   [batch_inv; y saved, so every order sees d(det)];
// with a (nearly) singular item and B N^4 <= 2^24, gX = gy cof(X)   [gathers and batch_det of the minors]
Variable batch_det(const Variable& x) {
  check_square_batch("batch_det", x);
  return record("batch_det", {x}, kernels::batch_det(x.value()), kSavesInputs | kSavesOutput, [](const Ctx& c) {
    const int64_t b = c.in_shape(0)[0], n = c.in_shape(0)[1];
    const Variable inv = batch_inv(c.in(0));
    const int64_t n4 = n <= 64 ? n * n * n * n : 0;
    const bool small = n <= 64 && (n4 == 0 || b <= kCofactorMaxEntries / n4);
    if (small && near_singular(c.in(0).value(), c.out(0).value(), inv.value()))
      return grads(reshape(c.gy(), {b, 1, 1}) * cofactors(c.in(0)));
    return grads(reshape(c.gy() * c.out(0), {b, 1, 1}) * transpose_last2(inv));
  });
}

// batch_logdet: y = log|det X|; gX = gy X^-T   [batch_inv]
Variable batch_logdet(const Variable& x) {
  check_square_batch("batch_logdet", x);
  return record("batch_logdet", {x}, kernels::batch_logdet(x.value()), kSavesInputs, [](const Ctx& c) {
    const int64_t b = c.in_shape(0)[0];
    return grads(reshape(c.gy(), {b, 1, 1}) * transpose_last2(batch_inv(c.in(0))));
  });
}

// batch_cholesky: L L^T = X; with M = L^T gL,
// gX = L^-T (tril(M) + tril(M, -1)^T) / 2 L^-1 (symmetric; Murray 2016, as PyTorch)
// [batch_inv of L, trilu, batch_matmul]. tril(L^T gL) ignores gL's upper
// triangle (L^T times a strictly upper matrix is strictly upper), where L is constant 0.
Variable batch_cholesky(const Variable& x, bool upper) {
  check_square_batch("batch_cholesky", x);
  return record("batch_cholesky", {x}, kernels::batch_cholesky(x.value(), upper), kSavesOutput,
                [upper](const Ctx& c) {
                  const Variable l = upper ? transpose_last2(c.out(0)) : c.out(0);
                  const Variable gl = upper ? transpose_last2(c.gy()) : c.gy();
                  const Variable m = batch_matmul(l, gl, true, false);
                  const Variable mid = 0.5 * (trilu(m, 0, false) + transpose_last2(trilu(m, -1, false)));
                  const Variable linv = batch_inv(l);
                  return grads(batch_matmul(batch_matmul(linv, mid, true, false), linv));
                });
}

// matrix_diag: y[..., i, j] = (i == j) x[..., i]; gx = matrix_diag_part(gy)   [adjoint pair]
Variable matrix_diag(const Variable& x) {
  check::floating("matrix_diag", "x", x);
  if (x.ndim() < 1)
    throw ValueError(detail::cat("matrix_diag: x must have at least one axis; got x of shape ", shape_str(x.shape())));
  Shape out = x.shape();
  out.push_back(x.shape().back());
  // a shape whose size overflows int64 raises here, before any allocation
  check::numel("matrix_diag", detail::cat("x of shape ", shape_str(x.shape()), " is too large"), out);
  return record("matrix_diag", {x}, kernels::matrix_diag(x.value()), kSavesNothing,
                [](const Ctx& c) { return grads(matrix_diag_part(c.gy())); });
}

// matrix_diag_part: y[..., i] = x[..., i, i]; gx = matrix_diag(gy)   [adjoint pair]
Variable matrix_diag_part(const Variable& x) {
  check::floating("matrix_diag_part", "x", x);
  if (x.ndim() < 2 || x.shape()[x.ndim() - 1] != x.shape()[x.ndim() - 2])
    throw ValueError(detail::cat("matrix_diag_part: x must have shape (..., M, M) (at least two axes, the last two "
                                 "equal); got x of shape ",
                                 shape_str(x.shape())));
  return record("matrix_diag_part", {x}, kernels::matrix_diag_part(x.value()), kSavesNothing,
                [](const Ctx& c) { return grads(matrix_diag(c.gy())); });
}

// trilu: y = triu(x, k) (upper) or tril(x, k); gx = trilu(gy, k, upper)   [self-adjoint]
Variable trilu(const Variable& x, int64_t k, bool upper) {
  check::floating("trilu", "x", x);
  if (x.ndim() < 2)
    throw ValueError(detail::cat("trilu: x must have at least two axes; got x of shape ", shape_str(x.shape())));
  return record("trilu", {x}, kernels::trilu(x.value(), k, upper), kSavesNothing,
                [k, upper](const Ctx& c) { return grads(trilu(c.gy(), k, upper)); });
}

namespace {

// einsum labels: a letter is its ASCII code; the broadcast ('...') axes are
// kEllipsis + 0 .. kEllipsis + E - 1, right-aligned over the operands, and
// sort before every letter in an implicit output (as NumPy).
constexpr int kEllipsis = -(1 << 30);

struct Term {
  std::vector<int> letters;  // letters in order, with kEllipsisMark where '...' stood
  bool ellipsis = false;
};
constexpr int kEllipsisMark = -1;

class EinsumParser {
 public:
  explicit EinsumParser(const std::string& equation) : equation_(equation) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw ValueError(detail::cat("einsum: invalid equation '", equation_, "': ", why));
  }

  Term term(const std::string& s) const {
    Term t;
    for (std::size_t i = 0; i < s.size();) {
      const char ch = s[i];
      if (ch == '.') {
        if (s.compare(i, 3, "...") != 0) fail("'.' must be part of an ellipsis '...'");
        if (t.ellipsis) fail(detail::cat("the term '", s, "' has more than one ellipsis"));
        t.ellipsis = true;
        t.letters.push_back(kEllipsisMark);
        i += 3;
      } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {  // ASCII, whatever the C locale
        t.letters.push_back(static_cast<unsigned char>(ch));
        ++i;
      } else {
        // (a byte of a multi-byte UTF-8 character alone would make the message invalid UTF-8)
        const bool printable = ch >= 0x20 && ch < 0x7f;
        fail(detail::cat("unexpected character ", printable ? std::string("'") + ch + "'" : std::string("(not ASCII)"),
                         " (subscripts are letters a-z, A-Z, and '...')"));
      }
    }
    return t;
  }

 private:
  const std::string& equation_;
};

struct Operand {
  Variable v;
  std::vector<int> labels;  // one per axis of v
};

Shape sizes_of(const std::vector<int>& labels, const std::map<int, int64_t>& size) {
  Shape s;
  for (int l : labels) s.push_back(size.at(l));
  return s;
}

bool contains(const std::vector<int>& v, int l) { return std::find(v.begin(), v.end(), l) != v.end(); }

// v with its axes in the order of `want` (a permutation of `have`); no node when already so.
Variable permute(const Operand& a, const std::vector<int>& want) {
  if (want == a.labels) return a.v;
  Axes perm;
  for (int l : want) perm.push_back(std::find(a.labels.begin(), a.labels.end(), l) - a.labels.begin());
  return transpose(a.v, perm);
}

// Sums out the labels of `a` that `keep` does not need.
void sum_unneeded(Operand& a, const std::vector<int>& keep) {
  Axes axes;
  std::vector<int> rest;
  for (std::size_t i = 0; i < a.labels.size(); ++i) {
    if (contains(keep, a.labels[i]))
      rest.push_back(a.labels[i]);
    else
      axes.push_back(static_cast<int64_t>(i));
  }
  if (axes.empty()) return;  // (sum with no axes would reduce all of them)
  a.v = sum(a.v, axes, false);
  a.labels = rest;
}

// The product of a and b over their shared labels: labels in `keep` stay
// (shared ones as a batch axis), the others are contracted by batch_matmul.
// Only labels of both are combined, never a full outer product of unrelated axes.
Operand contract(const Operand& a, const Operand& b, const std::vector<int>& keep,
                 const std::map<int, int64_t>& size, const std::string& equation) {
  std::vector<int> batch, contracted, a_only, b_only;
  for (int l : a.labels) {
    if (contains(b.labels, l))
      (contains(keep, l) ? batch : contracted).push_back(l);
    else
      a_only.push_back(l);
  }
  for (int l : b.labels)
    if (!contains(a.labels, l)) b_only.push_back(l);
  auto prod = [&](const std::vector<int>& ls) {
    const Shape s = sizes_of(ls, size);
    try {
      return numel(s);
    } catch (const ValueError&) {
      throw ValueError(detail::cat("einsum: an intermediate of shape ", shape_str(s), " in equation '", equation,
                                   "' has more elements than fit in 64 bits"));
    }
  };
  const int64_t nb = prod(batch), na = prod(a_only), nc = prod(contracted), nbo = prod(b_only);
  std::vector<int> a_order = batch, b_order = batch;
  a_order.insert(a_order.end(), a_only.begin(), a_only.end());
  a_order.insert(a_order.end(), contracted.begin(), contracted.end());
  b_order.insert(b_order.end(), contracted.begin(), contracted.end());
  b_order.insert(b_order.end(), b_only.begin(), b_only.end());
  Variable a3 = reshape(permute(a, a_order), {nb, na, nc});
  Variable b3 = reshape(permute(b, b_order), {nb, nc, nbo});
  // Nothing contracted: an elementwise product of broadcast operands (no tiny GEMMs).
  Variable y = contracted.empty() ? mul2(a3, reshape(b3, {nb, 1, nbo})) : batch_matmul(a3, b3);
  Operand out;
  out.labels = batch;
  out.labels.insert(out.labels.end(), a_only.begin(), a_only.end());
  out.labels.insert(out.labels.end(), b_only.begin(), b_only.end());
  out.v = reshape(y, sizes_of(out.labels, size));
  return out;
}

}  // namespace

Variable einsum(const VariableList& x, const std::string& equation) {
  EinsumParser parser(equation);
  if (x.empty()) throw ValueError(detail::cat("einsum: needs at least one operand (equation '", equation, "')"));
  bool f64 = false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::string arg = detail::cat("x[", i, "]");
    check::floating("einsum", arg.c_str(), x[i]);
    f64 = f64 || x[i].dtype() == DType::Float64;
  }
  std::string eq;
  for (char ch : equation)
    if (ch != ' ') eq += ch;
  const std::size_t arrow = eq.find("->");
  if (arrow != std::string::npos && eq.find("->", arrow + 2) != std::string::npos) parser.fail("more than one '->'");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> term_strs(1);
  for (char ch : lhs) {
    if (ch == ',')
      term_strs.emplace_back();
    else
      term_strs.back() += ch;
  }
  if (term_strs.size() != x.size())
    throw ValueError(detail::cat("einsum: equation '", equation, "' has ", term_strs.size(), " operand term",
                                 term_strs.size() == 1 ? "" : "s", " but ", x.size(), " operand",
                                 x.size() == 1 ? " was" : "s were", " given"));

  // Labels of every operand axis, with the '...' axes numbered right-aligned.
  std::vector<Term> terms;
  std::vector<int64_t> n_ell(x.size());
  int64_t max_ell = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    terms.push_back(parser.term(term_strs[i]));
    const int64_t letters = static_cast<int64_t>(terms[i].letters.size()) - (terms[i].ellipsis ? 1 : 0);
    n_ell[i] = x[i].ndim() - letters;
    if (n_ell[i] < 0 || (!terms[i].ellipsis && n_ell[i] != 0))
      throw ValueError(detail::cat("einsum: the term '", term_strs[i], "' of equation '", equation, "' has ", letters,
                                   " subscript", letters == 1 ? "" : "s", terms[i].ellipsis ? " and '...'" : "",
                                   " but operand ", i, " has shape ", shape_str(x[i].shape())));
    max_ell = std::max(max_ell, n_ell[i]);
  }
  std::vector<Operand> ops(x.size());
  std::map<int, int64_t> size;
  std::map<int, int> count;  // occurrences over all terms (implicit output)
  std::map<int, std::size_t> where;  // an operand that gave the label its size (for messages)
  for (std::size_t i = 0; i < x.size(); ++i) {
    Operand& op = ops[i];
    op.v = f64 && x[i].dtype() != DType::Float64 ? cast(x[i], DType::Float64) : x[i];
    for (int l : terms[i].letters) {
      if (l == kEllipsisMark) {
        for (int64_t k = 0; k < n_ell[i]; ++k) op.labels.push_back(kEllipsis + static_cast<int>(max_ell - n_ell[i] + k));
      } else {
        op.labels.push_back(l);
        ++count[l];
      }
    }
    std::map<int, int64_t> own;  // a label repeated in one operand needs equal sizes (a diagonal)
    for (std::size_t d = 0; d < op.labels.size(); ++d) {
      const int l = op.labels[d];
      const int64_t n = x[i].shape()[d];
      auto [it, fresh] = own.emplace(l, n);
      if (!fresh && it->second != n)
        throw ValueError(detail::cat("einsum: subscript '", static_cast<char>(l), "' is repeated in operand ", i,
                                     " of shape ", shape_str(x[i].shape()), " over axes of different sizes (",
                                     it->second, " and ", n, ") in equation '", equation, "'"));
      auto [g, first] = size.emplace(l, n);
      if (first || g->second == n) {
        if (first) where[l] = i;
        continue;
      }
      if (g->second == 1) {  // size-1 axes broadcast, as NumPy
        g->second = n;
        where[l] = i;
      } else if (n != 1) {
        const std::string name = l >= 0 ? std::string(1, static_cast<char>(l)) : std::string("...");
        throw ValueError(detail::cat("einsum: subscript '", name, "' has size ", g->second, " in operand ", where[l],
                                     " of shape ", shape_str(x[where[l]].shape()), " but ", n, " in operand ", i,
                                     " of shape ", shape_str(x[i].shape()), " (equation '", equation, "')"));
      }
    }
  }

  // The output labels.
  std::vector<int> output;
  if (arrow == std::string::npos) {
    for (int64_t k = 0; k < max_ell; ++k) output.push_back(kEllipsis + static_cast<int>(k));
    for (const auto& [l, n] : count)
      if (n == 1) output.push_back(l);  // std::map: ascending ASCII order
  } else {
    const Term out = parser.term(eq.substr(arrow + 2));
    if (!out.ellipsis && max_ell > 0)
      parser.fail(detail::cat("the operands have ", max_ell, " broadcast ('...') axes but the output has no '...'"));
    for (int l : out.letters) {
      if (l == kEllipsisMark) {
        for (int64_t k = 0; k < max_ell; ++k) output.push_back(kEllipsis + static_cast<int>(k));
        continue;
      }
      if (contains(output, l)) parser.fail(detail::cat("output subscript '", static_cast<char>(l), "' appears twice"));
      if (!count.count(l))
        parser.fail(detail::cat("output subscript '", static_cast<char>(l), "' appears in no operand"));
      output.push_back(l);
    }
  }

  for (Operand& op : ops) {
    // Repeated labels: the diagonal of the two axes (moved last), until none repeats.
    for (bool again = true; again;) {
      again = false;
      for (std::size_t i = 0; i < op.labels.size() && !again; ++i) {
        for (std::size_t j = i + 1; j < op.labels.size() && !again; ++j) {
          if (op.labels[i] != op.labels[j]) continue;
          std::vector<int> rest;
          Axes perm;
          for (std::size_t d = 0; d < op.labels.size(); ++d)
            if (d != i && d != j) {
              perm.push_back(static_cast<int64_t>(d));
              rest.push_back(op.labels[d]);
            }
          perm.push_back(static_cast<int64_t>(i));
          perm.push_back(static_cast<int64_t>(j));
          op.v = matrix_diag_part(transpose(op.v, perm));
          rest.push_back(op.labels[i]);
          op.labels = rest;
          again = true;
        }
      }
    }
    // Broadcast size-1 axes are constant along their label: drop them.
    Shape kept;
    std::vector<int> kept_labels;
    for (std::size_t d = 0; d < op.labels.size(); ++d) {
      if (op.v.shape()[d] == 1 && size.at(op.labels[d]) != 1) continue;
      kept.push_back(op.v.shape()[d]);
      kept_labels.push_back(op.labels[d]);
    }
    if (kept_labels.size() != op.labels.size()) {
      op.v = reshape(op.v, kept);
      op.labels = kept_labels;
    }
  }

  // Labels still needed by the output or by operands other than `skip0`/`skip1`.
  auto needed = [&](std::size_t skip0, std::size_t skip1) {
    std::vector<int> keep = output;
    for (std::size_t i = 0; i < ops.size(); ++i)
      if (i != skip0 && i != skip1) keep.insert(keep.end(), ops[i].labels.begin(), ops[i].labels.end());
    return keep;
  };
  for (std::size_t i = 0; i < ops.size(); ++i) sum_unneeded(ops[i], needed(i, i));

  // Pairwise contractions, the pair with the smallest result first (greedy).
  while (ops.size() > 1) {
    std::size_t best_i = 0, best_j = 1;
    double best = -1;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      for (std::size_t j = i + 1; j < ops.size(); ++j) {
        const std::vector<int> keep = needed(i, j);
        double n = 1;
        for (int l : ops[i].labels)
          if (contains(keep, l)) n *= static_cast<double>(size.at(l));
        for (int l : ops[j].labels)
          if (contains(keep, l) && !contains(ops[i].labels, l)) n *= static_cast<double>(size.at(l));
        if (best < 0 || n < best) {
          best = n;
          best_i = i;
          best_j = j;
        }
      }
    }
    const std::vector<int> keep = needed(best_i, best_j);
    Operand a = ops[best_i], b = ops[best_j];
    // Labels of one operand only that nothing else needs are summed first (shared ones are contracted).
    std::vector<int> keep_a = keep, keep_b = keep;
    keep_a.insert(keep_a.end(), b.labels.begin(), b.labels.end());
    keep_b.insert(keep_b.end(), a.labels.begin(), a.labels.end());
    sum_unneeded(a, keep_a);
    sum_unneeded(b, keep_b);
    Operand ab = contract(a, b, keep, size, equation);
    ops.erase(ops.begin() + static_cast<std::ptrdiff_t>(best_j));
    ops[best_i] = ab;
  }
  Operand& r = ops[0];
  sum_unneeded(r, output);
  Variable y = permute(r, output);
  // An equation that does nothing ('ij->ij') still returns a new tensor.
  for (const Variable& xi : x)
    if (y.same(xi)) return identity(y);
  return y;
}

}  // namespace nthgrad

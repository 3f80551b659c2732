// Loss functions (technical note section 13), each composed of differentiable
// ops (softplus, log_softmax, log, abs, where, sum, ...), so their gradients of
// every order come from those ops' rules. Integer labels enter as constant
// row offsets, so the label's entry log_softmax(x)[label] is picked by one
// row gather (not a product with a one-hot mask: -inf * 0 is NaN), whose
// gradient is a scatter-add of gy.
#include "nthgrad/ops/loss.h"

#include <cmath>
#include <limits>

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/activation.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/logical.h"
#include "nthgrad/ops/math.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/array_internal.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {

// Two float operands broadcast as NumPy; the error names the loss, not the sub2 inside it.
void check_broadcast(const char* op, const Variable& x0, const Variable& x1) {
  check::floating(op, "x0", x0);
  check::floating(op, "x1", x1);
  broadcast_shapes(op, "x0", x0.shape(), "x1", x1.shape());
}

// Two float operands of one shape (nnabla's rule for these losses), in one dtype.
std::pair<Variable, Variable> equal_shape_pair(const char* op, const char* a0, const Variable& x0, const char* a1,
                                               const Variable& x1) {
  check::floating(op, a0, x0);
  check::floating(op, a1, x1);
  check::same_shape(op, a0, x0, a1, x1);
  return check::promote(op, x0, x1);
}

// The smallest positive normal number of the dtype: nnabla clamps probabilities there before log.
double tiny(DType dtype) {
  return dtype == DType::Float32 ? std::numeric_limits<float>::min() : std::numeric_limits<double>::min();
}

// A constant scalar of p's dtype.
Variable constant_like(const Variable& p, double value) { return record_nondiff(Tensor::scalar(value, p.dtype())); }

// log(max(p, eps)) as nnabla's value, with the slope 1/eps below eps: nnabla's (and torch's) gradient at a
// saturated probability is -dy/eps, not 0, and no order of derivative may be 0 * inf = NaN there. So below
// eps the value is log(eps) + (p - p.detach())/eps (exactly log(eps), slope 1/eps, curvature 0), and above
// it log(p) of a p that the mask keeps away from 0 (the branch not taken never sees a 0 to divide by).
Variable clamped_log(const Variable& p, double eps) {
  Variable inside = greater_scalar(p.detach(), eps);  // a constant mask
  Variable above = log(where(inside, p, constant_like(p, 1.0)));
  Variable below = add_scalar(mul_scalar(sub2(p, p.detach()), 1.0 / eps), std::log(eps));
  return where(inside, above, below);
}

struct LabelRows {
  int64_t axis;
  Tensor rows;       // int64, target's shape: the flat offset in x of each label's entry (0 where ignored)
  Variable valid;    // target's shape: 0 where the label is -1 (undefined when no label is -1)
};

// Checks the labels of softmax / categorical cross-entropy and turns them into
// constant row offsets (and a mask of the ignored ones). Float labels are
// truncated to integers, as nnabla does.
LabelRows label_rows(const char* op, const Variable& x, const Variable& target, std::optional<int64_t> axis) {
  check::floating(op, "x", x);
  check::defined(op, "target", target);
  if (x.ndim() == 0)
    throw ValueError(detail::cat(op, ": x must have a class axis, got a 0-d x (target of shape ",
                                 shape_str(target.shape()), ")"));
  int64_t a = axis.value_or(x.ndim() - 1);
  if (a < -x.ndim() || a >= x.ndim())
    throw IndexError(detail::cat(op, ": axis ", a, " is out of range for x of shape ", shape_str(x.shape())));
  if (a < 0) a += x.ndim();
  Shape want = x.shape();
  want[a] = 1;
  if (target.shape() != want)
    throw ValueError(detail::cat(op, ": target must have x's shape with 1 at axis ", a, ", i.e. ", shape_str(want),
                                 "; got target of shape ", shape_str(target.shape()), " for x of shape ",
                                 shape_str(x.shape())));
  Tensor labels;
  if (target.dtype() == DType::Int64) {
    labels = target.value();
  } else if (is_floating(target.dtype())) {
    try {
      labels = kernels::cast(target.value(), DType::Int64);
    } catch (const ValueError& e) {
      throw ValueError(detail::cat(op, ": target labels: ", e.what()));
    }
  } else {
    throw TypeError(detail::cat(op, ": target must hold int64 (or float) labels, got ", dtype_name(target.dtype()),
                                " (shape ", shape_str(target.shape()), ")"));
  }
  const int64_t classes = x.shape()[a];
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < a; ++d) outer *= x.shape()[d];
  for (int64_t d = a + 1; d < x.ndim(); ++d) inner *= x.shape()[d];
  Tensor rows = Tensor::empty(target.shape(), DType::Int64);
  int64_t* row = rows.data<int64_t>();
  const int64_t* lab = labels.data<int64_t>();
  bool any_ignored = false;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t l = lab[o * inner + i];
      if (l == -1) {
        any_ignored = true;
        row[o * inner + i] = 0;
        continue;
      }
      if (l < -1 || l >= classes)
        throw IndexError(detail::cat(op, ": label ", l, " is out of range for ", classes,
                                     " classes (labels are 0..", classes - 1, ", or -1 to ignore); x of shape ",
                                     shape_str(x.shape())));
      row[o * inner + i] = (o * classes + l) * inner + i;
    }
  Variable valid;
  if (any_ignored) {
    Tensor ok = Tensor::empty(target.shape(), x.dtype());
    const int64_t n = ok.numel();
    if (x.dtype() == DType::Float32)
      for (int64_t k = 0; k < n; ++k) ok.data<float>()[k] = lab[k] == -1 ? 0.0f : 1.0f;
    else
      for (int64_t k = 0; k < n; ++k) ok.data<double>()[k] = lab[k] == -1 ? 0.0 : 1.0;
    valid = record_nondiff(ok);
  }
  return {a, rows, valid};
}

// x's entry at each label (target's shape): one row gather, whose gradient is a scatter-add into x's
// shape (a dense one-hot mask cost a pass over x and a where per use)
Variable pick_labels(const char* op, const Variable& x, const LabelRows& m) {
  return reshape(detail::gather_rows(op, reshape(x, {x.numel(), 1}), 1, m.rows), m.rows.shape());
}

}  // namespace

// softplus(x) - x t: stable for any |x| (softplus = max(x, 0) + log1p(e^-|x|))
Variable sigmoid_cross_entropy(const Variable& x, const Variable& target) {
  auto [a, t] = equal_shape_pair("sigmoid_cross_entropy", "x", x, "target", target);
  return sub2(softplus(a), mul2(a, t));
}

// -(t log max(x, tiny) + (1-t) log max(1-x, tiny)); at x = 0 or 1 the clamped log keeps nnabla's gradient
// -t/tiny (resp. (1-t)/tiny) and every higher derivative finite
Variable binary_cross_entropy(const Variable& x, const Variable& target) {
  auto [p, t] = equal_shape_pair("binary_cross_entropy", "x", x, "target", target);
  const double eps = tiny(p.dtype());
  Variable log_p = clamped_log(p, eps);
  Variable log_1mp = clamped_log(r_sub_scalar(p, 1.0), eps);
  return mul_scalar(add2(mul2(t, log_p), mul2(r_sub_scalar(t, 1.0), log_1mp)), -1.0);
}

// -log_softmax(x)[label] along axis, the label's entry picked by a gather (not a product with a one-hot
// mask: a -inf logit of another class, as in masked logits, has log_softmax -inf, and -inf * 0 would make
// the loss NaN). With ignored labels (-1), those rows read x = 0 instead of x, so that a NaN / inf there
// gives loss 0 and gradient 0 (nnabla skips those rows), and their loss is selected to 0.
Variable softmax_cross_entropy(const Variable& x, const Variable& target, std::optional<int64_t> axis) {
  const LabelRows m = label_rows("softmax_cross_entropy", x, target, axis);
  if (!m.valid.defined()) return mul_scalar(pick_labels("softmax_cross_entropy", log_softmax(x, m.axis), m), -1.0);
  Variable xs = where(m.valid, x, constant_like(x, 0.0));  // valid (target's shape) broadcasts along the class axis
  Variable picked = pick_labels("softmax_cross_entropy", log_softmax(xs, m.axis), m);
  return mul_scalar(where(m.valid, picked, constant_like(picked, 0.0)), -1.0);
}

// -log max(x[label], tiny) (clamped_log: slope 1/tiny below tiny, as nnabla's gradient); x[label] is
// gathered (an inf / NaN elsewhere in the row does not leak in); an ignored label reads 1 instead (loss 0,
// no gradient)
Variable categorical_cross_entropy(const Variable& x, const Variable& target, std::optional<int64_t> axis) {
  const LabelRows m = label_rows("categorical_cross_entropy", x, target, axis);
  Variable picked = pick_labels("categorical_cross_entropy", x, m);
  if (m.valid.defined()) picked = where(m.valid, picked, constant_like(picked, 1.0));
  return mul_scalar(clamped_log(picked, tiny(x.dtype())), -1.0);
}

Variable squared_error(const Variable& x0, const Variable& x1) {
  check_broadcast("squared_error", x0, x1);
  Variable d = sub2(x0, x1);
  return mul2(d, d);
}

// d s with the constant s = (d > 0 ? 1 : -1): nnabla's -1 at d = 0, which abs (+1 at 0) would not give.
// + 0 turns the tie's 0 * -1 = -0 into nnabla's abs(0) = +0 (round to nearest: -0 + 0 = +0).
Variable absolute_error(const Variable& x0, const Variable& x1) {
  check_broadcast("absolute_error", x0, x1);
  Variable d = sub2(x0, x1);
  return add_scalar(mul2(d, sign(d.detach(), -1.0, false)), 0.0);
}

// where(|d| < delta, d^2, delta (2|d| - delta)); the condition is a constant mask
Variable huber_loss(const Variable& x0, const Variable& x1, double delta) {
  check_broadcast("huber_loss", x0, x1);
  Variable d = sub2(x0, x1);
  Variable ad = abs(d);
  return where(less_scalar(ad, delta), mul2(d, d), mul_scalar(add_scalar(mul_scalar(ad, 2.0), -delta), delta));
}

// max(|d| - epsilon, 0): gradient sign(d) where |d| > epsilon (sign +1 at d = 0, as nnabla's x0 >= x1)
Variable epsilon_insensitive_loss(const Variable& x0, const Variable& x1, double epsilon) {
  check_broadcast("epsilon_insensitive_loss", x0, x1);
  return maximum_scalar(add_scalar(abs(sub2(x0, x1)), -epsilon), 0.0);
}

constexpr double kKlShift = 1e-8;  // nnabla adds it to p and q inside the logs

Variable kl_multinomial(const Variable& p, const Variable& q, int64_t base_axis) {
  auto [a, b] = equal_shape_pair("kl_multinomial", "p", p, "q", q);
  const int64_t nd = a.ndim();
  const int64_t base = base_axis < 0 ? base_axis + nd : base_axis;
  if (base < 0 || base >= nd)
    throw ValueError(detail::cat("kl_multinomial: base_axis ", base_axis, " is out of range for p of shape ",
                                 shape_str(a.shape()), " (it must name an axis)"));
  Axes axes;
  for (int64_t d = base; d < nd; ++d) axes.push_back(d);
  Shape out(a.shape().begin(), a.shape().begin() + base);
  out.push_back(1);
  // nnabla's p (log(p + 1e-8) - log(q + 1e-8)): p = 0 gives 0 (not 0 * -inf = NaN), q = 0 a finite value
  return reshape(sum(mul2(a, sub2(log(add_scalar(a, kKlShift)), log(add_scalar(b, kKlShift)))), axes, false), out);
}

}  // namespace nthgrad

// Hard functions, the straight-through estimator and the DAB bridge (see
// nthgrad/ops/hard.h).
#include "nthgrad/ops/hard.h"

#include <cmath>
#include <tuple>

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/activation.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/logical.h"
#include "nthgrad/ops/math.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {

// A hard function's value, value_of(z detached) computed without a graph, recorded as an op of z whose gradient
// is zero at the first order (undefined in the rule, so the engine hands back zeros), as torch.sign's.
template <typename F>
Variable zero_gradient(const char* op, const Variable& z, const F& value_of) {
  Tensor value;
  {
    NoGradGuard no_grad;
    value = value_of(z.detach()).value();
  }
  return record(op, {z}, value, kSavesNothing, [](const Ctx&) { return VariableList(1); });
}

// z floating, of shape (B, F...) (at least 2 axes) or, with `rows_columns`, exactly (B, R, C).
void check_batched(const char* op, const Variable& z, bool rows_columns = false) {
  check::floating(op, "z", z);
  if (rows_columns ? z.ndim() != 3 : z.ndim() < 2)
    throw ValueError(detail::cat(op, ": z must have shape ", rows_columns ? "(B, R, C)" : "(B, F...)", ", got ",
                                 shape_str(z.shape())));
}

// True when some element of x (no graph) satisfies the 0/1 test.
bool any(const Variable& test) { return test.numel() > 0 && max(test).item() != 0; }

// sort(z) of a (B, R, C) input, computed without a graph: (B, 2 R C).
Variable rows_then_columns(const Variable& z) {
  const int64_t b = z.shape()[0], rc = z.shape()[1] * z.shape()[2];
  const Variable rows = reshape(nthgrad::sort(z, 2).first, {b, rc});
  const Variable columns = reshape(nthgrad::sort(z, 1).first, {b, rc});
  return concatenate({rows, columns}, 1);
}

// 0 as a function of z, finite for every finite z: it keeps a gradient that is a constant connected to z, so its
// derivative is a (zero) tensor instead of "not used".
Variable zero_in(const Variable& z) { return mul_scalar(tanh(z), 0.0); }

}  // namespace

namespace hard {

Variable signum(const Variable& z, double eps) {
  const char* op = "hard.signum";
  check::floating(op, "z", z);
  if (!(eps >= 0) || std::isinf(eps))
    throw ValueError(detail::cat(op, ": eps must be finite and >= 0, got ", eps, " (z of shape ", shape_str(z.shape()),
                                 ")"));
  return zero_gradient(op, z, [eps](const Variable& x) {
    return where(isnan(x), x, cast(sub2(greater_scalar(x, eps), less_scalar(x, -eps)), x.dtype()));
  });
}

Variable binary(const Variable& z) {
  const char* op = "hard.binary";
  check_batched(op, z);
  Axes features;
  for (int64_t a = 1; a < z.ndim(); ++a) features.push_back(a);
  return zero_gradient(op, z, [&features](const Variable& x) {
    return cast(greater_equal(x, mean(x, features, true)), x.dtype());
  });
}

Variable bernoulli(const Variable& p, RandomSource seed) {
  const char* op = "hard.bernoulli";
  check::floating(op, "p", p);
  seed.check(op);
  return zero_gradient(op, p, [&](const Variable& x) {
    if (any(logical_or(less_scalar(x, 0.0), logical_or(greater_scalar(x, 1.0), isnan(x)))))
      throw ValueError(detail::cat(op, ": every p must lie in [0, 1] (p of shape ", shape_str(p.shape()), ")"));
    return Variable(seed.draw(static_cast<uint64_t>(x.numel()), [&](uint64_t key, uint64_t offset) {
      const Tensor u = kernels::random_uniform(x.shape(), 0.0, 1.0, x.dtype(), kernels::RandomKey{key, offset});
      return kernels::compare(kernels::Binary::Less, u, x.value(), x.dtype());
    }));
  });
}

Variable sort(const Variable& z) {
  const char* op = "hard.sort";
  check_batched(op, z, true);
  return zero_gradient(op, z, rows_then_columns);
}

Variable sort_1d(const Variable& z) {
  const char* op = "hard.sort_1d";
  check_batched(op, z);
  return zero_gradient(op, z, [](const Variable& x) {
    return reshape(nthgrad::sort(reshape(x, {x.shape()[0], -1}), 1).first, x.shape());
  });
}

Variable topk(const Variable& z, int64_t k) {
  const char* op = "hard.topk";
  check_batched(op, z, true);
  const int64_t available = 2 * z.shape()[1] * z.shape()[2];
  if (k < 1 || k > available)
    throw ValueError(detail::cat(op, ": k=", k, " must lie in [1, ", available, "] (2 R C for z of shape ",
                                 shape_str(z.shape()), ")"));
  return zero_gradient(op, z, [k](const Variable& x) {
    return slice(rows_then_columns(x), {0, 0}, {x.shape()[0], k}, {1, 1});
  });
}

Variable kmeans(const Variable& z, int64_t k, int64_t iters, RandomSource seed, bool assignments) {
  const char* op = "hard.kmeans";
  check::floating(op, "z", z);
  if (z.ndim() != 2 && z.ndim() != 3)
    throw ValueError(detail::cat(op, ": z must have shape (B, N) or (B, N, D), got ", shape_str(z.shape())));
  const int64_t b = z.shape()[0], n = z.shape()[1], d = z.ndim() == 3 ? z.shape()[2] : 1;
  if (k < 1 || k > n)
    throw ValueError(detail::cat(op, ": k=", k, " must lie in [1, ", n, "] (N points per sample, z of shape ",
                                 shape_str(z.shape()), ")"));
  if (iters < 0) throw ValueError(detail::cat(op, ": iters must be >= 0, got ", iters));
  if (d < 1) throw ValueError(detail::cat(op, ": the points of z of shape ", shape_str(z.shape()), " are empty"));
  seed.check(op);
  Tensor centres, labels;
  const Variable y = zero_gradient(op, z, [&](const Variable& x) {
    if (any(logical_or(isnan(x), isinf(x))))
      throw ValueError(detail::cat(op, ": z (shape ", shape_str(z.shape()), ") has a NaN or infinite entry"));
    // k distinct points per sample, equally likely, as the first centres.
    const Tensor weights = Tensor::ones({b, n}, DType::Float64);
    const Tensor init = seed.draw(static_cast<uint64_t>(b * n), [&](uint64_t key, uint64_t offset) {
      return kernels::random_choice_index(weights, k, false, kernels::RandomKey{key, offset});
    });
    std::tie(centres, labels) = kernels::kmeans(x.value().reshape({b, n, d}), init, iters);
    return Variable(centres.reshape(z.ndim() == 3 ? Shape{b, k, d} : Shape{b, k}));
  });
  return assignments ? Variable(labels) : y;
}

}  // namespace hard

Variable straight_through(const Variable& z, const Variable& h, double clip) {
  const char* op = "straight_through";
  check::floating(op, "z", z);
  check::defined(op, "h", h);
  check::same_shape(op, "z", z, "h", h);
  if (!(clip >= 0)) throw ValueError(detail::cat(op, ": clip must be >= 0, got ", clip));
  const Tensor value = h.dtype() == z.dtype() ? h.value() : kernels::cast(h.value(), z.dtype());
  Variable mask;  // 1{|z| <= clip}, a constant of the graph; none for the plain estimator
  if (!std::isinf(clip)) {
    NoGradGuard no_grad;
    mask = cast(less_equal_scalar(abs(z.detach()), clip), z.dtype());
  }
  return record(op, {z}, value, kSavesInputs, [mask](const Ctx& c) {
    const Variable ones = add_scalar(zero_in(c.in(0)), 1.0);
    return grads(mul2(c.gy(), mask.defined() ? mul2(ones, mask) : ones));
  });
}

Variable dab_bridge(const Variable& z, const Variable& s, const Variable& h) {
  const char* op = "dab_bridge";
  check::floating(op, "z", z);
  check::floating(op, "s", s);
  check::defined(op, "h", h);
  if (h.shape() != s.shape())
    throw ValueError(detail::cat(op, ": the hard function's value h has shape ", shape_str(h.shape()),
                                 " but the approximator's output s has shape ", shape_str(s.shape()),
                                 "; they must match (z has shape ", shape_str(z.shape()), ")"));
  const Tensor value = h.dtype() == s.dtype() ? h.value() : kernels::cast(h.value(), s.dtype());
  // s is an input so that the outer backward pass reaches this node before the approximator's nodes (which it may
  // release); its gradient from here is none.
  return record(op, {z, s}, value, kSavesInputs, [](const Ctx& c) {
    VariableList g(2);
    if (!c.needs(0) || !c.in(1).requires_grad()) return g;  // s does not depend on z: a zero gradient
    // The rule runs in grad mode exactly when the outer pass records (create_graph): the nested pass does the same.
    const bool create_graph = is_grad_enabled();
    g[0] = grad({c.in(1)}, {c.in(0)}, {c.gy()}, /*retain_graph=*/true, create_graph, /*allow_unused=*/true)[0];
    return g;
  });
}

}  // namespace nthgrad

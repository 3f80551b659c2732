// Hard functions, the straight-through estimator and the DAB bridge (see
// nthgrad/ops/hard.h).
#include "nthgrad/ops/hard.h"

#include <cmath>
#include <tuple>

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/logical.h"
#include "nthgrad/ops/math.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {

// A hard function's value, value_of(z detached) computed without a graph, recorded as an op of z whose gradient
// is a tensor of zeros (as torch.sign's: z.grad becomes zeros, not None).
template <typename F>
Variable zero_gradient(const char* op, const Variable& z, const F& value_of) {
  Tensor value;
  {
    NoGradGuard no_grad;
    value = value_of(z.detach()).value();
  }
  return record(op, {z}, value, kSavesNothing,
                [](const Ctx& c) { return grads(Variable(Tensor::zeros(c.in_shape(0), c.in_dtype(0)))); });
}

// Zeros of z's shape as an op of z whose derivative is again connected_zero(z): added to a gradient that is a
// constant, it keeps that gradient an op of z, so every further derivative is a defined zero (finite for every
// z, NaN included) instead of "not used".
Variable connected_zero(const Variable& z) {
  return record("zero_of", {z}, Tensor::zeros(z.shape(), z.dtype()), kSavesInputs,
                [](const Ctx& c) { return grads(connected_zero(c.in(0))); });
}

// The features of each sample of z (B, F...): F... flattened (explicit, so that B = 0 works).
int64_t features_of(const Variable& z) { return numel(Shape(z.shape().begin() + 1, z.shape().end())); }

// A hard value the op returns: a copy in `dtype`, so the output never shares memory with z or with a tensor
// the caller may write in place later (torch's z + (h - z).detach() makes a new tensor too).
Tensor own_copy(const Variable& h, DType dtype) { return kernels::cast(h.value(), dtype); }

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
    // The rounded mean of a constant sample can exceed its value (0.1 repeated 13 times in float64) and the
    // mean of huge values can overflow: clamped into [min, max], a constant sample is all ones.
    const Variable m = minimum2(maximum2(mean(x, features, true), min(x, features, true)), max(x, features, true));
    return where(isnan(x), x, cast(greater_equal(x, m), x.dtype()));
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
    return reshape(nthgrad::sort(reshape(x, {x.shape()[0], features_of(x)}), 1).first, x.shape());
  });
}

Variable topk(const Variable& z, int64_t k) {
  const char* op = "hard.topk";
  check_batched(op, z, true);
  const int64_t available = 2 * z.shape()[1] * z.shape()[2];
  if (available == 0) throw ValueError(detail::cat(op, ": z of shape ", shape_str(z.shape()), " has no entries per sample"));
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
  if (n == 0) throw ValueError(detail::cat(op, ": z of shape ", shape_str(z.shape()), " has no points per sample"));
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
    // The uniforms of the k-means++ seeding, drawn once for the whole batch: a sample's result does not depend
    // on where it sits in the batch (its row would otherwise get counters of its own).
    const Tensor uniforms = seed.draw(static_cast<uint64_t>(k), [&](uint64_t key, uint64_t offset) {
      return kernels::random_uniform({k}, 0.0, 1.0, DType::Float64, kernels::RandomKey{key, offset});
    });
    std::tie(centres, labels) = kernels::kmeans(x.value().reshape({b, n, d}), uniforms, iters);
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
  Variable mask;  // 1{|z| <= clip}, a constant of the graph; none for the plain estimator
  if (!std::isinf(clip)) {
    NoGradGuard no_grad;
    mask = cast(less_equal_scalar(abs(z.detach()), clip), z.dtype());
  }
  return record(op, {z}, own_copy(h, z.dtype()), kSavesInputs, [mask](const Ctx& c) {
    // + a zero that is an op of z: the gradient stays connected to z, so its derivative is a defined zero even
    // where gy does not depend on z (plain gy would make a second grad call fail with "not used")
    const Variable gz = mask.defined() ? mul2(c.gy(), mask) : c.gy();
    if (!is_grad_enabled()) return grads(gz);  // not recorded: nothing to keep connected
    return grads(add2(gz, connected_zero(c.in(0))));
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
  // s is an input so that the outer backward pass reaches this node before the approximator's nodes (which it may
  // release); its gradient from here is none.
  return record(op, {z, s}, own_copy(h, s.dtype()), kSavesInputs, [](const Ctx& c) {
    VariableList g(2);
    if (!c.needs(0) || !c.in(1).requires_grad()) return g;  // s does not depend on z: a zero gradient
    // The rule runs in grad mode exactly when the outer pass records (create_graph): the nested pass does the same.
    const bool create_graph = is_grad_enabled();
    g[0] = grad({c.in(1)}, {c.in(0)}, {c.gy()}, /*retain_graph=*/true, create_graph, /*allow_unused=*/true)[0];
    return g;
  });
}

}  // namespace nthgrad

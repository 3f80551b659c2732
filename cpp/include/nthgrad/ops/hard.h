#pragma once
// Hard functions and the estimators that let gradients pass them (issue 11).
//
// The hard functions of the DAB paper (Ramapuram and Webb) are in namespace
// nthgrad::hard. On their own they are differentiable with a zero gradient
// (as torch.sign): a backward through one gives zeros (a first-order zero: a
// constant tensor), which is why a network needs an estimator to learn
// through them:
// - straight_through: forward a given hard value h, backward the identity
//   (optionally masked to |z| <= clip, BinaryNet's clipped STE);
// - dab_bridge: forward h, backward the vector-Jacobian product through a
//   differentiable approximator s(z) (a differentiable approximation bridge).
#include <cstdint>
#include <limits>

#include "nthgrad/ops/random.h"
#include "nthgrad/variable.h"

namespace nthgrad {

namespace hard {

// -1 where z < -eps, +1 where z > eps, else 0 (NaN stays NaN); z's dtype.
// eps >= 0.
Variable signum(const Variable& z, double eps = 0.5);

// z of shape (B, F...): 1 where z >= the mean of its sample's features
// (every axis but the first), else 0; z's dtype.
Variable binary(const Variable& z);

// A sample of Bernoulli(p) per element (1 with probability p), in p's dtype;
// p in [0, 1]. Not reparameterized: the gradient in p is zero.
Variable bernoulli(const Variable& p, RandomSource seed = -1);

// z of shape (B, R, C): per sample, the rows sorted (ascending along C)
// followed by the columns sorted (ascending along R), each flattened in
// row-major order: shape (B, 2 R C).
Variable sort(const Variable& z);

// z of shape (B, F...): per sample, the features flattened and sorted
// ascending, returned in z's shape.
Variable sort_1d(const Variable& z);

// The first k of sort(z): shape (B, k), 1 <= k <= 2 R C.
Variable topk(const Variable& z, int64_t k);

// Lloyd's k-means per sample over the points of z: z (B, N) is N scalars,
// z (B, N, D) N points of dimension D (finite). The first centres are chosen
// by k-means++ seeding from k uniforms drawn with the seed, the same for
// every sample, so a sample's result depends on the sample and the seed only
// (not on the rest of the batch); then iters rounds of assignment and update
// (an empty cluster keeps its centre). Centres come out in ascending
// lexicographic order: (B, k) or (B, k, D) in z's dtype, or with
// `assignments` the int64 index (B, N) of each point's centre in that order.
// 1 <= k <= N.
Variable kmeans(const Variable& z, int64_t k = 10, int64_t iters = 20, RandomSource seed = 0,
                bool assignments = false);

}  // namespace hard

// Forward: h (z's shape; cast to z's dtype), computed by any hard function.
// Backward: gz = gy * 1{|z| <= clip} (clip = +inf: the identity). The mask is
// a constant, so the second derivative is zero (defined, not an error).
Variable straight_through(const Variable& z, const Variable& h, double clip = std::numeric_limits<double>::infinity());

// The bridge of a DAB. Forward: h, a hard function's value (s's shape; cast
// to s's dtype). Backward: gz = (ds/dz)^T gy, the vector-Jacobian product
// through the approximator's output s = approximator(z), by a nested
// backward pass over s's graph (with create_graph when the outer pass
// records); s and the approximator's parameters get nothing from this path at
// the first order. At every order h then has the derivatives of s: those of
// f(h) at z0 are the derivatives of f(s(z) - s(z0) + h(z0)).
Variable dab_bridge(const Variable& z, const Variable& s, const Variable& h);

}  // namespace nthgrad

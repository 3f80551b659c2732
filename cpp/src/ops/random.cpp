// Stochasticity (technical note section 12): the generator, the samplers,
// dropout and random_choice.
#include "nthgrad/ops/random.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/math.h"
#include "ops/detail/array_internal.h"
#include "ops/detail/check.h"

namespace nthgrad {

// ---- Generator ----

Generator::Generator(const Generator& other) {
  std::lock_guard<std::mutex> lock(other.mutex_);
  seed_ = other.seed_;
  offset_ = other.offset_;
}

Generator& Generator::operator=(const Generator& other) {
  if (this != &other) {
    uint64_t s, o;
    {
      std::lock_guard<std::mutex> lock(other.mutex_);
      s = other.seed_;
      o = other.offset_;
    }
    set_state(s, o);
  }
  return *this;
}

uint64_t Generator::seed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return seed_;
}

uint64_t Generator::offset() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return offset_;
}

void Generator::manual_seed(uint64_t seed) { set_state(seed, 0); }

void Generator::set_state(uint64_t seed, uint64_t offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  seed_ = seed;
  offset_ = offset;
}

Tensor Generator::draw(uint64_t n, const std::function<Tensor(uint64_t, uint64_t)>& draw) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Counters past 2^64 would wrap to 0 and repeat the sequence: refused.
  if (n > std::numeric_limits<uint64_t>::max() - offset_)
    throw ValueError(detail::cat("Generator: drawing ", n, " numbers at offset ", offset_,
                                 " would run past the last counter (2**64); reseed it or set a smaller offset"));
  Tensor y = draw(seed_, offset_);
  offset_ += n;
  return y;
}

const std::shared_ptr<Generator>& default_generator() {
  static const std::shared_ptr<Generator> global = std::make_shared<Generator>(0);
  return global;
}

void manual_seed(uint64_t seed) { default_generator()->manual_seed(seed); }

void RandomSource::check(const char* op) const {
  if (!generator_ && seed_ < -1)
    throw ValueError(
        detail::cat(op, ": seed must be -1 (the global generator), a non-negative int or a Generator, got ", seed_));
}

Tensor RandomSource::draw(uint64_t n, const std::function<Tensor(uint64_t, uint64_t)>& draw) const {
  if (n == 0) return draw(0, 0);  // nothing to draw: no generator is touched
  if (generator_) return generator_->draw(n, draw);
  if (seed_ == -1) return default_generator()->draw(n, draw);
  return draw(static_cast<uint64_t>(seed_), 0);
}

std::array<uint32_t, 4> philox4x32_10(const std::array<uint32_t, 4>& counter, const std::array<uint32_t, 2>& key) {
  std::array<uint32_t, 4> out{};
  kernels::philox4x32_10(counter.data(), key.data(), out.data());
  return out;
}

namespace {

// ValueError naming `op` for a negative dimension or a shape whose element
// count does not fit (NumPy's rule: the product of the non-zero dimensions).
void check_shape(const char* op, const Shape& shape) {
  for (int64_t d : shape)
    if (d < 0) throw ValueError(detail::cat(op, ": shape ", shape_str(shape), " has a negative dimension"));
  int64_t p = 1;
  for (int64_t d : shape)
    if (d != 0) p = checked_mul(p, d, op, shape);
}

void check_float_dtype(const char* op, DType dtype) {
  if (!is_floating(dtype))
    throw TypeError(detail::cat(op, ": dtype must be float32 or float64, got ", dtype_name(dtype)));
}

void check_finite(const char* op, const char* arg, double v) {
  if (!std::isfinite(v)) throw ValueError(detail::cat(op, ": ", arg, " must be finite, got ", v));
}

void check_positive(const char* op, const char* arg, double v) {
  if (!(v > 0) || !std::isfinite(v))
    throw ValueError(detail::cat(op, ": ", arg, " must be positive and finite, got ", v));
}

// Runs a kernel on `count` counters of the source (none for an empty draw).
template <typename F>
Tensor draw(const RandomSource& seed, uint64_t count, const F& kernel) {
  return seed.draw(count, [&](uint64_t key, uint64_t offset) { return kernel(kernels::RandomKey{key, offset}); });
}

}  // namespace

// rand: y ~ U[low, high); no gradient
Variable rand(double low, double high, const Shape& shape, RandomSource seed, DType dtype) {
  constexpr const char* op = "rand";
  check_shape(op, shape);
  check_float_dtype(op, dtype);
  check_finite(op, "low", low);
  check_finite(op, "high", high);
  if (!(low < high)) throw ValueError(detail::cat("rand: low must be less than high, got low=", low, ", high=", high));
  if (dtype == DType::Float32 && std::max(std::fabs(low), std::fabs(high)) > std::numeric_limits<float>::max())
    throw ValueError(detail::cat("rand: low=", low, " and high=", high, " must lie within the float32 range"));
  seed.check(op);
  return record_nondiff(draw(seed, static_cast<uint64_t>(numel(shape)), [&](kernels::RandomKey key) {
    return kernels::random_uniform(shape, low, high, dtype, key);
  }));
}

// randn: y ~ N(mu, sigma^2); no gradient
Variable randn(double mu, double sigma, const Shape& shape, RandomSource seed, DType dtype) {
  constexpr const char* op = "randn";
  check_shape(op, shape);
  check_float_dtype(op, dtype);
  check_finite(op, "mu", mu);
  check_finite(op, "sigma", sigma);
  if (sigma < 0) throw ValueError(detail::cat("randn: sigma must be >= 0, got ", sigma));
  seed.check(op);
  return record_nondiff(draw(seed, static_cast<uint64_t>(numel(shape)), [&](kernels::RandomKey key) {
    return kernels::random_normal(shape, mu, sigma, dtype, key);
  }));
}

// randint: int64 y uniform on [low, high); no gradient
Variable randint(int64_t low, int64_t high, const Shape& shape, RandomSource seed) {
  constexpr const char* op = "randint";
  check_shape(op, shape);
  if (low >= high)
    throw ValueError(detail::cat("randint: low must be less than high, got low=", low, ", high=", high));
  seed.check(op);
  return record_nondiff(draw(seed, static_cast<uint64_t>(numel(shape)), [&](kernels::RandomKey key) {
    return kernels::random_int(shape, low, high, key);
  }));
}

// rand_binomial: y ~ Binomial(n, p) as floats; no gradient
Variable rand_binomial(int64_t n, double p, const Shape& shape, RandomSource seed, DType dtype) {
  constexpr const char* op = "rand_binomial";
  check_shape(op, shape);
  check_float_dtype(op, dtype);
  if (n < 0) throw ValueError(detail::cat("rand_binomial: n must be >= 0, got ", n));
  if (n > (int64_t{1} << 53))  // the counts are floats: beyond 2^53 they are not exact
    throw ValueError(detail::cat("rand_binomial: n must be at most 2**53, got ", n));
  if (!(p >= 0 && p <= 1)) throw ValueError(detail::cat("rand_binomial: p must lie in [0, 1], got ", p));
  seed.check(op);
  return record_nondiff(draw(seed, static_cast<uint64_t>(numel(shape)), [&](kernels::RandomKey key) {
    return kernels::random_binomial(shape, n, p, dtype, key);
  }));
}

// rand_beta: y ~ Beta(alpha, beta) = X / (X + Y), X ~ Gamma(alpha), Y ~ Gamma(beta); no gradient
Variable rand_beta(double alpha, double beta, const Shape& shape, RandomSource seed, DType dtype) {
  constexpr const char* op = "rand_beta";
  check_shape(op, shape);
  check_float_dtype(op, dtype);
  check_positive(op, "alpha", alpha);
  check_positive(op, "beta", beta);
  seed.check(op);
  return record_nondiff(draw(seed, static_cast<uint64_t>(numel(shape)), [&](kernels::RandomKey key) {
    return kernels::random_beta(shape, alpha, beta, dtype, key);
  }));
}

// rand_gamma: y ~ Gamma(shape k, scale theta); no gradient
Variable rand_gamma(double k, double theta, const Shape& shape, RandomSource seed, DType dtype) {
  constexpr const char* op = "rand_gamma";
  check_shape(op, shape);
  check_float_dtype(op, dtype);
  check_positive(op, "k", k);
  check_positive(op, "theta", theta);
  seed.check(op);
  return record_nondiff(draw(seed, static_cast<uint64_t>(numel(shape)), [&](kernels::RandomKey key) {
    return kernels::random_gamma(shape, k, theta, dtype, key);
  }));
}

// dropout: y = x * mask / (1 - p), mask = [u >= p]; gx = gy * mask / (1 - p)  (mask: a constant)
Variable dropout(const Variable& x, double p, RandomSource seed) {
  check::floating("dropout", "x", x);
  if (!(p >= 0 && p <= 1))
    throw ValueError(detail::cat("dropout: p must lie in [0, 1], got ", p, " (x of shape ", shape_str(x.shape()), ")"));
  seed.check("dropout");
  // Nothing to draw at p = 0 (y = x) and p = 1 (y = 0, gx = 0 without dividing by 1 - p): the generator stays.
  if (p == 0) return record("dropout", {x}, x.value(), kSavesNothing, [](const Ctx& c) { return grads(c.gy()); });
  if (p == 1)
    return record("dropout", {x}, Tensor::zeros(x.shape(), x.dtype()), kSavesNothing,
                  [](const Ctx& c) { return grads(c.gy().defined() ? mul_scalar(c.gy(), 0.0) : Variable()); });
  const double scale = 1.0 / (1.0 - p);
  Tensor m;  // y and the mask are both made before the generator advances
  const Tensor y = draw(seed, static_cast<uint64_t>(x.numel()), [&](kernels::RandomKey key) {
    m = kernels::dropout_mask(x.shape(), p, x.dtype(), key);
    return kernels::with_scalar(kernels::WithScalar::Mul, kernels::binary(kernels::Binary::Mul, x.value(), m), scale);
  });
  const Variable mask(m);
  return record("dropout", {x}, y, kSavesNothing,
                [mask, scale](const Ctx& c) { return grads(mul_scalar(mul2(c.gy(), mask), scale)); });
}

// random_choice: y[..., d] = x[..., i_d], i_d ~ w[..., :] / sum(w[..., :]);
// gx = gw = gy added at i_d (nnabla): a scatter_rows_add, whose rule is the
// gather at the same places
Variable random_choice(const Variable& x, const Variable& w, const Shape& shape, bool replace, RandomSource seed) {
  constexpr const char* op = "random_choice";
  check::floating(op, "x", x);
  check::floating(op, "w", w);
  check::same_shape(op, "x", x, "w", w);
  if (x.ndim() == 0)
    throw ValueError("random_choice: x and w must have at least one axis (the population), got shape ()");
  check_shape(op, shape);
  seed.check(op);
  const int64_t n = x.shape().back();
  const int64_t draws = shape.empty() ? 1 : numel(shape);
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  if (shape.empty())
    out_shape.push_back(1);
  else
    out_shape.insert(out_shape.end(), shape.begin(), shape.end());
  check_shape(op, out_shape);
  const int64_t rows = n == 0 ? numel(Shape(x.shape().begin(), x.shape().end() - 1)) : x.numel() / n;
  if (n == 0 && rows > 0 && draws > 0)
    throw ValueError(detail::cat("random_choice: cannot draw from an empty population (x of shape ",
                                 shape_str(x.shape()), ")"));
  if (!replace && draws > n)
    throw ValueError(detail::cat("random_choice: cannot draw ", draws, " values (shape ", shape_str(shape),
                                 ") without replacement from a population of ", n, " (x of shape ",
                                 shape_str(x.shape()), ")"));
  auto [x1, w1] = check::promote(op, x, w);
  // Counters: one per draw with replacement, one per population entry without.
  const uint64_t count = static_cast<uint64_t>(rows) * static_cast<uint64_t>(replace ? draws : n);
  if (rows > 0 && draws > 0) kernels::check_choice_weights(w1.value(), draws, replace);  // before any draw
  const Variable index(draw(seed, rows > 0 && draws > 0 ? count : 0, [&](kernels::RandomKey key) {
    return kernels::random_choice_index(w1.value(), draws, replace, key);
  }));
  // flat positions in x of the drawn entries (in range by construction)
  const Tensor offsets = kernels::along_axis_offsets(index.value(), x1.shape(), x1.ndim() - 1, op, "x");
  const Tensor y = kernels::gather_rows(x1.value(), 1, offsets).reshape(out_shape);
  const int64_t k = offsets.numel(), size = x1.numel();
  return record(op, {x1, w1}, y, kSavesNothing, [offsets, k, size](const Ctx& c) {
    const Variable g = reshape(
        detail::scatter_rows_add("random_choice_backward", reshape(c.gy(), {k, 1}), offsets, size, 1), c.in_shape(0));
    return grads(c.needs(0) ? g : Variable(), c.needs(1) ? g : Variable());
  });
}

}  // namespace nthgrad

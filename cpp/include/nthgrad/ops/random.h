#pragma once
// Stochasticity (technical note section 12) and the random sources: every one
// takes an explicit seed or a Generator; same seed, same numbers everywhere.
//
// A Generator is a Philox4x32-10 key (its seed) and a counter offset. A draw
// of n elements uses the counters offset .. offset + n - 1 (element i reads
// only its own counter, so the thread count does not matter) and advances
// the offset by n. Ops with nothing to draw (an empty shape, dropout with
// p = 0 or 1) do not advance it.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

#include "nthgrad/variable.h"

namespace nthgrad {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  Generator(const Generator& other);
  Generator& operator=(const Generator& other);

  uint64_t seed() const;
  uint64_t offset() const;
  // Restarts the sequence of `seed` (offset 0).
  void manual_seed(uint64_t seed);
  void set_state(uint64_t seed, uint64_t offset);
  // Runs draw(seed, offset) with the generator locked and advances the
  // offset by n when it returns: a draw that throws (out of memory) leaves
  // the generator as it was, and concurrent draws never share counters.
  Tensor draw(uint64_t n, const std::function<Tensor(uint64_t seed, uint64_t offset)>& draw);

 private:
  mutable std::mutex mutex_;
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

// The global generator (seed 0 until manual_seed), used by seed = -1.
const std::shared_ptr<Generator>& default_generator();
void manual_seed(uint64_t seed);

// Where an op takes its numbers: seed -1 is the global generator (advanced),
// seed >= 0 a fresh generator with that seed (the same call gives the same
// numbers), a Generator is that generator (advanced). Other seeds are a
// ValueError.
class RandomSource {
 public:
  RandomSource(int64_t seed = -1) : seed_(seed) {}                      // NOLINT: implicit on purpose
  RandomSource(Generator& generator) : seed_(-1), generator_(&generator) {}  // NOLINT
  // Checks the seed (ValueError naming `op`).
  void check(const char* op) const;
  // Runs draw(key, first counter) on the source's counters, n of them (see Generator::draw).
  Tensor draw(uint64_t n, const std::function<Tensor(uint64_t seed, uint64_t offset)>& draw) const;

 private:
  int64_t seed_;
  Generator* generator_ = nullptr;
};

// The Philox4x32-10 block function (for known-answer tests): 4 output words
// of `counter` under `key`.
std::array<uint32_t, 4> philox4x32_10(const std::array<uint32_t, 4>& counter, const std::array<uint32_t, 2>& key);

// Samplers (no inputs, no gradient); `dtype` float32 or float64.
Variable rand(double low = 0, double high = 1, const Shape& shape = {}, RandomSource seed = -1,
              DType dtype = DType::Float32);  // uniform on [low, high)
Variable randn(double mu = 0, double sigma = 1, const Shape& shape = {}, RandomSource seed = -1,
               DType dtype = DType::Float32);  // normal, Box-Muller
Variable randint(int64_t low = 0, int64_t high = 1, const Shape& shape = {},
                 RandomSource seed = -1);  // int64 uniform on [low, high), unbiased
Variable rand_binomial(int64_t n = 1, double p = 0.5, const Shape& shape = {}, RandomSource seed = -1,
                       DType dtype = DType::Float32);  // counts in 0..n
Variable rand_beta(double alpha = 0.5, double beta = 0.5, const Shape& shape = {}, RandomSource seed = -1,
                   DType dtype = DType::Float32);
Variable rand_gamma(double k = 0.5, double theta = 1, const Shape& shape = {}, RandomSource seed = -1,
                    DType dtype = DType::Float32);  // shape k, scale theta

// dropout: y = x / (1 - p) where u >= p, else 0 (u ~ U[0, 1), one per element;
// p in [0, 1]: p = 0 is y = x and p = 1 is y = 0, neither draws);
// gx = gy * mask / (1 - p) with the mask drawn at forward (a constant), so
// every order reuses it.
Variable dropout(const Variable& x, double p = 0.5, RandomSource seed = -1);

// random_choice: per row of the leading axes of x and w (equal shapes), draws
// from the last axis with probabilities w / sum(w); y has shape
// x.shape[:-1] + shape (+ (1,) when shape is empty). Gradients as nnabla:
// gx and gw both get gy added at the chosen positions (for w a
// straight-through estimate: the true derivative of a draw is 0).
Variable random_choice(const Variable& x, const Variable& w, const Shape& shape = {}, bool replace = true,
                       RandomSource seed = -1);

}  // namespace nthgrad

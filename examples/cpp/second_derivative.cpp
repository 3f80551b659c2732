// d²/dx² of f(x) = x·sin(x) by grad of grad, checked against the closed form
// f''(x) = 2cos(x) - x·sin(x). Exits non-zero on a mismatch.
#include <cmath>
#include <cstdio>

#include <nthgrad/nthgrad.h>

int main() {
  using namespace nthgrad;
  const double x0 = 0.8;
  Variable x(Tensor::scalar(x0, DType::Float64), /*requires_grad=*/true);
  Variable y = x * sin(x);
  Variable dy = grad({y}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
  Variable d2y = grad({dy}, {x})[0];
  const double expected = 2 * std::cos(x0) - x0 * std::sin(x0);
  std::printf("f''(%.1f) = %.15f (closed form %.15f)\n", x0, d2y.item(), expected);
  return std::abs(d2y.item() - expected) < 1e-12 ? 0 : 1;
}

// d²/dx² of f(x) = x·sin(x) by grad of grad, checked against the closed form
// f''(x) = 2cos(x) - x·sin(x); then a Hessian-vector product with the
// transforms of nthgrad/func.h, checked against its closed form too. Exits
// non-zero on a mismatch.
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
  bool ok = std::abs(d2y.item() - expected) < 1e-12;

  // H v for g(p) = sum(tanh(p)^3): H is diagonal, 6t(1 - t^2)^2 - 6t^3(1 - t^2) with t = tanh(p).
  Variable p(Tensor::full({3}, 0.5, DType::Float64));
  Variable v(Tensor::full({3}, 2.0, DType::Float64));
  auto g = [](const Variable& p) { return sum(pow_scalar(tanh(p), 3)); };
  Variable hv = func::hvp(g, p, v).second;
  const double t = std::tanh(0.5), h = 6 * t * (1 - t * t) * (1 - t * t) - 6 * t * t * t * (1 - t * t);
  const double got = hv.value().data<double>()[0];
  std::printf("(H v)_0 = %.15f (closed form %.15f)\n", got, h * 2.0);
  ok = ok && std::abs(got - h * 2.0) < 1e-12;
  return ok ? 0 : 1;
}

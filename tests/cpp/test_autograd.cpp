// The graph and the engine: gradients, accumulation, errors, deep chains,
// and that dropped graphs leave no live objects behind.
#include <cmath>

#include <nthgrad/nthgrad.h>

#include "check.h"

using namespace nthgrad;

static Variable scalar(double v, bool requires_grad = true) {
  return Variable(Tensor::scalar(v, DType::Float64), requires_grad);
}

TEST(first_and_second_derivative) {
  Variable x = scalar(0.3);
  Variable y = x * x * x;  // 3x^2, 6x
  Variable g = grad({y}, {x}, {}, std::nullopt, true)[0];
  CHECK_NEAR(g.item(), 3 * 0.09, 1e-15);
  Variable h = grad({g}, {x})[0];
  CHECK_NEAR(h.item(), 6 * 0.3, 1e-15);
}

TEST(backward_accumulates_into_leaves) {
  Variable x = scalar(2.0);
  Variable y = x * 3.0;
  y.backward(Variable(), true);
  y.backward();
  CHECK_NEAR(x.grad().item(), 6.0, 0);
  CHECK(!x.grad().requires_grad());  // without create_graph the gradient is a constant
}

TEST(create_graph_backward_gives_differentiable_grad) {
  Variable x = scalar(0.5);
  Variable y = sin(x);
  y.backward(Variable(), false, true);
  CHECK(x.grad().requires_grad());
  Variable h = grad({x.grad()}, {x})[0];
  CHECK_NEAR(h.item(), -std::sin(0.5), 1e-15);
}

TEST(errors) {
  Variable x = scalar(1.0);
  Variable y = exp(x);
  grad({y}, {x});
  CHECK_THROWS(grad({y}, {x}), RuntimeError);  // graph freed
  Variable v(Tensor::ones({3}, DType::Float64), true);
  CHECK_THROWS(grad({v * 2.0}, {v}), RuntimeError);  // non-scalar without grad_outputs
  Variable c = scalar(1.0, false);
  CHECK_THROWS(grad({c * 2.0}, {c}), RuntimeError);  // does not require grad
  Variable u = scalar(1.0);
  CHECK_THROWS(grad({x * 2.0}, {u}), RuntimeError);  // unused input
  CHECK(!grad({x * 2.0}, {u}, {}, std::nullopt, false, true)[0].defined());
  CHECK_THROWS(Variable(Tensor::ones({2}, DType::Int64), true), TypeError);
}

TEST(no_grad_records_nothing) {
  Variable x = scalar(1.0);
  {
    NoGradGuard guard;
    CHECK(!(x * 2.0).requires_grad());
  }
  CHECK((x * 2.0).requires_grad());
}

TEST(deep_chain_does_not_overflow_the_stack) {
  Variable x = scalar(1.0);
  Variable y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0 + 0.0;  // 200,000 nodes
  Variable g = grad({y}, {x})[0];
  CHECK_NEAR(g.item(), 1.0, 0);
  // Building again and dropping without backward exercises iterative destruction.
  y = x;
  for (int i = 0; i < 100000; ++i) y = sin(y);
  y = Variable();
}

TEST(dropped_graphs_leave_no_live_objects) {
  LiveCounts before = live_counts();
  Variable x(Tensor::full({4}, 0.3, DType::Float64), true);
  LiveCounts with_x = live_counts();
  for (int i = 0; i < 2000; ++i) {
    Variable y = sum(tanh(x) * exp(x));  // tanh and exp save their outputs
    Variable g = grad({y}, {x}, {}, std::nullopt, true)[0];
    Variable h = grad({sum(g)}, {x}, {}, true)[0];
    y.backward(Variable(), false, true);  // x.grad now holds a graph
    x.set_grad(Variable());
  }
  LiveCounts after = live_counts();
  CHECK(after.variables == with_x.variables);
  CHECK(after.nodes == with_x.nodes);
  CHECK(after.storages == with_x.storages);
  x = Variable();
  CHECK(live_counts().variables == before.variables);
}

// Issue 9: the optimizers' in-place steps bump the storage version; a graph
// that saved the old parameter refuses to differentiate, and a new one works.
TEST(in_place_step_makes_a_stale_graph_refuse_backward) {
  Variable w(Tensor::full({3}, 2.0, DType::Float64), true);
  Variable x(Tensor::full({3}, 1.5, DType::Float64), true);
  Variable y = sum(w * x);  // mul2 saves w for x's gradient
  Variable g = grad({y}, {w}, {}, true)[0];
  Variable buffer;
  SgdStep options;
  options.lr = 0.5;
  sgd_step(w, g, buffer, options);  // w = 2 - 0.5 * 1.5
  CHECK_NEAR(w.value().data<double>()[0], 1.25, 0);
  CHECK_THROWS(grad({y}, {x}), RuntimeError);
  Variable gx = grad({sum(w * x)}, {x})[0];
  CHECK_NEAR(gx.value().data<double>()[2], 1.25, 0);
}

TEST(adam_step_from_cpp_matches_its_formula) {
  Variable p(Tensor::full({2}, 1.0, DType::Float32), true);
  Variable g(Tensor::full({2}, 0.5, DType::Float32));
  Variable m(Tensor::zeros({2}, DType::Float32)), v(Tensor::zeros({2}, DType::Float32)), none;
  AdamStep options;
  options.lr = 0.1;
  adam_step(p, g, m, v, none, options);  // first step: p -= lr * sign(g) (up to eps)
  CHECK_NEAR(p.value().data<float>()[1], 0.9, 1e-6);
  CHECK_NEAR(m.value().data<float>()[0], 0.05, 1e-7);
  Variable wrong(Tensor::zeros({3}, DType::Float32));
  CHECK_THROWS(adam_step(p, g, wrong, v, none, options), ValueError);
  CHECK_THROWS(adam_step(p, g, m, m, none, options), RuntimeError);
}

// Issue 10: a surrogate spike's second derivative and alpha's meta-gradient
// from C++ (SuperSpike: sigma' = 1/(a|x|+1)^2, sigma'' = -2a sign(x)/(a|x|+1)^3,
// d sigma'/da = -2|x|/(a|x|+1)^3).
TEST(surrogate_spike_second_order_and_alpha_meta_gradient) {
  Variable x(Tensor::full({1}, 0.25, DType::Float64), true);
  Variable a(Tensor::scalar(4.0, DType::Float64), true);
  Variable z = surrogate_heaviside(x, "super", a);
  CHECK_NEAR(z.value().data<double>()[0], 1.0, 0);
  Variable g = grad({sum(z)}, {x}, {}, std::nullopt, true)[0];
  CHECK_NEAR(g.item(), 1.0 / 4.0, 1e-15);  // 1/(4*0.25+1)^2
  VariableList second = grad({sum(g)}, {x, a});
  CHECK_NEAR(second[0].item(), -2.0 * 4.0 / 8.0, 1e-14);
  CHECK_NEAR(second[1].item(), -2.0 * 0.25 / 8.0, 1e-14);
  CHECK_THROWS(surrogate_heaviside(x, "nope", a), ValueError);
}

// Issue 11: a DAB bridge from C++. s = tanh(w z) elementwise (w = 0.5), h = signum(z): the gradient reaching h
// reaches z as s'(z) g = w (1 - s^2) g, and its derivative in z is w^2 s''(u) g = -2 w^2 s (1 - s^2) g (h's
// value is a constant); the DAB loss (s - h)^2 sends exactly nothing into z.
TEST(dab_bridge_first_and_second_order) {
  Variable z(Tensor::full({1, 1}, 0.8, DType::Float64), true);
  const double w = 0.5, s0 = std::tanh(w * 0.8);
  Variable s = tanh(mul_scalar(z, w));
  Variable h = dab_bridge(z, s, hard::signum(z, 0.5));
  CHECK_NEAR(h.item(), 1.0, 0);
  Variable g = grad({sum(mul_scalar(h, 3.0))}, {z}, {}, std::nullopt, true)[0];
  CHECK_NEAR(g.item(), 3.0 * w * (1 - s0 * s0), 1e-15);
  Variable g2 = grad({sum(g)}, {z}, {}, true)[0];  // kept: the loss below walks s again
  CHECK_NEAR(g2.item(), 3.0 * w * w * -2.0 * s0 * (1 - s0 * s0), 1e-15);
  Variable d = sub2(s, h);
  CHECK_NEAR(grad({sum(mul2(d, d))}, {z})[0].item(), 0.0, 0);
  CHECK_THROWS(dab_bridge(z, s, hard::sort(Variable(Tensor::zeros({1, 1, 1}, DType::Float64)))), ValueError);
  CHECK_THROWS(hard::topk(Variable(Tensor::zeros({1, 2, 2}, DType::Float64)), 9), ValueError);
}

TEST(lif_feed_forward_integral_spikes_and_resets) {
  // a constant current of 0.5: the synaptic current settles at 2.5, so v crosses v_th = 1 and resets to 0
  Variable xs(Tensor::full({30, 1}, 0.5, DType::Float64));
  Variable v(Tensor::zeros({1}, DType::Float64)), i(Tensor::zeros({1}, DType::Float64));
  Variable alpha(Tensor::scalar(100.0, DType::Float64));
  VariableList out = lif_feed_forward_integral(xs, v, i, LIFParameters{}, alpha);
  const double* z = out[0].value().data<double>();
  int spikes = 0;
  for (int t = 0; t < 30; ++t) spikes += z[t] > 0 ? 1 : 0;
  CHECK(spikes > 0 && spikes < 30);
  CHECK(out[1].value().data<double>()[0] < 1.0);  // below threshold after every reset
}

// Issue 12: the transforms of nthgrad/func.h from C++, against closed forms and each other.
TEST(func_transforms_match_closed_forms) {
  // f(x) = sum(sin(x) * x^2): grad 2x sin + x^2 cos, Hessian diagonal 2 sin + 4x cos - x^2 sin
  const double xs[3] = {0.3, -0.8, 1.2};
  Tensor xt = Tensor::from_data(xs, {3}, DType::Float64);
  Variable x(xt);
  auto f = [](const Variable& x) { return sum(mul2(sin(x), pow_scalar(x, 2))); };
  Variable g = func::grad(f, x);
  Variable h = func::hessian(f, x);
  CHECK(h.shape() == (Shape{3, 3}));
  CHECK(!g.requires_grad() && !h.requires_grad());  // nothing outside the transform requires grad
  Variable v(Tensor::full({3}, 1.0, DType::Float64));
  Variable hv = func::hvp(f, x, v).second;
  for (int i = 0; i < 3; ++i) {
    const double a = xs[i];
    CHECK_NEAR(g.value().data<double>()[i], 2 * a * std::sin(a) + a * a * std::cos(a), 1e-14);
    const double hii = 2 * std::sin(a) + 4 * a * std::cos(a) - a * a * std::sin(a);
    CHECK_NEAR(h.value().data<double>()[i * 3 + i], hii, 1e-13);
    CHECK_NEAR(h.value().data<double>()[i * 3 + (i + 1) % 3], 0.0, 0);
    CHECK_NEAR(hv.value().data<double>()[i], hii, 1e-13);
  }
  // jacfwd = jacrev = jacobian, and jvp = J t, for a function of two inputs with two outputs
  auto two = [](const VariableList& in) { return VariableList{mul2(in[0], in[1]), sum(exp(in[0]))}; };
  Variable y(Tensor::full({3}, 0.5, DType::Float64));
  VariableList rev = func::jacrev(two, {x, y}), fwd = func::jacfwd(two, {x, y});
  CHECK(rev.size() == 4 && fwd.size() == 4);
  for (int b = 0; b < 4; ++b) {
    CHECK(rev[b].shape() == fwd[b].shape());
    for (int64_t k = 0; k < rev[b].numel(); ++k)
      CHECK_NEAR(rev[b].value().data<double>()[k], fwd[b].value().data<double>()[k], 1e-15);
  }
  CHECK_NEAR(rev[0].value().data<double>()[0], 0.5, 0);    // d(x y)_0 / dx_0 = y_0
  CHECK_NEAR(rev[1].value().data<double>()[4], xs[1], 0);  // d(x y)_1 / dy_1 = x_1
  auto [outs, jv] = func::jvp(two, {x, y}, {v, v});
  CHECK_NEAR(jv[0].value().data<double>()[2], 0.5 + xs[2], 1e-15);
  CHECK_NEAR(jv[1].item(), std::exp(xs[0]) + std::exp(xs[1]) + std::exp(xs[2]), 1e-13);
  CHECK_THROWS(func::grad([](const Variable& x) { return x; }, x), ValueError);
  CHECK_THROWS(func::jvp(two, {x, y}, {v}), ValueError);
  // grad of grad through a primal that requires grad: the third derivative of sum(x^4) is 24 x
  Variable xr(xt, true);
  auto d2 = [](const Variable& x) {
    return sum(func::grad([](const Variable& x) { return sum(pow_scalar(x, 4)); }, x));
  };
  Variable third = grad({sum(func::grad(d2, xr))}, {xr})[0];
  CHECK_NEAR(third.value().data<double>()[1], 24 * xs[1], 1e-12);
}

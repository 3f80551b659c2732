// A few ops from C++: forward values and gradients of order 1 and 2 against
// central finite differences in float64.
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include <nthgrad/nthgrad.h>

#include "check.h"

using namespace nthgrad;

static Variable random(const Shape& shape, std::mt19937& gen, bool requires_grad = true) {
  Tensor t = Tensor::empty(shape, DType::Float64);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = u(gen);
  return Variable(t, requires_grad);
}

static double inner(const Variable& a, const Variable& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += a.value().at(i) * b.value().at(i);
  return s;
}

static Variable shifted(const Variable& x, const Variable& dir, double eps) {
  return Variable(add2(x, mul_scalar(dir, eps)).value(), true);
}

// Checks <d f / d x, v> against a central difference of f, and the
// directional second derivative <d <grad f, v> / dx, v> likewise.
static void gradcheck(const std::function<Variable(const Variable&)>& f, const Variable& x, std::mt19937& gen) {
  Variable v = random(x.shape(), gen, false);
  const double eps = 1e-5;
  auto scalar_f = [&](const Variable& at) { return sum(f(at)); };
  auto gv = [&](const Variable& at) {  // <grad f(at), v>, differentiable
    Variable g = grad({scalar_f(at)}, {at}, {}, std::nullopt, true)[0];
    return sum(mul2(g, v));
  };
  double analytic1 = gv(x).item();
  double numeric1 =
      (scalar_f(shifted(x, v, eps)).item() - scalar_f(shifted(x, v, -eps)).item()) / (2 * eps);
  CHECK_NEAR(analytic1, numeric1, 1e-6 * (1 + std::abs(numeric1)));
  Variable x2 = Variable(x.value(), true);
  Variable gv2 = gv(x2);
  // A gradient that does not depend on x (a linear f) has a zero second derivative.
  double analytic2 = gv2.requires_grad() ? inner(grad({gv2}, {x2}, {}, std::nullopt, false, true)[0], v) : 0.0;
  double numeric2 = (gv(shifted(x, v, eps)).item() - gv(shifted(x, v, -eps)).item()) / (2 * eps);
  CHECK_NEAR(analytic2, numeric2, 1e-5 * (1 + std::abs(numeric2)));
}

TEST(forward_values) {
  Variable a(Tensor::full({2, 3}, 2.0, DType::Float32));
  Variable b(Tensor::full({3}, 0.5, DType::Float32));
  Variable y = a * b + 1.0;  // broadcast
  CHECK((y.shape() == Shape{2, 3}));
  CHECK(y.value().at(4) == 2.0);
  Variable m = matmul(Variable(Tensor::ones({2, 3}, DType::Float64)), Variable(Tensor::ones({3, 4}, DType::Float64)));
  CHECK((m.shape() == Shape{2, 4}));
  CHECK(m.value().at(7) == 3.0);
  CHECK(sum(m).item() == 24.0);
  CHECK(mean(m, {1}).value().at(0) == 3.0);
  CHECK((transpose(m, {1, 0}).shape() == Shape{4, 2}));
}

TEST(gradients_by_finite_differences) {
  std::mt19937 gen(7);
  Variable w = random({3, 4}, gen, false);
  Variable b = random({4}, gen, false);
  gradcheck([](const Variable& x) { return tanh(x) * sin(x); }, random({5}, gen), gen);
  gradcheck([&](const Variable& x) { return mul2(x, b); }, random({2, 4}, gen), gen);
  gradcheck([&](const Variable& x) { return sigmoid(affine(x, w, b)); }, random({2, 3}, gen), gen);
  gradcheck([&](const Variable& x) { return exp(matmul(x, x, false, true)); }, random({3, 2}, gen), gen);
  gradcheck([](const Variable& x) { return pow_scalar(sum(x * x, {1}), 1.5); }, random({2, 3}, gen), gen);
  gradcheck([](const Variable& x) { return div2(x, add_scalar(x * x, 1.0)); }, random({4}, gen), gen);
  // the families of note sections 4, 6, 8 and 9 through the C++ API
  gradcheck([](const Variable& x) { return softmax(x, 1) * log_softmax(x, 0); }, random({3, 4}, gen), gen);
  gradcheck([](const Variable& x) { return gelu(x) + mish(x) + swish(x) + softplus(x, 2.0); }, random({5}, gen), gen);
  gradcheck([](const Variable& x) { return prod(x, {1}) * sum(max(x, {0})); }, random({3, 4}, gen), gen);
  gradcheck([](const Variable& x) { return cumprod(x, 1, true, true) + cumsum(x, 0); }, random({3, 4}, gen), gen);
  gradcheck([](const Variable& x) { return where(greater_scalar(x, 0.0), atan(x), erf(x)); }, random({6}, gen), gen);
  gradcheck([](const Variable& x) { return elu(x) * sum(concatenate({x, sinh(x)}, 0)); }, random({4}, gen), gen);
  // indexing and array manipulation (issue 7): gathers and scatters with duplicate indices
  Variable idx(Tensor::from_data(std::vector<int64_t>{0, 2, 2, 1, 0, 3}.data(), {2, 3}, DType::Int64));
  gradcheck([&](const Variable& x) { return exp(gather_nd(x, idx)); }, random({3, 4}, gen), gen);
  gradcheck([&](const Variable& x) { return sin(scatter_nd(x, idx, {3, 4}, true)); }, random({3}, gen), gen);
  gradcheck([&](const Variable& x) { return tanh(gather(x, idx, 1, 0)); }, random({2, 4}, gen), gen);
  gradcheck([](const Variable& x) { return sort(x * x, 1, true).first * x; }, random({3, 5}, gen), gen);
  gradcheck([](const Variable& x) { return sin(pad(x, {2, 3, 1, 1}, "reflect")); }, random({3, 4}, gen), gen);
  gradcheck([](const Variable& x) { return cos(tile(x, {2, 1, 3})) * sum(shift(x, {1, -1})); }, random({2, 3}, gen), gen);
  gradcheck([](const Variable& x) { return split(exp(x), 0)[1] * stack(split(x, 1), 0); }, random({2, 2}, gen), gen);
  // linalg, signal and random (issue 7) from C++
  const Variable three_i = matrix_diag(Variable(Tensor::full({2, 3}, 3.0, DType::Float64)));  // well conditioned
  gradcheck([&](const Variable& x) { return batch_inv(add2(x, three_i)); }, random({2, 3, 3}, gen), gen);
  gradcheck([&](const Variable& x) { return batch_logdet(add2(batch_matmul(x, x, false, true), three_i)) *
                                            sum(batch_det(add2(x, three_i))); }, random({2, 3, 3}, gen), gen);
  gradcheck([](const Variable& x) { return einsum({x, exp(x)}, "ij,kj->ik"); }, random({2, 3}, gen), gen);
  gradcheck([](const Variable& x) { return sin(fft(x, 1)) + ifft(x * x, 1, true); }, random({5, 2}, gen), gen);
  gradcheck([](const Variable& x) { return tanh(interpolate(x, {}, {5}, "linear", true)); }, random({1, 2, 3}, gen),
            gen);
  gradcheck([](const Variable& x) { return dropout(x * x, 0.3, 7); }, random({4, 4}, gen), gen);
}

TEST(prod_is_exact_with_a_zero) {
  // d prod / dx_i for [2, 0, 3]: [0, 6, 0]; d2 / dx0 dx1 = 3
  Tensor v = Tensor::from_data(std::vector<double>{2.0, 0.0, 3.0}.data(), {3}, DType::Float64);
  Variable x(v, true);
  Variable g = grad({prod(x)}, {x}, {}, std::nullopt, true)[0];
  CHECK(g.value().at(0) == 0.0 && g.value().at(1) == 6.0 && g.value().at(2) == 0.0);
  Tensor e0 = Tensor::from_data(std::vector<double>{1.0, 0.0, 0.0}.data(), {3}, DType::Float64);
  Variable h = grad({sum(mul2(g, Variable(e0)))}, {x})[0];
  CHECK(h.value().at(0) == 0.0 && h.value().at(1) == 3.0 && h.value().at(2) == 0.0);
}

TEST(bad_input_throws) {
  Variable a(Tensor::ones({2, 3}, DType::Float32)), b(Tensor::ones({4}, DType::Float32));
  CHECK_THROWS(add2(a, b), ValueError);
  CHECK_THROWS(matmul(a, a), ValueError);
  CHECK_THROWS(sum(a, {2}), IndexError);
  CHECK_THROWS(reshape(a, {4}), ValueError);
  CHECK_THROWS(exp(Variable(Tensor::ones({2}, DType::Int64))), TypeError);
  CHECK_THROWS(transpose(a, {0, 0}), ValueError);
  CHECK_THROWS(affine(a, Variable(Tensor::ones({2, 2}, DType::Float32))), ValueError);
  CHECK_THROWS(softmax(a, 2), IndexError);
  CHECK_THROWS(max(Variable(Tensor::ones({0}, DType::Float32))), ValueError);
  CHECK_THROWS(where(a, a, b), ValueError);
  CHECK_THROWS(concatenate({a, b}, 0), ValueError);
  Variable bad_idx(Tensor::from_data(std::vector<int64_t>{5}.data(), {1, 1}, DType::Int64));
  CHECK_THROWS(gather_nd(a, bad_idx), IndexError);
  CHECK_THROWS(gather_nd(a, a), TypeError);
  CHECK_THROWS(pad(a, {1}), ValueError);
  CHECK_THROWS(batch_inv(a), ValueError);
  CHECK_THROWS(einsum({a}, "ij->k"), ValueError);
  CHECK_THROWS(fft(a, 4), ValueError);
  CHECK_THROWS(dropout(a, 1.5, 0), ValueError);
}

// ---- loss and quantize (issue 8) ----

TEST(losses_from_cpp) {
  std::mt19937 gen(11);
  Variable t(Tensor::full({3, 4}, 0.3, DType::Float64));
  gradcheck([&](const Variable& x) { return sigmoid_cross_entropy(x, t); }, random({3, 4}, gen), gen);
  Variable labels(Tensor::from_data(std::vector<int64_t>{2, -1, 0}.data(), {3, 1}, DType::Int64));
  gradcheck([&](const Variable& x) { return softmax_cross_entropy(x, labels); }, random({3, 4}, gen), gen);
  Variable q(Tensor::full({3, 4}, 0.25, DType::Float64));
  gradcheck([&](const Variable& p) { return kl_multinomial(exp(p), q); }, random({3, 4}, gen), gen);
  Variable y = softmax_cross_entropy(Variable(Tensor::zeros({3, 4}, DType::Float64)), labels);
  CHECK(y.shape() == (Shape{3, 1}));
  CHECK_NEAR(y.value().at(0), std::log(4.0), 1e-12);
  CHECK(y.value().at(1) == 0.0);  // label -1
  Variable bad(Tensor::from_data(std::vector<int64_t>{4, 0, 0}.data(), {3, 1}, DType::Int64));
  CHECK_THROWS(softmax_cross_entropy(Variable(Tensor::zeros({3, 4}, DType::Float64)), bad), IndexError);
  CHECK_THROWS(sigmoid_cross_entropy(t, Variable(Tensor::ones({4}, DType::Float64))), ValueError);
}

TEST(quantizers_from_cpp) {
  Tensor v = Tensor::from_data(std::vector<double>{-2.0, -0.5, 0.5, 2.0}.data(), {4}, DType::Float64);
  Variable x(v, true);
  Variable g = grad({sum(binary_tanh(x))}, {x})[0];
  CHECK(g.value().at(0) == 0.0 && g.value().at(1) == 1.0 && g.value().at(2) == 1.0 && g.value().at(3) == 0.0);
  Variable zp(Tensor::full({1}, 2.5, DType::Float64));
  Variable y = quantize_linear(x, Variable(Tensor::full({1}, 0.5, DType::Float64)), zp, "HALF_TO_EVEN");
  CHECK(zp.value().at(0) == 2.0);  // rounded in place
  CHECK(y.value().at(0) == -2.0 && y.value().at(1) == 1.0 && y.value().at(3) == 6.0);
  CHECK_THROWS(prune(x, 2.0), ValueError);
  CHECK_THROWS(quantize_linear(x, x, x, "UP"), ValueError);
}

TEST(pooling_family) {  // issue 8
  std::mt19937 gen(8);
  // max over 2x2 windows of 0..15 (4x4): 5, 7, 13, 15; the gradient goes to those four elements
  std::vector<double> ramp(16);
  for (int i = 0; i < 16; ++i) ramp[i] = i;
  Variable x(Tensor::from_data(ramp.data(), {1, 1, 4, 4}, DType::Float64), true);
  Variable y = max_pooling(x, {2, 2});
  CHECK((y.shape() == Shape{1, 1, 2, 2}));
  CHECK(y.value().at(0) == 5.0 && y.value().at(3) == 15.0);
  Variable g = grad({sum(y)}, {x})[0];
  CHECK(g.value().at(5) == 1.0 && g.value().at(4) == 0.0 && g.value().at(15) == 1.0);
  CHECK(average_pooling(x, {2, 2}, {2, 2}, true, {1, 1}).value().at(1) == 0.75);  // (1 + 2) / 4
  CHECK(sum_pooling(x, {4, 4}).value().at(0) == 120.0);
  CHECK((unpooling(x, {2, 3}).shape() == Shape{1, 1, 8, 12}));
  CHECK((global_average_pooling(random({2, 3, 2, 2, 2}, gen)).shape() == Shape{2, 3, 1, 1}));
  gradcheck([](const Variable& v) { return sin(max_pooling(v * v, {2, 2}, {1, 1}, false, {1, 1})); },
            random({1, 2, 3, 3}, gen), gen);
  gradcheck([](const Variable& v) { return tanh(average_pooling(v, {2, 3}, {1, 2}, true, {1, 1}, true, false)); },
            random({1, 3, 4, 2}, gen), gen);
  gradcheck([](const Variable& v) { return exp(sum_pooling(v, {2, 2, 2}, {1, 1, 1}, false)); },
            random({1, 3, 3, 3}, gen), gen);
  gradcheck([](const Variable& v) { return cos(unpooling(v, {2}) * global_average_pooling(v)); },
            random({1, 2, 3}, gen), gen);
  Variable idx(Tensor::from_data(std::vector<int64_t>{2, 0, 2}.data(), {3}, DType::Int64));
  gradcheck([&](const Variable& w) { return sin(embed(idx, w)); }, random({3, 2}, gen), gen);
  Variable a(Tensor::ones({1, 1, 3, 3}, DType::Float32));
  CHECK_THROWS(max_pooling(a, {4, 4}), ValueError);
  CHECK_THROWS(max_pooling(a, {2}), ValueError);
  CHECK_THROWS(sum_pooling(a, {2, 2}, {-1, 1}), ValueError);
  CHECK_THROWS(embed(Variable(Tensor::from_data(std::vector<int64_t>{3}.data(), {1}, DType::Int64)), a), IndexError);
  CHECK_THROWS(embed(a, a), TypeError);
}

TEST(convolution_family) {
  std::mt19937 gen(8);
  // x (1, 1, 3) with w (1, 1, 2) = [1, 2]: y = [x0 + 2 x1, x1 + 2 x2]; deconvolution maps it back by w^T
  Tensor xv = Tensor::from_data(std::vector<double>{1.0, 2.0, 3.0}.data(), {1, 1, 3}, DType::Float64);
  Tensor wv = Tensor::from_data(std::vector<double>{1.0, 2.0}.data(), {1, 1, 2}, DType::Float64);
  Variable y = convolution(Variable(xv), Variable(wv));
  CHECK(y.shape() == Shape({1, 1, 2}) && y.value().at(0) == 5.0 && y.value().at(1) == 8.0);
  Variable back = deconvolution(y, Variable(wv));
  CHECK(back.shape() == Shape({1, 1, 3}) && back.value().at(0) == 5.0 && back.value().at(1) == 18.0 &&
        back.value().at(2) == 16.0);
  // second-order gradients through the cycle, by finite differences
  Variable w = random({4, 1, 3, 2}, gen, false);
  gradcheck([&](const Variable& x) { return tanh(convolution(x, w, {}, 1, {1, 0}, {2, 1}, {}, 2)); },
            random({2, 2, 5, 4}, gen), gen);
  gradcheck([&](const Variable& x) { return sin(deconvolution(x, w, {}, 1, {}, {2, 1}, {}, 2, false, {1, 0})); },
            random({1, 4, 3, 2}, gen), gen);
  Variable x = random({2, 2, 5, 4}, gen, false);
  gradcheck([&](const Variable& v) { return tanh(convolution(x, v, {}, 1, {1, 1}, {}, {}, 2)); },
            random({4, 1, 3, 2}, gen), gen);
  CHECK_THROWS(convolution(x, Variable(Tensor::ones({4, 3, 3, 3}, DType::Float64)), {}, 1, {}, {}, {}, 2),
               ValueError);
  CHECK_THROWS(convolution(x, w, {}, 5), IndexError);
  CHECK_THROWS(deconvolution(x, Variable(Tensor::ones({2, 1, 2, 2}, DType::Float64)), {}, 1, {}, {2, 2}, {}, 1,
                             false, {2, 0}),
               ValueError);
}

TEST(normalization_ops) {
  std::mt19937 gen(11);
  // (sin: the sum of a normalized output does not depend on x)
  // batch_normalization: orders 1-2 through standardize / standardize_backward, and the running update
  Variable gamma = random({1, 3, 1}, gen), beta = random({1, 3, 1}, gen);
  gradcheck([&](const Variable& x) { return sin(batch_normalization(x, beta, gamma, {}, {})[0]); }, random({4, 3, 2}, gen),
            gen);
  gradcheck([&](const Variable& x) { return sin(layer_normalization(x, {}, {}, {0})[0]); }, random({3, 4}, gen), gen);
  gradcheck([&](const Variable& x) { return norm(x, 3.0, {1}); }, random({2, 3}, gen), gen);
  Variable x = random({5, 2}, gen, false);
  Variable m(Tensor::zeros({1, 2}, DType::Float64)), v(Tensor::ones({1, 2}, DType::Float64));
  batch_normalization(x, {}, {}, m, v, {1}, 0.5);
  double mu = 0, ss = 0;
  for (int i = 0; i < 5; ++i) mu += x.value().at(2 * i) / 5;
  for (int i = 0; i < 5; ++i) ss += (x.value().at(2 * i) - mu) * (x.value().at(2 * i) - mu);
  CHECK(std::abs(m.value().at(0) - 0.5 * mu) < 1e-12);
  CHECK(std::abs(v.value().at(0) - (0.5 + 0.5 * ss / 4)) < 1e-12);
  CHECK_THROWS(batch_normalization(x, Variable(Tensor::ones({2}, DType::Float64)), {}, {}, {}), ValueError);
  CHECK_THROWS(group_normalization(random({2, 4, 3}, gen), {}, {}, 3), ValueError);
  CHECK_THROWS(norm(x, 0.5), ValueError);
}

TEST(sequence_layers_from_cpp) {
  // rnn, lstm (bidirectional, 2 layers) and gru built from recorded ops: orders 1 and 2 through every input
  std::mt19937 gen(8);
  const Variable h = random({1, 1, 2, 2}, gen), w0 = random({1, 2, 5}, gen), b = random({1, 1, 2}, gen);
  gradcheck([&](const Variable& x) { return rnn(x, h, w0, Variable(), b).first; }, random({3, 2, 3}, gen), gen);
  const Variable h2 = random({2, 2, 2, 2}, gen), c2 = random({2, 2, 2, 2}, gen);
  const Variable lw0 = random({2, 4, 2, 5}, gen), lb = random({2, 2, 4, 2}, gen), x = random({3, 2, 3}, gen);
  gradcheck([&](const Variable& w) { return lstm(x, h2, c2, lw0, w, lb, 2, 0.0, true).c_n; },
            random({1, 2, 4, 2, 6}, gen), gen);
  const Variable gw0 = random({1, 3, 2, 5}, gen);
  gradcheck([&](const Variable& bias) { return gru(x, h, gw0, Variable(), bias).first; }, random({1, 1, 4, 2}, gen),
            gen);
  // y's last step is h_n for one direction
  auto [y, h_n] = gru(x, h, gw0);
  CHECK(y.shape() == (Shape{3, 2, 2}) && h_n.shape() == (Shape{1, 1, 2, 2}));
  CHECK(y.value().at(8) == h_n.value().at(0));
  CHECK_THROWS(rnn(x, h, w0, Variable(), Variable(), 1, "sigmoid"), ValueError);
  CHECK_THROWS(lstm(x, h, h, w0), ValueError);
  CHECK_THROWS(gru(x, h2, gw0, Variable(), Variable(), 2), ValueError);
  // multi_head_attention: third order is the table's; here the first two through query
  const Variable k = random({4, 2, 4}, gen), wq = random({4, 4}, gen), wk = random({4, 4}, gen),
                 wv = random({4, 4}, gen), wo = random({4, 3}, gen);
  gradcheck([&](const Variable& q) { return multi_head_attention(q, k, k, 2, wq, wk, wv, wo).first; },
            random({3, 2, 4}, gen), gen);
  CHECK_THROWS(multi_head_attention(k, k, k, 3, wq, wk, wv, wo), ValueError);
}

// Recurrent layers (rnn, lstm, gru) and multi_head_attention, composed of
// recorded ops. Per layer and direction the input projection of all T steps
// is one matmul, (T*B, in) x W_x^T; each step then costs one (B, H) x W_h^T
// matmul, an add and the cell: elementwise ops for rnn and gru, the fused
// lstm_cell for lstm. The backward is the recorded ops' rules, so every order
// works.
#include "nthgrad/ops/sequence.h"

#include <cmath>
#include <limits>
#include <optional>

#include "nthgrad/ops/activation.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/linalg.h"
#include "nthgrad/ops/logical.h"
#include "nthgrad/ops/math.h"
#include "nthgrad/ops/random.h"
#include "nthgrad/ops/reduction.h"
#include "autograd/record.h"
#include "kernels/kernels.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {

enum class Cell { RnnTanh, RnnRelu, Lstm, Gru };

// Rows [begin, end) of a matrix, and columns [begin, end) (for weights, once per layer and direction).
Variable rows(const Variable& m, int64_t begin, int64_t end) {
  return slice(m, {begin, std::nullopt}, {end, std::nullopt}, {1, 1});
}
Variable cols(const Variable& m, int64_t begin, int64_t end) {
  return slice(m, {std::nullopt, begin}, {std::nullopt, end}, {1, 1});
}

// ---- the fused LSTM cell ----
// lstm_cell is one kernel; its rule is lstm_cell_backward, one kernel too,
// whose own rule is written in ops below, so every order follows.

Variable zeros_of(const Shape& shape, DType dtype) { return Variable(Tensor::zeros(shape, dtype)); }

Variable sigmoid_slope(const Variable& s) { return s * (1.0 - s); }  // sig' from s = sig(x)

// gates (B, 4H) -> its four (B, H) blocks i, f, g, o (one split node).
VariableList gate_blocks(const Variable& m) {
  const int64_t B = m.shape()[0], H = m.shape()[1] / 4;
  return split(reshape(m, {B, 4, H}), 1);
}

// (d gates, d c_prev) of the cell: with gct = gc + gh o (1 - tanh^2 c),
// d a_i = gct g i(1-i), d a_f = gct c_prev f(1-f), d a_g = gct i (1-g^2),
// d a_o = gh tanh(c) o(1-o), d c_prev = gct f. c is an input of its own, so
// the rule sends c's gradient back through the cell that made it.
VariableList lstm_cell_backward(Variable gh, Variable gc, const Variable& gates, const Variable& c_prev,
                                const Variable& c) {
  if (!gh.defined()) gh = zeros_of(c.shape(), c.dtype());
  if (!gc.defined()) gc = zeros_of(c.shape(), c.dtype());
  auto [da, dcp] = kernels::lstm_cell_backward(gh.value(), gc.value(), gates.value(), c_prev.value(), c.value());
  return record("lstm_cell_backward", {gh, gc, gates, c_prev, c}, {da, dcp}, kSavesInputs, [](const Ctx& x) {
    const Variable &gh = x.in(0), &gc = x.in(1), &cp = x.in(3), &c = x.in(4);
    const VariableList a = gate_blocks(x.in(2));
    const Variable i = sigmoid(a[0]), f = sigmoid(a[1]), g = tanh(a[2]), o = sigmoid(a[3]), tc = tanh(c);
    const Variable di = sigmoid_slope(i), df = sigmoid_slope(f), dg = 1.0 - g * g, dout = sigmoid_slope(o),
                   dtc = 1.0 - tc * tc;
    const Variable gct = gc + gh * o * dtc;
    // the incoming gradients of d gates (A) and d c_prev (P)
    const VariableList A = gate_blocks(x.gy(0).defined() ? x.gy(0) : zeros_of(x.in_shape(2), x.in_dtype(2)));
    const Variable P = x.gy(1).defined() ? x.gy(1) : zeros_of(x.in_shape(3), x.in_dtype(3));
    const Variable G = A[0] * g * di + A[1] * cp * df + A[2] * i * dg + P * f;  // the gradient of gct
    const Variable g_gh = G * o * dtc + A[3] * tc * dout;
    const Variable g_c = (-2.0 * G * gh * o * tc + A[3] * gh * dout) * dtc;  // through tanh(c)
    // the gradients of the activations i, f, g, o, then of their pre-activations
    const Variable gi = A[0] * gct * g * (1.0 - 2.0 * i) + A[2] * gct * dg;
    const Variable gf = A[1] * gct * cp * (1.0 - 2.0 * f) + P * gct;
    const Variable gg = A[0] * gct * di - 2.0 * A[2] * gct * i * g;
    const Variable go = G * gh * dtc + A[3] * gh * tc * (1.0 - 2.0 * o);
    const Variable blocks = stack({gi * di, gf * df, gg * dg, go * dout}, 1);  // (B, 4, H)
    const Variable g_gates = reshape(blocks, x.in_shape(2));
    return grads(g_gh, G, g_gates, A[1] * gct * df, g_c);
  });
}

// One step: (h, c) = lstm_cell(gates, c_prev), gates (B, 4H) in the order i, f, g, o.
VariableList lstm_cell(const Variable& gates, const Variable& c_prev) {
  auto [h, c] = kernels::lstm_cell(gates.value(), c_prev.value());
  return record("lstm_cell", {gates, c_prev}, {h, c}, saves_input(0) | saves_input(1) | saves_output(1),
                [](const Ctx& x) {
                  VariableList d = lstm_cell_backward(x.gy(0), x.gy(1), x.in(0), x.in(1), x.out(1));
                  return grads(d[0], d[1]);
                });
}

// The checked sizes of one recurrent call.
struct Dims {
  const char* op;
  Cell cell;
  int64_t T, B, I, H, L, D;
  int64_t G;   // gates (weight rows per H)
  int64_t Gb;  // bias rows per H (gru: 4)
};

void expect_shape(const Dims& d, const char* arg, const Variable& v, const Shape& expected, const char* layout,
                  const Variable& x, const Variable& h) {
  if (v.shape() != expected)
    throw ValueError(detail::cat(d.op, ": ", arg, " must have shape ", shape_str(expected), " ", layout, ", got ",
                                 shape_str(v.shape()), " (x of shape ", shape_str(x.shape()), ", h of shape ",
                                 shape_str(h.shape()), ", num_layers ", d.L, ")"));
}

void expect_dtype(const Dims& d, const char* arg, const Variable& v, const Variable& x) {
  check::floating(d.op, arg, v);
  if (v.dtype() != x.dtype())
    throw TypeError(detail::cat(d.op, ": ", arg, " is ", dtype_name(v.dtype()), " (shape ", shape_str(v.shape()),
                                ") but x is ", dtype_name(x.dtype()), " (shape ", shape_str(x.shape()),
                                "); all float inputs must have one dtype"));
}

// Checks every argument against x and h; returns the sizes.
Dims check_recurrent(const char* op, Cell cell, const Variable& x, const Variable& h, const Variable* c,
                     const Variable& weight_l0, const Variable& weight, const Variable& bias, int64_t num_layers,
                     double dropout, bool bidirectional) {
  check::floating(op, "x", x);
  check::floating(op, "h", h);
  if (x.ndim() != 3)
    throw ValueError(detail::cat(op, ": x must be (T, B, I), got shape ", shape_str(x.shape())));
  if (num_layers < 1) throw ValueError(detail::cat(op, ": num_layers must be >= 1, got ", num_layers));
  if (!(dropout >= 0 && dropout <= 1))
    throw ValueError(detail::cat(op, ": dropout must lie in [0, 1], got ", dropout));
  const int64_t G = cell == Cell::Lstm ? 4 : cell == Cell::Gru ? 3 : 1;
  Dims d{op, cell, x.shape()[0], x.shape()[1], x.shape()[2], 0, num_layers, bidirectional ? 2 : 1, G,
         cell == Cell::Gru ? 4 : G};
  if (h.ndim() != 4 || h.shape()[0] != d.L || h.shape()[1] != d.D || h.shape()[2] != d.B)
    throw ValueError(detail::cat(op, ": h must be (num_layers, D, B, H) = (", d.L, ", ", d.D, ", ", d.B,
                                 ", H), got shape ", shape_str(h.shape()), " (x of shape ", shape_str(x.shape()),
                                 ", num_layers ", d.L, ", bidirectional ", bidirectional ? "True" : "False", ")"));
  d.H = h.shape()[3];
  expect_dtype(d, "h", h, x);
  if (c) {
    expect_dtype(d, "c", *c, x);
    expect_shape(d, "c", *c, h.shape(), "(the shape of h)", x, h);
  }
  // rnn has no gate axis in its weights and bias
  auto gated = [&](Shape lead, Shape tail) {
    if (G > 1) lead.push_back(G);
    lead.insert(lead.end(), tail.begin(), tail.end());
    return lead;
  };
  expect_dtype(d, "weight_l0", weight_l0, x);
  expect_shape(d, "weight_l0", weight_l0, gated({d.D}, {d.H, d.I + d.H}),
               G > 1 ? "(D, gates, H, I + H)" : "(D, H, I + H)", x, h);
  if (d.L == 1 && weight.defined())
    throw ValueError(detail::cat(op, ": weight must be None when num_layers is 1, got shape ",
                                 shape_str(weight.shape())));
  if (d.L > 1) {
    if (!weight.defined())
      throw ValueError(detail::cat(op, ": weight (num_layers - 1, D, ..., H, D*H + H) is required when num_layers is ",
                                   d.L, " > 1, got None"));
    expect_dtype(d, "weight", weight, x);
    expect_shape(d, "weight", weight, gated({d.L - 1, d.D}, {d.H, d.D * d.H + d.H}),
                 G > 1 ? "(num_layers - 1, D, gates, H, D*H + H)" : "(num_layers - 1, D, H, D*H + H)", x, h);
  }
  if (bias.defined()) {
    expect_dtype(d, "bias", bias, x);
    Shape b{d.L, d.D};
    if (G > 1) b.push_back(d.Gb);
    b.push_back(d.H);
    expect_shape(d, "bias", bias, b,
                 G > 1 ? "(num_layers, D, 4, H)" : "(num_layers, D, H)", x, h);
  }
  return d;
}

// One direction of one layer. X (T*B, in) -> the h_t in time order (each
// (B, H)), and the final h (and c).
struct Run {
  VariableList hs;
  Variable h, c;
};

Run run_direction(const Dims& d, const Variable& X, const Variable& W, const Variable& b, Variable h, Variable c,
                  bool reverse) {
  const int64_t in = X.shape()[1], H = d.H, B = d.B, GH = d.G * H;
  const Variable Wx = cols(W, 0, in), Wh = cols(W, in, in + H);
  Variable P = matmul(X, Wx, false, true);  // (T*B, G*H): every step's input projection at once
  Variable b_nh;                             // gru: the bias of the hidden part of n
  if (b.defined()) {
    P = add2(P, d.cell == Cell::Gru ? cols(b, 0, GH) : b);
    if (d.cell == Cell::Gru) b_nh = cols(b, GH, GH + H);
  }
  // One split node for all steps: its rule stacks the steps' gradients in one array (T row slices would
  // each scatter into a zero array of P's size).
  const VariableList xps = d.T > 0 ? split(reshape(P, {d.T, B, GH}), 0) : VariableList{};
  // The gates of one step as (B, G, H) split along axis 1: one node, whose rule is one concatenate.
  auto gates_of = [&](const Variable& m, int64_t n) { return split(reshape(m, {B, n, H}), 1); };
  Run r;
  r.hs.resize(static_cast<size_t>(d.T));
  for (int64_t s = 0; s < d.T; ++s) {
    const int64_t t = reverse ? d.T - 1 - s : s;
    const Variable& xp = xps[t];
    switch (d.cell) {
      case Cell::RnnTanh:
        h = tanh(add2(xp, matmul(h, Wh, false, true)));
        break;
      case Cell::RnnRelu:
        h = relu(add2(xp, matmul(h, Wh, false, true)));
        break;
      case Cell::Lstm: {
        const VariableList hc = lstm_cell(add2(xp, matmul(h, Wh, false, true)), c);
        h = hc[0];
        c = hc[1];
        break;
      }
      case Cell::Gru: {
        const VariableList xg = gates_of(xp, 3), hg = gates_of(matmul(h, Wh, false, true), 3);  // r, z, n
        const Variable r = sigmoid(add2(xg[0], hg[0])), z = sigmoid(add2(xg[1], hg[1]));
        const Variable hn = b_nh.defined() ? add2(hg[2], b_nh) : hg[2];
        const Variable n = tanh(add2(xg[2], mul2(r, hn)));
        h = add2(n, mul2(z, sub2(h, n)));  // (1 - z) n + z h
        break;
      }
    }
    r.hs[t] = h;
  }
  r.h = h;
  r.c = c;
  // no steps: an empty output that still depends on x, W and b, so that they get (empty or zero) gradients
  if (d.T == 0) r.hs = {cols(P, 0, H)};
  return r;
}

struct Stack {
  Variable y, h_n, c_n;
};

Stack run_stack(const Dims& d, const Variable& x, const Variable& h0, const Variable* c0, const Variable& weight_l0,
                const Variable& weight, const Variable& bias, double dropout, bool training) {
  const int64_t H = d.H, GH = d.G * H, B = d.B;
  // Matrices whose rows are picked per layer and direction.
  const Variable W0 = reshape(weight_l0, {d.D * GH, d.I + H});
  const Variable W = weight.defined() ? reshape(weight, {(d.L - 1) * d.D * GH, d.D * H + H}) : Variable();
  const Variable Bm = bias.defined() ? reshape(bias, {d.L * d.D, d.Gb * H}) : Variable();
  const Variable hm = reshape(h0, {d.L * d.D * B, H});
  const Variable cm = c0 ? reshape(*c0, {d.L * d.D * B, H}) : Variable();
  Variable X = reshape(x, {d.T * B, d.I});
  VariableList h_last, c_last;
  for (int64_t l = 0; l < d.L; ++l) {
    if (l > 0 && training && dropout > 0) X = nthgrad::dropout(X, dropout);
    VariableList outs;
    for (int64_t dir = 0; dir < d.D; ++dir) {
      const int64_t k = l * d.D + dir;
      const Variable Wk = l == 0 ? rows(W0, dir * GH, (dir + 1) * GH)
                                 : rows(W, ((l - 1) * d.D + dir) * GH, ((l - 1) * d.D + dir + 1) * GH);
      const Variable bk = Bm.defined() ? rows(Bm, k, k + 1) : Variable();
      Run r = run_direction(d, X, Wk, bk, rows(hm, k * B, (k + 1) * B), c0 ? rows(cm, k * B, (k + 1) * B) : Variable(),
                            dir == 1);
      outs.push_back(r.hs.size() == 1 ? r.hs[0] : concatenate(r.hs, 0));
      h_last.push_back(r.h);
      if (c0) c_last.push_back(r.c);
    }
    X = outs.size() == 1 ? outs[0] : concatenate(outs, 1);  // (T*B, D*H)
  }
  Stack s;
  s.y = reshape(X, {d.T, B, d.D * H});
  s.h_n = reshape(concatenate(h_last, 0), h0.shape());
  if (c0) s.c_n = reshape(concatenate(c_last, 0), h0.shape());
  return s;
}

Cell rnn_cell(const std::string& nonlinearity) {
  if (nonlinearity == "tanh") return Cell::RnnTanh;
  if (nonlinearity == "relu") return Cell::RnnRelu;
  throw ValueError(detail::cat("rnn: nonlinearity must be 'tanh' or 'relu', got '", nonlinearity, "'"));
}

}  // namespace

std::pair<Variable, Variable> rnn(const Variable& x, const Variable& h, const Variable& weight_l0,
                                  const Variable& weight, const Variable& bias, int64_t num_layers,
                                  const std::string& nonlinearity, double dropout, bool bidirectional, bool training) {
  const Cell cell = rnn_cell(nonlinearity);
  const Dims d = check_recurrent("rnn", cell, x, h, nullptr, weight_l0, weight, bias, num_layers, dropout,
                                 bidirectional);
  Stack s = run_stack(d, x, h, nullptr, weight_l0, weight, bias, dropout, training);
  return {s.y, s.h_n};
}

LstmResult lstm(const Variable& x, const Variable& h, const Variable& c, const Variable& weight_l0,
                const Variable& weight, const Variable& bias, int64_t num_layers, double dropout, bool bidirectional,
                bool training) {
  const Dims d = check_recurrent("lstm", Cell::Lstm, x, h, &c, weight_l0, weight, bias, num_layers, dropout,
                                 bidirectional);
  Stack s = run_stack(d, x, h, &c, weight_l0, weight, bias, dropout, training);
  return {s.y, s.h_n, s.c_n};
}

std::pair<Variable, Variable> gru(const Variable& x, const Variable& h, const Variable& weight_l0,
                                  const Variable& weight, const Variable& bias, int64_t num_layers, double dropout,
                                  bool bidirectional, bool training) {
  const Dims d = check_recurrent("gru", Cell::Gru, x, h, nullptr, weight_l0, weight, bias, num_layers, dropout,
                                 bidirectional);
  Stack s = run_stack(d, x, h, nullptr, weight_l0, weight, bias, dropout, training);
  return {s.y, s.h_n};
}

// ---- multi_head_attention --------------------------------------------------

namespace {

constexpr const char* kMha = "multi_head_attention";

void mha_float(const char* arg, const Variable& v, const Variable& query, int64_t ndim) {
  check::floating(kMha, arg, v);
  if (v.dtype() != query.dtype())
    throw TypeError(detail::cat(kMha, ": ", arg, " is ", dtype_name(v.dtype()), " (shape ", shape_str(v.shape()),
                                ") but query is ", dtype_name(query.dtype()),
                                "; all float inputs must have one dtype"));
  if (v.ndim() != ndim)
    throw ValueError(detail::cat(kMha, ": ", arg, " must have ", ndim, " axes, got shape ", shape_str(v.shape())));
}

void mha_dim(const char* what, int64_t got, const char* expected_what, int64_t expected, const Variable& v,
             const char* arg) {
  if (got != expected)
    throw ValueError(detail::cat(kMha, ": ", what, " (", got, ") must equal ", expected_what, " (", expected, "); ",
                                 arg, " has shape ", shape_str(v.shape())));
}

}  // namespace

// q = (query W_q + b_q) / sqrt(E / num_heads), k, v likewise; per head
// A = softmax(q k^T + mask), y = concat_heads(A v) W_out + b_out.
std::pair<Variable, Variable> multi_head_attention(const Variable& query, const Variable& key, const Variable& value,
                                                   int64_t num_heads, const Variable& q_weight,
                                                   const Variable& k_weight, const Variable& v_weight,
                                                   const Variable& out_weight, const Variable& q_bias,
                                                   const Variable& k_bias, const Variable& v_bias,
                                                   const Variable& out_bias, const Variable& attn_bias_k,
                                                   const Variable& attn_bias_v, double dropout,
                                                   const Variable& additive_mask, const Variable& key_padding_mask) {
  mha_float("query", query, query, 3);
  mha_float("key", key, query, 3);
  mha_float("value", value, query, 3);
  for (auto [arg, w] : {std::pair{"q_weight", &q_weight}, {"k_weight", &k_weight}, {"v_weight", &v_weight},
                        {"out_weight", &out_weight}})
    mha_float(arg, *w, query, 2);
  if (num_heads < 1) throw ValueError(detail::cat(kMha, ": num_heads must be >= 1, got ", num_heads));
  if (!(dropout >= 0 && dropout <= 1))
    throw ValueError(detail::cat(kMha, ": dropout must lie in [0, 1], got ", dropout));
  const int64_t LT = query.shape()[0], B = query.shape()[1], LS = key.shape()[0];
  const int64_t E = q_weight.shape()[1], Ev = v_weight.shape()[1], Eout = out_weight.shape()[1];
  mha_dim("key's batch size", key.shape()[1], "query's", B, key, "key");
  mha_dim("value's batch size", value.shape()[1], "query's", B, value, "value");
  mha_dim("value's length", value.shape()[0], "key's", LS, value, "value");
  mha_dim("q_weight's rows", q_weight.shape()[0], "query's features", query.shape()[2], q_weight,
          "q_weight");
  mha_dim("k_weight's rows", k_weight.shape()[0], "key's features", key.shape()[2], k_weight, "k_weight");
  mha_dim("v_weight's rows", v_weight.shape()[0], "value's features", value.shape()[2], v_weight, "v_weight");
  mha_dim("k_weight's columns", k_weight.shape()[1], "q_weight's columns E", E, k_weight, "k_weight");
  mha_dim("out_weight's rows", out_weight.shape()[0], "v_weight's columns E_v", Ev, out_weight, "out_weight");
  if (E < 1 || Ev < 1)
    throw ValueError(detail::cat(kMha, ": the embedding sizes E = ", E, " (q_weight of shape ", shape_str(q_weight.shape()),
                                 ") and E_v = ", Ev, " (v_weight of shape ", shape_str(v_weight.shape()),
                                 ") must be >= 1"));
  if (E % num_heads != 0 || Ev % num_heads != 0)
    throw ValueError(detail::cat(kMha, ": the embedding sizes E = ", E, " and E_v = ", Ev,
                                 " must be divisible by num_heads = ", num_heads));
  for (auto [arg, b, n] : {std::tuple{"q_bias", &q_bias, E}, {"k_bias", &k_bias, E}, {"v_bias", &v_bias, Ev},
                           {"out_bias", &out_bias, Eout}, {"attn_bias_k", &attn_bias_k, E},
                           {"attn_bias_v", &attn_bias_v, Ev}}) {
    if (!b->defined()) continue;
    mha_float(arg, *b, query, 1);
    mha_dim(arg, b->shape()[0], "its embedding size", n, *b, arg);
  }
  if (attn_bias_k.defined() != attn_bias_v.defined())
    throw ValueError(detail::cat(kMha, ": attn_bias_k and attn_bias_v must be given together"));
  if (additive_mask.defined()) {
    mha_float("additive_mask", additive_mask, query, 2);
    if (additive_mask.shape() != Shape{LT, LS})
      throw ValueError(detail::cat(kMha, ": additive_mask must have shape (L_T, L_S) = ", shape_str({LT, LS}),
                                   ", got ", shape_str(additive_mask.shape())));
  }
  if (key_padding_mask.defined() && key_padding_mask.shape() != Shape{B, LS})
    throw ValueError(detail::cat(kMha, ": key_padding_mask must have shape (B, L_S) = ", shape_str({B, LS}),
                                 ", got ", shape_str(key_padding_mask.shape())));

  const int64_t hd = E / num_heads, hdv = Ev / num_heads;
  const Variable q = mul_scalar(affine(query, q_weight, q_bias, 2), 1.0 / std::sqrt(static_cast<double>(hd)));
  Variable k = affine(key, k_weight, k_bias, 2), v = affine(value, v_weight, v_bias, 2);
  Variable mask = additive_mask;
  // a 0/1 (or bool, int64) mask, as the scores' dtype so that pad takes it
  Variable padding = key_padding_mask.defined() && key_padding_mask.dtype() != query.dtype()
                         ? cast(key_padding_mask, query.dtype())
                         : key_padding_mask;
  int64_t S = LS;
  if (attn_bias_k.defined()) {  // one more key/value position, visible to every query
    k = concatenate({k, broadcast(reshape(attn_bias_k, {1, 1, E}), {1, B, E})}, 0);
    v = concatenate({v, broadcast(reshape(attn_bias_v, {1, 1, Ev}), {1, B, Ev})}, 0);
    if (mask.defined()) mask = pad(mask, {0, 1});
    if (padding.defined()) padding = pad(padding, {0, 1});
    S += 1;
  }
  // (len, B, heads * d) -> (B * heads, len, d): head h of sample b is batch b * heads + h
  auto heads = [&](const Variable& m, int64_t d) { return transpose(reshape(m, {-1, B * num_heads, d}), {1, 0, 2}); };
  Variable scores = batch_matmul(heads(q, hd), heads(k, hd), false, true);  // (B*heads, L_T, S)
  if (mask.defined()) scores = add2(scores, reshape(mask, {1, LT, S}));
  if (padding.defined()) {
    const Variable hidden = reshape(padding, {B, 1, 1, S});
    const Variable minus_inf(Tensor::scalar(-std::numeric_limits<double>::infinity(), query.dtype()));
    scores = reshape(where(hidden, minus_inf, reshape(scores, {B, num_heads, LT, S})), {B * num_heads, LT, S});
  }
  Variable weights = softmax(scores, -1);
  if (dropout > 0) weights = nthgrad::dropout(weights, dropout);
  const Variable attended = reshape(transpose(batch_matmul(weights, heads(v, hdv)), {1, 0, 2}), {LT, B, Ev});
  const Variable y = affine(attended, out_weight, out_bias, 2);
  return {y, mean(reshape(weights, {B, num_heads, LT, S}), {1})};
}

}  // namespace nthgrad

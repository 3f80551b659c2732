// Recurrent layers (rnn, lstm, gru) and multi_head_attention, with nnabla's
// names, argument order and defaults. None stands for an absent weight,
// bias or mask, and dropout=None for 0.
#include <optional>

#include "nthgrad/ops/sequence.h"
#include "python/common.h"

namespace nthgrad::python {

namespace {
using Opt = std::optional<Variable>;
Variable or_none(const Opt& v) { return v ? *v : Variable(); }
}  // namespace

void bind_sequence(py::module_& m) {
  using V = const Variable&;
  const char* layers =
      " x (T, B, I), h (L, D, B, H) with L = num_layers and D = 2 if bidirectional; weight None iff "
      "num_layers == 1; direction 1 runs backwards in time and layer l+1 reads both directions concatenated. "
      "dropout (None = 0) applies to the outputs of every layer but the last when training. training=False "
      "only turns dropout off: gradients still flow. Gradients reach every float input.";
  m.def(
      "rnn",
      [](V x, V h, V weight_l0, const Opt& weight, const Opt& bias, int64_t num_layers,
         const std::string& nonlinearity, std::optional<double> dropout, bool bidirectional, bool training) {
        auto [y, h_n] = rnn(x, h, weight_l0, or_none(weight), or_none(bias), num_layers, nonlinearity,
                            dropout.value_or(0.0), bidirectional, training);
        return py::make_tuple(y, h_n);
      },
      py::arg("x"), py::arg("h"), py::arg("weight_l0"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
      py::arg("num_layers") = 1, py::arg("nonlinearity") = "tanh", py::arg("dropout") = py::none(),
      py::arg("bidirectional") = false, py::arg("training") = true,
      (std::string("Elman RNN: h_t = act(W[:, :in] x_t + W[:, in:] h_{t-1} + b), act 'tanh' or 'relu'; returns "
                   "(y (T, B, D*H), h_n (L, D, B, H)). weight_l0 (D, H, I+H), weight (L-1, D, H, D*H+H), bias "
                   "(L, D, H).") +
       layers)
          .c_str());
  m.def(
      "lstm",
      [](V x, V h, V c, V weight_l0, const Opt& weight, const Opt& bias, int64_t num_layers,
         std::optional<double> dropout, bool bidirectional, bool training) {
        LstmResult r = lstm(x, h, c, weight_l0, or_none(weight), or_none(bias), num_layers, dropout.value_or(0.0),
                            bidirectional, training);
        return py::make_tuple(r.y, r.h_n, r.c_n);
      },
      py::arg("x"), py::arg("h"), py::arg("c"), py::arg("weight_l0"), py::arg("weight") = py::none(),
      py::arg("bias") = py::none(), py::arg("num_layers") = 1, py::arg("dropout") = py::none(),
      py::arg("bidirectional") = false, py::arg("training") = true,
      (std::string("LSTM, gates (i, f, g, o) = W_gate [x_t; h_{t-1}] + b_gate: c_t = sig(f) c_{t-1} + sig(i) "
                   "tanh(g), h_t = sig(o) tanh(c_t); returns (y (T, B, D*H), h_n, c_n (L, D, B, H)). weight_l0 "
                   "(D, 4, H, I+H), weight (L-1, D, 4, H, D*H+H), bias (L, D, 4, H); c like h.") +
       layers)
          .c_str());
  m.def(
      "gru",
      [](V x, V h, V weight_l0, const Opt& weight, const Opt& bias, int64_t num_layers, std::optional<double> dropout,
         bool bidirectional, bool training) {
        auto [y, h_n] = gru(x, h, weight_l0, or_none(weight), or_none(bias), num_layers, dropout.value_or(0.0),
                            bidirectional, training);
        return py::make_tuple(y, h_n);
      },
      py::arg("x"), py::arg("h"), py::arg("weight_l0"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
      py::arg("num_layers") = 1, py::arg("dropout") = py::none(), py::arg("bidirectional") = false,
      py::arg("training") = true,
      (std::string("GRU, gates (r, z, n): r, z = sig(W [x; h] + b_{r,z}), n = tanh(W_n[:, :in] x + b_n,in + "
                   "r (W_n[:, in:] h + b_n,h)), h_t = (1 - z) n + z h_{t-1}; returns (y (T, B, D*H), h_n "
                   "(L, D, B, H)). weight_l0 (D, 3, H, I+H), weight (L-1, D, 3, H, D*H+H), bias (L, D, 4, H) with "
                   "rows b_r, b_z, b_n,in, b_n,h.") +
       layers)
          .c_str());
  m.def(
      "multi_head_attention",
      [](V query, V key, V value, int64_t num_heads, V q_weight, V k_weight, V v_weight, V out_weight,
         const Opt& q_bias, const Opt& k_bias, const Opt& v_bias, const Opt& out_bias, const Opt& attn_bias_k,
         const Opt& attn_bias_v, double dropout, const Opt& additive_mask, const Opt& key_padding_mask) {
        auto [y, w] = multi_head_attention(query, key, value, num_heads, q_weight, k_weight, v_weight, out_weight,
                                           or_none(q_bias), or_none(k_bias), or_none(v_bias), or_none(out_bias),
                                           or_none(attn_bias_k), or_none(attn_bias_v), dropout,
                                           or_none(additive_mask), or_none(key_padding_mask));
        return py::make_tuple(y, w);
      },
      py::arg("query"), py::arg("key"), py::arg("value"), py::arg("num_heads"), py::arg("q_weight"),
      py::arg("k_weight"), py::arg("v_weight"), py::arg("out_weight"), py::arg("q_bias") = py::none(),
      py::arg("k_bias") = py::none(), py::arg("v_bias") = py::none(), py::arg("out_bias") = py::none(),
      py::arg("attn_bias_k") = py::none(), py::arg("attn_bias_v") = py::none(), py::arg("dropout") = 0.0,
      py::arg("additive_mask") = py::none(), py::arg("key_padding_mask") = py::none(),
      "Multi-head attention: query (L_T, B, D_q), key/value (L_S, B, D_k/D_v); q = query q_weight (D_q, E) + "
      "q_bias, k, v alike (v_weight (D_v, E_v)); per head softmax(q k^T / sqrt(E/num_heads) + additive_mask "
      "(L_T, L_S), -inf where key_padding_mask (B, L_S) is nonzero), dropout on it, times v; then out_weight "
      "(E_v, E_out) + out_bias. attn_bias_k (E) / attn_bias_v (E_v) append one key/value. Returns (y (L_T, B, "
      "E_out), the attention weights averaged over heads (B, L_T, L_S)); a query whose keys are all hidden gets "
      "NaN, as in nnabla and torch. Gradients reach every float input.");
}

}  // namespace nthgrad::python

#pragma once
// Recurrent layers (technical note section 2): rnn, lstm, gru; and the related
// multi_head_attention. Each is a C++ loop over time that records ordinary
// ops (matmul, split, sigmoid, tanh, ...), so every order of gradient follows
// from those ops' rules; lstm's step is one fused lstm_cell op whose adjoint
// lstm_cell_backward has a rule written in ops.
//
// Shapes (nnabla's layouts): x (T, B, I); h, c (L, D, B, H) with L =
// num_layers and D = 2 if bidirectional else 1; G gates per layer (rnn 1,
// lstm 4 in the order i, f, g, o, gru 3 in the order r, z, n);
// weight_l0 (D, G, H, I + H) (rnn: (D, H, I + H)), the input part first;
// weight (L - 1, D, G, H, D*H + H), undefined iff L == 1; bias (L, D, G, H)
// (rnn (L, D, H); gru (L, D, 4, H): b_r, b_z, b_n for the input and b_n for
// the hidden part), may be undefined. Direction 1 runs backwards in time;
// layer l + 1 reads both directions' outputs, concatenated. With training
// and dropout > 0, the outputs of every layer but the last go through
// `dropout` (global generator). training = false only turns dropout off:
// gradients still work (nnabla raises on backward there).
#include <string>
#include <utility>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

// y (T, B, D*H): the last layer's h_t; h_n (L, D, B, H): each layer's final h.
// h_t = act(W[:, :in] x_t + W[:, in:] h_{t-1} + b), act 'tanh' or 'relu'.
std::pair<Variable, Variable> rnn(const Variable& x, const Variable& h, const Variable& weight_l0,
                                  const Variable& weight = Variable(), const Variable& bias = Variable(),
                                  int64_t num_layers = 1, const std::string& nonlinearity = "tanh",
                                  double dropout = 0.0, bool bidirectional = false, bool training = true);

struct LstmResult {
  Variable y, h_n, c_n;
};
// c_t = sig(f) c_{t-1} + sig(i) tanh(g), h_t = sig(o) tanh(c_t).
LstmResult lstm(const Variable& x, const Variable& h, const Variable& c, const Variable& weight_l0,
                const Variable& weight = Variable(), const Variable& bias = Variable(), int64_t num_layers = 1,
                double dropout = 0.0, bool bidirectional = false, bool training = true);

// r, z = sig(W_{r,z} [x; h] + b_{r,z}); n = tanh(W_n[:, :in] x + b_n,in + r (W_n[:, in:] h + b_n,h));
// h_t = (1 - z) n + z h_{t-1}.
std::pair<Variable, Variable> gru(const Variable& x, const Variable& h, const Variable& weight_l0,
                                  const Variable& weight = Variable(), const Variable& bias = Variable(),
                                  int64_t num_layers = 1, double dropout = 0.0, bool bidirectional = false,
                                  bool training = true);

// nnabla's multi_head_attention: query (L_T, B, D_q), key (L_S, B, D_k), value
// (L_S, B, D_v); q/k_weight (D_q/D_k, E), v_weight (D_v, E_v), out_weight
// (E_v, E_out); biases (E), (E), (E_v), (E_out); attn_bias_k (E) and
// attn_bias_v (E_v) append one key/value position; additive_mask (L_T, L_S)
// is added to the scores; key_padding_mask (B, L_S) nonzero hides a key.
// Returns the output (L_T, B, E_out) and the attention weights averaged over
// the heads (B, L_T, L_S') (after dropout, as torch). Undefined = None.
std::pair<Variable, Variable> multi_head_attention(
    const Variable& query, const Variable& key, const Variable& value, int64_t num_heads, const Variable& q_weight,
    const Variable& k_weight, const Variable& v_weight, const Variable& out_weight,
    const Variable& q_bias = Variable(), const Variable& k_bias = Variable(), const Variable& v_bias = Variable(),
    const Variable& out_bias = Variable(), const Variable& attn_bias_k = Variable(),
    const Variable& attn_bias_v = Variable(), double dropout = 0.0, const Variable& additive_mask = Variable(),
    const Variable& key_padding_mask = Variable());

}  // namespace nthgrad

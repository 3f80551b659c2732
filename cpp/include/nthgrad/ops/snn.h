#pragma once
// Spiking neurons (issue 10): the leaky integrate-and-fire (LIF) and leaky
// integrator (LI) updates of Norse 1.1.0, in its order, recorded as ordinary
// ops (the spike through surrogate_heaviside), so backpropagation through
// time has gradients of every order. The sequence op runs its time loop here,
// in C++, with no Python per step.
#include <string>

#include "nthgrad/variable.h"

namespace nthgrad {

// Norse's LIFParameters and defaults; `alpha` (the surrogate's width) is a
// tensor argument of the functions below, so that it can be learned.
struct LIFParameters {
  double tau_syn_inv = 200, tau_mem_inv = 100, v_leak = 0, v_th = 1, v_reset = 0;
  std::string method = "super";
};
struct LIParameters {
  double tau_syn_inv = 200, tau_mem_inv = 100, v_leak = 0;
};

// One feed-forward LIF step of input current x (any shape) and state (v, i) of
// x's shape:
//   i <- i + x;  v <- v + dt tau_mem_inv ((v_leak - v) + i);  i <- i - dt tau_syn_inv i;
//   z = threshold(v - v_th, method, alpha);  v <- (1 - z) v + z v_reset.
// Returns {z, v, i}.
VariableList lif_feed_forward_step(const Variable& x, const Variable& v, const Variable& i, const LIFParameters& p,
                                   const Variable& alpha, double dt = 1e-3);
// The recurrent step: input current x @ w_in^T + z @ w_rec^T (x (B, I), z, v, i
// (B, H), w_in (H, I), w_rec (H, H)); the reset uses z detached, as Norse does.
// Returns {z, v, i}.
VariableList lif_step(const Variable& x, const Variable& z, const Variable& v, const Variable& i,
                      const Variable& w_in, const Variable& w_rec, const LIFParameters& p, const Variable& alpha,
                      double dt = 1e-3);
// lif_feed_forward_step over the first (time) axis of xs (T, ...): returns
// {zs (T, ...), v, i} (the final state).
VariableList lif_feed_forward_integral(const Variable& xs, const Variable& v, const Variable& i,
                                       const LIFParameters& p, const Variable& alpha, double dt = 1e-3);
// One leaky-integrator step: i <- i + x; v <- v + dt tau_mem_inv ((v_leak - v) + i);
// i <- i - dt tau_syn_inv i. Returns {v, i} (v is also the output).
VariableList li_feed_forward_step(const Variable& x, const Variable& v, const Variable& i, const LIParameters& p,
                                  double dt = 1e-3);
// With input weights: the current is x @ w_in^T (x (B, I), w_in (H, I)). Returns {v, i}.
VariableList li_step(const Variable& x, const Variable& v, const Variable& i, const Variable& w_in,
                     const LIParameters& p, double dt = 1e-3);

}  // namespace nthgrad

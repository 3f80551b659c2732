// LIF and LI neurons (Norse 1.1.0's update order) as compositions of ops.
#include "nthgrad/ops/snn.h"

#include <cmath>

#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/linalg.h"
#include "nthgrad/ops/surrogate.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {

void check_state(const char* op, const Variable& x, const char* arg, const Variable& s) {
  check::floating(op, arg, s);
  check::same_shape(op, "the input current", x, arg, s);
}

void check_dt(const char* op, double dt) {
  if (!(dt > 0) || !std::isfinite(dt)) throw ValueError(detail::cat(op, ": dt must be finite and > 0, got ", dt));
}

// The membrane and current update shared by LIF and LI: i jumps by the input,
// v integrates toward v_leak + i, then i decays. Returns {v, i}.
VariableList integrate(const Variable& current, const Variable& v, const Variable& i, double tau_syn_inv,
                       double tau_mem_inv, double v_leak, double dt) {
  const Variable i_jump = add2(i, current);
  const Variable v_new = add2(v, mul_scalar(add2(r_sub_scalar(v, v_leak), i_jump), dt * tau_mem_inv));
  const Variable i_new = mul_scalar(i_jump, 1.0 - dt * tau_syn_inv);
  return {v_new, i_new};
}

// The spike of v and the reset, with the reset's z detached when asked (the recurrent cell). Returns {z, v}.
VariableList fire(const Variable& v, const LIFParameters& p, const Variable& alpha, bool detach_reset) {
  const Variable z = surrogate_heaviside(add_scalar(v, -p.v_th), p.method, alpha);
  const Variable zr = detach_reset ? z.detach() : z;
  // (1 - z) v + z v_reset
  const Variable v_new = add2(mul2(r_sub_scalar(zr, 1.0), v), mul_scalar(zr, p.v_reset));
  return {z, v_new};
}

VariableList lif_from_current(const char* op, const Variable& current, const Variable& v, const Variable& i,
                              const LIFParameters& p, const Variable& alpha, double dt, bool detach_reset) {
  check_state(op, current, "v", v);
  check_state(op, current, "i", i);
  check_dt(op, dt);
  const VariableList vi = integrate(current, v, i, p.tau_syn_inv, p.tau_mem_inv, p.v_leak, dt);
  const VariableList zv = fire(vi[0], p, alpha, detach_reset);
  return {zv[0], zv[1], vi[1]};
}

// x @ w^T for x (B, I) and w (H, I), with the errors naming the op and the weight.
Variable weighted(const char* op, const char* arg, const Variable& x, const Variable& w) {
  check::floating(op, arg, w);
  if (w.ndim() != 2 || x.ndim() != 2 || x.shape()[1] != w.shape()[1])
    throw ValueError(detail::cat(op, ": ", arg, " of shape ", shape_str(w.shape()), " does not fit an input of shape ",
                                 shape_str(x.shape()), " (expected (B, I) and (H, I))"));
  return linear(x, w);
}

}  // namespace

VariableList lif_feed_forward_step(const Variable& x, const Variable& v, const Variable& i, const LIFParameters& p,
                                   const Variable& alpha, double dt) {
  check::floating("lif_feed_forward_step", "input", x);
  return lif_from_current("lif_feed_forward_step", x, v, i, p, alpha, dt, false);
}

VariableList lif_step(const Variable& x, const Variable& z, const Variable& v, const Variable& i,
                      const Variable& w_in, const Variable& w_rec, const LIFParameters& p, const Variable& alpha,
                      double dt) {
  const char* op = "lif_step";
  check::floating(op, "input", x);
  check::floating(op, "z", z);
  const Variable current = add2(weighted(op, "input_weights", x, w_in), weighted(op, "recurrent_weights", z, w_rec));
  return lif_from_current(op, current, v, i, p, alpha, dt, true);
}

VariableList lif_feed_forward_integral(const Variable& xs, const Variable& v, const Variable& i,
                                       const LIFParameters& p, const Variable& alpha, double dt) {
  const char* op = "lif_feed_forward_integral";
  check::floating(op, "input", xs);
  if (xs.ndim() < 1 || xs.shape()[0] < 1)
    throw ValueError(detail::cat(op, ": the input must have a time axis first with at least one step, got shape ",
                                 shape_str(xs.shape())));
  const VariableList steps = split(xs, 0);
  VariableList zs;
  zs.reserve(steps.size());
  Variable vt = v, it = i;
  for (const Variable& x : steps) {
    VariableList out = lif_from_current(op, x, vt, it, p, alpha, dt, false);
    zs.push_back(out[0]);
    vt = out[1];
    it = out[2];
  }
  return {stack(zs, 0), vt, it};
}

VariableList li_feed_forward_step(const Variable& x, const Variable& v, const Variable& i, const LIParameters& p,
                                  double dt) {
  const char* op = "li_feed_forward_step";
  check::floating(op, "input", x);
  check_state(op, x, "v", v);
  check_state(op, x, "i", i);
  check_dt(op, dt);
  return integrate(x, v, i, p.tau_syn_inv, p.tau_mem_inv, p.v_leak, dt);
}

VariableList li_step(const Variable& x, const Variable& v, const Variable& i, const Variable& w_in,
                     const LIParameters& p, double dt) {
  check::floating("li_step", "input", x);
  return li_feed_forward_step(weighted("li_step", "input_weights", x, w_in), v, i, p, dt);
}

}  // namespace nthgrad

// Spiking neurons (issue 10): the LIF / LI steps and the LIF sequence op;
// nthgrad.snn wraps them in Norse's API.
#include "python/common.h"

namespace nthgrad::python {

namespace {

LIFParameters lif_params(double tau_syn_inv, double tau_mem_inv, double v_leak, double v_th, double v_reset,
                         const std::string& method) {
  LIFParameters p;
  p.tau_syn_inv = tau_syn_inv, p.tau_mem_inv = tau_mem_inv, p.v_leak = v_leak, p.v_th = v_th, p.v_reset = v_reset;
  p.method = method;
  return p;
}

}  // namespace

void bind_snn(py::module_& m) {
  using V = const Variable&;
  m.def(
      "lif_feed_forward_step",
      [](V x, V v, V i, double tsi, double tmi, double vl, double vth, double vr, const std::string& method, V alpha,
         double dt) {
        const VariableList r = lif_feed_forward_step(x, v, i, lif_params(tsi, tmi, vl, vth, vr, method), alpha, dt);
        return py::make_tuple(r[0], r[1], r[2]);
      },
      py::arg("x"), py::arg("v"), py::arg("i"), py::arg("tau_syn_inv"), py::arg("tau_mem_inv"), py::arg("v_leak"),
      py::arg("v_th"), py::arg("v_reset"), py::arg("method"), py::arg("alpha"), py::arg("dt"),
      "One feed-forward LIF step (Norse 1.1.0's order); returns (z, v, i).");
  m.def(
      "lif_step",
      [](V x, V z, V v, V i, V w_in, V w_rec, double tsi, double tmi, double vl, double vth, double vr,
         const std::string& method, V alpha, double dt) {
        const VariableList r = lif_step(x, z, v, i, w_in, w_rec, lif_params(tsi, tmi, vl, vth, vr, method), alpha, dt);
        return py::make_tuple(r[0], r[1], r[2]);
      },
      py::arg("x"), py::arg("z"), py::arg("v"), py::arg("i"), py::arg("input_weights"),
      py::arg("recurrent_weights"), py::arg("tau_syn_inv"), py::arg("tau_mem_inv"), py::arg("v_leak"),
      py::arg("v_th"), py::arg("v_reset"), py::arg("method"), py::arg("alpha"), py::arg("dt"),
      "One recurrent LIF step (reset with z detached); returns (z, v, i).");
  m.def(
      "lif_feed_forward_integral",
      [](V xs, V v, V i, double tsi, double tmi, double vl, double vth, double vr, const std::string& method,
         V alpha, double dt) {
        const VariableList r =
            lif_feed_forward_integral(xs, v, i, lif_params(tsi, tmi, vl, vth, vr, method), alpha, dt);
        return py::make_tuple(r[0], r[1], r[2]);
      },
      py::arg("xs"), py::arg("v"), py::arg("i"), py::arg("tau_syn_inv"), py::arg("tau_mem_inv"), py::arg("v_leak"),
      py::arg("v_th"), py::arg("v_reset"), py::arg("method"), py::arg("alpha"), py::arg("dt"),
      "The feed-forward LIF over the time axis of xs, the loop in C++; returns (zs, v, i).");
  m.def(
      "li_feed_forward_step",
      [](V x, V v, V i, double tsi, double tmi, double vl, double dt) {
        LIParameters p;
        p.tau_syn_inv = tsi, p.tau_mem_inv = tmi, p.v_leak = vl;
        const VariableList r = li_feed_forward_step(x, v, i, p, dt);
        return py::make_tuple(r[0], r[1]);
      },
      py::arg("x"), py::arg("v"), py::arg("i"), py::arg("tau_syn_inv"), py::arg("tau_mem_inv"), py::arg("v_leak"),
      py::arg("dt"), "One leaky-integrator step; returns (v, i).");
  m.def(
      "li_step",
      [](V x, V v, V i, V w_in, double tsi, double tmi, double vl, double dt) {
        LIParameters p;
        p.tau_syn_inv = tsi, p.tau_mem_inv = tmi, p.v_leak = vl;
        const VariableList r = li_step(x, v, i, w_in, p, dt);
        return py::make_tuple(r[0], r[1]);
      },
      py::arg("x"), py::arg("v"), py::arg("i"), py::arg("input_weights"), py::arg("tau_syn_inv"),
      py::arg("tau_mem_inv"), py::arg("v_leak"), py::arg("dt"),
      "One leaky-integrator step with input weights (current x @ w^T); returns (v, i).");
}

}  // namespace nthgrad::python

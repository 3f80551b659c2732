// The fused optimizer updates (nthgrad.optim calls them; one call per
// parameter and step). Unused state buffers are None.
#include "ops/detail/check.h"
#include "python/common.h"

namespace nthgrad::python {

namespace {
Variable or_undefined(const std::optional<Variable>& v) { return v ? *v : Variable(); }
}  // namespace

void bind_optim(py::module_& m) {
  // Checks every tensor of a batch of in-place writes before the first one
  // happens (Optimizer.step, Module.load_state_dict), so that a refusal
  // leaves nothing half updated. The tensors are read by reference: a copy
  // of a variable would count as a second holder of it.
  m.def(
      "_check_writable",
      [](const std::string& op, const std::vector<std::string>& names, const py::sequence& tensors, bool leaves) {
        if (names.size() != static_cast<std::size_t>(py::len(tensors)))
          throw ValueError("_check_writable: one name per tensor");
        for (std::size_t i = 0; i < names.size(); ++i) {
          const Variable& v = tensors[i].cast<const Variable&>();
          if (leaves) check::in_place_leaf((op + " (" + names[i] + ")").c_str(), v);
          check::writable(op.c_str(), names[i].c_str(), v);
        }
      },
      py::arg("op"), py::arg("names"), py::arg("tensors"), py::arg("leaves") = false,
      "Raises the error an in-place write of each tensor would raise (memory not nthgrad's, a live NumPy view or "
      "DLPack export; with leaves, also what copy_ requires), before any is written.");
  m.def(
      "sgd_step",
      [](Variable p, const Variable& grad, const std::optional<Variable>& momentum_buffer, double lr, double momentum,
         double dampening, double weight_decay, bool nesterov, bool maximize, bool first_step) {
        Variable buf = or_undefined(momentum_buffer);
        sgd_step(p, grad, buf, SgdStep{lr, momentum, dampening, weight_decay, nesterov, maximize, first_step});
      },
      py::arg("p"), py::arg("grad"), py::arg("momentum_buffer"), py::arg("lr"), py::arg("momentum") = 0.0,
      py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0, py::arg("nesterov") = false,
      py::arg("maximize") = false, py::arg("first_step") = false,
      "One SGD update of p and its momentum buffer, in place (see nthgrad/ops/optim.h).");
  m.def(
      "adam_step",
      [](Variable p, const Variable& grad, const Variable& exp_avg, const Variable& exp_avg_sq,
         const std::optional<Variable>& max_exp_avg_sq, int64_t step, double lr, double beta1, double beta2,
         double eps, double weight_decay, bool decoupled_weight_decay, bool amsgrad, bool maximize) {
        Variable m1 = exp_avg, m2 = exp_avg_sq, vmax = or_undefined(max_exp_avg_sq);
        adam_step(p, grad, m1, m2, vmax,
                  AdamStep{step, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, amsgrad, maximize});
      },
      py::arg("p"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"),
      py::arg("step"), py::arg("lr"), py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("eps") = 1e-8,
      py::arg("weight_decay") = 0.0, py::arg("decoupled_weight_decay") = false, py::arg("amsgrad") = false,
      py::arg("maximize") = false, "One Adam (or AdamW) update of p and its moments, in place.");
  m.def(
      "rmsprop_step",
      [](Variable p, const Variable& grad, const Variable& square_avg, const std::optional<Variable>& grad_avg,
         const std::optional<Variable>& momentum_buffer, double lr, double alpha, double eps, double weight_decay,
         double momentum, bool centered, bool maximize) {
        Variable s = square_avg, ga = or_undefined(grad_avg), buf = or_undefined(momentum_buffer);
        rmsprop_step(p, grad, s, ga, buf, RmspropStep{lr, alpha, eps, weight_decay, momentum, centered, maximize});
      },
      py::arg("p"), py::arg("grad"), py::arg("square_avg"), py::arg("grad_avg"), py::arg("momentum_buffer"),
      py::arg("lr"), py::arg("alpha") = 0.99, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
      py::arg("momentum") = 0.0, py::arg("centered") = false, py::arg("maximize") = false,
      "One RMSprop update of p and its averages, in place.");
  m.def(
      "adagrad_step",
      [](Variable p, const Variable& grad, const Variable& state_sum, int64_t step, double lr, double lr_decay,
         double weight_decay, double eps, bool maximize) {
        Variable s = state_sum;
        adagrad_step(p, grad, s, AdagradStep{step, lr, lr_decay, weight_decay, eps, maximize});
      },
      py::arg("p"), py::arg("grad"), py::arg("state_sum"), py::arg("step"), py::arg("lr"),
      py::arg("lr_decay") = 0.0, py::arg("weight_decay") = 0.0, py::arg("eps") = 1e-10, py::arg("maximize") = false,
      "One Adagrad update of p and its sum of squared gradients, in place.");
}

}  // namespace nthgrad::python

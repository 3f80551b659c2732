// Fused optimizer updates: argument checks, then one kernel (kernels/cpu/optim.cpp).
#include "nthgrad/ops/optim.h"

#include <cmath>
#include <vector>

#include "kernels/kernels.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {

// The checks shared by every rule: p a float leaf, grad of p's shape (cast to
// p's dtype if need be), the hyperparameters finite. Returns the gradient.
Tensor check_step(const char* op, const Variable& p, const Variable& grad, std::initializer_list<double> hyper) {
  check::floating(op, "p", p);
  if (!p.is_leaf())
    throw RuntimeError(detail::cat(op, ": p of shape ", shape_str(p.shape()),
                                   " is the result of an op; optimizers update leaves (parameters)"));
  check::floating(op, "grad", grad);
  check::same_shape(op, "p", p, "grad", grad);
  for (double h : hyper)
    if (!std::isfinite(h)) throw ValueError(detail::cat(op, ": hyperparameters must be finite, got ", h));
  return grad.dtype() == p.dtype() ? grad.value() : kernels::cast(grad.value(), p.dtype());
}

// A state buffer the rule writes (p's shape and dtype), or an undefined tensor
// when the rule does not use it. Tensors share their storage when copied, so
// the kernel writes into the buffer through the returned one.
Tensor check_buffer(const char* op, const char* arg, const Variable& buffer, const Variable& p, bool used) {
  if (!used) return Tensor();
  if (!buffer.defined()) throw ValueError(detail::cat(op, ": state buffer ", arg, " is undefined (None)"));
  if (buffer.shape() != p.shape() || buffer.dtype() != p.dtype())
    throw ValueError(detail::cat(op, ": state buffer ", arg, " is ", dtype_name(buffer.dtype()), " of shape ",
                                 shape_str(buffer.shape()), " but p is ", dtype_name(p.dtype()), " of shape ",
                                 shape_str(p.shape()), "; they must match"));
  return buffer.value();
}

// Everything written must be distinct memory; then versions are bumped.
void prepare_writes(const char* op, const std::vector<std::pair<const char*, const Variable*>>& written) {
  for (std::size_t i = 0; i < written.size(); ++i)
    for (std::size_t j = i + 1; j < written.size(); ++j)
      if (written[i].second->defined() && written[j].second->defined() &&
          written[i].second->value().storage() == written[j].second->value().storage())
        throw RuntimeError(detail::cat(op, ": ", written[i].first, " and ", written[j].first,
                                       " share memory; each is updated in place and must be a tensor of its own"));
  for (const auto& [name, v] : written)
    if (v->defined()) check::prepare_in_place(op, name, *v);
}

void check_step_count(const char* op, int64_t step) {
  if (step < 1) throw ValueError(detail::cat(op, ": step must be >= 1 (the number of this update), got ", step));
}

}  // namespace

void sgd_step(Variable& p, const Variable& grad, Variable& momentum_buffer, const SgdStep& o) {
  const char* op = "sgd_step";
  Tensor g = check_step(op, p, grad, {o.lr, o.momentum, o.dampening, o.weight_decay});
  Tensor buf = check_buffer(op, "momentum_buffer", momentum_buffer, p, o.momentum != 0);
  prepare_writes(op, {{"p", &p}, {"momentum_buffer", &momentum_buffer}});
  Tensor pt = p.value();
  kernels::sgd_step(pt, g, buf.defined() ? &buf : nullptr, o);
}

void adam_step(Variable& p, const Variable& grad, Variable& exp_avg, Variable& exp_avg_sq, Variable& max_exp_avg_sq,
               const AdamStep& o) {
  const char* op = o.decoupled_weight_decay ? "adamw_step" : "adam_step";
  Tensor g = check_step(op, p, grad, {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay});
  check_step_count(op, o.step);
  Tensor m = check_buffer(op, "exp_avg", exp_avg, p, true);
  Tensor v = check_buffer(op, "exp_avg_sq", exp_avg_sq, p, true);
  Tensor vmax = check_buffer(op, "max_exp_avg_sq", max_exp_avg_sq, p, o.amsgrad);
  prepare_writes(op, {{"p", &p}, {"exp_avg", &exp_avg}, {"exp_avg_sq", &exp_avg_sq},
                      {"max_exp_avg_sq", &max_exp_avg_sq}});
  Tensor pt = p.value();
  kernels::adam_step(pt, g, m, v, vmax.defined() ? &vmax : nullptr, o);
}

void rmsprop_step(Variable& p, const Variable& grad, Variable& square_avg, Variable& grad_avg,
                  Variable& momentum_buffer, const RmspropStep& o) {
  const char* op = "rmsprop_step";
  Tensor g = check_step(op, p, grad, {o.lr, o.alpha, o.eps, o.weight_decay, o.momentum});
  Tensor s = check_buffer(op, "square_avg", square_avg, p, true);
  Tensor ga = check_buffer(op, "grad_avg", grad_avg, p, o.centered);
  Tensor buf = check_buffer(op, "momentum_buffer", momentum_buffer, p, o.momentum != 0);
  prepare_writes(op, {{"p", &p}, {"square_avg", &square_avg}, {"grad_avg", &grad_avg},
                      {"momentum_buffer", &momentum_buffer}});
  Tensor pt = p.value();
  kernels::rmsprop_step(pt, g, s, ga.defined() ? &ga : nullptr, buf.defined() ? &buf : nullptr, o);
}

void adagrad_step(Variable& p, const Variable& grad, Variable& state_sum, const AdagradStep& o) {
  const char* op = "adagrad_step";
  Tensor g = check_step(op, p, grad, {o.lr, o.lr_decay, o.weight_decay, o.eps});
  check_step_count(op, o.step);
  Tensor s = check_buffer(op, "state_sum", state_sum, p, true);
  prepare_writes(op, {{"p", &p}, {"state_sum", &state_sum}});
  Tensor pt = p.value();
  kernels::adagrad_step(pt, g, s, o);
}

}  // namespace nthgrad

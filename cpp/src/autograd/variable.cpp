#include <atomic>

#include "autograd/node.h"
#include "autograd/record.h"
#include "nthgrad/error.h"

namespace nthgrad {

namespace {
std::atomic<int64_t> g_live_variables{0};
thread_local bool t_grad_enabled = true;

const std::shared_ptr<Node>& null_node() {
  static const std::shared_ptr<Node> none;
  return none;
}

VariableImpl& checked(const std::shared_ptr<VariableImpl>& impl, const char* what) {
  if (!impl) throw RuntimeError(detail::cat(what, ": the tensor is undefined"));
  return *impl;
}
}  // namespace

VariableImpl::VariableImpl(Tensor v, bool rg) : value(std::move(v)), requires_grad(rg) { ++g_live_variables; }

VariableImpl::~VariableImpl() {
  release_node(std::move(grad_fn));
  --g_live_variables;
}

Variable make_output(Tensor value, std::shared_ptr<Node> node, int output_nr) {
  Variable v;
  v.impl_ = std::make_shared<VariableImpl>(std::move(value), true);
  v.impl_->grad_fn = std::move(node);
  v.impl_->output_nr = output_nr;
  return v;
}

Variable::Variable(Tensor value, bool requires_grad) {
  if (!value.defined()) return;
  if (requires_grad && !is_floating(value.dtype()))
    throw TypeError(detail::cat("requires_grad: only float32 and float64 tensors can require gradients, not ",
                                dtype_name(value.dtype())));
  impl_ = std::make_shared<VariableImpl>(std::move(value), requires_grad);
}

const Tensor& Variable::value() const { return checked(impl_, "value").value; }
bool Variable::requires_grad() const { return impl_ && impl_->requires_grad; }
bool Variable::is_leaf() const { return !impl_ || !impl_->grad_fn; }
const std::shared_ptr<Node>& Variable::grad_fn() const { return impl_ ? impl_->grad_fn : null_node(); }
int Variable::output_nr() const { return impl_ ? impl_->output_nr : 0; }

void Variable::set_requires_grad(bool requires_grad) {
  VariableImpl& impl = checked(impl_, "requires_grad");
  if (impl.grad_fn) {
    if (!requires_grad)
      throw RuntimeError(
          "requires_grad: can only change requires_grad of a leaf tensor; use detach() to cut a result from the "
          "graph");
    return;
  }
  if (requires_grad && !is_floating(impl.value.dtype()))
    throw TypeError(detail::cat("requires_grad: only float32 and float64 tensors can require gradients, not ",
                                dtype_name(impl.value.dtype())));
  impl.requires_grad = requires_grad;
}

Variable variable_of(std::shared_ptr<VariableImpl> impl) {
  Variable v;
  v.impl_ = std::move(impl);
  return v;
}

Variable Variable::grad() const { return impl_ ? impl_->grad : Variable(); }

void Variable::set_grad(const Variable& grad) {
  VariableImpl& impl = checked(impl_, "grad");
  if (grad.defined() && grad.shape() != impl.value.shape())
    throw ValueError(detail::cat("grad: assigned gradient has shape ", shape_str(grad.shape()),
                                 " but the tensor has shape ", shape_str(impl.value.shape())));
  if (grad.defined() && grad.dtype() != impl.value.dtype())
    throw TypeError(detail::cat("grad: assigned gradient is ", dtype_name(grad.dtype()), " but the tensor is ",
                                dtype_name(impl.value.dtype()), " (shape ", shape_str(impl.value.shape()), ")"));
  impl.grad = grad;
}

void Variable::set_data(const Tensor& value) {
  VariableImpl& impl = checked(impl_, "set_data");
  if (impl.grad_fn)
    throw RuntimeError(detail::cat("set_data: the tensor (shape ", shape_str(impl.value.shape()),
                                   ") is the result of an op; only a leaf's value can be replaced"));
  if (!value.defined()) throw ValueError("set_data: the new value is undefined");
  if (impl.requires_grad && !is_floating(value.dtype()))
    throw TypeError(detail::cat("set_data: the tensor requires grad, so its value must be float32 or float64, not ",
                                dtype_name(value.dtype())));
  if (value.dtype() != impl.value.dtype() || value.shape() != impl.value.shape()) impl.grad = Variable();
  impl.value = value;
}

Variable Variable::detach() const { return Variable(value()); }

void Variable::backward(const Variable& gradient, bool retain_graph, bool create_graph) const {
  VariableList grads;
  if (gradient.defined()) grads.push_back(gradient);
  nthgrad::backward({*this}, grads, retain_graph || create_graph, create_graph);
}

int64_t Variable::live_count() { return g_live_variables.load(); }

bool is_grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool enabled) { t_grad_enabled = enabled; }
GradModeGuard::GradModeGuard(bool enabled) : previous_(t_grad_enabled) { t_grad_enabled = enabled; }
GradModeGuard::~GradModeGuard() { t_grad_enabled = previous_; }

LiveCounts live_counts() {
  return {Variable::live_count(), Node::live_count(), Storage::live_count(), Storage::live_bytes()};
}

}  // namespace nthgrad

// Surrogate gradients (issue 10): the Heaviside op with a surrogate backward,
// sigma' itself, and a surrogate whose sigma' is a user's Python function.
#include "ops/detail/check.h"
#include "python/common.h"

namespace nthgrad::python {

namespace {

// alpha as a tensor of x's dtype: a Python number becomes a 0-d constant.
Variable alpha_arg(const char* op, const Variable& x, const py::handle& alpha) {
  if (py::isinstance<Variable>(alpha)) return alpha.cast<Variable>();
  if (py::isinstance<py::bool_>(alpha) || !(py::isinstance<py::float_>(alpha) || py::isinstance<py::int_>(alpha)))
    throw TypeError(detail::cat(op, ": alpha must be a number or a tensor, got ",
                                py::str(py::type::of(alpha).attr("__name__")).cast<std::string>()));
  return Variable(Tensor::scalar(alpha.cast<double>(), x.dtype()));
}

// A Python function kept by a graph node: released with the GIL held (and
// not at all once the interpreter is gone).
struct PyDerivative {
  py::object fn;
  explicit PyDerivative(py::object f) : fn(std::move(f)) {}
  ~PyDerivative() {
    if (!Py_IsInitialized()) {
      fn.release();
      return;
    }
    py::gil_scoped_acquire gil;
    fn = py::object();
  }
};

}  // namespace

void bind_surrogate(py::module_& m) {
  using V = const Variable&;
  m.def(
      "surrogate_heaviside",
      [](V x, const std::string& method, const py::object& alpha, const std::optional<Variable>& z, double beta) {
        check::floating("surrogate_heaviside", "x", x);
        return surrogate_heaviside(x, method, alpha_arg("surrogate_heaviside", x, alpha), z ? *z : Variable(), beta);
      },
      py::arg("x"), py::arg("method"), py::arg("alpha") = 1.0, py::arg("z") = py::none(), py::arg("beta") = 1.0,
      "H(x) = (x > 0) in x's dtype (or the given spikes z), backward gy * sigma'(x; alpha) written in ops, so every "
      "order follows and a tensor alpha gets meta-gradients. See nthgrad.surrogate.");
  m.def(
      "surrogate_derivative",
      [](V x, const std::string& method, const py::object& alpha, double beta) {
        check::floating("surrogate_derivative", "x", x);
        Variable a = alpha_arg("surrogate_derivative", x, alpha);
        return surrogate_derivative(method, x, a.dtype() == x.dtype() ? a : cast(a, x.dtype()), beta);
      },
      py::arg("x"), py::arg("method"), py::arg("alpha") = 1.0, py::arg("beta") = 1.0,
      "sigma'(x; alpha, beta) of a surrogate, as a differentiable tensor.");
  m.def(
      "surrogate_custom",
      [](V x, const py::function& derivative, const std::optional<Variable>& z) {
        auto fn = std::make_shared<PyDerivative>(derivative);
        return surrogate_custom(x, [fn](const Variable& xs) {  // called by the backward pass
          py::gil_scoped_acquire gil;
          py::object s = fn->fn(xs);
          if (!py::isinstance<Variable>(s))
            throw TypeError(detail::cat("surrogate custom: the derivative function must return an nthgrad Tensor, "
                                        "got ", py::str(py::type::of(s).attr("__name__")).cast<std::string>()));
          return s.cast<Variable>();
        }, z ? *z : Variable());
      },
      py::arg("x"), py::arg("derivative"), py::arg("z") = py::none(),
      "H(x) forward (or z), backward gy * derivative(x), where derivative is a Python function building sigma'(x) "
      "with nthgrad ops (so every order follows).");
}

}  // namespace nthgrad::python

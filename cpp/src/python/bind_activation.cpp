// Activations (section 4): one line each with nnabla's names and defaults.
#include "python/common.h"

namespace nthgrad::python {

void bind_activation(py::module_& m) {
  using V = const Variable&;
  const auto x = py::arg("x");
  const auto inplace = py::arg("inplace") = false;
  // nnabla's axis=None means the last axis
  auto axis_or_last = [](const py::object& axis) { return axis.is_none() ? int64_t{-1} : axis.cast<int64_t>(); };
  m.def("sigmoid", &sigmoid, x, "1 / (1 + exp(-x)), accurate in both tails.");
  m.def("swish", &swish, x, "x * sigmoid(x) (SiLU).");
  m.def("tanh", [](V v) { return tanh(v); }, x);
  m.def("relu", [](V v, bool) { return relu(v); }, x, inplace, "max(0, x); the gradient at 0 is 0.");
  m.def("leaky_relu", [](V v, double a, bool) { return leaky_relu(v, a); }, x, py::arg("alpha") = 0.1, inplace,
        "x if x > 0 else alpha * x; the gradient at 0 is alpha.");
  m.def("softmax", [=](V v, const py::object& axis) { return softmax(v, axis_or_last(axis)); }, x,
        py::arg("axis") = py::none(), "exp(x) / sum(exp(x)) along axis (None: the last), max-shifted.");
  m.def("log_softmax", [=](V v, const py::object& axis) { return log_softmax(v, axis_or_last(axis)); }, x,
        py::arg("axis") = py::none(), "x - logsumexp(x) along axis (None: the last), computed stably.");
  m.def("elu", &elu, x, py::arg("alpha") = 1.0, "x if x > 0 else alpha * (exp(x) - 1).");
  m.def("selu", &selu, x, py::arg("scale") = 1.05070098735548, py::arg("alpha") = 1.673263242354377,
        "scale * elu(x, alpha).");
  m.def("crelu", &crelu, x, py::arg("axis") = 1, "concat(relu(x), relu(-x)) along axis.");
  m.def("celu", &celu, x, py::arg("alpha") = 1.0, py::arg("axis") = 1,
        "concat(elu(x, alpha), elu(-x, alpha)) along axis (not torch's celu).");
  m.def("prelu", &prelu, py::arg("x0"), py::arg("x1"), py::arg("base_axis") = 1,
        "x0 if x0 >= 0 else x1 * x0; x1 has one element or x0.shape[base_axis] elements.");
  m.def("gelu", &gelu, x, "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (nnabla's tanh form).");
  m.def("mish", &mish, x, "x * tanh(softplus(x)).");
  m.def("relu6", &relu6, x, "min(max(0, x), 6); gradient 0 at 0 and 6.");
  m.def("hard_sigmoid", &hard_sigmoid, x, "clip(0.2 x + 0.5, 0, 1); gradient 0.2 on [-2.5, 2.5].");
  m.def("hard_tanh", &hard_tanh, x, "clip(x, -1, 1); gradient 1 on [-1, 1] (nnabla).");
  m.def("log_sigmoid", &log_sigmoid, x, "log(sigmoid(x)), computed stably.");
  m.def("softplus", &softplus, x, py::arg("beta") = 1.0, "log(1 + exp(beta x)) / beta, computed stably.");
  m.def("softsign", &softsign, x, "x / (1 + |x|).");
  m.def("tanh_shrink", &tanh_shrink, x, "x - tanh(x).");
  m.def("sinc", &sinc, x, "sin(x) / x, 1 at 0 (unnormalized, unlike torch.sinc).");
}

}  // namespace nthgrad::python

// Loss functions (section 13) with nnabla's names, argument order and defaults.
#include "python/common.h"

namespace nthgrad::python {

void bind_loss(py::module_& m) {
  m.def("sigmoid_cross_entropy", &sigmoid_cross_entropy, py::arg("x"), py::arg("target"),
        "softplus(x) - x*target = -[t log sigmoid(x) + (1-t) log(1-sigmoid(x))] for logits x and target of equal "
        "shape, unreduced; stable for any |x|. Gradients: x (sigmoid(x) - t) and target (-x; nnabla has none).");
  m.def("binary_cross_entropy", &binary_cross_entropy, py::arg("x"), py::arg("target"),
        "-[t log x + (1-t) log(1-x)] for probabilities x and target of equal shape, unreduced (the logs clamped at "
        "the dtype's smallest normal). Gradients: x and target.");
  m.def("softmax_cross_entropy", &softmax_cross_entropy, py::arg("x"), py::arg("target"),
        py::arg("axis") = py::none(),
        "-log softmax(x)[label] along axis (None: the last); target holds int64 labels (float labels are "
        "truncated) in x's shape with 1 at axis, and the loss has that shape. Label -1: loss 0, no gradient. "
        "Gradient: x.");
  m.def("categorical_cross_entropy", &categorical_cross_entropy, py::arg("x"), py::arg("target"),
        py::arg("axis") = py::none(),
        "-log x[label] along axis for probabilities x; target and result as softmax_cross_entropy. Gradient: x.");
  m.def("squared_error", &squared_error, py::arg("x0"), py::arg("x1"),
        "(x0 - x1)^2 elementwise with broadcasting. Gradients: x0, x1.");
  m.def("absolute_error", &absolute_error, py::arg("x0"), py::arg("x1"),
        "|x0 - x1| elementwise with broadcasting. Gradients: x0 gets gy*(x0 > x1 ? 1 : -1) (so -gy at a tie, as "
        "nnabla), x1 the opposite.");
  m.def("huber_loss", &huber_loss, py::arg("x0"), py::arg("x1"), py::arg("delta") = 1.0,
        "d^2 if |d| < delta else delta*(2|d| - delta), d = x0 - x1 (twice torch's huber_loss). Gradients: x0, x1.");
  m.def("epsilon_insensitive_loss", &epsilon_insensitive_loss, py::arg("x0"), py::arg("x1"), py::arg("epsilon"),
        "max(0, |x0 - x1| - epsilon) elementwise. Gradients: x0, x1.");
  m.def("kl_multinomial", &kl_multinomial, py::arg("p"), py::arg("q"), py::arg("base_axis") = 1,
        "KL divergence sum p (log(p + 1e-8) - log(q + 1e-8)) (nnabla's shift, so p = 0 adds 0) over the axes "
        "from base_axis, for p and q of equal shape; result of shape p.shape[:base_axis] + (1,). Gradients: p, q.");
}

}  // namespace nthgrad::python

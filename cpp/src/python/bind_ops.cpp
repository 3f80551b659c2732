// One line per op; argument names are nnabla's. nthgrad.functional wraps
// these with nnabla's defaults and docstrings.
#include "python/common.h"

namespace nthgrad::python {

void bind_ops(py::module_& m) {
  using V = const Variable&;
  // arithmetic
  m.def("add2", &add2, py::arg("x0"), py::arg("x1"));
  m.def("sub2", &sub2, py::arg("x0"), py::arg("x1"));
  m.def("mul2", &mul2, py::arg("x0"), py::arg("x1"));
  m.def("div2", &div2, py::arg("x0"), py::arg("x1"));
  m.def("pow2", &pow2, py::arg("x0"), py::arg("x1"));
  m.def("add_scalar", &add_scalar, py::arg("x"), py::arg("val"));
  m.def("mul_scalar", &mul_scalar, py::arg("x"), py::arg("val"));
  m.def("pow_scalar", &pow_scalar, py::arg("x"), py::arg("val"));
  m.def("r_sub_scalar", &r_sub_scalar, py::arg("x"), py::arg("val"));
  m.def("r_div_scalar", &r_div_scalar, py::arg("x"), py::arg("val"));
  m.def("r_pow_scalar", &r_pow_scalar, py::arg("x"), py::arg("val"));
  m.def("add_n", &add_n, py::arg("x"));
  m.def("mul_n", &mul_n, py::arg("x"));
  // math
  m.def("exp", [](V x) { return exp(x); }, py::arg("x"));
  m.def("log", [](V x) { return log(x); }, py::arg("x"));
  m.def("sin", [](V x) { return sin(x); }, py::arg("x"));
  m.def("cos", [](V x) { return cos(x); }, py::arg("x"));
  m.def("abs", [](V x) { return abs(x); }, py::arg("x"));
  m.def("identity", &identity, py::arg("x"));
  m.def("cast", &cast, py::arg("x"), py::arg("dtype"));
  m.def("greater_scalar", &greater_scalar, py::arg("x0"), py::arg("val"));
  m.def("greater_equal_scalar", &greater_equal_scalar, py::arg("x0"), py::arg("val"));
  m.def("less_scalar", &less_scalar, py::arg("x0"), py::arg("val"));
  m.def("less_equal_scalar", &less_equal_scalar, py::arg("x0"), py::arg("val"));
  m.def("equal_scalar", &equal_scalar, py::arg("x0"), py::arg("val"));
  m.def("not_equal_scalar", &not_equal_scalar, py::arg("x0"), py::arg("val"));
  // activation
  m.def("tanh", [](V x) { return tanh(x); }, py::arg("x"));
  m.def("sigmoid", &sigmoid, py::arg("x"));
  m.def("relu", &relu, py::arg("x"));
  // reduction
  m.def("sum", &sum, py::arg("x"), py::arg("axis"), py::arg("keepdims"));
  m.def("mean", &mean, py::arg("x"), py::arg("axis"), py::arg("keepdims"));
  // array
  m.def("broadcast", &broadcast, py::arg("x"), py::arg("shape"));
  m.def("reshape", &reshape, py::arg("x"), py::arg("shape"));
  m.def("transpose", &transpose, py::arg("x"), py::arg("axes"));
  m.def("sum_to", &sum_to, py::arg("x"), py::arg("shape"));
  // linalg
  m.def("matmul", &matmul, py::arg("a"), py::arg("b"), py::arg("transpose_a"), py::arg("transpose_b"));
  m.def("batch_matmul", &batch_matmul, py::arg("a"), py::arg("b"), py::arg("transpose_a"), py::arg("transpose_b"));
  m.def(
      "affine",
      [](V x, V weight, std::optional<Variable> bias, int64_t base_axis) {
        return affine(x, weight, bias ? *bias : Variable(), base_axis);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("base_axis"));
}

}  // namespace nthgrad::python

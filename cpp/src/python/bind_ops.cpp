// Arithmetic, math and logical ops: one line each, with nnabla's argument
// names, defaults and a one-line docstring; nthgrad.functional re-exports
// them. Obsolete nnabla arguments (inplace) are accepted and ignored.
#include "python/common.h"

namespace nthgrad::python {

void bind_ops(py::module_& m) {
  using V = const Variable&;
  const auto x = py::arg("x"), x0 = py::arg("x0"), x1 = py::arg("x1");
  const auto inplace = py::arg("inplace") = false;
  // arithmetic (section 7)
  m.def("add2", [](V a, V b, bool) { return add2(a, b); }, x0, x1, inplace, "x0 + x1 (NumPy broadcasting).");
  m.def("sub2", [](V a, V b, bool) { return sub2(a, b); }, x0, x1, inplace, "x0 - x1 (NumPy broadcasting).");
  m.def("mul2", [](V a, V b, bool) { return mul2(a, b); }, x0, x1, inplace, "x0 * x1 (NumPy broadcasting).");
  m.def("div2", [](V a, V b, bool) { return div2(a, b); }, x0, x1, inplace, "x0 / x1 (NumPy broadcasting).");
  m.def("pow2", [](V a, V b, bool) { return pow2(a, b); }, x0, x1, inplace,
        "x0 ** x1 (NumPy broadcasting); at x0 = 0 the gradients take their limits, as PyTorch.");
  const auto val1 = py::arg("val") = 1.0;
  m.def("add_scalar", [](V v, double s, bool) { return add_scalar(v, s); }, x, val1, inplace, "x + val.");
  m.def("mul_scalar", [](V v, double s, bool) { return mul_scalar(v, s); }, x, val1, inplace, "val * x.");
  m.def("pow_scalar", [](V v, double s, bool) { return pow_scalar(v, s); }, x, val1, inplace, "x ** val.");
  m.def("r_sub_scalar", &r_sub_scalar, x, val1, "val - x.");
  m.def("r_div_scalar", &r_div_scalar, x, val1, "val / x.");
  m.def("r_pow_scalar", &r_pow_scalar, x, val1, "val ** x.");
  m.def("add_n", &add_n, x);
  m.def("mul_n", &mul_n, x);
  // math (section 9)
  m.def("exp", [](V v) { return exp(v); }, x, "e ** x.");
  m.def("log", [](V v) { return log(v); }, x, "Natural logarithm.");
  m.def("sin", [](V v) { return sin(v); }, x);
  m.def("cos", [](V v) { return cos(v); }, x);
  m.def("tan", [](V v) { return tan(v); }, x);
  m.def("sinh", [](V v) { return sinh(v); }, x);
  m.def("cosh", [](V v) { return cosh(v); }, x);
  m.def("asin", [](V v) { return asin(v); }, x);
  m.def("acos", [](V v) { return acos(v); }, x);
  m.def("atan", [](V v) { return atan(v); }, x);
  m.def("asinh", [](V v) { return asinh(v); }, x);
  m.def("acosh", [](V v) { return acosh(v); }, x);
  m.def("atanh", [](V v) { return atanh(v); }, x);
  m.def("erf", [](V v) { return erf(v); }, x, "The error function.");
  m.def("atan2", [](V a, V b) { return atan2(a, b); }, x0, x1, "The angle of the point (x1, x0).");
  m.def("abs", [](V v) { return abs(v); }, x, "|x|; the gradient at 0 is +1 (nnabla).");
  m.def("identity", &identity, x, "A copy of x (a node of its own in the graph).");
  const auto ste = py::arg("ste") = true;
  m.def("round", [](V v, bool s) { return round(v, s); }, x, py::kw_only(), ste,
        "Round half away from zero. Straight-through gradient (dx = dy) as nnabla; ste=False: zero gradient.");
  m.def("ceil", [](V v, bool s) { return ceil(v, s); }, x, py::kw_only(), ste,
        "Ceiling. Straight-through gradient as nnabla; ste=False: zero gradient.");
  m.def("floor", [](V v, bool s) { return floor(v, s); }, x, py::kw_only(), ste,
        "Floor. Straight-through gradient as nnabla; ste=False: zero gradient.");
  m.def("cast", &cast, x, py::arg("dtype"));
  m.def("mod2", &mod2, x0, x1, py::arg("fmod") = false,
        "Remainder: C fmod for floats (nnabla); for int64, Python's % unless fmod.");
  m.def("constant", &constant, py::arg("val"), py::arg("shape"), py::arg("dtype"));
  m.def("arange", &arange, py::arg("start"), py::arg("stop"), py::arg("step"), py::arg("dtype"));
  m.def("linspace", &linspace, py::arg("start"), py::arg("stop"), py::arg("num"), py::arg("dtype"));
  m.def("clip_by_value", py::overload_cast<V, double, double>(&clip_by_value), x, py::arg("min"), py::arg("max"));
  m.def("clip_by_value", py::overload_cast<V, V, V>(&clip_by_value), x, py::arg("min"), py::arg("max"));
  m.def(
      "clip_by_norm",
      [](V v, double c, const py::object& axis) {
        if (no_axes(axis))
          throw ValueError("clip_by_norm: axis=() names no axis; pass None for all axes");
        return clip_by_norm(v, c, axes_arg(axis));
      },
      x,
        py::arg("clip_norm"), py::arg("axis") = py::none(),
        "x * clip_norm / max(||x||_2 over axis, clip_norm) (axis None: all axes).");
  m.def("unlink", &unlink, x, "The value of x cut from the graph: identity forward, no gradient.");
  m.def("dot", &dot, py::arg("a"), py::arg("b"));
  // logical (section 8)
  m.def("sign", [](V v, double alpha, bool s) { return sign(v, alpha, s); }, x, py::arg("alpha") = 1.0,
        py::kw_only(), ste, "1 for x > 0, -1 for x < 0, alpha at 0. Straight-through gradient as nnabla.");
  m.def("minimum2", &minimum2, x0, x1, "Elementwise minimum (broadcast); on ties x1 gets the gradient.");
  m.def("maximum2", &maximum2, x0, x1, "Elementwise maximum (broadcast); on ties x1 gets the gradient.");
  m.def("minimum_scalar", &minimum_scalar, x, val1, "min(x, val); gradient 0 at the tie.");
  m.def("maximum_scalar", &maximum_scalar, x, val1, "max(x, val); gradient 0 at the tie.");
  const char* cmp_doc = "0/1 in the inputs' float dtype (float32 for integer inputs); no gradient.";
  m.def("logical_and", &logical_and, x0, x1, cmp_doc);
  m.def("logical_or", &logical_or, x0, x1, cmp_doc);
  m.def("logical_xor", &logical_xor, x0, x1, cmp_doc);
  m.def("equal", &equal, x0, x1, cmp_doc);
  m.def("not_equal", &not_equal, x0, x1, cmp_doc);
  m.def("greater_equal", &greater_equal, x0, x1, cmp_doc);
  m.def("greater", &greater, x0, x1, cmp_doc);
  m.def("less_equal", &less_equal, x0, x1, cmp_doc);
  m.def("less", &less, x0, x1, cmp_doc);
  m.def("logical_and_scalar", &logical_and_scalar, x0, py::arg("val"), cmp_doc);
  m.def("logical_or_scalar", &logical_or_scalar, x0, py::arg("val"), cmp_doc);
  m.def("logical_xor_scalar", &logical_xor_scalar, x0, py::arg("val"), cmp_doc);
  const auto v1 = py::arg("val") = 1.0;
  m.def("greater_scalar", &greater_scalar, x0, v1, cmp_doc);
  m.def("greater_equal_scalar", &greater_equal_scalar, x0, v1, cmp_doc);
  m.def("less_scalar", &less_scalar, x0, v1, cmp_doc);
  m.def("less_equal_scalar", &less_equal_scalar, x0, v1, cmp_doc);
  m.def("equal_scalar", &equal_scalar, x0, v1, cmp_doc);
  m.def("not_equal_scalar", &not_equal_scalar, x0, v1, cmp_doc);
  m.def("logical_not", &logical_not, x0, cmp_doc);
  m.def("isnan", [](V v) { return nthgrad::isnan(v); }, x0, cmp_doc);
  m.def("isinf", [](V v) { return nthgrad::isinf(v); }, x0, cmp_doc);
  m.def("reset_nan", &reset_nan, x0, py::arg("val") = 0.0, "x0 with NaN replaced by val (no gradient there).");
  m.def("reset_inf", &reset_inf, x0, py::arg("val") = 0.0, "x0 with +-inf replaced by val (no gradient there).");
  m.def("where", &where, py::arg("condition"), py::arg("x_true"), py::arg("x_false"),
        "condition != 0 ? x_true : x_false with NumPy broadcasting of all three.");
}

}  // namespace nthgrad::python

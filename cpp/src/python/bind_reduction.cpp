// Reductions (section 6), array manipulation (section 10) and matrix
// products: one line each with nnabla's names and defaults.
#include "python/common.h"

namespace nthgrad::python {

bool no_axes(const py::handle& axis) {
  return !axis.is_none() && py::isinstance<py::sequence>(axis) && !py::isinstance<py::str>(axis) &&
         py::len(axis) == 0;
}

namespace {
// max / min with nnabla's with_index / only_index switches.
template <typename F>
py::object extreme(F f, const Variable& x, const py::object& axis, bool keepdims, bool with_index, bool only_index) {
  auto [values, index] = no_axes(axis) ? std::pair(identity(x), Variable(Tensor::zeros(x.shape(), DType::Int64)))
                                       : f(x, axes_arg(axis), keepdims);
  if (only_index) return py::cast(index);
  if (with_index) return py::make_tuple(values, index);
  return py::cast(values);
}

SliceIndex slice_arg(const py::handle& obj) {
  SliceIndex out;
  if (obj.is_none()) return out;
  for (const py::handle& v : obj) out.push_back(v.is_none() ? std::nullopt : std::optional<int64_t>(v.cast<int64_t>()));
  return out;
}
}  // namespace

Axes axes_arg(const py::handle& axis) {
  auto one = [](const py::handle& a) -> int64_t {
    // bools are ints to Python; an axis of True is a mistake, not axis 1
    if (PyBool_Check(a.ptr()) || !PyIndex_Check(a.ptr()))
      throw TypeError(detail::cat("axis must be None, an int or a sequence of ints, got ",
                                  std::string(py::str(py::repr(a)))));
    return a.cast<int64_t>();
  };
  if (axis.is_none()) return {};
  if (PyIndex_Check(axis.ptr()) && !py::isinstance<py::array>(axis)) return {one(axis)};
  if (!py::isinstance<py::sequence>(axis) || py::isinstance<py::str>(axis))
    throw TypeError(detail::cat("axis must be None, an int or a sequence of ints, got ",
                                std::string(py::str(py::repr(axis)))));
  Axes out;
  for (const py::handle& a : axis) out.push_back(one(a));
  return out;
}

void bind_reduction(py::module_& m) {
  using V = const Variable&;
  const auto x = py::arg("x");
  const auto axis = py::arg("axis") = py::none();
  const auto keepdims = py::arg("keepdims") = false;
  m.def("sum", [](V v, const py::object& a, bool k) { return no_axes(a) ? identity(v) : sum(v, axes_arg(a), k); },
        x, axis, keepdims,
        "Sum over axis (an int, a sequence, or None for all axes).");
  m.def("mean", [](V v, const py::object& a, bool k) { return no_axes(a) ? identity(v) : mean(v, axes_arg(a), k); },
        x, axis, keepdims,
        "Arithmetic mean over axis (an int, a sequence, or None for all axes).");
  const char* extreme_doc =
      "Over axis (None: all); the gradient goes to the first extreme element. with_index also returns, "
      "only_index returns only, its int64 flat index within the reduced axes.";
  m.def(
      "max",
      [](V v, const py::object& a, bool k, bool wi, bool oi) { return extreme(max_with_index, v, a, k, wi, oi); },
      x, axis, keepdims, py::arg("with_index") = false, py::arg("only_index") = false, extreme_doc);
  m.def(
      "min",
      [](V v, const py::object& a, bool k, bool wi, bool oi) { return extreme(min_with_index, v, a, k, wi, oi); },
      x, axis, keepdims, py::arg("with_index") = false, py::arg("only_index") = false, extreme_doc);
  m.def("prod", [](V v, const py::object& a, bool k) { return no_axes(a) ? identity(v) : prod(v, axes_arg(a), k); },
        x, axis, keepdims,
        "Product over axis; its gradient is exact with zeros (no division).");
  const auto axis0 = py::arg("axis") = py::none(), exclusive = py::arg("exclusive") = false,
             reverse = py::arg("reverse") = false;
  auto axis_or_0 = [](const py::object& a) { return a.is_none() ? int64_t{0} : a.cast<int64_t>(); };
  m.def("cumsum", [=](V v, const py::object& a, bool e, bool r) { return cumsum(v, axis_or_0(a), e, r); }, x, axis0,
        exclusive, reverse, "Running sum along axis (None: axis 0); exclusive starts at 0, reverse from the end.");
  m.def("cumprod", [=](V v, const py::object& a, bool e, bool r) { return cumprod(v, axis_or_0(a), e, r); }, x,
        axis0, exclusive, reverse,
        "Running product along axis (None: axis 0); exclusive starts at 1, reverse from the end.");
  m.def("linear_recurrence", &linear_recurrence, py::arg("a"), py::arg("b"), py::arg("axis"),
        py::arg("reverse") = false);
  // array
  m.def("broadcast", &broadcast, x, py::arg("shape"));
  m.def("reshape", &reshape, x, py::arg("shape"));
  m.def("transpose", &transpose, x, py::arg("axes"));
  m.def("sum_to", &sum_to, x, py::arg("shape"));
  m.def(
      "slice",
      [](V v, const py::object& start, const py::object& stop, const py::object& step) {
        return slice(v, slice_arg(start), slice_arg(stop), slice_arg(step));
      },
      x, py::arg("start") = py::none(), py::arg("stop") = py::none(), py::arg("step") = py::none(),
      "x[start[i]:stop[i]:step[i]] on every axis i, Python's slice rules (None: the default).");
  m.def("concatenate", &concatenate, x, py::arg("axis"));
  // linalg
  m.def("matmul", &matmul, py::arg("a"), py::arg("b"), py::arg("transpose_a") = false,
        py::arg("transpose_b") = false);
  m.def("batch_matmul", &batch_matmul, py::arg("a"), py::arg("b"), py::arg("transpose_a") = false,
        py::arg("transpose_b") = false, "Batched matrix product of rank >= 3 operands of equal rank.");
  m.def(
      "affine",
      [](V v, V weight, std::optional<Variable> bias, int64_t base_axis) {
        return affine(v, weight, bias ? *bias : Variable(), base_axis);
      },
      x, py::arg("weight"), py::arg("bias") = py::none(), py::arg("base_axis") = 1,
      "x (flattened from base_axis) @ weight (in, out...) + bias.");
  m.def(
      "linear",
      [](V v, V weight, std::optional<Variable> bias) { return linear(v, weight, bias ? *bias : Variable()); }, x,
      py::arg("weight"), py::arg("bias") = py::none(),
      "torch's linear: x @ weight^T + bias, (*, in) -> (*, out) with weight (out, in) (nn.Linear's layout, read "
      "transposed without a copy). Gradients: x, weight, bias.");
}

}  // namespace nthgrad::python

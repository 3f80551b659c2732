// Array manipulation and indexing (section 10, issue 7): nnabla's names,
// argument names and defaults.
#include "python/common.h"

namespace nthgrad::python {

namespace {

// An index argument: an int64 tensor, or anything NumPy turns into an
// integer array (a list, a tuple, an ndarray). Float and bool indices are
// TypeErrors, as in NumPy.
Variable index_arg(const char* op, const char* arg, const py::handle& obj) {
  if (py::isinstance<Variable>(obj)) {
    Variable v = obj.cast<Variable>();
    if (v.dtype() != DType::Int64)
      throw TypeError(detail::cat(op, ": ", arg, " must hold integers, got a ", dtype_name(v.dtype()),
                                  " tensor of shape ", shape_str(v.shape())));
    return v;
  }
  static const auto* numpy = new py::module_(py::module_::import("numpy"));  // leaked: outlives the interpreter
  py::array a;
  try {
    a = numpy->attr("asarray")(obj);
  } catch (const py::error_already_set& e) {  // a ragged nested list, an object NumPy cannot read
    throw TypeError(detail::cat(op, ": ", arg, " must hold integers, got ",
                                std::string(py::str(py::repr(obj))).substr(0, 80), " (", e.what(), ")"));
  }
  const char kind = a.dtype().kind();
  const bool empty = a.size() == 0;
  if (kind != 'i' && kind != 'u' && !(empty && kind == 'f'))
    throw TypeError(detail::cat(op, ": ", arg, " must hold integers, got ", std::string(py::str(py::repr(obj))).substr(0, 80),
                                " (NumPy dtype ", std::string(py::str(a.dtype())), ")"));
  if (kind == 'u' && a.itemsize() == 8 && !empty &&
      numpy->attr("max")(a).cast<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    throw IndexError(detail::cat(op, ": ", arg, " holds an index too large for int64"));
  return Variable(tensor_from_array(op, numpy->attr("asarray")(a, "int64"), false));
}

std::vector<int64_t> int_list(const py::handle& obj) {
  if (PyIndex_Check(obj.ptr())) return {obj.cast<int64_t>()};
  return obj.cast<std::vector<int64_t>>();
}

}  // namespace

void bind_array(py::module_& m) {
  using V = const Variable&;
  const auto x = py::arg("x");
  m.def("split", [](V v, int64_t axis) { return py::tuple(py::cast(split(v, axis))); }, x, py::arg("axis") = 0,
        "The size-1 slices along axis with the axis removed (a tuple), like torch.unbind.");
  m.def("stack", &stack, x, py::arg("axis") = 0);
  m.def(
      "pad",
      [](V v, const py::object& pad_width, const std::string& mode, double value) {
        return pad(v, int_list(pad_width), mode, value);
      },
      x, py::arg("pad_width"), py::arg("mode") = "constant", py::arg("constant_value") = 0.0,
      "Pads the last len(pad_width)//2 axes; pad_width = (before_0, after_0, before_1, after_1, ...), outermost "
      "first. mode: 'constant', 'reflect' (mirror without the edge) or 'repeat' (the edge value).");
  m.def("tile", [](V v, const py::object& reps) { return tile(v, int_list(reps)); }, x, py::arg("reps"),
        "numpy.tile: repeats the whole array reps[i] times along each axis (an int or a sequence).");
  m.def(
      "one_hot", [](const py::object& v, const std::vector<int64_t>& shape) {
        return one_hot(index_arg("one_hot", "x", v), shape);
      },
      x, py::arg("shape"),
      "x int (..., len(shape)) -> float32 (..., *shape) with 1 at the indexed position; an index out of range "
      "raises IndexError.");
  m.def(
      "flip",
      [](V v, const py::object& axes) {
        return flip(v, axes.is_none() ? Axes{v.ndim() ? v.ndim() - 1 : 0} : axes_arg(axes));
      },
      x, py::arg("axes") = py::none(), "Reverses the order along axes (None: the last axis, as nnabla).");
  m.def(
      "shift",
      [](V v, const py::object& shifts, const std::string& mode) {
        return shift(v, shifts.is_none() ? std::vector<int64_t>{} : int_list(shifts), mode);
      },
      x, py::arg("shifts") = py::none(), py::arg("border_mode") = "nearest",
      "y[i] = x[i - shift] along the last len(shifts) axes; sources outside are clamped ('nearest') or "
      "mirrored with the edge repeated ('reflect').");
  m.def(
      "sort",
      [](V v, int64_t axis, bool reverse, bool with_index, bool only_index) -> py::object {
        auto [values, index] = sort(v, axis, reverse);
        if (only_index) return py::cast(index);
        if (with_index) return py::make_tuple(values, index);
        return py::cast(values);
      },
      x, py::arg("axis") = -1, py::arg("reverse") = false, py::arg("with_index") = false,
      py::arg("only_index") = false,
      "Stable sort along axis (reverse: descending, still stable); NaN sorts above +inf. with_index also "
      "returns, only_index returns only, the int64 positions. The gradient is scattered back by position.");
  m.def(
      "gather_nd",
      [](V data, const py::object& indices) { return gather_nd(data, index_arg("gather_nd", "indices", indices)); },
      py::arg("data"), py::arg("indices"),
      "data[indices[0], ..., indices[M-1]] for integer indices of shape (M, ...); the gradient is a scatter-add.");
  m.def(
      "scatter_nd",
      [](V data, const py::object& indices, const py::object& shape, const py::object& out, bool add) {
        if (!out.is_none())
          throw TypeError("scatter_nd: out= (an in-place scatter into an existing array) is not supported, "
                          "nthgrad tensors are immutable; use nthgrad.index_put(out, index, data) or "
                          "scatter_nd(..., shape=out.shape) + out");
        if (shape.is_none()) throw ValueError("scatter_nd: shape is required");
        return scatter_nd(data, index_arg("scatter_nd", "indices", indices), shape.cast<Shape>(), add);
      },
      py::arg("data"), py::arg("indices"), py::arg("shape") = py::none(), py::arg("out") = py::none(),
      py::arg("add") = false,
      "zeros(shape) with the rows that indices (M, ...) names set to data (add=True: accumulated). A row named "
      "twice keeps the last write, and only that write gets a gradient.");
  m.def(
      "gather",
      [](V v, const py::object& indices, const py::object& axis, const py::object& batch_dims) {
        return gather(v, index_arg("gather", "Indices", indices), axis.is_none() ? 0 : axis.cast<int64_t>(),
                      batch_dims.is_none() ? 0 : batch_dims.cast<int64_t>());
      },
      x, py::arg("Indices"), py::arg("axis") = py::none(), py::arg("batch_dims") = py::none(),
      "Takes along axis (None: 0) at Indices, the first batch_dims axes of x and Indices matched (tf.gather): "
      "x.shape[:axis] + Indices.shape[batch_dims:] + x.shape[axis+1:].");
  m.def(
      "scatter_add",
      [](V x0, const py::object& indices, V x1, const py::object& axis) {
        return scatter_add(x0, index_arg("scatter_add", "indices", indices), x1,
                           axis.is_none() ? 0 : axis.cast<int64_t>());
      },
      py::arg("x0"), py::arg("indices"), py::arg("x1"), py::arg("axis") = py::none(),
      "A copy of x0 with x1 added at the indices along axis (torch's scatter_add; duplicates accumulate).");
  m.def("meshgrid", &meshgrid, x, py::arg("ij_indexing") = false);
  m.def(
      "searchsorted",
      [](V s, V values, const py::object& right) { return searchsorted(s, values, !right.is_none() && right.cast<bool>()); },
      py::arg("sorted_sequence"), py::arg("values"), py::arg("right") = py::none(),
      "Insertion positions (int64) of values in the innermost axis of sorted_sequence (right: after equal "
      "elements).");
  m.def(
      "top_k_data",
      [](V v, int64_t k, bool abs, bool reduce, int64_t base_axis, bool largest, bool with_index) -> py::object {
        auto [values, index] = top_k_data(v, k, abs, reduce, base_axis, largest);
        if (with_index) return py::make_tuple(values, index);
        return py::cast(values);
      },
      x, py::arg("k"), py::arg("abs") = false, py::arg("reduce") = true, py::arg("base_axis") = 1,
      py::arg("largest") = true, py::arg("with_index") = false,
      "Per sample (axes from base_axis on, flattened) the k largest (smallest) values, of |x| with abs: in rank "
      "order (reduce) or in place with the rest zeroed. The gradient reaches the chosen entries only (nnabla "
      "passes it to every entry when reduce=False).");
  m.def("top_k_grad", &top_k_grad, x, py::arg("k"), py::arg("abs") = false, py::arg("base_axis") = 1,
        "Identity forward; the gradient keeps only its k largest (|.| with abs) entries per sample.");
}

}  // namespace nthgrad::python

// nthgrad._C.Tensor: the Variable seen from Python, with NumPy exchange and
// the arithmetic operators (bound here, in C++, because per-op overhead
// matters; each operator is one call into the op it names).
#include "autograd/node.h"
#include "python/common.h"

namespace nthgrad::python {

namespace {

// The nthgrad dtype of an array's elements (byte order and layout are checked
// by the caller). `fn` names the user's function in messages; `share` says
// whether it was from_numpy, which can take no other dtype.
DType dtype_of_array(const char* fn, const py::array& a, bool share) {
  const char kind = a.dtype().kind();
  const auto size = a.dtype().itemsize();
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'b') return DType::Bool;
  throw TypeError(detail::cat(fn, ": unsupported NumPy dtype ", std::string(py::str(a.dtype())),
                              "; nthgrad has float32, float64, int64 and bool",
                              share ? " (nthgrad.tensor converts other numeric dtypes)" : ""));
}

// A bool argument: pybind11's own conversion would take None, or any object,
// as a truth value without a word.
bool require_bool(const char* fn, const char* arg, const py::handle& value) {
  // Leaked on purpose, as in as_scalar.
  static const auto* np_bool = new py::object(py::module_::import("numpy").attr("bool_"));
  if (PyBool_Check(value.ptr()) || py::isinstance(value, *np_bool)) return PyObject_IsTrue(value.ptr()) == 1;
  throw TypeError(detail::cat(fn, ": ", arg, " must be a bool, got ", std::string(py::str(py::repr(value))), " (",
                              Py_TYPE(value.ptr())->tp_name, ")"));
}

// NumPy 2 allows at most this many dimensions.
constexpr int64_t kMaxNumpyDims = 64;

py::object numpy_dtype(DType d) {
  static const char* names[] = {"float32", "float64", "int64", "bool"};
  return py::module_::import("numpy").attr("dtype")(names[static_cast<int>(d)]);
}

// A binary operator: Tensor (op) Tensor, or Tensor (op) scalar, or
// Tensor (op) array-like; NotImplemented otherwise so Python tries the other side.
template <typename TT, typename TS>
py::object binary_operator(const char* name, const Variable& self, const py::handle& other, TT tensor_op,
                           TS scalar_op) {
  if (py::isinstance<Variable>(other)) return py::cast(tensor_op(self, other.cast<const Variable&>()));
  double v;
  if (as_scalar(other, v)) return py::cast(scalar_op(self, v));
  if (py::isinstance<py::array>(other) || py::isinstance<py::list>(other) || py::isinstance<py::tuple>(other))
    return py::cast(tensor_op(self, to_variable(other, self.dtype(), name)));
  return py::reinterpret_borrow<py::object>(Py_NotImplemented);
}

// The same with the tensor on the right: other (op) self.
template <typename TT, typename TS>
py::object reflected_operator(const char* name, const Variable& self, const py::handle& other, TT tensor_op,
                              TS scalar_op) {
  double v;
  if (as_scalar(other, v)) return py::cast(scalar_op(self, v));
  if (py::isinstance<py::array>(other) || py::isinstance<py::list>(other) || py::isinstance<py::tuple>(other))
    return py::cast(tensor_op(to_variable(other, self.dtype(), name), self));
  return py::reinterpret_borrow<py::object>(Py_NotImplemented);
}

// A comparison: Tensor (op) Tensor, scalar or array-like; NotImplemented
// otherwise (so == with an unrelated object falls back to identity).
template <typename TT, typename TS>
py::object compare_operator(const char* name, const Variable& self, const py::handle& other, TT tensor_op,
                            TS scalar_op) {
  if (py::isinstance<Variable>(other)) return py::cast(tensor_op(self, other.cast<const Variable&>()));
  double v;
  if (as_scalar(other, v)) return py::cast(scalar_op(self, v));
  if (py::isinstance<py::array>(other) || py::isinstance<py::list>(other) || py::isinstance<py::tuple>(other))
    return py::cast(tensor_op(self, to_variable(other, self.dtype(), name)));
  return py::reinterpret_borrow<py::object>(Py_NotImplemented);
}

}  // namespace

bool as_scalar(const py::handle& obj, double& value) {
  PyObject* o = obj.ptr();
  if (PyFloat_Check(o)) {
    value = PyFloat_AS_DOUBLE(o);
    return true;
  }
  if (PyLong_Check(o)) {
    value = PyLong_AsDouble(o);
    if (value == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    return true;
  }
  // Leaked on purpose: a static py::object would be released after the
  // interpreter has shut down.
  static const auto* numpy = new py::module_(py::module_::import("numpy"));
  static const auto* number = new py::object(numpy->attr("number"));
  static const auto* np_bool = new py::object(numpy->attr("bool_"));
  static const auto* complex = new py::object(numpy->attr("complexfloating"));
  if (py::isinstance(obj, *number) || py::isinstance(obj, *np_bool)) {
    if (py::isinstance(obj, *complex)) throw TypeError("tensor: complex numbers are not supported");
    value = py::float_(py::reinterpret_borrow<py::object>(obj));
    return true;
  }
  return false;
}

Tensor tensor_from_array(const char* fn, py::array array, bool share) {
  DType dtype = dtype_of_array(fn, array, share);
  Shape shape(array.shape(), array.shape() + array.ndim());
  const bool native = array.dtype().attr("isnative").cast<bool>();
  if (share) {
    // Sharing means reading the array's bytes as they lie: refuse whatever
    // our kernels cannot read in place.
    const char* copy_hint = "; nthgrad.tensor copies it into a new tensor";
    if (!native)
      throw ValueError(detail::cat(fn, ": the array of dtype ", std::string(py::str(array.dtype())), " and shape ",
                                   shape_str(shape), " is not in the machine's byte order, so its memory cannot be ",
                                   "shared", copy_hint, ", or convert it first with ",
                                   "arr.astype(arr.dtype.newbyteorder('='))"));
    if (!(array.flags() & py::array::c_style))
      throw ValueError(detail::cat(fn, ": the array of shape ", shape_str(shape),
                                   " is not C-contiguous, so its memory cannot be shared", copy_hint));
    if (!(array.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
      throw ValueError(detail::cat(fn, ": the array of shape ", shape_str(shape),
                                   " is not aligned for its dtype, so its memory cannot be shared", copy_hint));
    // The storage keeps the array alive; it is released with the GIL held.
    auto* owner = new py::object(py::reinterpret_borrow<py::object>(array));
    std::shared_ptr<void> keep(owner, [](void* p) {
      py::gil_scoped_acquire gil;
      delete static_cast<py::object*>(p);
    });
    return Tensor::wrap(const_cast<void*>(array.data()), shape, dtype, std::move(keep));
  }
  if (!native) array = array.attr("astype")(array.dtype().attr("newbyteorder")("="));
  py::array c = py::array::ensure(array, py::array::c_style);  // from_data copies with memcpy: any alignment
  return Tensor::from_data(c.data(), shape, dtype);
}

Variable to_variable(const py::handle& obj, DType like, const char* op) {
  static const auto* numpy = new py::module_(py::module_::import("numpy"));  // leaked: see as_scalar
  // Look at the data before converting it: NumPy would turn None into NaN.
  py::array a = numpy->attr("asarray")(obj);
  const char kind = a.dtype().kind();
  if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f')
    throw TypeError(detail::cat(op, ": the operand ", std::string(py::str(py::repr(obj))),
                                " is not numeric (NumPy makes an array of dtype ", std::string(py::str(a.dtype())),
                                " of it)"));
  return Variable(tensor_from_array(op, numpy->attr("asarray")(a, numpy_dtype(like)), false));
}

void bind_tensor(py::module_& m) {
  py::enum_<DType>(m, "DType")
      .value("float32", DType::Float32)
      .value("float64", DType::Float64)
      .value("int64", DType::Int64)
      .value("bool", DType::Bool)
      .def_property_readonly("itemsize", [](DType d) { return itemsize(d); })
      .def_property_readonly("is_floating_point", [](DType d) { return is_floating(d); })
      ;

  using V = const Variable&;
  using H = py::handle;
  py::class_<Variable>(m, "Tensor", py::dynamic_attr())
      // For subclasses (nn.Parameter): users make tensors with nthgrad.tensor, zeros, ... .
      .def(py::init([](const Variable& data, const py::handle& requires_grad) {
             return Variable(data.value(), require_bool("Tensor", "requires_grad", requires_grad));
           }),
           py::arg("data"), py::arg("requires_grad") = false,
           "Tensor(data, requires_grad=False): a new leaf sharing data's memory (as data.detach()), e.g. "
           "nn.Parameter(t). Make new tensors with nthgrad.tensor, zeros, ones, full or from_numpy.")
      // NumPy exchange through __array__ rather than the buffer protocol: the
      // array's base holds a reference to the storage, so while a view lives
      // in-place writes know the memory is shared. Always read-only (as JAX): nthgrad
      // never writes into a tensor, and a write through NumPy could corrupt
      // values saved for backward, or memory that from_numpy wrapped
      // read-only. copy=True (np.array(t)) gives a writable copy.
      .def(
          "__array__",
          [](const Variable& v, const py::object& dtype, const py::object& copy) -> py::object {
            const Tensor& t = v.value();
            if (t.ndim() > kMaxNumpyDims)
              throw ValueError(detail::cat("numpy: cannot convert a tensor of shape ", shape_str(t.shape()), " (",
                                           t.ndim(), " dimensions) to a NumPy array, which has at most ",
                                           kMaxNumpyDims));
            std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
            std::vector<py::ssize_t> strides(shape.size());
            int64_t s = static_cast<int64_t>(itemsize(t.dtype()));
            for (int64_t i = t.ndim() - 1; i >= 0; --i) {
              strides[i] = s;
              s = checked_mul(s, std::max<int64_t>(shape[i], 1), "numpy", t.shape());
            }
            py::capsule keep(new ExportedTensor(t), [](void* p) { delete static_cast<ExportedTensor*>(p); });
            py::array view(numpy_dtype(t.dtype()), shape, strides, t.raw_data(), keep);
            py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
            const bool want_copy = !copy.is_none() && copy.cast<bool>();
            if (want_copy || !dtype.is_none())
              return py::module_::import("numpy").attr("array")(view, dtype, py::arg("copy") = want_copy ? copy : py::none());
            return std::move(view);
          },
          py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def_property_readonly("shape", [](const Variable& v) { return py::tuple(py::cast(v.shape())); })
      .def_property_readonly("ndim", &Variable::ndim)
      .def_property_readonly("size", &Variable::numel, "number of elements (as numpy.ndarray.size)")
      .def("numel", &Variable::numel)
      .def("dim", &Variable::ndim)
      .def_property_readonly("dtype", &Variable::dtype)
      .def_property_readonly("device", [](const Variable& v) { return v.value().device().str(); })
      .def_property("requires_grad", &Variable::requires_grad,
                    [](Variable& v, const py::handle& value) {
                      v.set_requires_grad(require_bool("Tensor.requires_grad", "the value", value));
                    })
      .def_property_readonly("is_leaf", &Variable::is_leaf)
      .def_property_readonly("grad_fn", [](const Variable& v) { return v.grad_fn(); })
      .def_property(
          "grad", [](const Variable& v) -> py::object { return v.grad().defined() ? py::cast(v.grad()) : py::none(); },
          [](Variable& v, std::optional<Variable> g) { v.set_grad(g ? *g : Variable()); })
      .def("detach", &Variable::detach)
      .def(
          "_set_data", [](Variable& v, const Variable& data) { v.set_data(data.value()); }, py::arg("data"),
          "Replaces this leaf's value by data's (shared, any dtype or shape), as torch's p.data = t; for "
          "nn.Module.float()/double(). A .grad of another dtype or shape is dropped.")
      .def(
          "add_",
          [](py::object self, const Variable& other, double alpha) {
            Variable& x = self.cast<Variable&>();
            add_(x, other, alpha);
            return self;  // the same Python object: no second handle on x
          },
          py::arg("other"), py::arg("alpha") = 1.0,
          "self += alpha * other in place: self must be a leaf in memory nthgrad owns, updated under no_grad if "
          "it requires grad. Views of self see the change; graphs that saved self raise on backward afterwards.")
      .def(
          "sub_",
          [](py::object self, const Variable& other, double alpha) {
            Variable& x = self.cast<Variable&>();
            add_(x, other, -alpha);
            return self;
          },
          py::arg("other"), py::arg("alpha") = 1.0, "self -= alpha * other in place; see add_.")
      .def(
          "copy_",
          [](py::object self, const Variable& src) {
            Variable& x = self.cast<Variable&>();
            copy_(x, src);
            return self;
          },
          py::arg("src"),
          "self = src in place (cast to self's dtype; same shape), with add_'s conditions: a leaf, under no_grad "
          "if it requires grad. Graphs that saved self raise on backward afterwards.")
      .def("item",
           [](const Variable& v) -> py::object {
             const double x = v.item();  // checks for one element
             // An int64 beyond 2^53 is not exact as a double: read it as it is.
             if (v.dtype() == DType::Int64) return py::int_(*v.value().data<int64_t>());
             if (v.dtype() == DType::Bool) return py::bool_(x != 0.0);
             return py::float_(x);
           })
      .def("_same", &Variable::same)
      .def("__len__",
           [](const Variable& v) {
             if (v.ndim() == 0) throw TypeError("len() of a 0-d tensor");
             return v.shape()[0];
           })
      .def("astype", [](const Variable& v, DType d) { return cast(v, d); }, py::arg("dtype"))
      // operators
      .def("__add__", [](V a, H b) { return binary_operator("__add__", a, b, add2, add_scalar); })
      .def("__radd__", [](V a, H b) { return reflected_operator("__radd__", a, b, add2, add_scalar); })
      .def("__sub__", [](V a, H b) {
        return binary_operator("__sub__", a, b, sub2, [](V x, double v) { return add_scalar(x, -v); });
      })
      .def("__rsub__", [](V a, H b) { return reflected_operator("__rsub__", a, b, sub2, r_sub_scalar); })
      .def("__mul__", [](V a, H b) { return binary_operator("__mul__", a, b, mul2, mul_scalar); })
      .def("__rmul__", [](V a, H b) { return reflected_operator("__rmul__", a, b, mul2, mul_scalar); })
      .def("__truediv__", [](V a, H b) {
        return binary_operator("__truediv__", a, b, div2, [](V x, double v) { return x / v; });
      })
      .def("__rtruediv__", [](V a, H b) { return reflected_operator("__rtruediv__", a, b, div2, r_div_scalar); })
      .def("__pow__", [](V a, H b) { return binary_operator("__pow__", a, b, pow2, pow_scalar); })
      .def("__rpow__", [](V a, H b) { return reflected_operator("__rpow__", a, b, pow2, r_pow_scalar); })
      .def("__neg__", [](V a) { return -a; })
      .def("__pos__", [](V a) { return a; })
      .def("__abs__", [](V a) { return abs(a); })
      // Comparisons call the comparison ops (0/1 in the float dtype, no gradient), as NumPy and torch;
      // a tensor stays hashable by identity (nthgrad/_tensor.py).
      .def("__gt__", [](V a, H b) { return compare_operator("__gt__", a, b, greater, greater_scalar); })
      .def("__ge__", [](V a, H b) { return compare_operator("__ge__", a, b, greater_equal, greater_equal_scalar); })
      .def("__lt__", [](V a, H b) { return compare_operator("__lt__", a, b, less, less_scalar); })
      .def("__le__", [](V a, H b) { return compare_operator("__le__", a, b, less_equal, less_equal_scalar); })
      .def("__eq__", [](V a, H b) { return compare_operator("__eq__", a, b, equal, equal_scalar); })
      .def("__ne__", [](V a, H b) { return compare_operator("__ne__", a, b, not_equal, not_equal_scalar); });

  // fn: the user's function (tensor, from_numpy, full, ...), named in errors.
  m.def(
      "_from_numpy",
      [](const py::array& array, const py::handle& requires_grad, bool share, const std::string& fn) {
        const bool rg = require_bool(fn.c_str(), "requires_grad", requires_grad);
        return Variable(tensor_from_array(fn.c_str(), array, share), rg);
      },
      py::arg("array"), py::arg("requires_grad") = false, py::arg("share") = false, py::arg("fn") = "tensor");
}

}  // namespace nthgrad::python

#pragma once
// Shared by the binding files: conversions between Python objects and
// nthgrad variables. Bindings hold no op logic.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "nthgrad/nthgrad.h"

namespace nthgrad::python {

namespace py = pybind11;

void bind_tensor(py::module_& m);
void bind_dlpack(py::module_& m);  // after bind_tensor: adds methods to Tensor
void bind_autograd(py::module_& m);
void bind_ops(py::module_& m);         // arithmetic, math, logical
void bind_activation(py::module_& m);
void bind_reduction(py::module_& m);   // reduction, array, linalg

// An axis argument as nnabla and NumPy take it: None (all axes), an int or a
// sequence of ints.
Axes axes_arg(const py::handle& axis);

// A NumPy array (any layout, one of our dtypes) as a tensor; copies unless
// `share` and the array is C-contiguous.
Tensor tensor_from_array(const py::array& array, bool share);
// A Python number, NumPy scalar/array or list as a tensor of dtype `like`.
Variable to_variable(const py::handle& obj, DType like);
// True and sets `value` when `obj` is a Python or NumPy real scalar.
bool as_scalar(const py::handle& obj, double& value);

}  // namespace nthgrad::python

#pragma once
// Shared by the binding files: conversions between Python objects and
// nthgrad variables. Bindings hold no op logic.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "autograd/node.h"
#include "nthgrad/nthgrad.h"

namespace pybind11::detail {
// Python can make an instance of a bound class without running a constructor
// (`Tensor.__new__(Tensor)`, `pybind11_object.__new__(Node)`). Its C++ object
// never exists, and pybind11 would hand the bindings raw, unconstructed
// memory in its place: every method would crash or read garbage. This caster
// refuses such an instance wherever any binding receives it (self,
// arguments, lists and optionals all load through it),
// so no binding needs a check of its own. It must be visible wherever the
// class is bound, hence here in the one header every binding file includes.
template <typename T>
class constructed_caster : public type_caster_base<T> {
 public:
  bool load(handle src, bool convert) { return this->template load_impl<constructed_caster<T>>(src, convert); }
  // Called by load_impl with the instance's value and holder, before any use.
  // Our bindings return these classes by value or by holder, so an instance
  // that pybind11 made always has its holder constructed.
  void load_value(value_and_holder&& v_h) {
    if (!v_h.holder_constructed()) throw nthgrad::RuntimeError(undefined_message());
    type_caster_base<T>::load_value(std::move(v_h));
  }

 private:
  static const char* undefined_message();
};
template <>
inline const char* constructed_caster<nthgrad::Variable>::undefined_message() {
  return "the tensor is undefined (created without a constructor, e.g. by Tensor.__new__); make tensors with "
         "nthgrad.tensor, zeros, ones, full or from_numpy";
}
template <>
inline const char* constructed_caster<nthgrad::Node>::undefined_message() {
  return "the graph node is undefined (created without a constructor, e.g. by Node.__new__); nodes come only from "
         "an op's result (tensor.grad_fn)";
}
template <>
inline const char* constructed_caster<nthgrad::DType>::undefined_message() {
  return "the dtype is undefined (created without a constructor, e.g. by DType.__new__); use nthgrad.float32, "
         "float64, int64 or bool_";
}
template <>
inline const char* constructed_caster<nthgrad::Generator>::undefined_message() {
  return "the generator is undefined (created without a constructor, e.g. by Generator.__new__); make one with "
         "nthgrad.Generator(seed)";
}
template <>
class type_caster<nthgrad::Variable> : public constructed_caster<nthgrad::Variable> {};
template <>
class type_caster<nthgrad::Node> : public constructed_caster<nthgrad::Node> {};
template <>
class type_caster<nthgrad::DType> : public constructed_caster<nthgrad::DType> {};
// (a Generator.__new__ instance locked a mutex in unconstructed memory: an abort in pthread)
template <>
class type_caster<nthgrad::Generator> : public constructed_caster<nthgrad::Generator> {};
}  // namespace pybind11::detail

namespace nthgrad::python {

namespace py = pybind11;

// A tensor kept alive by a view handed outside nthgrad (a NumPy array's base, a
// DLPack export), counted on its storage while it lives (see Storage::exports).
struct ExportedTensor {
  explicit ExportedTensor(Tensor t) : tensor(std::move(t)) { tensor.storage()->add_export(); }
  ~ExportedTensor() { tensor.storage()->drop_export(); }
  ExportedTensor(const ExportedTensor&) = delete;
  ExportedTensor& operator=(const ExportedTensor&) = delete;
  Tensor tensor;
};

void bind_tensor(py::module_& m);
void bind_dlpack(py::module_& m);  // after bind_tensor: adds methods to Tensor
void bind_autograd(py::module_& m);
void bind_ops(py::module_& m);         // arithmetic, math, logical
void bind_activation(py::module_& m);
void bind_reduction(py::module_& m);   // reduction, and the array and linalg ops of issues 3-6
void bind_array(py::module_& m);       // array manipulation and indexing (issue 7)
void bind_linalg(py::module_& m);      // decompositions, einsum, matrix_diag, trilu
void bind_signal(py::module_& m);      // interpolate, fft, stft
void bind_random(py::module_& m);      // random sources, dropout
void bind_conv(py::module_& m);        // convolution, deconvolution (issue 8)
void bind_pooling(py::module_& m);     // pooling, unpooling, embed
void bind_sequence(py::module_& m);    // rnn, lstm, gru, multi_head_attention
void bind_normalization(py::module_& m);
void bind_loss(py::module_& m);
void bind_quantize(py::module_& m);    // quantizers, clip_grad_by_*
void bind_optim(py::module_& m);       // fused optimizer updates (issue 9)
void bind_surrogate(py::module_& m);   // surrogate gradients (issue 10)
void bind_snn(py::module_& m);         // LIF / LI neurons (issue 10)
void bind_hard(py::module_& m);        // hard functions, STE, DAB bridge (issue 11)

// An op's `seed` argument: -1 (the global generator), an int >= 0 (a fresh
// generator) or an nthgrad.Generator (bind_random.cpp).
RandomSource source_arg(const py::handle& seed);

// An axis argument as nnabla and NumPy take it: None (all axes), an int or a
// sequence of ints.
Axes axes_arg(const py::handle& axis);
// True for an empty sequence of axes, which reduces nothing (as NumPy), while
// C++'s empty Axes means every axis (as nnabla's None).
bool no_axes(const py::handle& axis);

// A NumPy array of one of our dtypes as a tensor. With `share` the tensor
// wraps the array's memory, which must be C-contiguous, aligned and in native
// byte order (ValueError otherwise); without, it copies any layout. `fn`
// names the user's function in errors.
Tensor tensor_from_array(const char* fn, py::array array, bool share);
// A NumPy array or list operand of operator `op` as a tensor of dtype `like`;
// non-numeric data (None, objects) is a TypeError.
Variable to_variable(const py::handle& obj, DType like, const char* op);
// True and sets `value` when `obj` is a Python or NumPy real scalar.
bool as_scalar(const py::handle& obj, double& value);

}  // namespace nthgrad::python

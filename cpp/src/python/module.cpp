#include "python/common.h"

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "nthgrad's compiled core";
  // nthgrad::Error subclasses -> the Python exception of the same name.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const nthgrad::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const nthgrad::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const nthgrad::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const nthgrad::MemoryError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const nthgrad::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  nthgrad::python::bind_tensor(m);
  nthgrad::python::bind_dlpack(m);
  nthgrad::python::bind_autograd(m);
  nthgrad::python::bind_ops(m);
  nthgrad::python::bind_activation(m);
  nthgrad::python::bind_reduction(m);
  nthgrad::python::bind_array(m);
  nthgrad::python::bind_linalg(m);
  nthgrad::python::bind_signal(m);
  nthgrad::python::bind_random(m);
  nthgrad::python::bind_conv(m);
  nthgrad::python::bind_pooling(m);
  nthgrad::python::bind_sequence(m);
  nthgrad::python::bind_normalization(m);
  nthgrad::python::bind_loss(m);
  nthgrad::python::bind_quantize(m);
  nthgrad::python::bind_optim(m);
  nthgrad::python::bind_surrogate(m);
  nthgrad::python::bind_snn(m);
  nthgrad::python::bind_hard(m);
}

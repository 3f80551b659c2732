// nthgrad._distributed: the MPI part, a module of its own so that nthgrad._C
// imports on machines without MPI. python/nthgrad/distributed.py wraps it
// (communicators come from mpi4py by their Fortran handle).
#include <optional>

#include "nthgrad/distributed.h"
#include "python/common.h"

// Instances made by Class.__new__ without a constructor are refused, as
// common.h does for _C's classes (else every method would read garbage).
namespace pybind11::detail {
template <>
inline const char* constructed_caster<nthgrad::distributed::Communicator>::undefined_message() {
  return "the communicator is undefined (created without a constructor); make one with "
         "nthgrad.distributed.Communicator()";
}
template <>
inline const char* constructed_caster<nthgrad::distributed::GradientReducer>::undefined_message() {
  return "the gradient reducer is undefined (created without a constructor); use "
         "nthgrad.distributed.DistributedDataParallel";
}
template <>
class type_caster<nthgrad::distributed::Communicator>
    : public constructed_caster<nthgrad::distributed::Communicator> {};
template <>
class type_caster<nthgrad::distributed::GradientReducer>
    : public constructed_caster<nthgrad::distributed::GradientReducer> {};
}  // namespace pybind11::detail

namespace py = pybind11;
using nthgrad::Tensor;
using nthgrad::Variable;
using nthgrad::VariableList;
using namespace nthgrad::distributed;

namespace {

ReduceOp reduce_op(const std::string& op, const char* fn) {
  if (op == "sum") return ReduceOp::Sum;
  if (op == "mean") return ReduceOp::Mean;
  if (op == "max") return ReduceOp::Max;
  throw nthgrad::ValueError(nthgrad::detail::cat(fn, ": op must be 'sum', 'mean' or 'max', got '", op, "'"));
}

}  // namespace

PYBIND11_MODULE(_distributed, m) {
  m.doc() = "nthgrad's MPI collectives, DistributedDataParallel's reducer and sync_batch_normalization";
  py::module_::import("nthgrad._C");  // the Tensor type and the exception translations
  using release = py::call_guard<py::gil_scoped_release>;
  // the MPI nthgrad was compiled against (openmpi, mpich or system): the one loaded must be of the same family
  m.attr("mpi_family") = NTHGRAD_MPI_FAMILY;

  py::class_<Communicator>(m, "Communicator")
      .def_static("from_fortran_handle", &Communicator::from_fortran_handle, py::arg("handle"), release())
      .def_static("world", &Communicator::world, release())
      .def_property_readonly("rank", &Communicator::rank)
      .def_property_readonly("size", &Communicator::size)
      .def_property_readonly("valid", &Communicator::valid)
      .def("barrier", &Communicator::barrier, release())
      .def(
          "fail_collective",
          [](const Communicator& c, const std::string& op, const std::string& message) {
            c.fail_collective(op.c_str(), message);
          },
          py::arg("op"), py::arg("message"), release())
      .def("duplicate", &Communicator::duplicate, release())
      .def("group", &Communicator::group, py::arg("ranks"), release())
      .def(
          "all_reduce", [](const Communicator& c, const Variable& x, const std::string& op) {
            return c.all_reduce(x, reduce_op(op, "all_reduce"));
          },
          py::arg("x"), py::arg("op") = "sum", release())
      .def("broadcast", &Communicator::broadcast, py::arg("x"), py::arg("root") = 0, release())
      .def("reduce", &Communicator::reduce, py::arg("x"), py::arg("root") = 0, release())
      .def("all_gather", &Communicator::all_gather, py::arg("x"), release())
      .def(
          "reduce_scatter", [](const Communicator& c, const Variable& x, const std::string& op) {
            return c.reduce_scatter(x, reduce_op(op, "reduce_scatter"));
          },
          py::arg("x"), py::arg("op") = "sum", release())
      .def(
          "all_reduce_", [](const Communicator& c, const Variable& x, const std::string& op) {
            c.all_reduce_(x.value(), reduce_op(op, "all_reduce_"));
          },
          py::arg("x"), py::arg("op") = "sum", release())
      .def(
          "broadcast_", [](const Communicator& c, const Variable& x, int root) { c.broadcast_(x.value(), root); },
          py::arg("x"), py::arg("root") = 0, release());

  m.def("broadcast_parameters", &broadcast_parameters, py::arg("params"), py::arg("comm"), py::arg("root") = 0,
        release());
  using OptV = const std::optional<Variable>&;
  m.def(
      "sync_batch_normalization",
      [](const Variable& x, OptV beta, OptV gamma, OptV mean, OptV variance, const Communicator& comm,
         const std::string& group, const std::vector<int64_t>& axes, double decay_rate, double eps, bool batch_stat,
         bool output_stat) -> py::object {
        VariableList out;
        {
          py::gil_scoped_release unlocked;
          out = sync_batch_normalization(x, beta.value_or(Variable()), gamma.value_or(Variable()),
                                         mean.value_or(Variable()), variance.value_or(Variable()), comm, group, axes,
                                         decay_rate, eps, batch_stat, output_stat);
        }
        if (out.size() == 1) return py::cast(out[0]);
        return py::cast(out);  // a list, made a tuple by the Python wrapper
      },
      py::arg("x"), py::arg("beta"), py::arg("gamma"), py::arg("mean"), py::arg("variance"), py::arg("comm"),
      py::arg("group") = "world", py::arg("axes") = std::vector<int64_t>{1}, py::arg("decay_rate") = 0.9,
      py::arg("eps") = 1e-5, py::arg("batch_stat") = true, py::arg("output_stat") = false);

  py::class_<GradientReducer>(m, "GradientReducer")
      .def(py::init<const VariableList&, const Communicator&, int64_t, bool>(), py::arg("params"), py::arg("comm"),
           py::arg("bucket_bytes") = int64_t{25} << 20, py::arg("overlap") = true, release())
      .def_property("sync", &GradientReducer::sync, &GradientReducer::set_sync)
      .def_property_readonly("buckets", &GradientReducer::buckets)
      .def_property_readonly("buckets_started_early", &GradientReducer::buckets_started_early)
      .def_property_readonly("passes", &GradientReducer::passes);
}

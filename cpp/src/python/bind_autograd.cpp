#include "autograd/node.h"
#include "python/common.h"

namespace nthgrad::python {

void bind_autograd(py::module_& m) {
  py::class_<Node, std::shared_ptr<Node>>(m, "Node")
      .def_property_readonly("name", [](const Node& n) { return std::string(n.name()); })
      // The nodes the gradient flows to, one per input (None where the input needs no gradient).
      .def_property_readonly("next_functions",
                             [](const Node& n) {
                               py::list out;
                               for (const Edge& e : n.next()) out.append(e.node ? py::cast(e.node) : py::none());
                               return out;
                             })
      .def("__repr__", [](const Node& n) { return std::string("<") + n.name() + " node>"; });

  m.def(
      "grad",
      [](const VariableList& outputs, const VariableList& inputs, const std::vector<std::optional<Variable>>& grad_outputs,
         std::optional<bool> retain_graph, bool create_graph, bool allow_unused) {
        VariableList go;
        for (const auto& g : grad_outputs) go.push_back(g ? *g : Variable());
        VariableList result = grad(outputs, inputs, go, retain_graph, create_graph, allow_unused);
        py::list out;
        for (const Variable& r : result) out.append(r.defined() ? py::cast(r) : py::none());
        return out;
      },
      py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs"), py::arg("retain_graph"),
      py::arg("create_graph"), py::arg("allow_unused"));
  m.def(
      "backward",
      [](const VariableList& outputs, const std::vector<std::optional<Variable>>& grad_outputs,
         std::optional<bool> retain_graph, bool create_graph) {
        VariableList go;
        for (const auto& g : grad_outputs) go.push_back(g ? *g : Variable());
        backward(outputs, go, retain_graph, create_graph);
      },
      py::arg("outputs"), py::arg("grad_outputs"), py::arg("retain_graph"), py::arg("create_graph"));
  m.def("is_grad_enabled", &is_grad_enabled);
  m.def("set_grad_enabled", &set_grad_enabled, py::arg("enabled"));
  m.def("empty_cache", &Storage::empty_cache,
        "Frees the buffers nthgrad keeps for reuse (freed tensors of 256 KiB and more, up to "
        "NTHGRAD_CACHE_BYTES, default 256 MiB).");
  m.def("cached_bytes", &Storage::cached_bytes, "Bytes of freed buffers kept for reuse.");
  m.def("live_counts", [] {
    LiveCounts c = live_counts();
    py::dict d;
    d["tensors"] = c.variables;
    d["nodes"] = c.nodes;
    d["storages"] = c.storages;
    d["bytes"] = c.bytes;
    return d;
  });
}

}  // namespace nthgrad::python

#include "autograd/node.h"
#include "python/common.h"

namespace nthgrad::python {

namespace {

py::list optional_list(const VariableList& vs) {
  py::list out;
  for (const Variable& v : vs) out.append(v.defined() ? py::cast(v) : py::none());
  return out;
}

VariableList from_optional(const std::vector<std::optional<Variable>>& vs) {
  VariableList out;
  for (const auto& v : vs) out.push_back(v ? *v : Variable());
  return out;
}

// A Python function of a list of tensors returning a list of tensors (the
// Python transforms in nthgrad/func.py shape the user's function so).
func::Function from_python(py::function f) {
  return [f](const VariableList& xs) { return f(xs).cast<VariableList>(); };
}

}  // namespace

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
  m.def(
      "vjp_batch",
      [](const VariableList& outputs, const VariableList& inputs,
         const std::vector<std::vector<std::optional<Variable>>>& rows, bool retain_graph, bool create_graph,
         bool allow_unused) {
        std::vector<VariableList> cotangents;
        for (const auto& r : rows) cotangents.push_back(from_optional(r));
        py::list out;
        for (const VariableList& g : func::vjp_batch(outputs, inputs, cotangents, retain_graph, create_graph,
                                                     allow_unused))
          out.append(optional_list(g));
        return out;
      },
      py::arg("outputs"), py::arg("inputs"), py::arg("cotangents"), py::arg("retain_graph") = false,
      py::arg("create_graph") = false, py::arg("allow_unused") = false,
      "Vector-Jacobian products for a batch of cotangent lists, from one walk plan of the graph.");
  // The transforms of nthgrad/func.h; nthgrad/func.py gives them their Python shape.
  m.def("func_value_and_grad", [](py::function f, const VariableList& primals, const std::string& api) {
    func::ValueAndGrad r = func::value_and_grad(from_python(f), primals, api.c_str());
    return py::make_tuple(r.outputs, r.grads);
  });
  m.def("func_vjp", [](py::function f, const VariableList& primals) {
    func::Vjp r = func::vjp(from_python(f), primals);
    auto pull = r.vjp;
    return py::make_tuple(r.outputs, py::cpp_function([pull](const VariableList& c) { return pull(c); }));
  });
  m.def("func_jvp", [](py::function f, const VariableList& primals, const VariableList& tangents) {
    auto [ys, jv] = func::jvp(from_python(f), primals, tangents);
    return py::make_tuple(ys, jv);
  });
  m.def("func_jacrev", [](py::function f, const VariableList& primals) { return func::jacrev(from_python(f), primals); });
  m.def("func_jacfwd", [](py::function f, const VariableList& primals) { return func::jacfwd(from_python(f), primals); });
  m.def("func_hessian",
        [](py::function f, const VariableList& primals) { return func::hessian(from_python(f), primals); });
  m.def("func_hvp", [](py::function f, const VariableList& primals, const VariableList& tangents,
                       const std::string&) {
    auto [y, hv] = func::hvp(from_python(f), primals, tangents);
    return py::make_tuple(y, hv);
  });
  m.def("func_vhp", [](py::function f, const VariableList& primals, const VariableList& v, const std::string& api) {
    auto [y, vh] = func::vhp(from_python(f), primals, v, api.c_str());
    return py::make_tuple(y, vh);
  });
  m.def(
      "graph_size",
      [](const VariableList& roots) {
        GraphSize g = graph_size(roots);
        return py::make_tuple(g.nodes, g.saved_bytes);
      },
      py::arg("roots"));
  m.def("set_lean_graphs", &set_lean_graphs, py::arg("enabled"));
  m.def("lean_graphs_enabled", &lean_graphs_enabled);
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

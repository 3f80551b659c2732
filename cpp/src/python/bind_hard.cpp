// Hard functions, the straight-through estimator and the DAB bridge (issue
// 11). nthgrad/hard.py, ste.py and dab.py give them their Python shape.
#include <limits>

#include "python/common.h"

namespace nthgrad::python {

namespace {

// source_arg with the op's name in front of its message.
RandomSource seed_of(const char* op, const py::object& seed) {
  try {
    return source_arg(seed);
  } catch (const TypeError& e) {
    throw TypeError(detail::cat(op, ": ", e.what()));
  } catch (const ValueError& e) {
    throw ValueError(detail::cat(op, ": ", e.what()));
  }
}

}  // namespace

void bind_hard(py::module_& m) {
  using V = const Variable&;
  const auto z = py::arg("z");
  m.def("hard_signum", [](V x, double eps) { return hard::signum(x, eps); }, z, py::arg("eps") = 0.5,
        "-1 where z < -eps, +1 where z > eps, else 0 (NaN stays NaN); zero gradient.");
  m.def("hard_binary", [](V x) { return hard::binary(x); }, z,
        "z (B, F...): 1 where z >= its sample's mean, else 0; zero gradient.");
  m.def(
      "hard_bernoulli", [](V p, const py::object& seed) { return hard::bernoulli(p, seed_of("hard.bernoulli", seed)); },
      py::arg("p"), py::arg("seed") = -1, "A Bernoulli(p) sample per element in p's dtype; zero gradient.");
  m.def("hard_sort", [](V x) { return hard::sort(x); }, z,
        "z (B, R, C): the sorted rows followed by the sorted columns, (B, 2 R C); zero gradient.");
  m.def("hard_sort_1d", [](V x) { return hard::sort_1d(x); }, z,
        "z (B, F...): each sample's features sorted, in z's shape; zero gradient.");
  m.def("hard_topk", [](V x, int64_t k) { return hard::topk(x, k); }, z, py::arg("k"),
        "The first k of hard_sort(z): (B, k); zero gradient.");
  m.def(
      "hard_kmeans",
      [](V x, int64_t k, int64_t iters, const py::object& seed, bool assignments) {
        return hard::kmeans(x, k, iters, seed_of("hard.kmeans", seed), assignments);
      },
      z, py::arg("k") = 10, py::arg("iters") = 20, py::arg("seed") = 0, py::arg("assignments") = false,
      "Per-sample k-means over the points of z (B, N) or (B, N, D): centres in lexicographic order, or the int64 "
      "assignments (B, N).");
  m.def("straight_through", [](V x, V h, double clip) { return straight_through(x, h, clip); }, z, py::arg("h"),
        py::arg("clip") = std::numeric_limits<double>::infinity(),
        "Forward h, backward gy * 1{|z| <= clip} (the identity for clip = inf); second derivative zero.");
  m.def("dab_bridge", [](V x, V s, V h) { return dab_bridge(x, s, h); }, z, py::arg("s"), py::arg("h"),
        "Forward h (s's shape), backward (ds/dz)^T gy through the approximator's output s; nothing to s.");
}

}  // namespace nthgrad::python

// Random sources (section 12 and the related samplers): the Generator class,
// the global generator, the samplers, dropout and random_choice. A `seed`
// argument is -1 (the global generator), an int >= 0 (a fresh generator) or
// a Generator; the samplers' Python signatures (dtype names, shape
// normalisation) are in nthgrad/random.py.
#include <limits>

#include "python/common.h"

namespace nthgrad::python {

namespace {

bool is_int(const py::handle& obj) { return !PyBool_Check(obj.ptr()) && PyIndex_Check(obj.ptr()); }

// A Generator's seed or offset: an int in [0, 2^64).
uint64_t generator_word(const py::handle& obj, const char* what, const char* arg = "seed") {
  if (!is_int(obj))
    throw TypeError(detail::cat(what, ": ", arg, " must be an int, got ", std::string(py::str(py::repr(obj)))));
  const py::int_ v = py::reinterpret_steal<py::int_>(PyNumber_Index(obj.ptr()));
  if (v < py::int_(0) || v > py::int_(std::numeric_limits<uint64_t>::max()))
    throw ValueError(detail::cat(what, ": ", arg, " must lie in [0, 2**64), got ", std::string(py::str(v))));
  return v.cast<uint64_t>();
}
uint64_t generator_seed(const py::handle& obj, const char* what) { return generator_word(obj, what); }

}  // namespace

// An op's seed argument (declared in common.h).
RandomSource source_arg(const py::handle& seed) {
  if (py::isinstance<Generator>(seed)) return RandomSource(seed.cast<Generator&>());
  if (!is_int(seed))
    throw TypeError(detail::cat("seed must be -1 (the global generator), an int >= 0 or an nthgrad.Generator, got ",
                                std::string(py::str(py::repr(seed)))));
  const py::int_ v = py::reinterpret_steal<py::int_>(PyNumber_Index(seed.ptr()));
  if (v < py::int_(-1) || v > py::int_(std::numeric_limits<int64_t>::max()))
    throw ValueError(detail::cat("seed must be -1 (the global generator), an int in [0, 2**63) or an "
                                 "nthgrad.Generator, got ",
                                 std::string(py::str(v))));
  return RandomSource(v.cast<int64_t>());
}

void bind_random(py::module_& m) {
  using V = const Variable&;
  py::class_<Generator, std::shared_ptr<Generator>>(
      m, "Generator",
      "A counter-based random generator (Philox4x32-10): a seed (the key) and an offset (the next counter). "
      "A draw of n numbers uses the counters offset .. offset + n - 1 and advances the offset by n, so the "
      "same seed gives the same numbers on every platform and with any number of threads.")
      .def(py::init([](const py::object& seed) {
             return std::make_shared<Generator>(generator_seed(seed, "Generator"));
           }),
           py::arg("seed") = 0)
      .def_property_readonly("seed", &Generator::seed, "The key (set by manual_seed or set_state).")
      .def_property("offset", &Generator::offset,
                    [](Generator& g, const py::object& offset) {
                      g.set_state(g.seed(), generator_word(offset, "Generator.offset", "offset"));
                    },
                    "The next counter: how many numbers were drawn since the seed was set.")
      .def(
          "manual_seed",
          [](Generator& g, const py::object& seed) -> Generator& {
            g.manual_seed(generator_seed(seed, "Generator.manual_seed"));
            return g;
          },
          py::arg("seed"), py::return_value_policy::reference_internal,
          "Restarts the sequence of `seed` (offset 0); returns the generator.")
      .def("get_state", [](const Generator& g) { return py::make_tuple(g.seed(), g.offset()); },
           "(seed, offset): set_state of it restores the sequence.")
      .def(
          "set_state",
          [](Generator& g, const py::tuple& state) {
            if (state.size() != 2)
              throw ValueError("Generator.set_state: state must be a (seed, offset) tuple from get_state");
            g.set_state(generator_seed(state[0], "Generator.set_state"),
                        generator_word(state[1], "Generator.set_state", "offset"));
          },
          py::arg("state"), "Restores a (seed, offset) state from get_state.")
      .def("__copy__", [](const Generator& g) { return std::make_shared<Generator>(g); })
      .def("__deepcopy__", [](const Generator& g, const py::object&) { return std::make_shared<Generator>(g); },
           py::arg("memo"))
      .def(py::pickle([](const Generator& g) { return py::make_tuple(g.seed(), g.offset()); },
                      [](const py::tuple& state) {
                        if (state.size() != 2) throw ValueError("Generator: bad pickled state");
                        auto g = std::make_shared<Generator>();
                        g->set_state(generator_seed(state[0], "Generator"),
                                     generator_word(state[1], "Generator", "offset"));
                        return g;
                      }))
      .def("__repr__", [](const Generator& g) {
        return detail::cat("nthgrad.Generator(seed=", g.seed(), ", offset=", g.offset(), ")");
      });
  m.def("default_generator", &default_generator, "The global generator (used by seed=-1).");
  m.def(
      "manual_seed", [](const py::object& seed) { manual_seed(generator_seed(seed, "manual_seed")); },
      py::arg("seed"), "Seeds the global generator (offset 0).");
  m.def("philox4x32_10", &philox4x32_10, py::arg("counter"), py::arg("key"),
        "The Philox4x32-10 block function: 4 uint32 words of counter (4 words) under key (2 words).");

  const auto shape = py::arg("shape") = std::vector<int64_t>{};
  const auto seed = py::arg("seed") = -1;
  const auto dtype = py::arg("dtype") = DType::Float32;
  m.def(
      "rand",
      [](double low, double high, const Shape& s, const py::object& sd, DType dt) {
        return nthgrad::rand(low, high, s, source_arg(sd), dt);
      },
      py::arg("low") = 0.0, py::arg("high") = 1.0, shape, seed, py::kw_only(), dtype);
  m.def(
      "randn",
      [](double mu, double sigma, const Shape& s, const py::object& sd, DType dt) {
        return randn(mu, sigma, s, source_arg(sd), dt);
      },
      py::arg("mu") = 0.0, py::arg("sigma") = 1.0, shape, seed, py::kw_only(), dtype);
  m.def(
      "randint",
      [](int64_t low, int64_t high, const Shape& s, const py::object& sd) {
        return randint(low, high, s, source_arg(sd));
      },
      py::arg("low") = 0, py::arg("high") = 1, shape, seed);
  m.def(
      "rand_binomial",
      [](int64_t n, double p, const Shape& s, const py::object& sd, DType dt) {
        return rand_binomial(n, p, s, source_arg(sd), dt);
      },
      py::arg("n") = 1, py::arg("p") = 0.5, shape, seed, py::kw_only(), dtype);
  m.def(
      "rand_beta",
      [](double a, double b, const Shape& s, const py::object& sd, DType dt) {
        return rand_beta(a, b, s, source_arg(sd), dt);
      },
      py::arg("alpha") = 0.5, py::arg("beta") = 0.5, shape, seed, py::kw_only(), dtype);
  m.def(
      "rand_gamma",
      [](double k, double theta, const Shape& s, const py::object& sd, DType dt) {
        return rand_gamma(k, theta, s, source_arg(sd), dt);
      },
      py::arg("k") = 0.5, py::arg("theta") = 1.0, shape, seed, py::kw_only(), dtype);
  m.def(
      "dropout", [](V x, double p, const py::object& sd) { return dropout(x, p, source_arg(sd)); }, py::arg("x"),
      py::arg("p") = 0.5, seed,
      "y = x / (1 - p) where u >= p, else 0 (u ~ U[0, 1) per element, from seed: -1 the global generator, an int "
      ">= 0 a fresh generator, or a Generator). The mask is drawn once; every order of gradient reuses it. "
      "p = 0 is the identity and p = 1 gives zeros; neither draws.");
  m.def(
      "random_choice",
      [](V x, V w, const Shape& s, bool replace, const py::object& sd) {
        return random_choice(x, w, s, replace, source_arg(sd));
      },
      py::arg("x"), py::arg("w"), shape, py::arg("replace") = true, seed,
      "Per row of the leading axes, draws from the last axis of x with probabilities w / sum(w) (x, w of equal "
      "shapes): y has shape x.shape[:-1] + shape (+ (1,) when shape is empty). Without replacement, the draws "
      "are successive weighted draws among the entries left. Gradients as nnabla: x and w both receive dy at "
      "the chosen positions (for w a straight-through estimate; the true derivative of a draw is 0).");
}

}  // namespace nthgrad::python

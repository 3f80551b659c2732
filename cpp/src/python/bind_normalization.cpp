// Normalization (section 5) and the related normalizations, with nnabla's
// names, argument order and defaults. None stands for an absent beta, gamma,
// mean, variance or z; p=None is 2. sync_batch_normalization is a Python def
// in functional.py (it only checks its communicator, then calls
// batch_normalization).
#include <optional>

#include "python/common.h"

namespace nthgrad::python {

namespace {
using OptV = std::optional<Variable>;

Variable opt(const OptV& v) { return v.value_or(Variable()); }

// (y,) -> y; (y, a, b) -> a Python tuple
py::object outputs(const VariableList& out) {
  if (out.size() == 1) return py::cast(out[0]);
  py::tuple t(out.size());
  for (std::size_t i = 0; i < out.size(); ++i) t[i] = py::cast(out[i]);
  return std::move(t);
}

// p: None (2) or a real number; anything else is a TypeError naming the op
double p_arg(const char* op, const py::object& p) {
  if (p.is_none()) return 2.0;
  if (!py::isinstance<py::float_>(p) && !py::isinstance<py::int_>(p) &&
      !py::hasattr(p, "__float__"))
    throw TypeError(detail::cat(op, ": p must be a number or None, got ", std::string(py::str(py::type::of(p).attr("__name__")))));
  return p.cast<double>();
}
}  // namespace

void bind_normalization(py::module_& m) {
  using V = const Variable&;
  auto x = py::arg("x"), beta = py::arg("beta"), gamma = py::arg("gamma");
  auto eps5 = py::arg("eps") = 1e-5;
  auto output_stat = py::arg("output_stat") = false;
  m.def(
      "batch_normalization",
      [](V x, const OptV& beta, const OptV& gamma, const OptV& mean, const OptV& variance, const py::object& axes,
         double decay_rate, double eps, bool batch_stat, bool output_stat) {
        return outputs(batch_normalization(x, opt(beta), opt(gamma), opt(mean), opt(variance), axes_arg(axes),
                                           decay_rate, eps, batch_stat, output_stat));
      },
      x, beta, gamma, py::arg("mean"), py::arg("variance"), py::arg("axes") = std::vector<int64_t>{1},
      py::arg("decay_rate") = 0.9, eps5, py::arg("batch_stat") = true, output_stat,
      "(x - mu) / sqrt(var + eps) * gamma + beta over every axis not in axes. beta, gamma, mean, variance: x's "
      "shape with 1 off axes, e.g. (1, C, 1, 1), or None. batch_stat: batch statistics, and mean/variance are "
      "updated in place (m = r m + (1-r) mu, v = r v + (1-r) var n/(n-1), r = decay_rate); else mean/variance "
      "are used. output_stat: (y, batch mean, biased batch var). grad: x, beta, gamma.");
  m.def(
      "fused_batch_normalization",
      [](V x, const OptV& beta, const OptV& gamma, const OptV& mean, const OptV& variance, const OptV& z,
         const py::object& axes, double decay_rate, double eps, bool batch_stat, const std::string& nonlinearity,
         bool output_stat) {
        return outputs(fused_batch_normalization(x, opt(beta), opt(gamma), opt(mean), opt(variance), opt(z),
                                                 axes_arg(axes), decay_rate, eps, batch_stat, nonlinearity,
                                                 output_stat));
      },
      x, beta, gamma, py::arg("mean"), py::arg("variance"), py::arg("z") = py::none(),
      py::arg("axes") = std::vector<int64_t>{1}, py::arg("decay_rate") = 0.9, eps5, py::arg("batch_stat") = true,
      py::arg("nonlinearity") = "relu", output_stat,
      "relu(batch_normalization(x, ...) + z), z of x's shape or None. grad: x, beta, gamma, z.");
  m.def("weight_normalization", &weight_normalization, py::arg("w"), py::arg("g"), py::arg("dim") = 0,
        py::arg("eps") = 1e-12,
        "w * g / sqrt(sum over the axes other than dim of w^2 + eps), g of shape (w.shape[dim],). grad: w, g.");
  m.def(
      "norm",
      [](V x, const py::object& p, const py::object& axis, bool keepdims) {
        return norm(x, p_arg("norm", p), axes_arg(axis), keepdims);
      },
      x, py::arg("p") = py::none(), py::arg("axis") = py::none(), py::arg("keepdims") = false,
      "(sum |x|^p)^(1/p) over axis (None: all), p >= 1 (None: 2). An all-zero slice has gradient 0 (as torch; "
      "nnabla: NaN). grad: x.");
  m.def(
      "norm_normalization",
      [](V x, const py::object& p, const py::object& axes, double eps) {
        return norm_normalization(x, p_arg("norm_normalization", p), axes_arg(axes), eps);
      },
      x, py::arg("p") = py::none(), py::arg("axes") = py::none(), py::arg("eps") = 1e-12,
      "x / max(||x||_p, eps) over axes (None: all), p >= 1 (None: 2). nnabla ignores eps (NaN for an all-zero "
      "slice); here such a slice gives 0. grad: x.");
  m.def(
      "layer_normalization",
      [](V x, const OptV& beta, const OptV& gamma, const py::object& batch_axis, double eps, bool output_stat) {
        return outputs(layer_normalization(x, opt(beta), opt(gamma), axes_arg(batch_axis), eps, output_stat));
      },
      x, beta, gamma, py::arg("batch_axis") = 0, eps5, output_stat,
      "(x - mu) / sqrt(var + eps) * gamma + beta, statistics over every axis except batch_axis (an int or a "
      "list). beta, gamma: x's rank, 1 or x's size per axis (1 on the batch axes), or None. output_stat: (y, mu, "
      "var). grad: x, beta, gamma.");
  m.def(
      "instance_normalization",
      [](V x, const OptV& beta, const OptV& gamma, int64_t channel_axis, const py::object& batch_axis, double eps,
         bool output_stat) {
        return outputs(
            instance_normalization(x, opt(beta), opt(gamma), channel_axis, axes_arg(batch_axis), eps, output_stat));
      },
      x, beta, gamma, py::arg("channel_axis") = 1, py::arg("batch_axis") = 0, eps5, output_stat,
      "Normalization per (batch, channel) over the other axes, then * gamma + beta (x's rank, 1 or x's size per "
      "axis, or None). grad: x, beta, gamma.");
  m.def(
      "group_normalization",
      [](V x, const OptV& beta, const OptV& gamma, int64_t num_groups, int64_t channel_axis,
         const py::object& batch_axis, double eps, bool output_stat) {
        return outputs(group_normalization(x, opt(beta), opt(gamma), num_groups, channel_axis, axes_arg(batch_axis),
                                           eps, output_stat));
      },
      x, beta, gamma, py::arg("num_groups"), py::arg("channel_axis") = 1, py::arg("batch_axis") = 0, eps5,
      output_stat,
      "Normalization per (batch, group of C/num_groups channels) over the group's channels and the other axes, "
      "then * gamma + beta (e.g. (1, C, 1, 1)). output_stat: statistics in the grouped shape (N, G, 1, ...). "
      "grad: x, beta, gamma.");
  m.def(
      "tensor_normalization",
      [](V x, const py::object& axes, const OptV& beta, const OptV& gamma, double eps, bool output_stat) {
        return outputs(tensor_normalization(x, axes_arg(axes), opt(beta), opt(gamma), eps, output_stat));
      },
      x, py::arg("axes"), py::arg("beta") = py::none(), py::arg("gamma") = py::none(), eps5, output_stat,
      "batch_normalization's batch statistics (kept along axes) without running statistics. grad: x, beta, gamma.");
  m.def(
      "weight_standardization",
      [](V w, int64_t channel_axis, double eps, bool output_stat) {
        return outputs(weight_standardization(w, channel_axis, eps, output_stat));
      },
      py::arg("w"), py::arg("channel_axis") = 0, eps5, output_stat,
      "(w - mu) / sqrt(var + eps), statistics over every axis except channel_axis. grad: w.");
  m.def(
      "spectral_norm",
      [](V w, V u, int64_t dim, int64_t itr, double eps, bool test, bool output_u) {
        return outputs(spectral_norm(w, u, dim, itr, eps, test, output_u));
      },
      py::arg("w"), py::arg("u"), py::arg("dim") = 0, py::arg("itr") = 1, py::arg("eps") = 1e-12,
      py::arg("test") = false, py::arg("output_u") = false,
      "w / sigma, sigma = u^T W v after itr power iterations on W = w as a (w.shape[dim], -1) matrix; u of shape "
      "(w.shape[dim],) is updated in place unless test. output_u: (w_sn, u). grad: w (u, v are constants).");
  m.def(
      "mean_subtraction",
      [](V x, V mean, const OptV& t, int64_t base_axis, bool update_running_mean) {
        return mean_subtraction(x, mean, opt(t), base_axis, update_running_mean);
      },
      x, py::arg("mean"), py::arg("t"), py::arg("base_axis") = 1, py::arg("update_running_mean") = true,
      "x - rm, rm the running mean of shape x.shape[base_axis:]. update_running_mean: rm = rm + (mu - rm)/(t+1) "
      "with mu the batch mean, written into mean in place, and t += 1. grad: x (exact, also through mu).");
}

}  // namespace nthgrad::python

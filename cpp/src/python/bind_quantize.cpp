// Quantization (section 14), the related quantizers and clip_grad_by_value /
// clip_grad_by_norm, with nnabla's names, argument order and defaults.
#include "python/common.h"

namespace nthgrad::python {

namespace {

// quantize_linear's dtype: numpy.int8 / numpy.uint8 (or their dtypes) or the strings "int8" / "uint8".
std::string quant_dtype_arg(const py::object& dtype) {
  static const auto* numpy = new py::module_(py::module_::import("numpy"));  // leaked, as to_variable's
  if (py::isinstance<py::str>(dtype)) return dtype.cast<std::string>();
  try {
    return numpy->attr("dtype")(dtype).attr("name").cast<std::string>();
  } catch (const py::error_already_set&) {
    throw TypeError(detail::cat("quantize_linear: dtype must be numpy.int8, numpy.uint8, 'int8' or 'uint8', got ",
                                std::string(py::str(py::repr(dtype)))));
  }
}

// A bound of clip_grad_by_value: a tensor, or a scalar / array converted to x's dtype.
Variable bound_arg(const py::object& v, const Variable& x, const char* name) {
  if (py::isinstance<Variable>(v)) return v.cast<Variable>();
  if (v.is_none()) throw TypeError(detail::cat("clip_grad_by_value: ", name, " must be a tensor or a number, got None"));
  double s;
  if (as_scalar(v, s)) return Variable(Tensor::scalar(s, x.dtype()));
  return to_variable(v, x.dtype(), "clip_grad_by_value");
}

}  // namespace

void bind_quantize(py::module_& m) {
  using V = const Variable&;
  m.def("binary_sigmoid", &binary_sigmoid, py::arg("x"),
        "1 if x > 0 else 0. Gradient: clipped straight-through, 0.5*gy where |x| < 1, else 0 (nnabla).");
  m.def("binary_tanh", &binary_tanh, py::arg("x"),
        "1 if x > 0 else -1. Gradient: clipped straight-through, gy where |x| < 1, else 0 (nnabla).");
  m.def("prune", &prune, py::arg("x"), py::arg("rate") = 0.9,
        "x with every entry of |x| below t set to 0, t = the floor((size-1)*rate)-th smallest |x| over the whole "
        "array (rate 1: every entry). Gradient: straight-through, gy.");
  m.def(
      "quantize_linear",
      [](V x, V scale, V zero_point, const std::string& round_mode, bool narrow_range, const py::object& dtype) {
        return quantize_linear(x, scale, zero_point, round_mode, narrow_range, quant_dtype_arg(dtype));
      },
      py::arg("x"), py::arg("scale"), py::arg("zero_point"), py::arg("round_mode") = "HALF_AWAY_FROM_ZERO",
      py::arg("narrow_range") = false, py::arg("dtype") = py::module_::import("numpy").attr("int8"),
      "clip(round(x/scale) + zero_point, qmin, qmax) as floats; scale and zero_point have x's rank with axes of "
      "size 1 or x's. dtype int8: [-128, 127], uint8: [0, 255]; narrow_range raises qmin by 1. zero_point is "
      "rounded and saturated in place (nnabla). Gradient: x gets gy/scale; scale and zero_point raise.");
  m.def("dequantize_linear", &dequantize_linear, py::arg("x"), py::arg("scale"), py::arg("zero_point"),
        "(x - zero_point)*scale, shapes as quantize_linear. Gradient: x gets gy*scale; scale and zero_point raise.");
  m.def("fixed_point_quantize", &fixed_point_quantize, py::arg("x"), py::arg("sign") = true, py::arg("n") = 8,
        py::arg("delta") = 0.0625, py::arg("quantize") = true, py::arg("ste_fine_grained") = true,
        "Rounds |x| to multiples of delta within [-max, max] (sign) or [0, max], max = (2^(n-1 if sign else n) - 1)"
        "*delta. Gradient: gy inside the range (ste_fine_grained) or gy everywhere. quantize=False returns x.");
  m.def("pow2_quantize", &pow2_quantize, py::arg("x"), py::arg("sign") = true, py::arg("with_zero") = true,
        py::arg("n") = 8, py::arg("m") = 1, py::arg("quantize") = true, py::arg("ste_fine_grained") = true,
        "Rounds |x| to a power of two 2^k (k rounded in log2) within [2^(m - 2^n' + 1), 2^m], n' = n - sign - "
        "with_zero, with 0 below 2^-0.5 of the smallest (with_zero). Gradient: gy except where the rounded power "
        "exceeds 2^m or (unsigned) x < 0 with ste_fine_grained; gy everywhere otherwise.");
  m.def("min_max_quantize", &min_max_quantize, py::arg("x"), py::arg("qr_min"), py::arg("qr_max"),
        py::arg("ql_min"), py::arg("ql_max"), py::arg("decay") = 0.999, py::arg("x_min_max") = false,
        py::arg("ema") = false, py::arg("ste_fine_grained") = true, py::arg("eps") = 0.01,
        py::arg("quantize") = true,
        "round((clip(x, lo, hi) - lo)/s)*s + lo, s = (qr_max - qr_min)/(ql_max - ql_min), [lo, hi] the range "
        "nudged so that zero is a level. With x_min_max, qr_min/qr_max are set in place to x's min/max over the "
        "axes where they have size 1 (ema: their moving average with decay); qr_max is raised in place to "
        "qr_min + eps if closer. Gradient: x gets gy inside [lo, hi] (ste_fine_grained) or gy; without x_min_max "
        "and ema, qr_min/qr_max get the sum of gy below/above the range; ql_min/ql_max raise.");
  m.def(
      "clip_grad_by_value",
      [](V x, const py::object& min, const py::object& max) {
        return clip_grad_by_value(x, bound_arg(min, x, "min"), bound_arg(max, x, "max"));
      },
      py::arg("x"), py::arg("min"), py::arg("max"),
      "Identity forward; the gradient is clip(gy, min, max) with min/max broadcast to x (they get no gradient).");
  m.def(
      "clip_grad_by_norm",
      [](V x, const py::object& clip_norm, const py::object& axes) {
        if (no_axes(axes)) throw ValueError("clip_grad_by_norm: axes=() names no axis; pass None for all axes");
        double norm = 1.0;  // nnabla: None means 1
        if (!clip_norm.is_none() && !as_scalar(clip_norm, norm))
          throw TypeError(detail::cat("clip_grad_by_norm: clip_norm must be a number or None, got ",
                                      std::string(py::str(py::repr(clip_norm)))));
        return clip_grad_by_norm(x, norm, axes.is_none() ? Axes{} : axes_arg(axes));
      },
      py::arg("x"), py::arg("clip_norm") = py::none(), py::arg("axes") = py::none(),
      "Identity forward; the gradient is clip_norm*gy/||gy||_2 over axes (None: all; clip_norm None: 1), "
      "always rescaled as nnabla does; a gy that is zero over the axes gives 0 (nnabla: NaN).");
}

}  // namespace nthgrad::python

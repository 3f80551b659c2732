// Convolution layers (section 2) with nnabla's names and defaults, and the
// weight-gradient op they share (convolution_weight_grad).
#include "python/common.h"

namespace nthgrad::python {

namespace {
using Ints = std::vector<int64_t>;

// pad / stride / dilation / output_padding: None (the default per axis) or a sequence of ints.
Ints ints_arg(const char* op, const char* arg, const py::object& obj) {
  Ints out;
  if (obj.is_none()) return out;
  auto bad = [&]() {
    return TypeError(detail::cat(op, ": ", arg, " must be None or a sequence of ints, got ",
                                 std::string(py::str(py::repr(obj)))));
  };
  if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj)) throw bad();
  for (const py::handle& v : obj) {
    if (PyBool_Check(v.ptr()) || !PyIndex_Check(v.ptr())) throw bad();
    try {
      out.push_back(v.cast<int64_t>());
    } catch (const py::cast_error&) {
      throw ValueError(
          detail::cat(op, ": ", arg, " holds a value out of range: ", std::string(py::str(py::repr(obj)))));
    }
  }
  return out;
}

Variable bias_arg(const py::object& b) { return b.is_none() ? Variable() : b.cast<Variable>(); }
}  // namespace

void bind_conv(py::module_& m) {
  using V = const Variable&;
  using O = const py::object&;
  m.def(
      "convolution",
      [](V x, V weight, O bias, int64_t base_axis, O pad, O stride, O dilation, int64_t group, bool channel_last) {
        const char* op = "convolution";
        return convolution(x, weight, bias_arg(bias), base_axis, ints_arg(op, "pad", pad),
                           ints_arg(op, "stride", stride), ints_arg(op, "dilation", dilation), group, channel_last);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("base_axis") = 1,
      py::arg("pad") = py::none(), py::arg("stride") = py::none(), py::arg("dilation") = py::none(),
      py::arg("group") = 1, py::arg("channel_last") = false,
      "N-d grouped cross-correlation: x (M..., C, L...) and weight (C', C/group, K...) give y (M..., C', L'...), "
      "L' = (L + 2p - d(k-1) - 1)//s + 1, plus bias (C'). channel_last: x (M..., L..., C), weight (C', K..., "
      "C/group). Gradients of every order for x, weight and bias (dx is a deconvolution).");
  m.def(
      "deconvolution",
      [](V x, V weight, O bias, int64_t base_axis, O pad, O stride, O dilation, int64_t group, bool channel_last,
         O output_padding) {
        const char* op = "deconvolution";
        return deconvolution(x, weight, bias_arg(bias), base_axis, ints_arg(op, "pad", pad),
                             ints_arg(op, "stride", stride), ints_arg(op, "dilation", dilation), group, channel_last,
                             ints_arg(op, "output_padding", output_padding));
      },
      py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("base_axis") = 1,
      py::arg("pad") = py::none(), py::arg("stride") = py::none(), py::arg("dilation") = py::none(),
      py::arg("group") = 1, py::arg("channel_last") = false, py::arg("output_padding") = py::none(),
      "Transposed convolution (the adjoint of convolution with the same weight): x (M..., C, L...) and weight "
      "(C, C'/group, K...) give y (M..., C', s(L-1) - 2p + d(k-1) + 1 + output_padding), plus bias (C'). "
      "Gradients of every order for x, weight and bias (dx is a convolution).");
  m.def(
      "depthwise_convolution",
      [](V x, V weight, O bias, int64_t base_axis, O pad, O stride, O dilation, int64_t multiplier) {
        const char* op = "depthwise_convolution";
        return depthwise_convolution(x, weight, bias_arg(bias), base_axis, ints_arg(op, "pad", pad),
                                     ints_arg(op, "stride", stride), ints_arg(op, "dilation", dilation), multiplier);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("base_axis") = 1,
      py::arg("pad") = py::none(), py::arg("stride") = py::none(), py::arg("dilation") = py::none(),
      py::arg("multiplier") = 1,
      "Channel c of x (M..., C, L...) convolved with filters c*m .. c*m+m-1 of weight (C*m, K...): "
      "convolution with group=C. Gradients of every order for x, weight and bias (C*m).");
  m.def(
      "depthwise_deconvolution",
      [](V x, V weight, O bias, int64_t base_axis, O pad, O stride, O dilation, int64_t divisor) {
        const char* op = "depthwise_deconvolution";
        return depthwise_deconvolution(x, weight, bias_arg(bias), base_axis, ints_arg(op, "pad", pad),
                                       ints_arg(op, "stride", stride), ints_arg(op, "dilation", dilation), divisor);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("base_axis") = 1,
      py::arg("pad") = py::none(), py::arg("stride") = py::none(), py::arg("dilation") = py::none(),
      py::arg("divisor") = 1,
      "The adjoint of depthwise_convolution: x (M..., C, L...) and weight (C, K...) give C/divisor channels, "
      "channels c*d .. c*d+d-1 summed into c (deconvolution with group=C/d). Gradients of every order.");
  m.def(
      "convolution_weight_grad",
      [](V x, V gy, const Ints& kernel, int64_t base_axis, O pad, O stride, O dilation, int64_t group,
         bool channel_last) {
        const char* op = "convolution_weight_grad";
        return convolution_weight_grad(x, gy, kernel, base_axis, ints_arg(op, "pad", pad),
                                       ints_arg(op, "stride", stride), ints_arg(op, "dilation", dilation), group,
                                       channel_last);
      },
      py::arg("x"), py::arg("gy"), py::arg("kernel"), py::arg("base_axis") = 1, py::arg("pad") = py::none(),
      py::arg("stride") = py::none(), py::arg("dilation") = py::none(), py::arg("group") = 1,
      py::arg("channel_last") = false,
      "The weight gradient of convolution(x, w) (w of kernel sizes `kernel`) for the output gradient gy: "
      "bilinear in x and gy, with gradients of every order (a deconvolution and a convolution).");
}

}  // namespace nthgrad::python

// Pooling (section 3): max_pooling, average_pooling, global_average_pooling,
// sum_pooling, unpooling, embed, with nnabla's names and defaults.
#include "python/common.h"

namespace nthgrad::python {

namespace {
using Sizes = std::vector<int64_t>;
using OptSizes = std::optional<std::vector<int64_t>>;
Sizes or_empty(const OptSizes& s) { return s.value_or(Sizes{}); }
}  // namespace

void bind_pooling(py::module_& m) {
  using V = const Variable&;
  m.def(
      "max_pooling",
      [](V x, const Sizes& kernel, const OptSizes& stride, bool ignore_border, const OptSizes& pad,
         bool channel_last) { return max_pooling(x, kernel, or_empty(stride), ignore_border, or_empty(pad), channel_last); },
      py::arg("x"), py::arg("kernel"), py::arg("stride") = py::none(), py::arg("ignore_border") = true,
      py::arg("pad") = py::none(), py::arg("channel_last") = false,
      "Max over windows of the last n = len(kernel) in {2, 3} axes (channel_last: those before the last); window "
      "o starts at o*stride - pad, O = (L + 2p - k) // s + 1 (ignore_border) else (L + p - 1) // s + 1; "
      "padding never wins, ties go to the first maximum, a NaN wins. stride=None -> kernel. grad: x.");
  m.def(
      "average_pooling",
      [](V x, const Sizes& kernel, const OptSizes& stride, bool ignore_border, const OptSizes& pad, bool channel_last,
         bool including_pad) {
        return average_pooling(x, kernel, or_empty(stride), ignore_border, or_empty(pad), channel_last,
                               including_pad);
      },
      py::arg("x"), py::arg("kernel"), py::arg("stride") = py::none(), py::arg("ignore_border") = true,
      py::arg("pad") = py::none(), py::arg("channel_last") = false, py::arg("including_pad") = true,
      "Mean over the windows of max_pooling: the window sum divided by the window clipped to [-p, L + p) "
      "(including_pad) or by its number of input elements. grad: x (average_pooling_backward).");
  m.def(
      "sum_pooling",
      [](V x, const Sizes& kernel, const OptSizes& stride, bool ignore_border, const OptSizes& pad,
         bool channel_last) { return sum_pooling(x, kernel, or_empty(stride), ignore_border, or_empty(pad), channel_last); },
      py::arg("x"), py::arg("kernel"), py::arg("stride") = py::none(), py::arg("ignore_border") = true,
      py::arg("pad") = py::none(), py::arg("channel_last") = false,
      "Sum over the windows of max_pooling (padding adds 0). grad: x (gy spread over each window).");
  m.def(
      "global_average_pooling", [](V x) { return global_average_pooling(x); }, py::arg("x"),
      "x (N, C, ...) -> (N, C, 1, 1): the mean over every axis after axis 1. grad: x.");
  m.def(
      "unpooling", [](V x, const Sizes& kernel, bool channel_last) { return unpooling(x, kernel, channel_last); },
      py::arg("x"), py::arg("kernel"), py::arg("channel_last") = false,
      "Each element repeated kernel[i] times along the i-th of the last n = len(kernel) axes (channel_last: those "
      "before the last): (..., L_1..L_n) -> (..., L_1 k_1, .., L_n k_n). grad: x (the block sums).");
  m.def(
      "embed", [](V x0, V w) { return embed(x0, w); }, py::arg("x0"), py::arg("w"),
      "y = w[x0]: rows of w (W_0, W_1..) at the int64 indices x0 in [0, W_0), shape x0.shape + w.shape[1:]. "
      "grad: w only (repeated indices accumulate).");
}

}  // namespace nthgrad::python

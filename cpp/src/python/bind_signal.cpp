// Signal processing (section 11): interpolate, fft, ifft, stft, istft, with
// nnabla's names and defaults, and the adjoint interpolate_backward.
#include "python/common.h"

namespace nthgrad::python {

namespace {
// None -> empty; an int or float, or a sequence of them.
template <typename T>
std::vector<T> sizes_arg(const char* op, const char* arg, const py::object& obj) {
  std::vector<T> out;
  if (obj.is_none()) return out;
  auto one = [&](const py::handle& v) {
    if (PyBool_Check(v.ptr()) || !(PyIndex_Check(v.ptr()) || (std::is_floating_point_v<T> && PyNumber_Check(v.ptr()))))
      throw TypeError(detail::cat(op, ": ", arg, " must be None or a sequence of numbers, got ",
                                  std::string(py::str(py::repr(obj)))));
    try {
      out.push_back(v.cast<T>());
    } catch (const py::cast_error&) {
      throw ValueError(
          detail::cat(op, ": ", arg, " holds a value out of range: ", std::string(py::str(py::repr(obj)))));
    }
  };
  if (py::isinstance<py::sequence>(obj) && !py::isinstance<py::str>(obj)) {
    for (const py::handle& v : obj) one(v);
    if (out.empty()) throw ValueError(detail::cat(op, ": ", arg, " is empty"));
  } else {
    one(obj);
  }
  return out;
}

std::string window_arg(const char* op, const py::object& w) {
  if (w.is_none()) return "rectangular";
  if (!py::isinstance<py::str>(w))
    throw TypeError(detail::cat(op, ": window_type must be a str or None, got ", std::string(py::str(py::repr(w)))));
  return w.cast<std::string>();
}
}  // namespace

void bind_signal(py::module_& m) {
  using V = const Variable&;
  m.def(
      "interpolate",
      [](V x, const py::object& scale, const py::object& output_size, const std::string& mode, bool align_corners,
         bool half_pixel, bool half_pixel_for_nn, bool channel_last) {
        return interpolate(x, sizes_arg<double>("interpolate", "scale", scale),
                           sizes_arg<int64_t>("interpolate", "output_size", output_size), mode, align_corners,
                           half_pixel, half_pixel_for_nn, channel_last);
      },
      py::arg("x"), py::arg("scale") = py::none(), py::arg("output_size") = py::none(), py::arg("mode") = "linear",
      py::arg("align_corners") = false, py::arg("half_pixel") = false, py::arg("half_pixel_for_nn") = false,
      py::arg("channel_last") = false,
      "Resamples the last n = len(output_size or scale) axes (n = 1, 2, 3; from scale, O = floor(scale * L)); "
      "mode 'linear' (multilinear) or 'nearest'. Source coordinate of output o: o*L/O by default, "
      "o*(L-1)/(O-1) with align_corners, max(0, (o+0.5)*L/O - 0.5) with half_pixel, (o+0.5)*L/O for nearest "
      "with half_pixel_for_nn. channel_last: x is (..., L_1..L_n, C).");
  m.def(
      "interpolate_backward",
      [](V gy, const Shape& x_size, const std::string& mode, bool align_corners, bool half_pixel,
         bool half_pixel_for_nn) {
        return interpolate_backward(gy, x_size, mode, align_corners, half_pixel, half_pixel_for_nn);
      },
      py::arg("gy"), py::arg("x_size"), py::arg("mode") = "linear", py::arg("align_corners") = false,
      py::arg("half_pixel") = false, py::arg("half_pixel_for_nn") = false,
      "The adjoint of interpolate (channel first): gy scatter-added into zeros whose last axes are x_size.");
  const char* fft_doc =
      "Complex DFT of x (..., N_1, ..., N_d, 2) (last axis: real, imaginary) over the d = signal_ndim axes "
      "before the last (d = 1, 2, 3); normalized multiplies by 1/sqrt(N_1...N_d).";
  m.def("fft", &fft, py::arg("x"), py::arg("signal_ndim"), py::arg("normalized") = false, fft_doc);
  m.def("ifft", &ifft, py::arg("x"), py::arg("signal_ndim"), py::arg("normalized") = false,
        "Inverse complex DFT with 1/(N_1...N_d) (normalized: 1/sqrt(N_1...N_d)); layout as fft.");
  m.def(
      "stft",
      [](V x, int64_t window_size, int64_t stride, int64_t fft_size, const py::object& window_type, bool center,
         const std::string& pad_mode, bool as_istft_backward) {
        auto [y_r, y_i] = stft(x, window_size, stride, fft_size, window_arg("stft", window_type), center, pad_mode,
                               as_istft_backward);
        return py::make_tuple(y_r, y_i);
      },
      py::arg("x"), py::arg("window_size"), py::arg("stride"), py::arg("fft_size"), py::arg("window_type") = "hanning",
      py::arg("center") = true, py::arg("pad_mode") = "reflect", py::arg("as_istft_backward") = false,
      "Short-time Fourier transform of x (batch_size, sample_size): (y_r, y_i), each (batch_size, fft_size//2 + 1, "
      "frames). window_type 'hanning', 'hamming', 'rectangular' (None: rectangular); center pads fft_size//2 "
      "on both sides ('reflect' or 'constant'). as_istft_backward: the adjoint of istft.");
  m.def(
      "istft",
      [](V y_r, V y_i, int64_t window_size, int64_t stride, int64_t fft_size, const py::object& window_type,
         bool center, const std::string& pad_mode, bool as_stft_backward) {
        return istft(y_r, y_i, window_size, stride, fft_size, window_arg("istft", window_type), center, pad_mode,
                     as_stft_backward);
      },
      py::arg("y_r"), py::arg("y_i"), py::arg("window_size"), py::arg("stride"), py::arg("fft_size"),
      py::arg("window_type") = "hanning", py::arg("center") = true, py::arg("pad_mode") = "reflect",
      py::arg("as_stft_backward") = false,
      "Inverse STFT: overlap-added windowed inverse real DFTs divided by the summed squared window, cut by "
      "fft_size//2 on both sides when center. pad_mode matters only with as_stft_backward (the adjoint of stft).");
}

}  // namespace nthgrad::python

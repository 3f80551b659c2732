#include <algorithm>

#include "nthgrad/error.h"
#include "nthgrad/shape.h"

namespace nthgrad {

int64_t numel(const Shape& shape) {
  int64_t extent = 1;  // product of the non-zero dimensions
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0) throw ValueError("negative dimension in shape " + shape_str(shape));
    if (d == 0)
      empty = true;
    else if (__builtin_mul_overflow(extent, d, &extent))
      throw ValueError("shape " + shape_str(shape) + " has more elements than fit in 64 bits");
  }
  return empty ? 0 : extent;
}

int64_t checked_mul(int64_t a, int64_t b, const char* op, const Shape& shape) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    throw ValueError(
        detail::cat(op, ": shape ", shape_str(shape), " is too large: its sizes overflow 64-bit integers"));
  return r;
}

static std::string join(const std::vector<int64_t>& v, const char* open, const char* close, bool tuple) {
  std::string s = open;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  if (tuple && v.size() == 1) s += ",";
  return s + close;
}

std::string shape_str(const Shape& shape) { return join(shape, "(", ")", true); }
std::string axes_str(const Axes& axes) { return join(axes, "[", "]", false); }

Shape broadcast_shapes(const char* op, const char* arg0, const Shape& a, const char* arg1, const Shape& b) {
  std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ValueError(detail::cat(op, ": cannot broadcast ", arg0, " of shape ", shape_str(a), " with ", arg1,
                                   " of shape ", shape_str(b)));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t normalize_axis(const char* op, int64_t axis, int64_t ndim) {
  if (axis < -ndim || axis >= ndim)
    throw IndexError(detail::cat(op, ": axis ", axis, " is out of range for a tensor of ", ndim, " dimension",
                                 ndim == 1 ? "" : "s"));
  return axis < 0 ? axis + ndim : axis;
}

Axes normalize_axes(const char* op, const Axes& axes, int64_t ndim) {
  Axes out;
  out.reserve(axes.size());
  for (int64_t a : axes) out.push_back(normalize_axis(op, a, ndim));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw ValueError(detail::cat(op, ": repeated axis in ", axes_str(axes)));
  return out;
}

}  // namespace nthgrad

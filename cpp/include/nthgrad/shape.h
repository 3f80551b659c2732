#pragma once
// Shapes and axes, and the NumPy rules that relate them.
#include <cstdint>
#include <string>
#include <vector>

namespace nthgrad {

using Shape = std::vector<int64_t>;
using Axes = std::vector<int64_t>;

// The element count. Throws ValueError for a negative dimension, or when the
// product of the non-zero dimensions overflows int64: NumPy's rule, which
// also refuses (0, 2**62, 2**62), so that every stride and partial product of
// a valid shape fits in int64.
int64_t numel(const Shape& shape);

// a * b for sizes, strides and element counts, or ValueError
// "<op>: shape <shape> is too large ...". Every such product goes through it:
// signed overflow is undefined behaviour, and a wrapped size would make a
// buffer smaller than the loops that walk it.
int64_t checked_mul(int64_t a, int64_t b, const char* op, const Shape& shape);
std::string shape_str(const Shape& shape);  // "(2, 3)", "()" for a scalar
std::string axes_str(const Axes& axes);     // "[0, -1]"

// NumPy broadcasting of two shapes; throws ValueError naming `op` and the
// arguments when they do not broadcast.
Shape broadcast_shapes(const char* op, const char* arg0, const Shape& a, const char* arg1, const Shape& b);

// Resolves negative axes against `ndim`, rejects out-of-range and repeated
// axes (IndexError / ValueError naming `op`), and returns them sorted.
Axes normalize_axes(const char* op, const Axes& axes, int64_t ndim);
int64_t normalize_axis(const char* op, int64_t axis, int64_t ndim);

}  // namespace nthgrad

#pragma once
// Array manipulation (technical note section 10).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad {

using SliceIndex = std::vector<std::optional<int64_t>>;

Variable broadcast(const Variable& x, const Shape& shape);  // gx = sum_to(gy, x.shape)   [adjoint: sum]
Variable reshape(const Variable& x, const Shape& shape);    // one -1 allowed; gx = reshape(gy, x.shape)
Variable transpose(const Variable& x, const Axes& axes);    // gx = transpose(gy, inverse(axes))
// Sums `x` down to `shape` (the reverse of broadcasting); differentiable.
Variable sum_to(const Variable& x, const Shape& shape);
// x[start_0:stop_0:step_0, ...] with Python's slice rules per axis (negative
// indices count from the end, nullopt is the default end); an empty list
// means the full range of every axis. gx = slice_backward(gy)   [adjoint pair]
Variable slice(const Variable& x, const SliceIndex& start, const SliceIndex& stop, const SliceIndex& step);
// Joins along an existing axis; gx_i = the slice of gy that x_i became.
Variable concatenate(const VariableList& x, int64_t axis);
// The size-1 slices along axis, with the axis removed (torch.unbind);
// gx = stack of the gy's (zeros for unused outputs).   [adjoint: stack]
VariableList split(const Variable& x, int64_t axis);
// Joins equal-shape arrays along a new axis (reshape + concatenate).
Variable stack(const VariableList& x, int64_t axis);
// Pads the last pad_width.size()/2 axes, outermost first: pad_width =
// (before_0, after_0, before_1, after_1, ...). mode "constant" (gx = the slice
// of gy: pad-with-zeros and slice are adjoints), "reflect" (NumPy's reflect:
// mirrored without the edge) or "repeat" (the edge value); those two gather
// along each axis, so gx is a scatter-add.
Variable pad(const Variable& x, const std::vector<int64_t>& pad_width, const std::string& mode = "constant",
             double constant_value = 0);
// numpy.tile: reshape + broadcast + reshape; gx = the sum over the tiles.
Variable tile(const Variable& x, const std::vector<int64_t>& reps);
// Reverses the order along each of axes (slice with step -1).
Variable flip(const Variable& x, const Axes& axes);
// y[i] = x[i - shift] along each of the last shifts.size() axes, sources
// outside clamped ("nearest") or mirrored with the edge repeated ("reflect",
// NumPy's symmetric). A gather along each axis; gx is a scatter-add.
Variable shift(const Variable& x, const std::vector<int64_t>& shifts, const std::string& border_mode = "nearest");
// Coordinate grids of 1-D x's: "ij" indexing, or "xy" (the first two axes
// swapped) without ij_indexing. reshape + broadcast.
VariableList meshgrid(const VariableList& x, bool ij_indexing);

// ---- indexing and sorting (ops/index.cpp); index inputs are int64 ----
// data[indices[0], .., indices[M-1]] for indices of shape (M, Y...):
// (Y..., data.shape[M:]). gdata = scatter-add of gy.
Variable gather_nd(const Variable& data, const Variable& indices);
// zeros(shape) with the rows indices names set to data (add: accumulated);
// without add a row named twice keeps the last write, which alone gets a
// gradient. gdata = gather_nd of gy (times that mask).
Variable scatter_nd(const Variable& data, const Variable& indices, const Shape& shape, bool add = false);
// tf.gather / nnabla's gather: along axis, the first batch_dims axes of x and
// indices matched. gx = scatter-add of gy.
Variable gather(const Variable& x, const Variable& indices, int64_t axis = 0, int64_t batch_dims = 0);
// torch's scatter_add: x0 with x1 added at the indices along axis.
Variable scatter_add(const Variable& x0, const Variable& indices, const Variable& x1, int64_t axis = 0);
// Stable sort along axis: values and int64 positions; reverse = descending
// (still stable). NaN sorts above +inf. gx = gy scattered back by position.
std::pair<Variable, Variable> sort(const Variable& x, int64_t axis = -1, bool reverse = false);
// Per sample (axes base_axis.. flattened) the k largest (smallest) values
// (of |x| with abs): in rank order (reduce) or in place with the rest zeroed;
// and their int64 flat positions in the sample (leading shape + (k,)).
std::pair<Variable, Variable> top_k_data(const Variable& x, int64_t k, bool abs = false, bool reduce = true,
                                         int64_t base_axis = 1, bool largest = true);
// Identity forward; the gradient keeps only the k largest (|.| with abs)
// entries of gy per sample.
Variable top_k_grad(const Variable& x, int64_t k, bool abs = false, int64_t base_axis = 1);
// x int64 (..., len(shape)) -> float32 (..., *shape) with 1 where x points.
Variable one_hot(const Variable& x, const Shape& shape);
// Insertion positions of values in the innermost axis of sorted_sequence.
Variable searchsorted(const Variable& sorted_sequence, const Variable& values, bool right = false);

}  // namespace nthgrad

#pragma once
// Eigen vocabulary for the CPU kernels: maps over raw buffers.
#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <type_traits>

#include "nthgrad/error.h"
#include "nthgrad/tensor.h"

namespace nthgrad::kernels::cpu {

// The accumulator of sums and products: double for float, so that float32
// reductions lose nothing to their length.
template <typename T>
using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;

template <typename T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixMap = Eigen::Map<RowMajorMatrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix<T>>;

// Below this argument e^d is a denormal or 0 in T, and Eigen's vectorized exp
// is wrong there: it clamps its argument and returns 2.9e-39 (float) or
// 5.6e-309 (double) for anything smaller, e^-inf included. The kernels that
// use it recompute such (rare) entries with std::exp in a compare loop after
// the vectorized pass (Eigen 3.4's select() is not vectorized: 4x slower).
template <typename T>
T exp_denormal_below() {
  return std::log(std::numeric_limits<T>::min());
}

// Calls f(T{}) with T = float or double according to `dtype`.
template <typename F>
decltype(auto) dispatch_floating(DType dtype, const char* what, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: throw TypeError(detail::cat(what, ": expected a float32 or float64 tensor, got ", dtype_name(dtype)));
  }
}

// Calls f(T{}) for any dtype.
template <typename F>
decltype(auto) dispatch_all(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int64: return f(int64_t{});
    case DType::Bool: return f(bool{});
  }
  return f(float{});
}

}  // namespace nthgrad::kernels::cpu

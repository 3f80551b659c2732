#pragma once
// Kernels: pure compute on tensors, no autograd. Each entry point takes
// tensors that the op layer has already checked (dtypes, shapes, axes) and
// returns a new tensor. CPU only for now; a CUDA build would dispatch here on
// the tensors' device.
#include "nthgrad/tensor.h"

namespace nthgrad::kernels {

enum class Unary { Neg, Exp, Log, Sin, Cos, Tanh, Sigmoid, Relu, Abs, Copy };
Tensor unary(Unary op, const Tensor& x);

enum class Binary { Add, Sub, Mul, Div, Pow };
// NumPy broadcasting; a and b have the same floating dtype.
Tensor binary(Binary op, const Tensor& a, const Tensor& b);

// x op val, elementwise. The comparisons return 0/1 in x's dtype.
enum class WithScalar { Add, Mul, Pow, RSub, RDiv, RPow, Greater, GreaterEqual, Less, LessEqual, Equal, NotEqual };
Tensor with_scalar(WithScalar op, const Tensor& x, double val);

// Sum over sorted, distinct axes.
Tensor sum(const Tensor& x, const Axes& axes, bool keepdims);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x, const Axes& perm);
Tensor cast(const Tensor& x, DType dtype);

// op(a) @ op(b) over broadcast batch axes; a, b of rank >= 2.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b);
// (M, D) @ (D, L) + bias(L) with bias optional (undefined).
Tensor affine(const Tensor& x, const Tensor& w, const Tensor& bias);

}  // namespace nthgrad::kernels

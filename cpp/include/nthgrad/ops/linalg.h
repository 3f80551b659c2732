#pragma once
// Matrix products (technical note sections 2 and 9).
#include "nthgrad/variable.h"

namespace nthgrad {

// NumPy matmul for operands of rank >= 2 (batch axes broadcast), with either
// operand transposed on its last two axes. ga = gy·op(b)^T, gb = op(a)^T·gy,
// both again matmuls.
Variable matmul(const Variable& a, const Variable& b, bool transpose_a = false, bool transpose_b = false);
// nnabla's batch_matmul: both operands of rank >= 3 and equal rank.
Variable batch_matmul(const Variable& a, const Variable& b, bool transpose_a = false,
                      bool transpose_b = false);
// y = x.reshape(prod(x.shape[:base_axis]), -1) @ weight.reshape(D, -1) + bias.
// The weight is (in, out...), as in nnabla. `bias` may be undefined. Mixed
// float32/float64 operands promote to float64.
Variable affine(const Variable& x, const Variable& weight, const Variable& bias = Variable(), int64_t base_axis = 1);
// NumPy's dot: 1-D·1-D inner product, 2-D matrix product, N-D·1-D over the
// last axis, N-D·M-D over the last axis of a and the second-to-last of b.
Variable dot(const Variable& a, const Variable& b);

}  // namespace nthgrad

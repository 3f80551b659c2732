#pragma once
// Matrix products (technical note sections 2 and 9).
#include <string>

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
// torch's linear: y = x @ weight^T + bias over the last axis of x, (*, in) ->
// (*, out), with weight (out, in) as nn.Linear stores it, read transposed by
// the GEMM (no copy). gx = gy·W, gW = gy^T·x (matmuls), gb = sum of gy.
Variable linear(const Variable& x, const Variable& weight, const Variable& bias = Variable());
// NumPy's dot: 1-D·1-D inner product, 2-D matrix product, N-D·1-D over the
// last axis, N-D·M-D over the last axis of a and the second-to-last of b.
Variable dot(const Variable& a, const Variable& b);

// ---- decompositions, einsum, diagonals and triangles (issue 7) ----
// x is exactly (B, N, N) for the batch_* ops (other ranks or non-square
// matrices raise ValueError). A singular matrix does not raise (NumPy raises
// LinAlgError): batch_inv gives inf/NaN entries, batch_det 0, batch_logdet
// -inf; batch_cholesky of a matrix that is not positive definite gives a
// NaN-filled factor for that item.
Variable batch_inv(const Variable& x);     // Y = X^-1;       gX = -Y^T gY Y^T
Variable batch_det(const Variable& x);     // y = det X;      gX = gy y X^-T
Variable batch_logdet(const Variable& x);  // y = log|det X|; gX = gy X^-T
// L L^T = x (lower triangle of x read; upper=True returns U = L^T).
// gX = L^-T sym(Phi(L^T gL)) L^-1 (symmetric, as PyTorch: x is taken symmetric).
Variable batch_cholesky(const Variable& x, bool upper = false);
// NumPy's einsum: implicit output (labels seen once, in ASCII order, after
// the broadcast '...' axes) without '->', repeated labels in one operand take
// the diagonal, '...' broadcasts. Composed of transpose / reshape /
// matrix_diag_part / sum / mul2 / batch_matmul (pairwise contractions, the
// smallest result first), so its gradients are theirs. float32 with float64
// gives float64.
Variable einsum(const VariableList& x, const std::string& equation);
Variable matrix_diag(const Variable& x);       // (..., M) -> (..., M, M); gx = matrix_diag_part(gy)
Variable matrix_diag_part(const Variable& x);  // (..., M, M) -> (..., M); gx = matrix_diag(gy)
// numpy.triu (upper) / numpy.tril (lower) of the last two axes, diagonal
// offset k; gx = trilu(gy, k, upper).
Variable trilu(const Variable& x, int64_t k = 0, bool upper = true);

}  // namespace nthgrad

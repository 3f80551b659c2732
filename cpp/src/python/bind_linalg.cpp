// Linear algebra of issue 7: per-matrix decompositions, einsum, diagonals and
// triangles. One line each with nnabla's names and defaults.
#include "python/common.h"

namespace nthgrad::python {

void bind_linalg(py::module_& m) {
  const auto x = py::arg("x");
  m.def("batch_inv", &batch_inv, x,
        "Inverse of each matrix of x (B, N, N). A singular matrix gives inf/NaN entries instead of raising "
        "(NumPy raises LinAlgError). Gradient -Y^T gY Y^T, differentiable to any order.");
  m.def("batch_det", &batch_det, x,
        "Determinant of each matrix of x (B, N, N) -> (B,), by LU with partial pivoting (0 for an exactly "
        "singular matrix, 1 for N = 0). Gradient gy det(X) X^-T (NaN/inf at a singular matrix), differentiable "
        "to any order.");
  m.def("batch_logdet", &batch_logdet, x,
        "log|det| of each matrix of x (B, N, N) -> (B,), as the sum of log|u_ii| of the LU factor (no overflow "
        "for large N); -inf for a singular matrix. Gradient gy X^-T, differentiable to any order.");
  m.def("batch_cholesky", &batch_cholesky, x, py::arg("upper") = false,
        "Cholesky factor of each symmetric positive-definite matrix of x (B, N, N): lower L with L L^T = x, or "
        "upper U = L^T with upper=True. Only the lower triangle of x is read. A matrix that is not positive "
        "definite gives a NaN-filled factor for that item instead of raising. The gradient is the symmetric "
        "one (as PyTorch), differentiable to any order.");
  m.def("einsum", &einsum, x, py::arg("equation"),
        "NumPy's einsum over the list of operands x: implicit output without '->', repeated subscripts in one "
        "operand take the diagonal, '...' broadcasts. Composed of transposes, reshapes, diagonals, sums and "
        "pairwise batched products, so every order of gradient follows.");
  m.def("matrix_diag", &matrix_diag, x, "(..., M) -> (..., M, M) with x on the diagonal of the last two axes.");
  m.def("matrix_diag_part", &matrix_diag_part, x, "(..., M, M) -> (..., M): the diagonal of the last two axes.");
  m.def("trilu", &trilu, x, py::arg("k") = 0, py::arg("upper") = true,
        "The upper (upper=True, numpy.triu) or lower (numpy.tril) triangle of the last two axes of x, k the "
        "diagonal offset; the other elements are 0.");
}

}  // namespace nthgrad::python

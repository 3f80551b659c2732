#pragma once
// The polynomial op of lean derivative graphs (autograd/lean.h). While a
// backward pass records (create_graph=True), elementwise arithmetic on
// equal-shape floating operands -- add2, sub2, mul2, add_scalar, mul_scalar,
// r_sub_scalar, integer pow_scalar, and the products the fused unary
// backwards make -- is recorded as one node
//     y = sum_t c_t prod_i a_i^p_ti
// over "atoms" a_i (the other nodes' outputs and constants), in a normal form:
// - an atom that is itself a polynomial node is inlined (its atoms and terms
//   multiplied in), up to kMaxTerms terms and kMaxAtoms atoms;
// - a constant of one value (ones, zeros) becomes part of the coefficients;
// - repeated atoms merge, like terms combine, zero terms and unused atoms go;
// - one atom with coefficient 1 is that atom (no node), no terms is a zero
//   constant (which the engine drops: a symbolic zero);
// - the canonical form is the hash-consing key, so an equal polynomial of the
//   same atoms is recorded once.
// Its rule is polynomial again: dy/da_i = g * dP/da_i, one more atom (g).
// So the nested rules of tanh, sigmoid, exp, sin and products do not stack
// up order after order: the k-th derivative of tanh is one polynomial in
// tanh(x) and its derivative atom 1 - tanh(x)^2 (computed by the fused kernel,
// so no 1 - y^2 cancellation is expanded into powers of y).
#include <optional>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad::detail {

struct Polynomial {
  VariableList atoms;                  // equal shapes, one floating dtype
  std::vector<double> coef;            // per term
  std::vector<std::vector<int>> powers;  // per term, one power per atom
};

// The normalized polynomial as a variable (recorded when an atom requires grad
// and grad mode is on).
Variable polynomial(Polynomial p);

// The lean forms of arithmetic ops, or nullopt where lean recording does not
// apply (not recording, different shapes or dtypes, nothing requires grad).
std::optional<Variable> lean_sum(const Variable& x0, const Variable& x1, double sign);  // x0 + sign * x1
std::optional<Variable> lean_product(const Variable& x0, const Variable& x1);
std::optional<Variable> lean_affine(const Variable& x, double scale, double shift);  // scale * x + shift
std::optional<Variable> lean_power(const Variable& x, double exponent);             // integer exponents only

}  // namespace nthgrad::detail

#pragma once
// Function transforms in the shape of torch.func and JAX: grad, vjp, jvp,
// jacrev, jacfwd, hessian, hvp, vhp. A transform takes a function of a list
// of variables and the point to differentiate at; the function runs with
// grad mode on, at differentiable copies of the primals (a primal that
// already requires grad stays connected to its own graph through an
// `identity` node), and every result is differentiable when the caller's
// grad mode is on, so transforms nest to any order. Under NoGradGuard they
// compute the plain values without recording.
//
//   // f(x) = sum(tanh(x)^3); H v at x in a few lines:
//   auto f = [](const Variable& x) { return sum(pow_scalar(tanh(x), 3)); };
//   Variable hv = func::hvp(f, x, v).second;
#include <functional>
#include <utility>
#include <vector>

#include "nthgrad/variable.h"

namespace nthgrad::func {

using Function = std::function<VariableList(const VariableList&)>;
using UnaryFunction = std::function<Variable(const Variable&)>;

// d(outputs)/d(inputs) contracted with each row of `cotangents` (one list of
// grad_outputs per row), from one discovery and ordering of the graph: the
// rows share everything but the walk itself. Returns one gradient list per
// row (undefined where allow_unused and unreachable). The graph is kept
// between rows, and after the last only if retain_graph.
std::vector<VariableList> vjp_batch(const VariableList& outputs, const VariableList& inputs,
                                    const std::vector<VariableList>& cotangents, bool retain_graph = false,
                                    bool create_graph = false, bool allow_unused = false);

// The point a transform differentiates at: for each primal, a variable that
// requires grad and whose gradient reaches only through what is computed from
// it (an `identity` of a primal that requires grad, a detached leaf copy of one
// that does not).
VariableList track(const VariableList& primals);

// f(primals) and the gradient of its first output, which must hold one
// element, with respect to every primal (zeros where f does not depend on it).
// The other outputs of f are returned untouched (auxiliary values).
struct ValueAndGrad {
  VariableList outputs;
  VariableList grads;
};
ValueAndGrad value_and_grad(const Function& f, const VariableList& primals, const char* api = "value_and_grad");

// f(primals) and a function mapping cotangents (one per output, each the
// output's shape and dtype) to J^T cotangents (one per primal). The function
// may be called any number of times.
struct Vjp {
  VariableList outputs;
  std::function<VariableList(const VariableList&)> vjp;
};
Vjp vjp(const Function& f, const VariableList& primals);

// f(primals) and J tangents (one per output), forward mode by the double-vjp
// trick: u -> J^T u is linear in u, so the gradient of <J^T u, t> with respect
// to u is J t. No forward-mode rules are needed.
std::pair<VariableList, VariableList> jvp(const Function& f, const VariableList& primals,
                                          const VariableList& tangents);

// Jacobians of every output with respect to every primal: entry
// i * primals.size() + j has shape outputs[i].shape + primals[j].shape.
// jacrev runs one reverse sweep per output element, jacfwd one per primal
// element (through the double-vjp graph); both share one graph for all sweeps.
VariableList jacrev(const Function& f, const VariableList& primals);
VariableList jacfwd(const Function& f, const VariableList& primals);

// Hessian of a one-element f: entry i * primals.size() + j has shape
// primals[i].shape + primals[j].shape (reverse over reverse: one sweep per
// primal element through the gradient's graph).
VariableList hessian(const Function& f, const VariableList& primals);

// f(primals) and H v (hvp, exact: forward over reverse by the double-vjp
// trick) or v^T H (vhp: reverse over reverse, one sweep cheaper). The two
// agree wherever f is twice continuously differentiable.
std::pair<Variable, VariableList> hvp(const Function& f, const VariableList& primals, const VariableList& tangents);
std::pair<Variable, VariableList> vhp(const Function& f, const VariableList& primals, const VariableList& v,
                                      const char* api = "vhp");

// The same for a function of one variable.
Variable grad(const UnaryFunction& f, const Variable& x);
Variable jacobian(const UnaryFunction& f, const Variable& x);  // jacrev
Variable hessian(const UnaryFunction& f, const Variable& x);
std::pair<Variable, Variable> hvp(const UnaryFunction& f, const Variable& x, const Variable& v);

}  // namespace nthgrad::func

#pragma once
// How an op enters the graph. Ops compute their output tensors with kernels,
// then call record(); when grad mode is on and an input requires grad, a Node
// holding `rule` and the values named by `saved` is created and the outputs
// point at it. Non-float outputs (indices) never require grad.
#include <initializer_list>

#include "autograd/node.h"

namespace nthgrad {

VariableList record(const char* name, VariableList inputs, std::vector<Tensor> outputs, Saved saved, Rule rule);
Variable record(const char* name, VariableList inputs, Tensor output, Saved saved, Rule rule);
// An op with no gradient (comparisons, index outputs): the output is a
// constant of the graph.
Variable record_nondiff(Tensor output);

// Builds a rule's result: grads(gx0, gx1, ...).
template <typename... V>
VariableList grads(V&&... v) {
  return VariableList{std::forward<V>(v)...};
}

}  // namespace nthgrad

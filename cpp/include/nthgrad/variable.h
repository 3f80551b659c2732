#pragma once
// Variable: a tensor value plus what autograd needs (requires_grad, the node
// that created it, the accumulated .grad of a leaf). Python's nthgrad.Tensor
// is a Variable. Copies share one underlying variable.
#include <memory>
#include <vector>

#include "nthgrad/tensor.h"

namespace nthgrad {

class Node;
struct VariableImpl;
class Variable;
using VariableList = std::vector<Variable>;

class Variable {
 public:
  Variable() = default;  // undefined: stands for a zero gradient
  explicit Variable(Tensor value, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& value() const;
  const Shape& shape() const { return value().shape(); }
  int64_t ndim() const { return value().ndim(); }
  int64_t numel() const { return value().numel(); }
  DType dtype() const { return value().dtype(); }
  double item() const { return value().item(); }

  bool requires_grad() const;
  // Only for leaves (no grad_fn) of floating dtype; throws otherwise.
  void set_requires_grad(bool requires_grad);
  bool is_leaf() const;
  const std::shared_ptr<Node>& grad_fn() const;
  int output_nr() const;

  // The gradient accumulated by backward() into a leaf (undefined if none).
  Variable grad() const;
  void set_grad(const Variable& grad);
  // The same value, cut from the graph.
  Variable detach() const;
  // Replaces a leaf's value by another tensor (any shape or dtype; float when
  // it requires grad), as torch's `p.data = t`: nn.Module.float()/double()
  // keep their Parameter objects, and so the optimizers that hold them. A
  // .grad of another dtype or shape is dropped. Graphs that saved the old
  // value keep it; views of the old value keep the old memory.
  void set_data(const Tensor& value);

  // Accumulates d(this)/d(leaf) into every leaf's grad(); see autograd.h.
  void backward(const Variable& gradient = Variable(), bool retain_graph = false,
                bool create_graph = false) const;

  // Identity of the underlying variable (two copies compare equal).
  bool same(const Variable& other) const { return impl_ == other.impl_; }
  VariableImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<VariableImpl>& impl_ptr() const { return impl_; }
  static int64_t live_count();

 private:
  friend class Node;
  friend struct VariableImpl;
  friend Variable make_output(Tensor value, std::shared_ptr<Node> node, int output_nr);
  friend Variable variable_of(std::shared_ptr<VariableImpl> impl);
  std::shared_ptr<VariableImpl> impl_;
};

}  // namespace nthgrad

#pragma once
// A Node is one recorded op in the graph: its rule, the edges to the nodes of
// its inputs, and the values the rule needs. Two kinds of saved values are
// kept as plain tensors and turned back into variables only when the rule
// runs, because holding the variable itself would make a reference cycle:
// - outputs (the variable's grad_fn is this node);
// - leaf inputs (a leaf's .grad, built with create_graph=True, may hold a
//   graph that saves the leaf). They come back as new variables sharing the
//   leaf's AccumulateGrad, so gradients still reach the same leaf.
#include <functional>
#include <memory>
#include <vector>

#include "nthgrad/autograd.h"
#include "nthgrad/variable.h"

namespace nthgrad {

class Node;
class Ctx;

// Gradient rule: returns one gradient per input (undefined = zero).
using Rule = std::function<VariableList(const Ctx&)>;

struct Edge {
  std::shared_ptr<Node> node;  // null: the input needs no gradient
  int slot = 0;                // which output of `node` this input was
};

struct VariableImpl {
  VariableImpl(Tensor v, bool rg);
  ~VariableImpl();
  Tensor value;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  int output_nr = 0;
  Variable grad;
  std::weak_ptr<Node> accumulator;  // a leaf's AccumulateGrad node, while a graph uses it
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node(const char* name, VariableList inputs, std::vector<Tensor> outputs, Rule rule);
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const char* name() const { return name_; }
  const std::vector<Edge>& next() const { return next_; }
  std::size_t num_outputs() const { return num_outputs_; }
  bool released() const { return released_; }
  virtual bool is_accumulator() const { return false; }

  // Runs the rule. `gy` has one entry per output, `needs` one per input.
  // Throws if the saved values were released.
  VariableList apply(const VariableList& gy, const std::vector<bool>& needs);
  // Frees the saved values (after a backward without retain_graph).
  void release();

  static int64_t live_count();

 protected:
  explicit Node(const char* name);  // for AccumulateGrad
  std::vector<Edge> next_;

 private:
  friend class Ctx;
  VariableList unpack_inputs() const;
  const char* name_;
  Rule rule_;
  VariableList inputs_;  // non-leaf inputs (undefined where the input is a leaf)
  std::vector<Tensor> leaf_values_;  // leaf inputs' values (undefined elsewhere)
  std::vector<Tensor> outputs_;
  std::size_t num_outputs_ = 1;
  bool released_ = false;
};

// The sink of a leaf: receives the leaf's gradient.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(const std::shared_ptr<VariableImpl>& leaf);
  bool is_accumulator() const override { return true; }
  std::shared_ptr<VariableImpl> leaf() const { return leaf_.lock(); }

 private:
  std::weak_ptr<VariableImpl> leaf_;
};

// What a rule sees.
class Ctx {
 public:
  Ctx(Node& node, const VariableList& in, const VariableList& gy, const std::vector<bool>& needs)
      : node_(node), in_(in), gy_(gy), needs_(needs) {}
  const Variable& in(std::size_t i) const { return in_[i]; }
  std::size_t num_inputs() const { return in_.size(); }
  // Output i as a variable whose grad_fn is this node, so that a rule written
  // in terms of y (tanh: 1 - y^2) stays differentiable through y.
  Variable out(std::size_t i = 0) const;
  const Variable& gy(std::size_t i = 0) const { return gy_[i]; }
  bool needs(std::size_t i) const { return needs_[i]; }

 private:
  Node& node_;
  const VariableList& in_;
  const VariableList& gy_;
  const std::vector<bool>& needs_;
};

// A new variable that is output `output_nr` of `node`.
Variable make_output(Tensor value, std::shared_ptr<Node> node, int output_nr);

// The edge along which a gradient for `v` flows (creating a leaf's
// AccumulateGrad on first use).
Edge gradient_edge(const Variable& v);

// Drops a reference to a node without recursing down a long chain: nodes
// that become unreachable are destroyed from a work list.
void release_node(std::shared_ptr<Node>&& node);

}  // namespace nthgrad

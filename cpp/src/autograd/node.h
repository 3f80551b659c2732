#pragma once
// A Node is one recorded op in the graph: its rule, the edges to the nodes of
// its inputs, the shapes and dtypes of its inputs, and only those input and
// output values that the rule reads (declared by the op as a `Saved`). Two
// kinds of saved values are kept as plain tensors and turned back into
// variables only when the rule runs, because holding the variable itself
// would make a reference cycle:
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

// Which values a rule reads, declared where the op is recorded: bit i of
// `inputs` means the rule calls c.in(i), bit i of `outputs` that it calls
// c.out(i). Everything else is dropped as soon as the forward op returns, so
// a live graph keeps only what its gradients need. Bit 63 stands for every
// index from 63 on (variadic ops).
struct Saved {
  uint64_t inputs = 0;
  uint64_t outputs = 0;
  static bool has(uint64_t mask, std::size_t i) { return (mask >> (i < 63 ? i : 63)) & 1u; }
};
constexpr Saved operator|(Saved a, Saved b) { return {a.inputs | b.inputs, a.outputs | b.outputs}; }
inline constexpr Saved kSavesNothing{0, 0};
inline constexpr Saved kSavesInputs{~uint64_t{0}, 0};
inline constexpr Saved kSavesOutput{0, 1};
constexpr Saved saves_input(int i) { return {uint64_t{1} << i, 0}; }
constexpr Saved saves_output(int i) { return {0, uint64_t{1} << i}; }

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
  // register_post_accumulate_grad_hook: (handle, hook), run in this order
  std::vector<std::pair<int64_t, std::function<void(const Variable&)>>> post_accumulate_hooks;
};

// A handle on an existing variable (the engine's leaves, for hooks).
Variable variable_of(std::shared_ptr<VariableImpl> impl);

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node(const char* name, VariableList inputs, const std::vector<Tensor>& outputs, Saved saved, Rule rule);
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const char* name() const { return name_; }
  // The order of creation (process-wide). The engine runs ready nodes
  // latest-created first, so the order of a backward pass depends only on
  // which nodes exist, not on the shape of the graph around them: ranks of a
  // data-parallel run reach their collectives in the same order.
  uint64_t sequence() const { return sequence_; }
  const std::vector<Edge>& next() const { return next_; }
  std::size_t num_outputs() const { return num_outputs_; }
  bool released() const { return released_; }
  virtual bool is_accumulator() const { return false; }

  // Runs the rule. `gy` has one entry per output, `needs` one per input.
  // Throws if the saved values were released.
  VariableList apply(const VariableList& gy, const std::vector<bool>& needs);
  // Frees the saved values (after a backward without retain_graph).
  void release();
  // The saved inputs as a rule sees them (undefined where not saved); throws
  // if released. Lean recording reads a polynomial's atoms here.
  VariableList saved_inputs() const;
  // Every tensor this node keeps for its rule (graph_size counts their bytes).
  std::vector<Tensor> saved_values() const;
  // False when a saved value was written in place since it was saved (apply()
  // would refuse); lean recording then neither reuses nor inlines the node.
  bool saved_values_current() const;
  // A node that lean recording shares between graphs keeps its saved values
  // through release(): one graph's backward must not free what another needs.
  // They go with the node.
  void keep_saved_values() { keep_saved_ = true; }

  static int64_t live_count();

 protected:
  explicit Node(const char* name);  // for AccumulateGrad
  std::vector<Edge> next_;

 private:
  friend class Ctx;
  VariableList unpack_inputs() const;
  const char* name_;
  uint64_t sequence_;
  Rule rule_;
  VariableList inputs_;              // saved non-leaf inputs (undefined elsewhere)
  std::vector<Tensor> leaf_values_;  // saved leaf inputs' values (undefined elsewhere)
  std::vector<Shape> input_shapes_;
  std::vector<DType> input_dtypes_;
  std::vector<Tensor> outputs_;      // saved outputs (undefined elsewhere)
  // The storage versions of the saved inputs and outputs when they were saved
  // (0 where nothing is saved): apply() refuses values written in place since.
  std::vector<uint64_t> input_versions_;
  std::vector<uint64_t> output_versions_;
  void check_versions() const;
  const Tensor& saved_value(std::size_t i) const;  // saved input i (a leaf's value or the variable's)
  std::size_t num_outputs_ = 1;
  bool released_ = false;
  bool keep_saved_ = false;
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
  // Input i; only for inputs the op declared as saved (else RuntimeError).
  const Variable& in(std::size_t i) const;
  const Shape& in_shape(std::size_t i) const { return node_.input_shapes_[i]; }
  DType in_dtype(std::size_t i) const { return node_.input_dtypes_[i]; }
  std::size_t num_inputs() const { return in_.size(); }
  // Output i as a variable whose grad_fn is this node, so that a rule written
  // in terms of y (tanh: 1 - y^2) stays differentiable through y. Only for
  // outputs the op declared as saved. A non-float output (an index) comes
  // back as a constant.
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

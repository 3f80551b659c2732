// The reverse-mode engine. It never recurses: the graph is discovered with an
// explicit stack, ordered topologically with Kahn's algorithm, and run in that
// order. Each rule runs under GradModeGuard(create_graph), so the same rule
// either records its ops (a differentiable gradient) or just computes.
#include <atomic>
#include <queue>
#include <optional>
#include <unordered_set>
#include <unordered_map>

#include "autograd/lean.h"
#include "autograd/node.h"
#include "autograd/record.h"
#include "nthgrad/error.h"
#include "nthgrad/func.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/math.h"

namespace nthgrad {

namespace {

// The callbacks queued by the backward() pass running on this thread (null
// outside one; a backward() started from a hook or callback has its own).
thread_local std::vector<std::function<void()>>* t_backward_callbacks = nullptr;
thread_local uint64_t t_backward_pass = 0;
std::atomic<uint64_t> g_backward_passes{0};

class BackwardCallbacks {
 public:
  BackwardCallbacks() : previous_(t_backward_callbacks), previous_pass_(t_backward_pass) {
    t_backward_callbacks = &queued_;
    t_backward_pass = ++g_backward_passes;
  }
  ~BackwardCallbacks() {
    t_backward_callbacks = previous_;
    t_backward_pass = previous_pass_;
  }
  BackwardCallbacks(const BackwardCallbacks&) = delete;
  BackwardCallbacks& operator=(const BackwardCallbacks&) = delete;
  // Runs the queued callbacks, and those they queue, in order.
  void run() {
    for (std::size_t i = 0; i < queued_.size(); ++i) {
      auto callback = std::move(queued_[i]);
      callback();
    }
    queued_.clear();
  }

 private:
  std::vector<std::function<void()>> queued_;
  std::vector<std::function<void()>>* previous_;
  uint64_t previous_pass_;
};

void run_post_accumulate_hooks(const std::shared_ptr<VariableImpl>& leaf) {
  if (leaf->post_accumulate_hooks.empty()) return;
  auto hooks = leaf->post_accumulate_hooks;  // a hook may remove itself
  Variable v = variable_of(leaf);
  for (auto& [handle, hook] : hooks) hook(v);
}

struct NodeState {
  Node* node;
  int dependencies = 0;  // edges into this node from nodes of the graph
  bool needed = false;   // executing it leads to a wanted gradient
  VariableList grads;    // incoming gradient per output slot
};

class GraphTask {
 public:
  int index_of(Node* n) {
    auto it = index_.find(n);
    return it == index_.end() ? -1 : it->second;
  }

  // Visits every node reachable from `roots` (iteratively).
  void discover(const std::vector<Edge>& roots) {
    std::vector<Node*> stack;
    for (const Edge& e : roots) add(e.node.get(), stack);
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (const Edge& e : n->next()) {
        if (!e.node) continue;
        add(e.node.get(), stack);
        ++states_[index_of(e.node.get())].dependencies;
      }
    }
  }

  // Kahn's algorithm: a node comes after every node that feeds it a gradient.
  // Among the ready nodes the latest created runs first. A node's consumers
  // were created after it, so this runs the nodes in decreasing order of
  // creation (AccumulateGrad sinks aside): the order depends only on which
  // nodes exist. Data-parallel ranks whose graphs differ elsewhere (lean
  // recording folds constants by value) still meet their collectives in the
  // same order, as PyTorch's engine orders by sequence number.
  std::vector<int> topological_order() {
    std::vector<int> deps(states_.size());
    std::priority_queue<std::pair<uint64_t, int>> ready;
    for (std::size_t i = 0; i < states_.size(); ++i) {
      deps[i] = states_[i].dependencies;
      if (deps[i] == 0) ready.emplace(states_[i].node->sequence(), static_cast<int>(i));
    }
    std::vector<int> order;
    order.reserve(states_.size());
    while (!ready.empty()) {
      int i = ready.top().second;
      ready.pop();
      order.push_back(i);
      for (const Edge& e : states_[i].node->next())
        if (e.node) {
          const int j = index_of(e.node.get());
          if (--deps[j] == 0) ready.emplace(e.node->sequence(), j);
        }
    }
    return order;
  }

  std::vector<NodeState> states_;

 private:
  void add(Node* n, std::vector<Node*>& stack) {
    if (index_.count(n)) return;
    index_.emplace(n, static_cast<int>(states_.size()));
    states_.push_back(NodeState{n});
    stack.push_back(n);
  }
  std::unordered_map<Node*, int> index_;
};

// `value` (a constant) as a differentiable result of `anchor`: a node whose
// gradient is zero. What grad(create_graph=True) returns for a derivative
// that no longer depends on its input (x^5 at order 5, an STE's mask), so
// that the next order is zeros, not "does not require grad".
Variable connected_constant(const Variable& value, const Variable& anchor) {
  GradModeGuard on(true);
  return record("constant", {anchor}, value.value(), kSavesNothing,
                [](const Ctx& c) { return VariableList(c.num_inputs()); });
}

// A gradient handed to the caller owns its memory. A rule may pass a tensor
// through unchanged (add2's gy, a polynomial that is one atom), and a result
// or a .grad that is another tensor's memory would change with it (an
// optimizer step on one parameter moving another's gradient). Copies of a
// variable share one tensor, so more than one tensor on the buffer means
// another owner.
Variable owned(const Variable& g) {
  if (g.defined() && g.value().storage().use_count() > 1) return identity(g);
  return g;
}

void accumulate(Variable& slot, const Variable& g) {
  if (!g.defined()) return;
  slot = slot.defined() ? add2(slot, g) : g;
}

// One backward pass over a fixed graph: the graph from `outputs` is discovered,
// ordered and pruned to what leads to `inputs` once, in the constructor; run()
// then walks it for one set of output gradients, and may be called again with
// other gradients (a batch of cotangents: the rows of a Jacobian) as long as
// every run but the last keeps the graph. With `inputs` empty, gradients of
// leaves are accumulated into their .grad (backward); otherwise the gradients
// arriving at `inputs` are returned (grad).
class Backward {
 public:
  Backward(const char* api, const VariableList& outputs, const VariableList& inputs)
      : api_(api), outputs_(outputs), inputs_(inputs) {
    if (outputs.empty()) throw ValueError(detail::cat(api, ": outputs is empty"));
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const Variable& y = outputs[i];
      if (!y.defined()) throw ValueError(detail::cat(api, ": outputs[", i, "] is undefined"));
      if (!y.requires_grad())
        throw RuntimeError(detail::cat(api, ": outputs[", i, "] does not require grad and has no grad_fn"));
      roots_.push_back(gradient_edge(y));
    }
    task_.discover(roots_);

    // What is wanted: the slots of `inputs`, or every leaf accumulator.
    accumulate_leaves_ = inputs.empty();
    wanted_.resize(task_.states_.size());  // per node: (slot, input index)
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const Variable& x = inputs[i];
      if (!x.defined()) throw ValueError(detail::cat(api, ": inputs[", i, "] is undefined"));
      if (!x.requires_grad()) throw RuntimeError(detail::cat(api, ": inputs[", i, "] does not require grad"));
      Edge target = gradient_edge(x);
      int k = task_.index_of(target.node.get());
      if (k >= 0) wanted_[k].emplace_back(target.slot, static_cast<int>(i));
    }

    order_ = task_.topological_order();
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {  // leaf side first, so a node sees its inputs' `needed`
      NodeState& s = task_.states_[*it];
      s.needed = accumulate_leaves_ ? s.node->is_accumulator() : !wanted_[*it].empty();
      for (const Edge& e : s.node->next())
        if (e.node && task_.states_[task_.index_of(e.node.get())].needed) s.needed = true;
    }
  }

  VariableList run(const VariableList& grad_outputs, bool keep_graph, bool create_graph, bool allow_unused) {
    const char* api = api_;
    if (!grad_outputs.empty() && grad_outputs.size() != outputs_.size())
      throw ValueError(detail::cat(api, ": got ", grad_outputs.size(), " grad_outputs for ", outputs_.size(),
                                   " outputs"));
    VariableList root_grads;
    for (std::size_t i = 0; i < outputs_.size(); ++i) {
      const Variable& y = outputs_[i];
      Variable g = grad_outputs.empty() ? Variable() : grad_outputs[i];
      if (!g.defined()) {
        if (y.numel() != 1)
          throw RuntimeError(detail::cat(api, ": a gradient can be created implicitly only for a scalar output; "
                                         "outputs[", i, "] has shape ", shape_str(y.shape()), ", so pass grad_outputs"));
        g = Variable(Tensor::ones(y.shape(), y.dtype()));
      } else if (g.shape() != y.shape()) {
        throw ValueError(detail::cat(api, ": grad_outputs[", i, "] has shape ", shape_str(g.shape()), " but outputs[",
                                     i, "] has shape ", shape_str(y.shape())));
      } else if (g.dtype() != y.dtype()) {
        throw TypeError(detail::cat(api, ": grad_outputs[", i, "] is ", dtype_name(g.dtype()), " but outputs[", i,
                                    "] is ", dtype_name(y.dtype())));
      }
      root_grads.push_back(g);
    }

    GradModeGuard mode(create_graph);
    LeanRecordingGuard lean(create_graph && lean_graphs_enabled());
    for (NodeState& s : task_.states_) s.grads.assign(s.node->num_outputs(), Variable());
    for (std::size_t i = 0; i < roots_.size(); ++i)
      accumulate(task_.states_[task_.index_of(roots_[i].node.get())].grads[roots_[i].slot], root_grads[i]);

    std::optional<BackwardCallbacks> callbacks;
    if (accumulate_leaves_) callbacks.emplace();
    VariableList result(inputs_.size());
    std::vector<bool> reached(inputs_.size(), false);
    for (int k : order_) {
      NodeState& s = task_.states_[k];
      if (!s.needed) continue;
      Node* node = s.node;
      for (auto [slot, i] : wanted_[k]) {
        reached[i] = true;
        result[i] = owned(s.grads[slot]);
      }
      if (node->is_accumulator()) {
        if (accumulate_leaves_ && s.grads[0].defined()) {
          auto leaf = static_cast<AccumulateGrad*>(node)->leaf();
          if (leaf) {
            Variable g = owned(s.grads[0]);
            if (!create_graph) g = g.detach();
            leaf->grad = leaf->grad.defined() ? add2(leaf->grad, g) : g;
            run_post_accumulate_hooks(leaf);
          }
        }
        continue;
      }
      bool any_grad = false;
      for (const Variable& g : s.grads) any_grad = any_grad || g.defined();
      const auto& next = node->next();
      std::vector<bool> needs(next.size(), false);
      bool any_need = false;
      for (std::size_t j = 0; j < next.size(); ++j) {
        needs[j] = next[j].node && task_.states_[task_.index_of(next[j].node.get())].needed;
        any_need = any_need || needs[j];
      }
      if (any_grad && any_need) {
        VariableList gx = node->apply(s.grads, needs);
        if (gx.size() != next.size())
          throw RuntimeError(detail::cat(node->name(), ": backward rule returned ", gx.size(), " gradients for ",
                                         next.size(), " inputs (internal error)"));
        for (std::size_t j = 0; j < next.size(); ++j) {
          if (!needs[j] || !gx[j].defined()) continue;
          NodeState& t = task_.states_[task_.index_of(next[j].node.get())];
          accumulate(t.grads[next[j].slot], gx[j]);
        }
      }
      s.grads.clear();  // free gradient memory as soon as it is used
      if (!keep_graph) node->release();
    }

    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      if (result[i].defined()) continue;
      if (!reached[i] && !allow_unused)
        throw RuntimeError(detail::cat(api, ": inputs[", i,
                                       "] was not used to compute the outputs; pass allow_unused=True to get None"));
      if (reached[i])  // reached, but every path contributed zero
        result[i] = Variable(Tensor::zeros(inputs_[i].shape(), inputs_[i].dtype()));
    }
    if (create_graph)
      for (std::size_t i = 0; i < inputs_.size(); ++i)
        if (result[i].defined() && !result[i].requires_grad()) result[i] = connected_constant(result[i], inputs_[i]);
    if (callbacks) callbacks->run();
    return result;
  }

 private:
  const char* api_;
  VariableList outputs_, inputs_;
  std::vector<Edge> roots_;
  GraphTask task_;
  bool accumulate_leaves_ = false;
  std::vector<std::vector<std::pair<int, int>>> wanted_;
  std::vector<int> order_;
};

}  // namespace

int64_t register_post_accumulate_grad_hook(const Variable& leaf, PostAccumulateGradHook hook) {
  if (!leaf.defined()) throw ValueError("register_post_accumulate_grad_hook: the tensor is undefined");
  if (!leaf.is_leaf() || !leaf.requires_grad())
    throw RuntimeError("register_post_accumulate_grad_hook: only a leaf that requires grad accumulates a gradient");
  if (!hook) throw ValueError("register_post_accumulate_grad_hook: the hook is empty");
  static std::atomic<int64_t> next_handle{1};
  const int64_t handle = next_handle++;
  leaf.impl()->post_accumulate_hooks.emplace_back(handle, std::move(hook));
  return handle;
}

void remove_post_accumulate_grad_hook(const Variable& leaf, int64_t handle) {
  if (!leaf.defined()) return;
  auto& hooks = leaf.impl()->post_accumulate_hooks;
  for (auto it = hooks.begin(); it != hooks.end(); ++it)
    if (it->first == handle) {
      hooks.erase(it);
      return;
    }
}

void queue_backward_callback(std::function<void()> callback) {
  if (!t_backward_callbacks)
    throw RuntimeError("queue_backward_callback: no backward() pass is running on this thread");
  t_backward_callbacks->push_back(std::move(callback));
}

uint64_t backward_pass_id() { return t_backward_pass; }

VariableList grad(const VariableList& outputs, const VariableList& inputs, const VariableList& grad_outputs,
                  std::optional<bool> retain_graph, bool create_graph, bool allow_unused) {
  if (inputs.empty()) throw ValueError("grad: inputs is empty");
  return Backward("grad", outputs, inputs).run(grad_outputs, retain_graph.value_or(create_graph), create_graph,
                                                allow_unused);
}

void backward(const VariableList& outputs, const VariableList& grad_outputs, std::optional<bool> retain_graph,
              bool create_graph) {
  Backward("backward", outputs, {}).run(grad_outputs, retain_graph.value_or(create_graph), create_graph, false);
}


GraphSize graph_size(const VariableList& roots) {
  GraphSize size{0, 0};
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  std::unordered_set<const void*> buffers;
  for (const Variable& r : roots)
    if (r.defined() && r.grad_fn()) stack.push_back(r.grad_fn().get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    ++size.nodes;
    for (const Tensor& t : n->saved_values())
      if (buffers.insert(t.raw_data()).second) size.saved_bytes += static_cast<int64_t>(t.nbytes());
    for (const Edge& e : n->next())
      if (e.node) stack.push_back(e.node.get());
  }
  return size;
}

namespace func {

std::vector<VariableList> vjp_batch(const VariableList& outputs, const VariableList& inputs,
                                    const std::vector<VariableList>& cotangents, bool retain_graph, bool create_graph,
                                    bool allow_unused) {
  if (inputs.empty()) throw ValueError("vjp_batch: inputs is empty");
  std::vector<VariableList> result;
  if (cotangents.empty()) return result;
  Backward pass("vjp_batch", outputs, inputs);
  result.reserve(cotangents.size());
  for (std::size_t r = 0; r < cotangents.size(); ++r) {
    const bool last = r + 1 == cotangents.size();
    result.push_back(pass.run(cotangents[r], retain_graph || !last, create_graph, allow_unused));
  }
  return result;
}

}  // namespace func

}  // namespace nthgrad

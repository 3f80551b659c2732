#pragma once
// The reverse-mode engine and grad mode. Both entry points behave as their
// PyTorch namesakes: `create_graph` records the backward pass so that its
// result can be differentiated again; `retain_graph` (default: create_graph)
// keeps the saved values so the same graph can be walked again.
#include <cstdint>
#include <functional>
#include <optional>

#include "nthgrad/variable.h"

namespace nthgrad {

// d(outputs)/d(inputs) contracted with grad_outputs (ones for scalar outputs
// when omitted). An input that the outputs do not depend on raises unless
// allow_unused, in which case its gradient is undefined.
VariableList grad(const VariableList& outputs, const VariableList& inputs,
                  const VariableList& grad_outputs = {}, std::optional<bool> retain_graph = std::nullopt,
                  bool create_graph = false, bool allow_unused = false);

// Accumulates the gradient into .grad() of every leaf the outputs depend on.
void backward(const VariableList& outputs, const VariableList& grad_outputs = {},
              std::optional<bool> retain_graph = std::nullopt, bool create_graph = false);

// Hooks for data parallelism (DistributedDataParallel's gradient buckets).
// A post-accumulate-grad hook of a leaf runs during backward() right after
// the leaf's grad() received this pass's gradient (it sees the new total), on
// the thread running the pass; grad() results do not trigger it. Returns a
// handle for remove_post_accumulate_grad_hook. A hook may throw: the pass
// stops with that exception.
using PostAccumulateGradHook = std::function<void(const Variable& leaf)>;
int64_t register_post_accumulate_grad_hook(const Variable& leaf, PostAccumulateGradHook hook);
void remove_post_accumulate_grad_hook(const Variable& leaf, int64_t handle);
// Called from a hook: runs `callback` once when the current backward() pass
// has visited every node (before backward() returns), in the order queued.
// RuntimeError outside a backward() pass. Not run when the pass throws.
void queue_backward_callback(std::function<void()> callback);
// A number identifying the backward() pass running on this thread (each pass
// its own), 0 outside one: a hook tells a new pass from the one it queued a
// callback in, even after a pass that threw.
uint64_t backward_pass_id();

bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// Sets grad mode for a scope and restores the previous mode on exit.
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};
class NoGradGuard : public GradModeGuard {
 public:
  NoGradGuard() : GradModeGuard(false) {}
};

// Lean derivative graphs (on by default): while a backward pass records
// (create_graph=True), identical pure ops are recorded once, elementwise
// arithmetic is kept as one polynomial node in normal form, and zero
// gradients stay symbolic, so the graph of the n-th derivative grows
// polynomially in n. Off: the plain nested reverse mode, as PyTorch's (for
// comparisons).
void set_lean_graphs(bool enabled);
bool lean_graphs_enabled();

// The graph reachable from `roots`: its nodes (AccumulateGrad sinks
// included) and the bytes of the distinct buffers those nodes keep for their
// rules.
struct GraphSize {
  int64_t nodes;
  int64_t saved_bytes;
};
GraphSize graph_size(const VariableList& roots);

// Live objects, for leak tests: every graph dropped returns these to their
// previous values.
struct LiveCounts {
  int64_t variables;
  int64_t nodes;
  int64_t storages;
  int64_t bytes;  // held by the live storages
};
LiveCounts live_counts();

}  // namespace nthgrad

#include "autograd/node.h"

#include <atomic>

#include "autograd/record.h"
#include "nthgrad/error.h"

namespace nthgrad {

namespace {
std::atomic<int64_t> g_live_nodes{0};

// Destroying a node drops its edges, which may destroy the next node, and so
// on down the chain: done recursively, a chain of 100,000 ops overflows the
// stack. Instead the last reference to a node is parked here and the outermost
// release destroys parked nodes one at a time.
thread_local std::vector<std::shared_ptr<Node>> t_pending;
thread_local bool t_draining = false;
}  // namespace

void release_node(std::shared_ptr<Node>&& node) {
  if (!node) return;
  if (node.use_count() > 1) {  // someone else still holds it: just drop ours
    node.reset();
    return;
  }
  t_pending.push_back(std::move(node));
  if (t_draining) return;
  t_draining = true;
  while (!t_pending.empty()) {
    std::shared_ptr<Node> last = std::move(t_pending.back());
    t_pending.pop_back();
    last.reset();  // may park further nodes
  }
  t_draining = false;
}

namespace {
std::atomic<uint64_t> g_node_sequence{0};
}

Node::Node(const char* name) : name_(name), sequence_(++g_node_sequence) { ++g_live_nodes; }

Node::Node(const char* name, VariableList inputs, const std::vector<Tensor>& outputs, Saved saved, Rule rule)
    : name_(name), sequence_(++g_node_sequence), rule_(std::move(rule)), inputs_(std::move(inputs)) {
  ++g_live_nodes;
  num_outputs_ = outputs.size();
  const std::size_t n = inputs_.size();
  next_.reserve(n);
  input_shapes_.reserve(n);
  input_dtypes_.reserve(n);
  leaf_values_.resize(n);
  input_versions_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    Variable& x = inputs_[i];
    next_.push_back(x.defined() && x.requires_grad() ? gradient_edge(x) : Edge{});
    input_shapes_.push_back(x.defined() ? x.shape() : Shape{});
    input_dtypes_.push_back(x.defined() ? x.dtype() : DType::Float32);
    if (!x.defined()) continue;
    if (!Saved::has(saved.inputs, i))
      x = Variable();  // the rule never reads it: do not keep it alive
    else if (x.is_leaf()) {  // save the value only: see node.h
      leaf_values_[i] = x.value();
      x = Variable();
    }
    if (Saved::has(saved.inputs, i)) input_versions_[i] = saved_value(i).storage()->version();
  }
  if (saved.outputs) {
    outputs_.resize(num_outputs_);
    output_versions_.resize(num_outputs_);
    for (std::size_t i = 0; i < num_outputs_; ++i)
      if (Saved::has(saved.outputs, i)) {
        outputs_[i] = outputs[i];
        output_versions_[i] = outputs[i].storage()->version();
      }
  }
}

Node::~Node() {
  inputs_.clear();  // their grad_fns go through release_node
  for (Edge& e : next_) release_node(std::move(e.node));
  --g_live_nodes;
}

int64_t Node::live_count() { return g_live_nodes.load(); }

void Node::release() {
  if (keep_saved_) return;
  released_ = true;
  inputs_.clear();
  leaf_values_.clear();
  outputs_.clear();
  input_versions_.clear();
  output_versions_.clear();
}

const Variable& Ctx::in(std::size_t i) const {
  if (!in_[i].defined())
    throw RuntimeError(detail::cat(node_.name(), ": the backward rule reads input ", i,
                                   ", which the op did not declare as saved (internal error)"));
  return in_[i];
}

const Tensor& Node::saved_value(std::size_t i) const {
  return leaf_values_[i].defined() ? leaf_values_[i] : inputs_[i].value();
}

void Node::check_versions() const {
  auto check = [&](const char* what, std::size_t i, const Tensor& t, uint64_t saved) {
    if (!t.defined() || t.storage()->version() == saved) return;
    throw RuntimeError(detail::cat(
        name_, ": ", what, " ", i, " (shape ", shape_str(t.shape()), "), which this gradient needs, was modified in "
        "place after the forward pass saved it (version ", saved, ", now ", t.storage()->version(),
        "; by an optimizer step, add_, copy_ or a running-statistics update). Take the gradient before the update, "
        "or run the forward pass again after it"));
  };
  for (std::size_t i = 0; i < input_versions_.size(); ++i)
    if (leaf_values_[i].defined() || inputs_[i].defined()) check("input", i, saved_value(i), input_versions_[i]);
  for (std::size_t i = 0; i < outputs_.size(); ++i) check("output", i, outputs_[i], output_versions_[i]);
}

VariableList Node::unpack_inputs() const {
  VariableList in(inputs_);
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (!leaf_values_[i].defined()) continue;
    const std::shared_ptr<Node>& acc = next_[i].node;
    in[i] = Variable(leaf_values_[i], acc != nullptr);
    if (acc) in[i].impl()->accumulator = acc;  // the original leaf's sink
  }
  return in;
}

bool Node::saved_values_current() const {
  if (released_) return false;
  for (std::size_t i = 0; i < input_versions_.size(); ++i) {
    const bool saved = leaf_values_[i].defined() || inputs_[i].defined();
    if (saved && saved_value(i).storage()->version() != input_versions_[i]) return false;
  }
  for (std::size_t i = 0; i < outputs_.size(); ++i)
    if (outputs_[i].defined() && outputs_[i].storage()->version() != output_versions_[i]) return false;
  return true;
}

VariableList Node::saved_inputs() const {
  if (released_)
    throw RuntimeError(detail::cat(name_, ": its saved values were freed by a backward without retain_graph"));
  return unpack_inputs();
}

std::vector<Tensor> Node::saved_values() const {
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < inputs_.size(); ++i)
    if (leaf_values_[i].defined())
      out.push_back(leaf_values_[i]);
    else if (inputs_[i].defined())
      out.push_back(inputs_[i].value());
  for (const Tensor& t : outputs_)
    if (t.defined()) out.push_back(t);
  return out;
}

VariableList Node::apply(const VariableList& gy, const std::vector<bool>& needs) {
  if (released_)
    throw RuntimeError(detail::cat(
        name_, ": trying to differentiate through this part of the graph a second time, but its saved values "
               "were freed by the first backward/grad; pass retain_graph=True the first time"));
  check_versions();
  const VariableList in = unpack_inputs();
  Ctx ctx(*this, in, gy, needs);
  return rule_(ctx);
}

Variable Ctx::out(std::size_t i) const {
  if (i >= node_.outputs_.size() || !node_.outputs_[i].defined())
    throw RuntimeError(detail::cat(node_.name(), ": the backward rule reads output ", i,
                                   ", which the op did not declare as saved (internal error)"));
  const Tensor& y = node_.outputs_[i];
  if (!is_floating(y.dtype())) return Variable(y);
  return make_output(y, node_.shared_from_this(), static_cast<int>(i));
}

AccumulateGrad::AccumulateGrad(const std::shared_ptr<VariableImpl>& leaf) : Node("AccumulateGrad"), leaf_(leaf) {}

Edge gradient_edge(const Variable& v) {
  VariableImpl* impl = v.impl();
  if (impl->grad_fn) return Edge{impl->grad_fn, impl->output_nr};
  std::shared_ptr<Node> acc = impl->accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(v.impl_ptr());
    impl->accumulator = acc;
  }
  return Edge{acc, 0};
}

VariableList record(const char* name, VariableList inputs, std::vector<Tensor> outputs, Saved saved, Rule rule) {
  bool track = is_grad_enabled();
  if (track) {
    track = false;
    for (const Variable& x : inputs)
      if (x.defined() && x.requires_grad()) track = true;
  }
  VariableList result;
  result.reserve(outputs.size());
  if (!track) {
    for (Tensor& t : outputs) result.emplace_back(std::move(t));
    return result;
  }
  auto node = std::make_shared<Node>(name, std::move(inputs), outputs, saved, std::move(rule));
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (is_floating(outputs[i].dtype()))
      result.push_back(make_output(std::move(outputs[i]), node, static_cast<int>(i)));
    else  // an index output: a constant of the graph
      result.emplace_back(std::move(outputs[i]));
  }
  return result;
}

Variable record(const char* name, VariableList inputs, Tensor output, Saved saved, Rule rule) {
  std::vector<Tensor> outs;
  outs.push_back(std::move(output));
  return std::move(record(name, std::move(inputs), std::move(outs), saved, std::move(rule))[0]);
}

Variable record_nondiff(Tensor output) { return Variable(std::move(output)); }

}  // namespace nthgrad

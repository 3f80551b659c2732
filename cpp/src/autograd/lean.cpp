// Lean recording (autograd/lean.h): the mode flag, uniform constants, and the
// hash-consing table.
#include "autograd/lean.h"

#include <atomic>
#include <memory>
#include <unordered_map>

namespace nthgrad {

namespace {
thread_local bool t_lean = false;
std::atomic<bool> g_lean_enabled{true};

// An op's output, weakly: its node and the memory of its value, both alive
// while anything uses them (the variable that first held the output may be
// long gone while later graphs still hold the node and the value).
struct Entry {
  std::weak_ptr<Node> node;
  std::vector<std::weak_ptr<Storage>> inputs;  // the memory of the inputs the key names
  int output_nr = 0;
  std::weak_ptr<Storage> storage;
  uint64_t version = 0;  // of the value when it was computed
  Shape shape;
  DType dtype = DType::Float32;

  bool expired() const {
    if (node.expired() || storage.expired()) return true;
    for (const auto& s : inputs)
      if (s.expired()) return true;
    return false;
  }
};

// Op key -> its output. Weak, so the table never keeps a graph alive; expired
// entries are swept when the table has doubled since the last sweep.
struct ConsTable {
  std::unordered_map<std::string, Entry> entries;
  std::size_t swept_size = 64;

  void sweep_if_grown() {
    if (entries.size() < 2 * swept_size) return;
    for (auto it = entries.begin(); it != entries.end();)
      it = it->second.expired() ? entries.erase(it) : std::next(it);
    swept_size = std::max<std::size_t>(64, entries.size());
  }
};
thread_local ConsTable t_table;

template <typename T>
std::optional<double> uniform_of(const Tensor& t) {
  const T* p = t.data<T>();
  const int64_t n = t.numel();
  if (n == 0 || p[0] != p[0]) return std::nullopt;
  for (int64_t i = 1; i < n; ++i)
    if (p[i] != p[0]) return std::nullopt;
  return static_cast<double>(p[0]);
}
}  // namespace

bool lean_recording() { return t_lean; }

void set_lean_graphs(bool enabled) { g_lean_enabled = enabled; }
bool lean_graphs_enabled() { return g_lean_enabled; }

LeanRecordingGuard::LeanRecordingGuard(bool on) : previous_(t_lean) { t_lean = on; }
LeanRecordingGuard::~LeanRecordingGuard() { t_lean = previous_; }

std::optional<double> uniform_value(const Variable& v) {
  if (!v.defined() || v.requires_grad()) return std::nullopt;
  const Tensor& t = v.value();
  if (t.dtype() == DType::Float64) return uniform_of<double>(t);
  if (t.dtype() == DType::Float32) return uniform_of<float>(t);
  return std::nullopt;
}

namespace lean {

std::string identity(const Variable& v, KeepAlive& keep) {
  std::string id;
  if (v.requires_grad()) {
    const Edge e = gradient_edge(v);
    keep.nodes.push_back(e.node);
    id.push_back('g');
    append_bytes(id, e.node.get());
    append_bytes(id, e.slot);
  } else {
    id.push_back('c');
    append_bytes(id, v.value().raw_data());
  }
  return id;
}

bool append_key(std::string& key, const Variable& v, KeepAlive& keep) {
  if (!v.defined()) {
    key.push_back('u');
    return true;
  }
  if (v.requires_grad()) {
    const std::shared_ptr<Storage>& storage = v.value().storage();
    if (!storage->owns_data()) return false;
    key += identity(v, keep);
    append_bytes(key, storage.get());
    append_bytes(key, storage->version());
    keep.storages.push_back(storage);
    return true;
  }
  const std::optional<double> u = uniform_value(v);
  if (!u) return false;
  key.push_back('k');
  append_bytes(key, *u);
  append_bytes(key, v.dtype());
  for (int64_t d : v.shape()) append_bytes(key, d);
  key.push_back(';');
  return true;
}

Memo::Memo(const char* name, const VariableList& inputs, std::initializer_list<double> attributes) {
  if (!lean_recording() || !is_grad_enabled()) return;
  bool any_grad = false;
  for (const Variable& x : inputs) any_grad = any_grad || (x.defined() && x.requires_grad());
  if (!any_grad) return;
  key_ = name;
  key_.push_back('|');
  for (double a : attributes) append_bytes(key_, a);
  key_.push_back('|');
  for (const Variable& x : inputs)
    if (!append_key(key_, x, keep_)) return;
  active_ = true;
}

std::optional<Variable> Memo::find() const {
  if (!active_) return std::nullopt;
  auto it = t_table.entries.find(key_);
  if (it == t_table.entries.end()) return std::nullopt;
  const Entry& e = it->second;
  std::shared_ptr<Node> node = e.node.lock();
  std::shared_ptr<Storage> storage = e.storage.lock();
  // The inputs' memory must be the same buffers (an address reused by another
  // buffer would repeat the key), the output's value not written in place,
  // and the node's saved values current (a uniform constant matches by value,
  // but the node saved its own tensor, which may have changed since).
  bool valid = node && storage && storage->version() == e.version && node->saved_values_current();
  for (const auto& s : e.inputs) valid = valid && !s.expired();
  if (!valid) {
    t_table.entries.erase(it);
    return std::nullopt;
  }
  node->keep_saved_values();  // shared by graphs now: one's backward must not free what another needs
  return make_output(Tensor::from_storage(std::move(storage), e.shape, e.dtype), std::move(node), e.output_nr);
}

Variable Memo::remember(const Variable& y) const {
  if (active_ && y.defined() && y.grad_fn()) {
    const Tensor& v = y.value();
    Entry e{y.grad_fn(), {}, y.output_nr(), v.storage(), v.storage()->version(), v.shape(), v.dtype()};
    for (const auto& s : keep_.storages) e.inputs.push_back(s);
    t_table.entries[key_] = std::move(e);
    t_table.sweep_if_grown();
  }
  return y;
}

}  // namespace lean

}  // namespace nthgrad

// Function transforms (nthgrad/func.h), written on the engine's batched
// vector-Jacobian product. Forward mode is the double-vjp trick, so no op
// needs a second set of rules.
#include "nthgrad/func.h"

#include <algorithm>
#include <unordered_set>

#include "autograd/node.h"

#include "nthgrad/autograd.h"
#include "nthgrad/error.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/math.h"

namespace nthgrad::func {

namespace {

// Rows of a Jacobian are swept this many at a time, so the one-hot
// cotangents of a large output never all exist at once.
constexpr std::size_t kRowsPerSweep = 64;

Shape concat_shapes(const Shape& a, const Shape& b) {
  Shape s = a;
  s.insert(s.end(), b.begin(), b.end());
  return s;
}

Variable zeros(const Shape& shape, DType dtype) { return Variable(Tensor::zeros(shape, dtype)); }

// The k-th unit tensor of a shape.
Variable unit(const Shape& shape, DType dtype, int64_t k) {
  Tensor t = Tensor::zeros(shape, dtype);
  if (dtype == DType::Float64)
    t.data<double>()[k] = 1.0;
  else
    t.data<float>()[k] = 1.0f;
  return Variable(std::move(t));
}

void check_floating(const char* api, const char* what, const VariableList& xs) {
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].defined()) throw ValueError(detail::cat(api, ": ", what, "[", i, "] is undefined"));
    if (!is_floating(xs[i].dtype()))
      throw TypeError(detail::cat(api, ": ", what, "[", i, "] is ", dtype_name(xs[i].dtype()), " with shape ",
                                  shape_str(xs[i].shape()), "; transforms differentiate floating tensors only"));
  }
}

// `vs` must pair up with `like` in number, shape and dtype.
void check_like(const char* api, const char* what, const VariableList& vs, const char* like_what,
                const VariableList& like) {
  if (vs.size() != like.size())
    throw ValueError(detail::cat(api, ": got ", vs.size(), " ", what, " for ", like.size(), " ", like_what));
  for (std::size_t i = 0; i < vs.size(); ++i) {
    if (!vs[i].defined()) throw ValueError(detail::cat(api, ": ", what, "[", i, "] is undefined"));
    if (vs[i].shape() != like[i].shape())
      throw ValueError(detail::cat(api, ": ", what, "[", i, "] has shape ", shape_str(vs[i].shape()), " but ",
                                   like_what, "[", i, "] has shape ", shape_str(like[i].shape())));
    if (vs[i].dtype() != like[i].dtype())
      throw TypeError(detail::cat(api, ": ", what, "[", i, "] is ", dtype_name(vs[i].dtype()), " but ", like_what,
                                  "[", i, "] is ", dtype_name(like[i].dtype())));
  }
}

// f at the tracked point, with grad mode on whatever the caller's mode.
VariableList call(const char* api, const Function& f, const VariableList& xs) {
  VariableList ys;
  {
    GradModeGuard on(true);
    ys = f(xs);
  }
  if (ys.empty()) throw ValueError(detail::cat(api, ": f returned no outputs"));
  check_floating(api, "outputs", ys);
  return ys;
}

// Whether the results must be differentiable: grad mode is on and they can
// depend on something that requires grad outside the transform (a primal that
// requires grad, or a tensor f captured). Otherwise they are plain values,
// as torch.func's are for inputs that do not require grad.
bool results_record(const VariableList& primals, const VariableList& xs, const VariableList& ys) {
  if (!is_grad_enabled()) return false;
  for (const Variable& p : primals)
    if (p.requires_grad()) return true;
  // Every x is a fresh leaf here: look for another leaf below the outputs.
  std::vector<const VariableImpl*> ours;
  for (const Variable& x : xs) ours.push_back(x.impl());
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  for (const Variable& y : ys)
    if (y.grad_fn()) stack.push_back(y.grad_fn().get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    if (n->is_accumulator()) {
      auto leaf = static_cast<AccumulateGrad*>(n)->leaf();
      if (std::find(ours.begin(), ours.end(), leaf.get()) == ours.end()) return true;
      continue;
    }
    for (const Edge& e : n->next())
      if (e.node) stack.push_back(e.node.get());
  }
  return false;
}

// What the caller gets back: with recording off, the values without graphs.
VariableList returned(const VariableList& ys, bool create) {
  if (create) return ys;
  VariableList out;
  for (const Variable& y : ys) out.push_back(y.detach());
  return out;
}

// J^T row for each row of cotangents (one per output), zeros for inputs no
// output depends on. Outputs that do not require grad (constants of the
// inputs) contribute nothing.
std::vector<VariableList> pull_back(const VariableList& outputs, const VariableList& inputs,
                                    const std::vector<VariableList>& rows, bool retain, bool create) {
  VariableList outs;
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].requires_grad()) {
      outs.push_back(outputs[i]);
      kept.push_back(i);
    }
  std::vector<VariableList> result;
  if (!outs.empty()) {
    std::vector<VariableList> kept_rows;
    kept_rows.reserve(rows.size());
    for (const VariableList& row : rows) {
      VariableList r;
      for (std::size_t i : kept) r.push_back(row[i]);
      kept_rows.push_back(std::move(r));
    }
    result = vjp_batch(outs, inputs, kept_rows, retain, create, /*allow_unused=*/true);
  } else {
    result.assign(rows.size(), VariableList(inputs.size()));
  }
  for (VariableList& r : result)
    for (std::size_t j = 0; j < inputs.size(); ++j)
      if (!r[j].defined()) r[j] = zeros(inputs[j].shape(), inputs[j].dtype());
  return result;
}

// The rows of d(output)/d(inputs) for every element of one output, each
// stacked into a block of shape output.shape + inputs[j].shape. The graph is
// kept after the last row when `keep` (another sweep shares it) or `create`.
VariableList jacobian_blocks(const Variable& output, const VariableList& inputs, bool create, bool keep) {
  const int64_t m = output.numel();
  std::vector<VariableList> columns(inputs.size());  // per input: the m rows
  for (int64_t start = 0; start < m; start += static_cast<int64_t>(kRowsPerSweep)) {
    const int64_t stop = std::min<int64_t>(m, start + static_cast<int64_t>(kRowsPerSweep));
    std::vector<VariableList> rows;
    for (int64_t k = start; k < stop; ++k) rows.push_back({unit(output.shape(), output.dtype(), k)});
    const bool retain = create || keep || stop < m;
    std::vector<VariableList> got = pull_back({output}, inputs, rows, retain, create);
    for (VariableList& r : got)
      for (std::size_t j = 0; j < inputs.size(); ++j) columns[j].push_back(std::move(r[j]));
  }
  VariableList blocks;
  for (std::size_t j = 0; j < inputs.size(); ++j) {
    const Shape shape = concat_shapes(output.shape(), inputs[j].shape());
    blocks.push_back(m == 0 || inputs[j].numel() == 0 ? zeros(shape, inputs[j].dtype())
                                                      : reshape(stack(columns[j], 0), shape));
  }
  return blocks;
}

// The gradient of one-element y with respect to xs; recorded (and the graph
// kept) when `record`, as the second sweep of hessian, hvp and vhp needs.
VariableList gradient(const char* api, const Variable& y, const VariableList& xs, bool record) {
  if (y.numel() != 1)
    throw ValueError(detail::cat(api, ": f must return a one-element tensor to take its gradient, got shape ",
                                 shape_str(y.shape()), "; use jacrev or vjp for other outputs"));
  return pull_back({y}, xs, {{Variable()}}, record, record)[0];
}

// f evaluated at the tracked primals, and whether the results record.
struct Traced {
  VariableList xs, ys;
  bool create;
};
Traced trace(const char* api, const Function& f, const VariableList& primals) {
  check_floating(api, "primals", primals);
  Traced t;
  t.xs = track(primals);
  t.ys = call(api, f, t.xs);
  t.create = results_record(primals, t.xs, t.ys);
  return t;
}

// The transposed linear map u -> J^T u of `ys` over `xs`, with u a dummy
// cotangent per output (a leaf of zeros), recorded so that it can be
// differentiated in u: the double-vjp trick of jvp, jacfwd and hvp.
struct Transposed {
  VariableList us, jt_u;
};
Transposed transposed(const VariableList& ys, const VariableList& xs) {
  Transposed t;
  for (const Variable& y : ys) t.us.push_back(Variable(Tensor::zeros(y.shape(), y.dtype()), true));
  t.jt_u = pull_back(ys, xs, {t.us}, /*retain=*/true, /*create=*/true)[0];
  return t;
}

}  // namespace

VariableList track(const VariableList& primals) {
  check_floating("track", "primals", primals);
  GradModeGuard on(true);
  VariableList xs;
  xs.reserve(primals.size());
  for (const Variable& p : primals) xs.push_back(p.requires_grad() ? identity(p) : Variable(p.value(), true));
  return xs;
}

ValueAndGrad value_and_grad(const Function& f, const VariableList& primals, const char* api) {
  const auto [xs, ys, create] = trace(api, f, primals);
  VariableList gs = gradient(api, ys[0], xs, create);
  return {returned(ys, create), gs};
}

Vjp vjp(const Function& f, const VariableList& primals) {
  const Traced t = trace("vjp", f, primals);
  auto pull = [t](const VariableList& cotangents) {
    check_like("vjp", "cotangents", cotangents, "outputs", t.ys);
    return pull_back(t.ys, t.xs, {cotangents}, /*retain=*/true, t.create)[0];
  };
  return {returned(t.ys, t.create), pull};
}

std::pair<VariableList, VariableList> jvp(const Function& f, const VariableList& primals,
                                          const VariableList& tangents) {
  check_like("jvp", "tangents", tangents, "primals", primals);
  const auto [xs, ys, create] = trace("jvp", f, primals);
  const auto [us, jt_u] = transposed(ys, xs);
  // J t = d<J^T u, t>/du.
  VariableList jv = pull_back(jt_u, us, {tangents}, create, create)[0];
  return {returned(ys, create), jv};
}

VariableList jacrev(const Function& f, const VariableList& primals) {
  const auto [xs, ys, create] = trace("jacrev", f, primals);
  VariableList blocks;
  for (std::size_t i = 0; i < ys.size(); ++i) {
    VariableList b = jacobian_blocks(ys[i], xs, create, /*keep=*/i + 1 < ys.size());
    blocks.insert(blocks.end(), b.begin(), b.end());
  }
  return blocks;
}

VariableList jacfwd(const Function& f, const VariableList& primals) {
  const auto [xs, ys, create] = trace("jacfwd", f, primals);
  const auto [us, jt_u] = transposed(ys, xs);
  // Column block j of J (J_ij for every output i) is the Jacobian of the
  // linear map u -> (J^T u)_j, transposed: one sweep per element of x_j.
  std::vector<VariableList> by_primal;  // [j][i]: d y_i / d x_j as y_i.shape + x_j.shape
  for (std::size_t j = 0; j < xs.size(); ++j) {
    VariableList rows = jacobian_blocks(jt_u[j], us, create, /*keep=*/j + 1 < xs.size());  // [i]: x_j.shape + y_i.shape
    VariableList cols;
    for (std::size_t i = 0; i < ys.size(); ++i) {
      const int64_t nx = xs[j].ndim(), ny = ys[i].ndim();
      Axes perm;
      for (int64_t a = 0; a < ny; ++a) perm.push_back(nx + a);
      for (int64_t a = 0; a < nx; ++a) perm.push_back(a);
      cols.push_back(transpose(rows[i], perm));
    }
    by_primal.push_back(std::move(cols));
  }
  VariableList blocks;
  for (std::size_t i = 0; i < ys.size(); ++i)
    for (std::size_t j = 0; j < xs.size(); ++j) blocks.push_back(by_primal[j][i]);
  return blocks;
}

VariableList hessian(const Function& f, const VariableList& primals) {
  const auto [xs, ys, create] = trace("hessian", f, primals);
  const VariableList gs = gradient("hessian", ys[0], xs, /*record=*/true);
  VariableList blocks;
  for (std::size_t i = 0; i < gs.size(); ++i) {
    VariableList b = jacobian_blocks(gs[i], xs, create, /*keep=*/i + 1 < gs.size());
    blocks.insert(blocks.end(), b.begin(), b.end());
  }
  return blocks;
}

std::pair<Variable, VariableList> hvp(const Function& f, const VariableList& primals, const VariableList& tangents) {
  check_like("hvp", "tangents", tangents, "primals", primals);
  const auto [xs, ys, create] = trace("hvp", f, primals);
  const VariableList gs = gradient("hvp", ys[0], xs, /*record=*/true);
  // Forward over reverse: the jvp of x -> grad f(x) by the double-vjp trick.
  const auto [us, ht_u] = transposed(gs, xs);
  VariableList hv = pull_back(ht_u, us, {tangents}, create, create)[0];
  return {returned({ys[0]}, create)[0], hv};
}

std::pair<Variable, VariableList> vhp(const Function& f, const VariableList& primals, const VariableList& v,
                                      const char* api) {
  check_like(api, "v", v, "primals", primals);
  const auto [xs, ys, create] = trace(api, f, primals);
  const VariableList gs = gradient(api, ys[0], xs, /*record=*/true);
  VariableList vh = pull_back(gs, xs, {v}, create, create)[0];
  return {returned({ys[0]}, create)[0], vh};
}

namespace {
Function lift(const UnaryFunction& f) {
  return [f](const VariableList& xs) { return VariableList{f(xs[0])}; };
}
}  // namespace

Variable grad(const UnaryFunction& f, const Variable& x) { return value_and_grad(lift(f), {x}, "grad").grads[0]; }
Variable jacobian(const UnaryFunction& f, const Variable& x) { return jacrev(lift(f), {x})[0]; }
Variable hessian(const UnaryFunction& f, const Variable& x) { return hessian(lift(f), {x})[0]; }
std::pair<Variable, Variable> hvp(const UnaryFunction& f, const Variable& x, const Variable& v) {
  auto [y, hv] = hvp(lift(f), {x}, {v});
  return {y, hv[0]};
}

}  // namespace nthgrad::func

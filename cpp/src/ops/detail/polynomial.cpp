// The polynomial op of lean derivative graphs (see polynomial.h).
#include "ops/detail/polynomial.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>

#include "autograd/lean.h"
#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/error.h"

namespace nthgrad::detail {

namespace {

// Inlining stops where a polynomial would outgrow these: beyond them the
// child stays an atom (a node of its own).
constexpr std::size_t kMaxTerms = 64;
constexpr std::size_t kMaxAtoms = 16;
constexpr int kMaxPower = 64;

struct Term {
  double coef;
  std::vector<int> powers;
};

// The coefficients and powers of a recorded polynomial; its atoms are the
// node's inputs.
struct Form {
  std::vector<double> coef;
  std::vector<std::vector<int>> powers;
};

class PolynomialNode : public Node {
 public:
  PolynomialNode(VariableList atoms, const std::vector<Tensor>& outputs, Rule rule, std::shared_ptr<const Form> f)
      : Node("polynomial", std::move(atoms), outputs, kSavesInputs, std::move(rule)), form(std::move(f)) {}
  std::shared_ptr<const Form> form;
};

// The polynomial node v is the output of, if any (and still differentiable).
const PolynomialNode* polynomial_node(const Variable& v) {
  if (!v.requires_grad() || !v.grad_fn() || v.output_nr() != 0) return nullptr;
  auto* node = dynamic_cast<const PolynomialNode*>(v.grad_fn().get());
  return node && !node->released() ? node : nullptr;
}

// terms * terms, like terms not yet combined.
std::vector<Term> multiply(const std::vector<Term>& a, const std::vector<Term>& b) {
  std::vector<Term> out;
  out.reserve(a.size() * b.size());
  for (const Term& s : a)
    for (const Term& t : b) {
      Term r{s.coef * t.coef, s.powers};
      for (std::size_t i = 0; i < t.powers.size(); ++i) r.powers[i] += t.powers[i];
      out.push_back(std::move(r));
    }
  return out;
}

// Replaces atom i by the polynomial it is the output of, when that keeps
// within the limits. Returns whether it did.
bool inline_atom(std::size_t i, VariableList& atoms, std::vector<Term>& terms) {
  const PolynomialNode* child = polynomial_node(atoms[i]);
  if (!child) return false;
  const std::size_t child_terms = child->form->coef.size();
  double expanded = 0;  // terms after expansion, before combining
  for (const Term& t : terms) {
    if (t.powers[i] < 0) return false;
    expanded += std::pow(static_cast<double>(child_terms), t.powers[i]);
  }
  const VariableList child_atoms = child->saved_inputs();
  if (expanded > kMaxTerms || atoms.size() - 1 + child_atoms.size() > kMaxAtoms) return false;

  const std::size_t base = atoms.size();
  atoms.insert(atoms.end(), child_atoms.begin(), child_atoms.end());
  std::vector<Term> child_as_terms;  // over the enlarged atom list
  for (std::size_t t = 0; t < child_terms; ++t) {
    Term c{child->form->coef[t], std::vector<int>(atoms.size(), 0)};
    std::copy(child->form->powers[t].begin(), child->form->powers[t].end(), c.powers.begin() + base);
    child_as_terms.push_back(std::move(c));
  }
  std::vector<Term> out;
  for (Term& t : terms) {
    const int q = t.powers[i];
    t.powers[i] = 0;
    t.powers.resize(atoms.size(), 0);
    std::vector<Term> product{t};
    for (int k = 0; k < q; ++k) product = multiply(product, child_as_terms);
    out.insert(out.end(), product.begin(), product.end());
  }
  terms = std::move(out);
  return true;
}

// Folds a constant of one value into the coefficients.
bool fold_uniform(std::size_t i, const VariableList& atoms, std::vector<Term>& terms) {
  const std::optional<double> u = uniform_value(atoms[i]);
  if (!u) return false;
  for (const Term& t : terms)
    if (*u == 0 && t.powers[i] < 0) return false;  // 0^-p: leave it to the kernel
  for (Term& t : terms) {
    if (t.powers[i] != 0) t.coef *= std::pow(*u, t.powers[i]);
    t.powers[i] = 0;
  }
  return true;
}

// The normal form: substitutions, merged atoms, combined terms, unused atoms
// dropped. Atom order is first appearance; terms are sorted by powers.
void normalize(VariableList& atoms, std::vector<Term>& terms) {
  lean::KeepAlive keep;  // the identities below name these nodes
  for (std::size_t i = 0; i < atoms.size(); ++i)  // atoms may grow: inlined children come at the end
    if (!fold_uniform(i, atoms, terms)) inline_atom(i, atoms, terms);

  std::map<std::string, std::size_t> first;  // identity -> first index
  for (std::size_t i = 0; i < atoms.size(); ++i) {
    auto [it, fresh] = first.emplace(lean::identity(atoms[i], keep), i);
    if (fresh) continue;
    for (Term& t : terms) {
      t.powers[it->second] += t.powers[i];
      t.powers[i] = 0;
    }
  }
  std::map<std::vector<int>, double> combined;
  for (const Term& t : terms) combined[t.powers] += t.coef;

  std::vector<bool> used(atoms.size(), false);
  for (const auto& [powers, coef] : combined)
    if (coef != 0)
      for (std::size_t i = 0; i < powers.size(); ++i) used[i] = used[i] || powers[i] != 0;
  VariableList kept;
  for (std::size_t i = 0; i < atoms.size(); ++i)
    if (used[i]) kept.push_back(atoms[i]);
  terms.clear();
  for (const auto& [powers, coef] : combined) {
    if (coef == 0) continue;
    Term t{coef, {}};
    for (std::size_t i = 0; i < powers.size(); ++i)
      if (used[i]) t.powers.push_back(powers[i]);
    terms.push_back(std::move(t));
  }
  atoms = std::move(kept);
}

// The hash-consing key of the normal form, independent of atom order; empty
// when an atom has no key.
std::string canonical_key(const VariableList& atoms, const std::vector<Term>& terms, lean::KeepAlive& keep) {
  std::vector<std::string> keys(atoms.size());
  for (std::size_t i = 0; i < atoms.size(); ++i)
    if (!lean::append_key(keys[i], atoms[i], keep)) return {};
  std::vector<std::size_t> order(atoms.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return keys[a] < keys[b]; });
  std::vector<std::pair<std::vector<int>, double>> rows;
  for (const Term& t : terms) {
    std::vector<int> p;
    for (std::size_t i : order) p.push_back(t.powers[i]);
    rows.emplace_back(std::move(p), t.coef);
  }
  std::sort(rows.begin(), rows.end());
  std::string key = "polynomial|";
  for (std::size_t i : order) key += keys[i] + "|";
  for (const auto& [p, c] : rows) {
    lean::append_bytes(key, c);
    for (int q : p) lean::append_bytes(key, q);
  }
  return key;
}

Variable derivative(const Form& form, const Ctx& c, std::size_t i);

Variable record_polynomial(VariableList atoms, std::vector<Term> terms) {
  std::shared_ptr<Form> form = std::make_shared<Form>();
  std::vector<Tensor> values;
  for (const Variable& a : atoms) values.push_back(a.value());
  std::vector<int32_t> flat;
  for (const Term& t : terms) {
    form->coef.push_back(t.coef);
    form->powers.push_back(t.powers);
    flat.insert(flat.end(), t.powers.begin(), t.powers.end());
  }
  Tensor y = kernels::polynomial(values, form->coef, flat);
  bool track = is_grad_enabled();
  if (track) {
    track = false;
    for (const Variable& a : atoms) track = track || a.requires_grad();
  }
  if (!track) return Variable(std::move(y));
  std::shared_ptr<const Form> frozen = form;
  Rule rule = [frozen](const Ctx& c) {
    VariableList g(c.num_inputs());
    for (std::size_t i = 0; i < g.size(); ++i)
      if (c.needs(i)) g[i] = derivative(*frozen, c, i);
    return g;
  };
  auto node = std::make_shared<PolynomialNode>(std::move(atoms), std::vector<Tensor>{y}, std::move(rule), frozen);
  return make_output(std::move(y), node, 0);
}

// g * dP/da_i, over the atoms and g.
Variable derivative(const Form& form, const Ctx& c, std::size_t i) {
  Polynomial d;
  for (std::size_t k = 0; k < c.num_inputs(); ++k) d.atoms.push_back(c.in(k));
  d.atoms.push_back(c.gy());
  for (std::size_t t = 0; t < form.coef.size(); ++t) {
    const int p = form.powers[t][i];
    if (p == 0) continue;
    std::vector<int> powers = form.powers[t];
    powers[i] -= 1;
    powers.push_back(1);
    d.coef.push_back(form.coef[t] * p);
    d.powers.push_back(std::move(powers));
  }
  return polynomial(std::move(d));
}

bool eligible(const Variable& x) {
  return lean_recording() && is_grad_enabled() && x.defined() && is_floating(x.dtype());
}

bool eligible(const Variable& x0, const Variable& x1) {
  return eligible(x0) && eligible(x1) && x0.dtype() == x1.dtype() && x0.shape() == x1.shape() &&
         (x0.requires_grad() || x1.requires_grad());
}

}  // namespace

Variable polynomial(Polynomial p) {
  const Shape shape = p.atoms.front().shape();
  const DType dtype = p.atoms.front().dtype();
  VariableList atoms = std::move(p.atoms);
  std::vector<Term> terms;
  for (std::size_t t = 0; t < p.coef.size(); ++t) terms.push_back({p.coef[t], std::move(p.powers[t])});
  normalize(atoms, terms);

  if (terms.empty()) return Variable(Tensor::zeros(shape, dtype));
  if (atoms.empty()) return Variable(Tensor::full(shape, terms[0].coef, dtype));
  // One atom as is: that atom, no node -- except a leaf that requires grad,
  // which a rule sees as a copy tied to the leaf's sink only while the graph
  // lives, so it must not escape as a value.
  if (terms.size() == 1 && terms[0].coef == 1 && atoms.size() == 1 && terms[0].powers[0] == 1 &&
      !(atoms[0].requires_grad() && atoms[0].is_leaf()))
    return atoms[0];
  for (const Term& t : terms)
    for (int q : t.powers)
      if (std::abs(q) > kMaxPower)
        throw RuntimeError(detail::cat("polynomial: a power of ", q, " in a lean derivative graph (internal limit ",
                                       kMaxPower, ")"));

  lean::KeepAlive keep;
  std::string key = lean_recording() ? canonical_key(atoms, terms, keep) : std::string();
  lean::Memo memo(std::move(key), std::move(keep));
  if (auto hit = memo.find()) return *hit;
  return memo.remember(record_polynomial(std::move(atoms), std::move(terms)));
}

std::optional<Variable> lean_sum(const Variable& x0, const Variable& x1, double sign) {
  if (!eligible(x0, x1)) return std::nullopt;
  return polynomial({{x0, x1}, {1.0, sign}, {{1, 0}, {0, 1}}});
}

std::optional<Variable> lean_product(const Variable& x0, const Variable& x1) {
  if (!eligible(x0, x1)) return std::nullopt;
  return polynomial({{x0, x1}, {1.0}, {{1, 1}}});
}

std::optional<Variable> lean_affine(const Variable& x, double scale, double shift) {
  if (!eligible(x) || !x.requires_grad() || !std::isfinite(scale) || !std::isfinite(shift)) return std::nullopt;
  return polynomial({{x}, {scale, shift}, {{1}, {0}}});
}

std::optional<Variable> lean_power(const Variable& x, double exponent) {
  if (!eligible(x) || !x.requires_grad() || exponent != std::floor(exponent) || std::abs(exponent) > 8)
    return std::nullopt;
  return polynomial({{x}, {1.0}, {{static_cast<int>(exponent)}}});
}

}  // namespace nthgrad::detail

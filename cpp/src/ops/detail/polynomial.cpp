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
  bool expanded = false;  // a sum was multiplied out into this term
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
      : Node("polynomial", std::move(atoms), outputs, kSavesInputs, std::move(rule)),
        form(std::move(f)),
        output_version(outputs[0].storage()->version()) {}
  std::shared_ptr<const Form> form;
  uint64_t output_version;  // of the value when computed: a later write makes the form disagree with it
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
      Term r{s.coef * t.coef, s.powers, s.expanded};
      for (std::size_t i = 0; i < t.powers.size(); ++i) r.powers[i] += t.powers[i];
      out.push_back(std::move(r));
    }
  return out;
}

bool multi_term(const Variable& v) {
  const PolynomialNode* node = polynomial_node(v);
  return node && node->form->coef.size() > 1;
}

// Replaces atom i by the polynomial it is the output of, in the terms where
// that is safe and within the limits. A single-term child (a product) may be
// multiplied in anywhere. A sum is multiplied out only into a term that holds
// it to the first power and holds no other sum, and only once per term:
// expanding (a + b)(c + d) or (a + b)^2 would turn the rounding error of
// computing the factors into the product of their condition numbers (a
// cancellation in each factor would multiply). Elsewhere the child stays an
// atom, a node of its own.
void inline_atom(std::size_t i, VariableList& atoms, std::vector<Term>& terms) {
  const PolynomialNode* child = polynomial_node(atoms[i]);
  // A child whose saved inputs (or whose own value) were written in place
  // since would no longer match its form: it stays an atom (its value is kept).
  if (!child || !child->saved_values_current() || atoms[i].value().storage()->version() != child->output_version)
    return;
  const Form& form = *child->form;
  const std::size_t m = form.coef.size();
  int child_power = 0;
  for (const auto& p : form.powers)
    for (int q : p) child_power = std::max(child_power, std::abs(q));

  std::vector<bool> take(terms.size(), false);
  double expanded = 0;  // terms after expansion, before combining
  bool any = false;
  for (std::size_t t = 0; t < terms.size(); ++t) {
    const int p = terms[t].powers[i];
    bool ok = p > 0 && child_power * p <= kMaxPower;
    if (ok && m > 1) {
      ok = p == 1 && !terms[t].expanded;
      for (std::size_t j = 0; ok && j < atoms.size(); ++j)
        if (j != i && terms[t].powers[j] != 0 && multi_term(atoms[j])) ok = false;
    }
    take[t] = ok;
    any = any || ok;
    expanded += ok ? std::pow(static_cast<double>(m), p) : 1.0;
  }
  if (!any || expanded > kMaxTerms) return;
  const VariableList child_atoms = child->saved_inputs();
  if (atoms.size() + child_atoms.size() > kMaxAtoms + 1) return;

  const std::size_t base = atoms.size();
  atoms.insert(atoms.end(), child_atoms.begin(), child_atoms.end());
  std::vector<Term> child_as_terms;  // over the enlarged atom list
  for (std::size_t t = 0; t < m; ++t) {
    Term c{form.coef[t], std::vector<int>(atoms.size(), 0)};
    std::copy(form.powers[t].begin(), form.powers[t].end(), c.powers.begin() + base);
    child_as_terms.push_back(std::move(c));
  }
  std::vector<Term> out;
  for (std::size_t k = 0; k < terms.size(); ++k) {
    Term t = std::move(terms[k]);
    t.powers.resize(atoms.size(), 0);
    if (!take[k]) {
      out.push_back(std::move(t));
      continue;
    }
    const int q = t.powers[i];
    t.powers[i] = 0;
    t.expanded = t.expanded || m > 1;
    std::vector<Term> product{t};
    for (int r = 0; r < q; ++r) product = multiply(product, child_as_terms);
    out.insert(out.end(), product.begin(), product.end());
  }
  terms = std::move(out);
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

  // The sign of each atom's first appearance, before merging can cancel its
  // powers (x^2 * x^-2): such an atom keeps a guard term too (below).
  std::vector<int> appeared(atoms.size(), 0);
  for (const Term& t : terms)
    for (std::size_t i = 0; i < atoms.size(); ++i)
      if (appeared[i] == 0 && t.powers[i] != 0) appeared[i] = t.powers[i] > 0 ? 1 : -1;
  std::map<std::string, std::size_t> first;  // identity -> first index
  for (std::size_t i = 0; i < atoms.size(); ++i) {
    auto [it, fresh] = first.emplace(lean::identity(atoms[i], keep), i);
    if (fresh) continue;
    for (Term& t : terms) {
      t.powers[it->second] += t.powers[i];
      t.powers[i] = 0;
    }
    if (appeared[it->second] == 0) appeared[it->second] = appeared[i];
    appeared[i] = 0;
  }
  std::map<std::vector<int>, std::pair<double, bool>> combined;  // powers -> coefficient, expanded
  for (const Term& t : terms) {
    auto& c = combined[t.powers];
    c.first += t.coef;
    c.second = c.second || t.expanded;
  }

  // An atom left only in terms whose coefficients cancelled (exp(x) exp(-x)
  // differentiated) or were zeroed by a constant keeps a guard term 0 * a (or
  // 0 / a): a NaN or inf in it still gives NaN, as computing without the
  // algebra would, instead of vanishing.
  std::vector<bool> used(atoms.size(), false);
  std::vector<int> guard(atoms.size(), 0);
  for (const auto& [powers, c] : combined)
    for (std::size_t i = 0; i < powers.size(); ++i) {
      if (powers[i] == 0) continue;
      if (c.first != 0) used[i] = true;
      else if (guard[i] == 0) guard[i] = powers[i] > 0 ? 1 : -1;
    }
  for (std::size_t i = 0; i < atoms.size(); ++i)
    if (!used[i] && guard[i] == 0) guard[i] = appeared[i];
  VariableList kept;
  std::vector<std::size_t> index(atoms.size(), 0);
  for (std::size_t i = 0; i < atoms.size(); ++i)
    if (used[i] || guard[i] != 0) {
      index[i] = kept.size();
      kept.push_back(atoms[i]);
    }
  terms.clear();
  for (const auto& [powers, c] : combined) {
    if (c.first == 0) continue;
    Term t{c.first, std::vector<int>(kept.size(), 0), c.second};
    for (std::size_t i = 0; i < powers.size(); ++i)
      if (used[i] || guard[i] != 0) t.powers[index[i]] = powers[i];
    terms.push_back(std::move(t));
  }
  for (std::size_t i = 0; i < atoms.size(); ++i)
    if (!used[i] && guard[i] != 0) {
      Term t{0.0, std::vector<int>(kept.size(), 0)};
      t.powers[index[i]] = guard[i];
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

// The value of a polynomial as given: atoms and terms as the caller asked,
// before normalization.
Tensor evaluate(const Polynomial& p) {
  std::vector<Tensor> values;
  for (const Variable& a : p.atoms) values.push_back(a.value());
  std::vector<int32_t> flat;
  for (const auto& powers : p.powers) flat.insert(flat.end(), powers.begin(), powers.end());
  return kernels::polynomial(values, p.coef, flat);
}

// Records the normal form (atoms, terms) with the value `y`. The value was
// computed from the request, not from the normal form: evaluating the
// inlined form would recompute every inlined child from its atoms at each
// node of a chain (quadratic work), and round differently from the plain
// graph. The normal form is what the rule differentiates.
Variable record_polynomial(VariableList atoms, std::vector<Term> terms, Tensor y) {
  std::shared_ptr<Form> form = std::make_shared<Form>();
  for (const Term& t : terms) {
    form->coef.push_back(t.coef);
    form->powers.push_back(t.powers);
  }
  bool track = false;  // grad mode is on here (polynomial() returned earlier otherwise)
  for (const Variable& a : atoms) track = track || a.requires_grad();
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

// g * dP/da_i: dP/da_i over the atoms, then its product with g (two
// polynomials, so that two sums are not multiplied out: see inline_atom).
Variable derivative(const Form& form, const Ctx& c, std::size_t i) {
  Polynomial d;
  for (std::size_t k = 0; k < c.num_inputs(); ++k) d.atoms.push_back(c.in(k));
  for (std::size_t t = 0; t < form.coef.size(); ++t) {
    const int p = form.powers[t][i];
    if (p == 0) continue;
    std::vector<int> powers = form.powers[t];
    powers[i] -= 1;
    d.coef.push_back(form.coef[t] * p);
    d.powers.push_back(std::move(powers));
  }
  const Variable dp = polynomial(std::move(d));
  return polynomial({{c.gy(), dp}, {1.0}, {{1, 1}}});
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
  // Not recording (a plain backward through a polynomial node): the value is
  // all there is, so no normal form is built.
  if (!is_grad_enabled()) return Variable(evaluate(p));
  const Shape shape = p.atoms.front().shape();
  const DType dtype = p.atoms.front().dtype();
  const Polynomial request = p;
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

  lean::KeepAlive keep;
  std::string key = lean_recording() ? canonical_key(atoms, terms, keep) : std::string();
  lean::Memo memo(std::move(key), std::move(keep));
  if (auto hit = memo.find()) return *hit;
  return memo.remember(record_polynomial(std::move(atoms), std::move(terms), evaluate(request)));
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
  if (shift == 0) return polynomial({{x}, {scale}, {{1}}});  // no + 0: it would turn -0.0 into +0.0
  return polynomial({{x}, {scale, shift}, {{1}, {0}}});
}

std::optional<Variable> lean_power(const Variable& x, double exponent) {
  if (!eligible(x) || !x.requires_grad() || exponent != std::floor(exponent) || std::abs(exponent) > 8)
    return std::nullopt;
  return polynomial({{x}, {1.0}, {{static_cast<int>(exponent)}}});
}

}  // namespace nthgrad::detail

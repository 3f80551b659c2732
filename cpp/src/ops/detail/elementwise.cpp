// The fused-backward elementwise pattern (see elementwise.h).
#include "ops/detail/elementwise.h"

#include "autograd/lean.h"
#include "nthgrad/ops/math.h"

namespace nthgrad::detail {

Variable unary(const UnaryFn& f, const Variable& x) {
  check::floating(f.name, "x", x);
  lean::Memo memo(f.name, {x}, {f.a, f.b});
  if (auto hit = memo.find()) return *hit;
  Tensor y = kernels::unary(f.kernel, x.value(), f.a, f.b);
  return memo.remember(
      record(f.name, {x}, y, f.derivative_in_output ? kSavesOutput : saves_input(0), [f](const Ctx& c) {
        return grads(unary_backward(f, c.gy(), f.derivative_in_output ? c.out() : c.in(0)));
      }));
}

// f_backward(gy, z) = gy * f'(z); g_gy = f_backward(g, z), g_z = g * gy * (d f'/dz)(z)
namespace {
// The fused op itself: one kernel, recorded (and, while a backward pass
// records, hash-consed) as "<f>_backward".
Variable fused_backward(const UnaryFn& f, const Variable& g, const Variable& z) {
  lean::Memo memo(f.backward_name, {g, z}, {f.a, f.b});
  if (auto hit = memo.find()) return *hit;
  Tensor gx = kernels::unary_grad(f.kernel, g.value(), z.value(), f.a, f.b);
  return memo.remember(
      record(f.backward_name, {g, z}, gx, f.second ? kSavesInputs : saves_input(1), [f](const Ctx& c) {
        Variable g_gy, g_z;
        if (c.needs(0)) g_gy = unary_backward(f, c.gy(), c.in(1));
        if (c.needs(1) && f.second) g_z = mul2(mul2(c.gy(), c.in(0)), f.second(c.in(1), f.a, f.b));
        return grads(g_gy, g_z);
      }));
}
}  // namespace

// While a backward pass records (lean derivative graphs), gy * f'(z) is a
// polynomial of gy and the atom f'(z) = f_backward(1, z), recorded once per z,
// so that the nested rules of later orders meet the same atom again. Where f'
// is piecewise constant (no `second`: relu, ...) the fused op stays: nothing
// of z is differentiated, so there is nothing to share.
Variable unary_backward(const UnaryFn& f, const Variable& gy, const Variable& z) {
  const Variable g = gy.dtype() == z.dtype() ? gy : cast(gy, z.dtype());
  if (f.second && lean_recording() && is_grad_enabled() && z.numel() > 0 && g.shape() == z.shape() &&
      (g.requires_grad() || z.requires_grad()) && uniform_value(g) != 1.0)
    return mul2(g, fused_backward(f, Variable(Tensor::ones(z.shape(), z.dtype())), z));
  return fused_backward(f, g, z);
}

}  // namespace nthgrad::detail

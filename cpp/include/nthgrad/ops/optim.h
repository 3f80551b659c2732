#pragma once
// Fused optimizer updates (issue 9): one kernel pass per parameter and rule,
// writing the parameter and its state buffers in place. They never record a
// graph (the grad mode does not matter) and allocate nothing. The rules are
// PyTorch's single-tensor ones, in the same order of operations:
//   sgd:     d = g + wd p; b = first ? d : mu b + (1 - dampening) d;
//            d = nesterov ? d + mu b : b; p -= lr d
//   adam:    g += wd p (adamw instead: p *= 1 - lr wd); m += (1 - b1)(g - m);
//            v = b2 v + (1 - b2) g^2 (amsgrad: vmax = max(vmax, v), used as v);
//            p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//   rmsprop: g += wd p; s = a s + (1 - a) g^2; centered: ga += (1 - a)(g - ga),
//            avg = sqrt(s - ga^2) + eps, else sqrt(s) + eps;
//            momentum: b = mu b + g / avg, p -= lr b; else p -= lr g / avg
//   adagrad: g += wd p; s += g^2; p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)
// (maximize negates g first.) p must be a float leaf; grad and every buffer
// have p's shape, the buffers also its dtype (grad is cast). Written tensors
// must live in memory nthgrad owns and be distinct. Their storage versions
// are bumped, so a graph that saved the old p raises on backward.
#include <cstdint>

#include "nthgrad/variable.h"

namespace nthgrad {

struct SgdStep {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false, maximize = false;
  bool first_step = false;  // the momentum buffer starts as the first gradient
};
struct AdamStep {
  int64_t step = 1;  // 1 on the first update: bias corrections 1 - beta^step
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false;  // AdamW
  bool amsgrad = false, maximize = false;
};
struct RmspropStep {
  double lr = 0.01, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0;
  bool centered = false, maximize = false;
};
struct AdagradStep {
  int64_t step = 1;
  double lr = 0.01, lr_decay = 0, weight_decay = 0, eps = 1e-10;
  bool maximize = false;
};

// momentum_buffer: undefined when momentum is 0.
void sgd_step(Variable& p, const Variable& grad, Variable& momentum_buffer, const SgdStep& options);
// max_exp_avg_sq: undefined unless amsgrad.
void adam_step(Variable& p, const Variable& grad, Variable& exp_avg, Variable& exp_avg_sq,
               Variable& max_exp_avg_sq, const AdamStep& options);
// grad_avg: undefined unless centered; momentum_buffer: undefined when momentum is 0.
void rmsprop_step(Variable& p, const Variable& grad, Variable& square_avg, Variable& grad_avg,
                  Variable& momentum_buffer, const RmspropStep& options);
void adagrad_step(Variable& p, const Variable& grad, Variable& state_sum, const AdagradStep& options);

}  // namespace nthgrad

// Kernels of the optimizers: one pass over a parameter per step, updating the
// parameter and its state buffers in place with the update rule of PyTorch's
// single-tensor implementations (the same order of operations, in the
// parameter's dtype), so results agree with torch.optim to rounding.
#include <cmath>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

// The buffer's elements, or null when the rule does not use it.
template <typename T>
T* data_or_null(Tensor* t) {
  return t && t->defined() ? t->data<T>() : nullptr;
}

// Runs f(i) over the elements of p, split over the threads for large parameters.
template <typename F>
void each_element(int64_t n, const F& f) {
  cpu::parallel_for(0, n, cpu::kGrainSize, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) f(i);
  });
}

}  // namespace

void sgd_step(Tensor& p, const Tensor& grad, Tensor* momentum_buffer, const SgdStep& o) {
  cpu::dispatch_floating(p.dtype(), "sgd_step kernel", [&](auto tag) {
    using T = decltype(tag);
    T* pp = p.data<T>();
    const T* pg = grad.data<T>();
    T* pb = data_or_null<T>(momentum_buffer);
    const T lr = static_cast<T>(o.lr), mu = static_cast<T>(o.momentum), wd = static_cast<T>(o.weight_decay);
    const T keep_g = static_cast<T>(1 - o.dampening), sign = o.maximize ? T(-1) : T(1);
    each_element(p.numel(), [&](int64_t i) {
      T d = sign * pg[i];
      if (o.weight_decay != 0) d += wd * pp[i];
      if (pb) {
        pb[i] = o.first_step ? d : mu * pb[i] + keep_g * d;
        d = o.nesterov ? d + mu * pb[i] : pb[i];
      }
      pp[i] -= lr * d;
    });
  });
}

void adam_step(Tensor& p, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor* max_exp_avg_sq,
               const AdamStep& o) {
  cpu::dispatch_floating(p.dtype(), "adam_step kernel", [&](auto tag) {
    using T = decltype(tag);
    T* pp = p.data<T>();
    const T* pg = grad.data<T>();
    T* pm = exp_avg.data<T>();
    T* pv = exp_avg_sq.data<T>();
    T* pvmax = data_or_null<T>(max_exp_avg_sq);
    const double t = static_cast<double>(o.step);
    const T b1 = static_cast<T>(o.beta1), b2 = static_cast<T>(o.beta2), eps = static_cast<T>(o.eps);
    const T one_b1 = static_cast<T>(1 - o.beta1), one_b2 = static_cast<T>(1 - o.beta2);
    const T step_size = static_cast<T>(o.lr / (1 - std::pow(o.beta1, t)));
    const T bc2_sqrt = static_cast<T>(std::sqrt(1 - std::pow(o.beta2, t)));
    const T wd = static_cast<T>(o.weight_decay), decay = static_cast<T>(1 - o.lr * o.weight_decay);
    const T sign = o.maximize ? T(-1) : T(1);
    each_element(p.numel(), [&](int64_t i) {
      T g = sign * pg[i];
      if (o.weight_decay != 0) {
        if (o.decoupled_weight_decay)
          pp[i] *= decay;  // AdamW: p <- p (1 - lr wd)
        else
          g += wd * pp[i];  // Adam: L2 penalty in the gradient
      }
      pm[i] += one_b1 * (g - pm[i]);
      pv[i] = b2 * pv[i] + one_b2 * g * g;
      T v = pv[i];
      if (pvmax) v = pvmax[i] = std::max(pvmax[i], v);
      pp[i] -= step_size * (pm[i] / (std::sqrt(v) / bc2_sqrt + eps));
    });
  });
}

void rmsprop_step(Tensor& p, const Tensor& grad, Tensor& square_avg, Tensor* grad_avg, Tensor* momentum_buffer,
                  const RmspropStep& o) {
  cpu::dispatch_floating(p.dtype(), "rmsprop_step kernel", [&](auto tag) {
    using T = decltype(tag);
    T* pp = p.data<T>();
    const T* pg = grad.data<T>();
    T* ps = square_avg.data<T>();
    T* pa = data_or_null<T>(grad_avg);
    T* pb = data_or_null<T>(momentum_buffer);
    const T alpha = static_cast<T>(o.alpha), one_alpha = static_cast<T>(1 - o.alpha);
    const T lr = static_cast<T>(o.lr), eps = static_cast<T>(o.eps), wd = static_cast<T>(o.weight_decay);
    const T mu = static_cast<T>(o.momentum), sign = o.maximize ? T(-1) : T(1);
    each_element(p.numel(), [&](int64_t i) {
      T g = sign * pg[i];
      if (o.weight_decay != 0) g += wd * pp[i];
      ps[i] = alpha * ps[i] + one_alpha * g * g;
      T avg;
      if (pa) {  // centered: the variance estimate s - E[g]^2
        pa[i] += one_alpha * (g - pa[i]);
        avg = std::sqrt(ps[i] - pa[i] * pa[i]) + eps;
      } else {
        avg = std::sqrt(ps[i]) + eps;
      }
      if (pb) {
        pb[i] = mu * pb[i] + g / avg;
        pp[i] -= lr * pb[i];
      } else {
        pp[i] -= lr * (g / avg);
      }
    });
  });
}

void adagrad_step(Tensor& p, const Tensor& grad, Tensor& state_sum, const AdagradStep& o) {
  cpu::dispatch_floating(p.dtype(), "adagrad_step kernel", [&](auto tag) {
    using T = decltype(tag);
    T* pp = p.data<T>();
    const T* pg = grad.data<T>();
    T* ps = state_sum.data<T>();
    const T clr = static_cast<T>(o.lr / (1 + static_cast<double>(o.step - 1) * o.lr_decay));
    const T eps = static_cast<T>(o.eps), wd = static_cast<T>(o.weight_decay), sign = o.maximize ? T(-1) : T(1);
    each_element(p.numel(), [&](int64_t i) {
      T g = sign * pg[i];
      if (o.weight_decay != 0) g += wd * pp[i];
      ps[i] += g * g;
      pp[i] -= clr * (g / (std::sqrt(ps[i]) + eps));
    });
  });
}

}  // namespace nthgrad::kernels

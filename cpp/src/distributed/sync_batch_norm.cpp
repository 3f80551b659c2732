// sync_batch_normalization: the batch statistics of the ranks' batches
// together. Written with ops and the differentiable all_reduce, so its
// gradients of every order are those of the global batch: the backward of
// each all_reduce sums the ranks' gradients of the statistics.
#include <algorithm>
#include <cmath>
#include <string>

#include "distributed/mpi_detail.h"
#include "kernels/kernels.h"
#include "nthgrad/error.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/normalization.h"
#include "nthgrad/ops/reduction.h"
#include "nthgrad/shape.h"
#include "ops/detail/check.h"

namespace nthgrad::distributed {

namespace {

// batch_normalization's errors, named as this op's ("sync_batch_normalization: ...")
std::string renamed_text(const char* text) {
  const std::string t = text;
  return t.rfind("batch_normalization", 0) == 0 ? "sync_" + t : t;
}

template <typename F>
VariableList renamed(F&& f) {
  try {
    return f();
  } catch (const ValueError& e) {
    throw ValueError(renamed_text(e.what()));
  } catch (const TypeError& e) {
    throw TypeError(renamed_text(e.what()));
  } catch (const IndexError& e) {
    throw IndexError(renamed_text(e.what()));
  } catch (const RuntimeError& e) {
    throw RuntimeError(renamed_text(e.what()));
  }
}

}  // namespace

VariableList sync_batch_normalization(const Variable& x, const Variable& beta, const Variable& gamma,
                                      const Variable& mean_, const Variable& variance, const Communicator& comm,
                                      const std::string& group, const std::vector<int64_t>& axes, double decay_rate,
                                      double eps, bool batch_stat, bool output_stat) {
  const char* op = "sync_batch_normalization";
  Axes keep, reduce;
  int64_t n_local = 1;
  // this rank's arguments, checked before any communication (batch_stat agreed too: with it false no
  // rank communicates); a failure on one rank is raised on all
  detail::agree(comm.checked(op), op, Tensor(), batch_stat ? 1 : 0, [&] {
    if (group != "world")
      throw ValueError(nthgrad::detail::cat(op, ": group '", group, "' is not known; the group is 'world', the "
                                            "ranks of comm (for fewer ranks pass comm.group(ranks) as comm)"));
    if (!batch_stat) return;  // batch_normalization checks the rest
    check::floating(op, "x", x);
    keep = normalize_axes(op, axes, x.ndim());
    for (int64_t d = 0; d < x.ndim(); ++d)
      if (std::find(keep.begin(), keep.end(), d) == keep.end()) {
        reduce.push_back(d);
        n_local *= x.shape()[d];
      }
    Shape stat_shape = x.shape();
    for (int64_t d : reduce) stat_shape[d] = 1;
    for (const auto& [name, v] : {std::pair<const char*, const Variable*>{"beta", &beta}, {"gamma", &gamma},
                                  {"mean", &mean_}, {"variance", &variance}})
      if (v->defined() && (v->shape() != stat_shape || v->dtype() != x.dtype()))
        throw ValueError(nthgrad::detail::cat(op, ": ", name, " is ", dtype_name(v->dtype()), " of shape ",
                                              shape_str(v->shape()), " but x (", dtype_name(x.dtype()), " of shape ",
                                              shape_str(x.shape()), ") with axes ", shape_str(keep), " needs ",
                                              dtype_name(x.dtype()), " of shape ", shape_str(stat_shape)));
    if (!(eps >= 0) || !std::isfinite(eps))
      throw ValueError(nthgrad::detail::cat(op, ": eps must be finite and >= 0, got ", eps));
    if ((mean_.defined() || variance.defined()) && !(decay_rate >= 0 && decay_rate <= 1))
      throw ValueError(nthgrad::detail::cat(op, ": decay_rate must lie in [0, 1], got ", decay_rate));
    if (mean_.defined() && variance.defined() && mean_.value().storage() == variance.value().storage())
      throw RuntimeError(nthgrad::detail::cat(op, ": mean and variance are both updated in place and share memory; "
                                              "pass separate tensors"));
    if (mean_.defined()) check::writable(op, "mean", mean_);
    if (variance.defined()) check::writable(op, "variance", variance);
  });
  if (!batch_stat)  // the running statistics: nothing to share
    return renamed([&] {
      return batch_normalization(x, beta, gamma, mean_, variance, axes, decay_rate, eps, false, output_stat);
    });
  // the global count (ranks may hold batches of different sizes)
  Tensor count = Tensor::full({}, static_cast<double>(n_local), DType::Int64);
  comm.all_reduce_(count, ReduceOp::Sum);
  const int64_t n = count.data<int64_t>()[0];
  const double inv_n = 1.0 / static_cast<double>(n);
  auto global_mean = [&](const Variable& v) {
    return mul_scalar(comm.all_reduce(sum(v, reduce, true), ReduceOp::Sum), inv_n);
  };
  // two passes, as batch_normalization: the mean, then the mean square of x - mean
  Variable mu = global_mean(x);
  Variable xc = sub2(x, mu);
  Variable var = global_mean(mul2(xc, xc));
  VariableList out = renamed([&] {
    return batch_normalization(x, beta, gamma, mu, var, axes, decay_rate, eps, false, false);
  });
  if (n > 0 && (mean_.defined() || variance.defined())) {  // running statistics, outside the graph (checked above)
    if (mean_.defined()) {
      check::prepare_in_place(op, "mean", mean_);
      Tensor m = mean_.value();
      kernels::lerp_into(m, mu.value(), decay_rate);
    }
    if (variance.defined()) {
      check::prepare_in_place(op, "variance", variance);
      Tensor v = variance.value();
      const double unbias = n > 1 ? static_cast<double>(n) / static_cast<double>(n - 1) : 1.0;
      kernels::lerp_into(v, kernels::with_scalar(kernels::WithScalar::Mul, var.value(), unbias), decay_rate);
    }
  }
  if (output_stat) return {out[0], mu, var};
  return {out[0]};
}

}  // namespace nthgrad::distributed

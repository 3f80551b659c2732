#pragma once
// Data parallelism over MPI: the library nthgrad::distributed (built when
// MPI is found; link nthgrad::distributed). This header needs no MPI header:
// a communicator is handed over by its Fortran handle, which every MPI
// implementation converts both ways (MPI_Comm_c2f in C, comm.py2f() in
// mpi4py), or taken as MPI_COMM_WORLD.
//
//   auto comm = nthgrad::distributed::Communicator::world();
//   Variable total = comm.all_reduce(x);            // differentiable, any order
//   nthgrad::distributed::GradientReducer ddp(params, comm);
//   loss.backward();                                // grads averaged over the ranks, in buckets
//
// Every rank must make the same collective calls in the same order (as in
// MPI). Collectives check first that the ranks passed tensors of the same
// shape and dtype: a mismatch is a ValueError on every rank naming each
// rank's shape, not a hang.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nthgrad/tensor.h"
#include "nthgrad/variable.h"

namespace nthgrad::distributed {

enum class ReduceOp { Sum, Mean, Max };

class Communicator {
 public:
  // MPI_COMM_WORLD (initialises MPI with MPI_THREAD_MULTIPLE if nobody has).
  static Communicator world();
  // Any communicator, by its Fortran handle (MPI_Comm_c2f(comm) or mpi4py's
  // comm.py2f()). The communicator is duplicated: nthgrad's messages never
  // mix with the caller's. Collective.
  static Communicator from_fortran_handle(int64_t handle);

  int rank() const;
  int size() const;
  void barrier() const;
  // The ranks in `ranks` (of this communicator) as a new communicator; every
  // rank of this one must call it, and those outside `ranks` get an empty
  // communicator (valid() false).
  Communicator group(const std::vector<int>& ranks) const;
  bool valid() const { return impl_ != nullptr; }
  // A new communicator over the same ranks, whose messages never mix with
  // this one's (collective).
  Communicator duplicate() const;

  // Differentiable collectives (float32, float64); their gradients are again
  // collectives, so derivatives of every order work.
  // Sum / Mean / Max over the ranks of x (same shape on each rank). The
  // gradient of Sum is the Sum of the ranks' gradients (Mean likewise); Max
  // sends the summed gradient to the ranks holding the maximum, split among ties.
  Variable all_reduce(const Variable& x, ReduceOp op = ReduceOp::Sum) const;
  // root's x on every rank (the other ranks' x gives shape and dtype only);
  // gradient: reduce (the sum of the ranks' gradients at root, zeros elsewhere).
  Variable broadcast(const Variable& x, int root = 0) const;
  // The sum of the ranks' x at root, zeros elsewhere (MPI_Reduce). Gradient:
  // broadcast from root.
  Variable reduce(const Variable& x, int root = 0) const;
  // The ranks' x concatenated along axis 0 (in rank order); x has at least
  // one axis. Gradient: reduce_scatter (Sum) of the gradient.
  Variable all_gather(const Variable& x) const;
  // op over the ranks of x, then rank r keeps rows [r n / size, (r + 1) n / size)
  // of axis 0 (n = x.shape[0], a multiple of size). Sum, Mean only.
  Variable reduce_scatter(const Variable& x, ReduceOp op = ReduceOp::Sum) const;

  // In place on a tensor's own memory (no graph): op over the ranks, and
  // root's values to every rank. The storage's version is bumped.
  void all_reduce_(const Tensor& t, ReduceOp op = ReduceOp::Sum) const;
  void broadcast_(const Tensor& t, int root = 0) const;

  // For wrappers that check arguments before calling a collective (the
  // Python layer): takes this rank's part in the agreement exchange of
  // collective `op` with a failure, so that the other ranks raise (quoting
  // `message`) instead of waiting; then throws ValueError(message) here.
  void fail_collective(const char* op, const std::string& message) const;

  struct Impl;
  const std::shared_ptr<Impl>& impl() const { return impl_; }
  const Impl& checked(const char* op) const;  // RuntimeError for an empty communicator

 private:
  explicit Communicator(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// nnabla's sync_batch_normalization: batch_normalization whose batch mean and
// variance are taken over the ranks' batches together (x differs per rank,
// the parameters and statistics are the same). Differentiable to every
// order over the global batch. `group` names the ranks: "world" is all of
// comm (pass a Communicator::group(...) for fewer).
VariableList sync_batch_normalization(const Variable& x, const Variable& beta, const Variable& gamma,
                                      const Variable& mean, const Variable& variance, const Communicator& comm,
                                      const std::string& group = "world", const std::vector<int64_t>& axes = {1},
                                      double decay_rate = 0.9, double eps = 1e-5, bool batch_stat = true,
                                      bool output_stat = false);

// Every rank's parameters set to root's (shapes and dtypes checked).
void broadcast_parameters(const VariableList& params, const Communicator& comm, int root = 0);

// The gradient averaging of DistributedDataParallel. Parameters are packed
// into buckets of about bucket_bytes (in reverse order: a backward pass
// produces the last layer's gradients first); while backward() runs, each
// bucket whose gradients have all been accumulated is averaged over the ranks
// by a communication thread (overlap = true; else at once on the calling
// thread), and the pass ends by waiting for the buckets and writing the
// averages to the parameters' grad(). Buckets are reduced in the same order
// on every rank; a parameter without a gradient on some rank counts as zero
// there. A backward(create_graph=True) pass instead averages each gradient
// with the differentiable all_reduce after the pass, so grad() stays in the
// graph. With sync off (no_sync) gradients only accumulate locally.
class GradientReducer {
 public:
  GradientReducer(const VariableList& params, const Communicator& comm, int64_t bucket_bytes = 25 << 20,
                  bool overlap = true);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  void set_sync(bool sync);
  bool sync() const;
  // Parameter indices of each bucket, in the order the buckets are reduced.
  std::vector<std::vector<int64_t>> buckets() const;
  // How many buckets the last pass started while the backward pass was still
  // running (the overlap actually achieved), and how many passes ran.
  int64_t buckets_started_early() const;
  int64_t passes() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace nthgrad::distributed

// GradientReducer: DistributedDataParallel's gradient averaging, in buckets
// reduced while the backward pass runs.
//
// Each parameter has a post-accumulate-grad hook. The first hook of a
// backward() pass queues `finish` to run when the pass ends. A hook copies
// the parameter's new grad() into its bucket's flat buffer; a bucket whose
// parameters are all in is handed to the communication thread, which
// all-reduces it (in place, on the reducer's own duplicate of the
// communicator) while the engine goes on with the rest of the graph. Buckets
// start strictly in order, so every rank makes the same sequence of calls
// whatever order its gradients arrive in. `finish` fills and starts the
// buckets still waiting (a parameter with no gradient this pass contributes
// its current grad() or zeros), waits for the thread, and writes the averages
// back to grad().
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "distributed/mpi_detail.h"
#include "nthgrad/autograd.h"
#include "nthgrad/error.h"

namespace nthgrad::distributed {

namespace {

struct Bucket {
  DType dtype;
  std::vector<int64_t> params;  // indices into Impl::params
  // The parameters' gradients one after another, then one flag per parameter:
  // 1 where the rank had a gradient. After the reduction a flag is > 0 when
  // some rank had one; a parameter no rank had a gradient for keeps .grad None.
  int64_t numel = 0;
  int64_t grads_numel = 0;
  Tensor flat;
  int64_t pending = 0;  // parameters of this pass not yet copied in
};

}  // namespace

struct GradientReducer::Impl {
  VariableList params;
  Communicator comm;  // a duplicate: the thread's collectives never meet the caller's
  bool overlap;
  std::vector<Bucket> buckets;
  std::vector<int64_t> bucket_of, offset_of, flag_of, params_numel;  // per parameter
  std::vector<int64_t> hooks;

  bool sync = true;
  // the pass in progress
  uint64_t pass = 0;
  bool recording = false;  // backward(create_graph=True): averaged by differentiable all_reduce at the end
  std::vector<bool> copied;
  std::size_t next_bucket = 0;
  int64_t started_early = 0, passes = 0;

  // the communication thread
  std::thread worker;
  std::mutex mutex;
  std::condition_variable wake, idle;
  std::deque<std::size_t> queue;
  std::size_t in_flight = 0;  // queued or running
  bool stopping = false;
  std::exception_ptr failure;

  Impl(const VariableList& ps, const Communicator& c, bool ov) : params(ps), comm(c.duplicate()), overlap(ov) {
    // The thread calls MPI while the caller may too (a collective in the backward graph): that needs
    // MPI_THREAD_MULTIPLE (what mpi4py asks for). Below it, buckets are reduced at the end of the pass.
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    if (level < MPI_THREAD_MULTIPLE) overlap = false;
  }

  void reduce(Bucket& b) {
    const Communicator::Impl& c = *comm.impl();
    detail::all_reduce_raw(c, "DistributedDataParallel", MPI_IN_PLACE, b.flat.raw_data(), b.numel, b.dtype, MPI_SUM);
    detail::scale(b.flat.raw_data(), b.numel, b.dtype, 1.0 / c.size);
  }

  void work() {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      wake.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping
      const std::size_t k = queue.front();
      queue.pop_front();
      lock.unlock();
      std::exception_ptr error;
      try {
        reduce(buckets[k]);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (error && !failure) failure = error;
      if (--in_flight == 0) idle.notify_all();
    }
  }

  void start(std::size_t k) {
    if (!overlap) return;  // reduced by finish(): reducing here could block on a rank whose graph
                           // still has a collective to run before this parameter's gradient

    {
      std::lock_guard<std::mutex> lock(mutex);
      queue.push_back(k);
      ++in_flight;
    }
    wake.notify_one();
  }

  // Waits for the thread's buckets; rethrows what failed there.
  void wait() {
    std::unique_lock<std::mutex> lock(mutex);
    idle.wait(lock, [&] { return in_flight == 0; });
    if (failure) {
      std::exception_ptr e = failure;
      failure = nullptr;
      std::rethrow_exception(e);
    }
  }

  // the flag of parameter i in its bucket
  void set_flag(const Bucket& b, int64_t i, double value) {
    const int64_t at = b.grads_numel + flag_of[i];
    if (b.dtype == DType::Float32)
      b.flat.data<float>()[at] = static_cast<float>(value);
    else
      b.flat.data<double>()[at] = value;
  }
  double flag(const Bucket& b, int64_t i) const {
    const int64_t at = b.grads_numel + flag_of[i];
    return b.dtype == DType::Float32 ? b.flat.data<float>()[at] : b.flat.data<double>()[at];
  }

  void copy_in(int64_t i, const Variable& grad) {
    Bucket& b = buckets[bucket_of[i]];
    const std::size_t item = itemsize(b.dtype);
    char* dst = static_cast<char*>(b.flat.raw_data()) + offset_of[i] * item;
    const std::size_t n = static_cast<std::size_t>(params[i].numel()) * item;
    if (grad.defined())
      std::memcpy(dst, grad.value().raw_data(), n);
    else
      std::memset(dst, 0, n);  // all-zero bits are 0.0 for float and double
    set_flag(b, i, grad.defined() ? 1.0 : 0.0);
    copied[i] = true;
    --b.pending;
  }

  void begin_pass() {
    wait();  // a pass that threw may have left buckets in flight
    pass = backward_pass_id();
    recording = is_grad_enabled();  // the engine runs hooks in the pass's grad mode: create_graph
    copied.assign(params.size(), false);
    for (Bucket& b : buckets) b.pending = static_cast<int64_t>(b.params.size());
    next_bucket = 0;
    started_early = 0;
    queue_backward_callback([this] { finish(); });
  }

  void on_grad(int64_t i) {
    if (!sync) return;
    const Bucket& b = buckets[bucket_of[i]];
    if (params[i].dtype() != b.dtype || params[i].numel() != params_numel[i])
      throw RuntimeError(nthgrad::detail::cat("DistributedDataParallel: parameter ", i, " is now ",
                                              dtype_name(params[i].dtype()), " of shape ", shape_str(params[i].shape()),
                                              " but was ", dtype_name(b.dtype), " with ", params_numel[i],
                                              " elements when it was wrapped; cast or resize the module before "
                                              "wrapping it"));
    if (pass != backward_pass_id()) begin_pass();
    if (recording || copied[i]) return;
    copy_in(i, params[i].grad());
    while (next_bucket < buckets.size() && buckets[next_bucket].pending == 0) {
      start(next_bucket++);
      if (overlap) ++started_early;  // without the thread, start() only marks it for finish()
    }
  }

  void finish() {
    pass = 0;
    ++passes;
    if (recording) {  // each gradient through the differentiable mean, so grad() stays in the graph
      wait();
      // which parameters some rank has a gradient for (the others keep .grad None)
      Tensor used = Tensor::zeros({static_cast<int64_t>(params.size())}, DType::Int64);
      for (std::size_t i = 0; i < params.size(); ++i) used.data<int64_t>()[i] = params[i].grad().defined() ? 1 : 0;
      comm.all_reduce_(used, ReduceOp::Max);
      for (std::size_t i = 0; i < params.size(); ++i) {
        if (!used.data<int64_t>()[i]) continue;
        Variable& p = params[i];
        Variable g = p.grad();
        if (!g.defined()) g = Variable(Tensor::zeros(p.shape(), p.dtype()));
        p.set_grad(comm.all_reduce(g, ReduceOp::Mean));
      }
      return;
    }
    for (std::size_t i = 0; i < params.size(); ++i)
      if (!copied[i]) copy_in(static_cast<int64_t>(i), params[i].grad());
    while (next_bucket < buckets.size()) start(next_bucket++);
    wait();
    if (!overlap)
      for (Bucket& b : buckets) reduce(b);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Bucket& b = buckets[bucket_of[i]];
      if (!(flag(b, static_cast<int64_t>(i)) > 0)) continue;  // no rank had a gradient: .grad stays as it is
      const char* src = static_cast<const char*>(b.flat.raw_data()) + offset_of[i] * itemsize(b.dtype);
      params[i].set_grad(Variable(Tensor::from_data(src, params[i].shape(), b.dtype)));
    }
  }
};

GradientReducer::GradientReducer(const VariableList& params, const Communicator& comm, int64_t bucket_bytes,
                                 bool overlap) {
  const char* op = "DistributedDataParallel";
  // the arguments, and the same number of parameters on every rank, before any communication
  detail::agree(comm.checked(op), op, Tensor::empty({static_cast<int64_t>(params.size())}, DType::Int64), 0, [&] {
    if (bucket_bytes <= 0)
      throw ValueError(nthgrad::detail::cat(op, ": bucket_bytes must be > 0, got ", bucket_bytes));
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Variable& p = params[i];
      if (!p.defined() || !p.is_leaf() || !p.requires_grad())
        throw ValueError(nthgrad::detail::cat(op, ": parameter ", i, " is not a leaf that requires grad"));
      for (std::size_t j = 0; j < i; ++j)
        if (params[j].same(p))
          throw ValueError(nthgrad::detail::cat(op, ": parameters ", j, " and ", i, " are the same tensor"));
    }
  });
  impl_ = std::make_unique<Impl>(params, comm, overlap);
  Impl& s = *impl_;
  s.bucket_of.assign(params.size(), 0);
  s.offset_of.assign(params.size(), 0);
  s.flag_of.assign(params.size(), 0);
  for (const Variable& p : params) s.params_numel.push_back(p.numel());
  // Reverse order: the backward pass reaches the last layers first.
  for (std::size_t r = params.size(); r-- > 0;) {
    const Variable& p = params[r];
    const int64_t bytes = p.numel() * static_cast<int64_t>(itemsize(p.dtype()));
    if (s.buckets.empty() || s.buckets.back().dtype != p.dtype() ||
        (s.buckets.back().grads_numel > 0 &&
         (s.buckets.back().grads_numel * static_cast<int64_t>(itemsize(p.dtype())) + bytes > bucket_bytes)))
      s.buckets.push_back(Bucket{p.dtype()});
    Bucket& b = s.buckets.back();
    s.bucket_of[r] = static_cast<int64_t>(s.buckets.size()) - 1;
    s.offset_of[r] = b.grads_numel;
    s.flag_of[r] = static_cast<int64_t>(b.params.size());
    b.params.push_back(static_cast<int64_t>(r));
    b.grads_numel += p.numel();
  }
  // every rank must have the same parameters, so the same buckets
  detail::agree(*s.comm.impl(), op, Tensor::empty({static_cast<int64_t>(params.size())}, DType::Int64),
                static_cast<int64_t>(s.buckets.size()));
  for (Bucket& b : s.buckets) {
    b.numel = b.grads_numel + static_cast<int64_t>(b.params.size());
    b.flat = Tensor::zeros({b.numel}, b.dtype);
    // every rank must have built the same buckets (same parameters): checked once here
    detail::agree(*s.comm.impl(), op, b.flat, static_cast<int64_t>(b.params.size()));
  }
  if (overlap) s.worker = std::thread([&s] { s.work(); });
  for (std::size_t i = 0; i < params.size(); ++i) {
    Impl* self = &s;
    const int64_t index = static_cast<int64_t>(i);
    s.hooks.push_back(
        register_post_accumulate_grad_hook(params[i], [self, index](const Variable&) { self->on_grad(index); }));
  }
}

GradientReducer::~GradientReducer() {
  Impl& s = *impl_;
  for (std::size_t i = 0; i < s.params.size(); ++i) remove_post_accumulate_grad_hook(s.params[i], s.hooks[i]);
  if (s.worker.joinable()) {
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.stopping = true;
    }
    s.wake.notify_all();
    s.worker.join();
  }
}

void GradientReducer::set_sync(bool sync) { impl_->sync = sync; }
bool GradientReducer::sync() const { return impl_->sync; }

std::vector<std::vector<int64_t>> GradientReducer::buckets() const {
  std::vector<std::vector<int64_t>> out;
  for (const Bucket& b : impl_->buckets) out.push_back(b.params);
  return out;
}

int64_t GradientReducer::buckets_started_early() const { return impl_->started_early; }
int64_t GradientReducer::passes() const { return impl_->passes; }

}  // namespace nthgrad::distributed

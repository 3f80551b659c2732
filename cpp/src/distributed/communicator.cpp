// Communicator: MPI collectives on tensors' own memory, and the
// differentiable collectives built on them (each one's backward is again a
// collective, recorded as an op, so derivatives of every order work).
#include <mpi.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <exception>
#include <functional>

#include "autograd/record.h"
#include "distributed/mpi_detail.h"
#include "nthgrad/error.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/logical.h"
#include "nthgrad/ops/math.h"
#include "ops/detail/check.h"

namespace nthgrad::distributed {

namespace {

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

// Takes ownership of `comm` (freed with the last handle).
std::shared_ptr<Communicator::Impl> adopt(MPI_Comm comm) {
  auto impl = std::make_shared<Communicator::Impl>();
  impl->comm = comm;
  // Errors come back as codes (turned into exceptions) instead of aborting every rank.
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm, &impl->rank);
  MPI_Comm_size(comm, &impl->size);
  return impl;
}

std::shared_ptr<Communicator::Impl> duplicate_comm(MPI_Comm comm, const char* what) {
  MPI_Comm copy = MPI_COMM_NULL;
  detail::check_mpi(MPI_Comm_dup(comm, &copy), what);
  return adopt(copy);
}

}  // namespace

namespace detail {

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw RuntimeError(nthgrad::detail::cat(what, ": MPI error: ", std::string(text, length)));
}

MPI_Datatype mpi_type(const char* op, DType dtype) {
  switch (dtype) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: return MPI_INT64_T;
    default: throw TypeError(nthgrad::detail::cat(op, ": tensors of dtype ", dtype_name(dtype), " are not supported"));
  }
}

// MPI counts are int: larger buffers go in pieces.
extern const int64_t kMaxCount = int64_t{1} << 30;

void all_reduce_raw(const Communicator::Impl& c, const char* op, const void* send, void* recv, int64_t n, DType dtype,
                    MPI_Op mpi_op) {
  const MPI_Datatype type = mpi_type(op, dtype);
  in_pieces(n, itemsize(dtype), [&](std::size_t offset, int count) {
    const void* s = send == MPI_IN_PLACE ? MPI_IN_PLACE : static_cast<const char*>(send) + offset;
    check_mpi(MPI_Allreduce(s, static_cast<char*>(recv) + offset, count, type, mpi_op, c.comm), op);
  });
}

void scale(void* data, int64_t n, DType dtype, double factor) {
  if (dtype == DType::Float32) {
    float* p = static_cast<float*>(data);
    const float f = static_cast<float>(factor);
    for (int64_t i = 0; i < n; ++i) p[i] *= f;
  } else if (dtype == DType::Float64) {
    double* p = static_cast<double*>(data);
    for (int64_t i = 0; i < n; ++i) p[i] *= factor;
  } else {  // integer mean: truncated, as NumPy's // would not be; not offered for ints
    throw TypeError("all_reduce: mean of an integer tensor is not supported");
  }
}

// Runs this rank's argument checks, then checks that every rank passed them
// and called the same collective with a tensor of the same shape and dtype
// (and the same `extra`: root, reduce op). One small allreduce (MAX) of each
// field and its negation: the ranks agree exactly when max(v) == -max(-v),
// i.e. max == min. Any failure is raised on every rank, so none is left
// waiting in a collective the others never make: a rank whose checks failed
// rethrows its own error, the others a ValueError quoting it; calls that
// differ give every rank the same ValueError describing each rank's call.
void agree(const Communicator::Impl& c, const char* op, const Tensor& t, int64_t extra,
           const std::function<void()>& local_checks) {
  std::exception_ptr local;
  std::string local_text;
  if (local_checks) {
    try {
      local_checks();
    } catch (const std::exception& e) {
      local = std::current_exception();
      local_text = e.what();
    }
  }
  constexpr int kDims = 8;
  constexpr int kFields = 5 + kDims;  // op, dtype, ndim, extra, failed, dims
  std::array<int64_t, kFields> mine{};
  // the op by its name's characters, so different collectives also disagree
  uint64_t code = 0;  // unsigned: the hash wraps around by design
  for (const char* p = op; *p; ++p) code = code * 131 + static_cast<unsigned char>(*p);
  mine[0] = static_cast<int64_t>(code % (uint64_t{1} << 40));
  mine[1] = t.defined() ? static_cast<int64_t>(t.dtype()) : -1;
  mine[2] = t.defined() ? t.ndim() : -1;
  mine[3] = extra;
  mine[4] = local ? 1 : 0;
  uint64_t tail = 1469598103934665603ULL;  // dimensions beyond kDims, hashed
  for (int64_t d = 0; d < mine[2]; ++d) {
    if (d < kDims)
      mine[5 + d] = t.shape()[d];
    else
      tail = (tail ^ static_cast<uint64_t>(t.shape()[d])) * 1099511628211ULL;
  }
  if (mine[2] > kDims) mine[5 + kDims - 1] ^= static_cast<int64_t>(tail >> 1);
  std::array<int64_t, 2 * kFields> both{};
  for (int i = 0; i < kFields; ++i) {
    both[i] = mine[i];
    both[kFields + i] = -mine[i];
  }
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, both.data(), 2 * kFields, MPI_INT64_T, MPI_MAX, c.comm), op);
  const bool failed = both[4] > 0;
  bool same = true;
  for (int i = 0; i < kFields; ++i) same = same && both[i] == -both[kFields + i];
  if (same && !failed) return;

  if (failed) {  // every rank learns the failing ranks' messages
    constexpr int kText = 240;
    std::vector<char> texts(static_cast<std::size_t>(kText) * c.size, '\0');
    std::array<char, kText> own{};
    std::strncpy(own.data(), local_text.c_str(), kText - 1);
    check_mpi(MPI_Allgather(own.data(), kText, MPI_CHAR, texts.data(), kText, MPI_CHAR, c.comm), op);
    if (local) std::rethrow_exception(local);
    for (int r = 0; r < c.size; ++r) {
      const char* text = &texts[static_cast<std::size_t>(r) * kText];
      if (*text)
        throw ValueError(nthgrad::detail::cat(op, ": rank ", r, "'s call was invalid, so no rank communicated: ",
                                              std::string(text, strnlen(text, kText))));
    }
  }

  // Every rank is here: describe each rank's call (op code, dtype, shape up to kDims axes).
  std::vector<int64_t> all(static_cast<std::size_t>(kFields) * c.size);
  check_mpi(MPI_Allgather(mine.data(), kFields, MPI_INT64_T, all.data(), kFields, MPI_INT64_T, c.comm), op);
  std::string text;
  for (int r = 0; r < c.size; ++r) {
    const int64_t* f = &all[static_cast<std::size_t>(r) * kFields];
    text += nthgrad::detail::cat(r ? ", " : "", "rank ", r, ": ");
    if (f[0] != mine[0]) {
      text += "a different collective";
      continue;
    }
    if (f[2] < 0) {
      text += "no tensor";
    } else {
      Shape shape(f + 5, f + 5 + std::min<int64_t>(f[2], kDims));
      text += nthgrad::detail::cat(dtype_name(static_cast<DType>(f[1])), " ", shape_str(shape),
                                   f[2] > kDims ? " (and more axes)" : "");
    }
    if (f[3] != mine[3]) text += nthgrad::detail::cat(" with argument ", f[3]);
  }
  throw ValueError(nthgrad::detail::cat(op, ": the ranks passed different tensors (every rank must pass the same "
                                        "shape and dtype, in the same order of calls): ",
                                        text));
}

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::Max ? MPI_MAX : MPI_SUM; }

}  // namespace detail

Communicator::Impl::~Impl() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
}

Communicator Communicator::world() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    detail::check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided), "Communicator::world");
    std::atexit(finalize_at_exit);
  }
  return Communicator(duplicate_comm(MPI_COMM_WORLD, "Communicator::world"));
}

Communicator Communicator::from_fortran_handle(int64_t handle) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized)
    throw RuntimeError("Communicator: MPI is not initialised (import mpi4py.MPI, or call Communicator::world())");
  if (handle < std::numeric_limits<MPI_Fint>::min() || handle > std::numeric_limits<MPI_Fint>::max())
    throw ValueError(nthgrad::detail::cat("Communicator: ", handle, " is not a Fortran communicator handle"));
  MPI_Comm comm = MPI_Comm_f2c(static_cast<MPI_Fint>(handle));
  if (comm == MPI_COMM_NULL) throw ValueError("Communicator: the communicator is MPI_COMM_NULL");
  int inter = 0;
  detail::check_mpi(MPI_Comm_test_inter(comm, &inter), "Communicator");
  if (inter)
    throw ValueError("Communicator: an intercommunicator (two groups) is not supported; pass an intracommunicator "
                     "(e.g. from its Merge())");
  return Communicator(duplicate_comm(comm, "Communicator"));
}

const Communicator::Impl& Communicator::checked(const char* op) const {
  if (!impl_)
    throw RuntimeError(nthgrad::detail::cat(op, ": this rank is not a member of the communicator (an empty one, from "
                                            "group() on a rank outside its ranks)"));
  return *impl_;
}

int Communicator::rank() const { return checked("rank").rank; }
int Communicator::size() const { return checked("size").size; }

void Communicator::barrier() const { detail::check_mpi(MPI_Barrier(checked("barrier").comm), "barrier"); }

Communicator Communicator::duplicate() const {
  return Communicator(duplicate_comm(checked("duplicate").comm, "duplicate"));
}

Communicator Communicator::group(const std::vector<int>& ranks) const {
  const char* op = "group";
  checked(op);
  std::vector<int> sorted = ranks;
  std::sort(sorted.begin(), sorted.end());
  if (sorted.empty() || std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end() || sorted.front() < 0 ||
      sorted.back() >= impl_->size)
    throw ValueError(nthgrad::detail::cat(op, ": ranks must be distinct ranks in [0, ", impl_->size,
                                          "), at least one"));
  const bool member = std::binary_search(sorted.begin(), sorted.end(), impl_->rank);
  MPI_Comm sub = MPI_COMM_NULL;
  // split keeps the order of `ranks` (the key), the others get MPI_COMM_NULL
  int key = 0;
  for (std::size_t i = 0; i < ranks.size(); ++i)
    if (ranks[i] == impl_->rank) key = static_cast<int>(i);
  detail::check_mpi(MPI_Comm_split(impl_->comm, member ? 0 : MPI_UNDEFINED, key, &sub), op);
  if (sub == MPI_COMM_NULL) return Communicator(nullptr);
  return Communicator(adopt(sub));
}

namespace {

void check_root(const char* op, int root, int size) {
  if (root < 0 || root >= size)
    throw ValueError(nthgrad::detail::cat(op, ": root ", root, " is not a rank of this communicator (size ", size,
                                          ")"));
}

// What an in-place collective may write: memory nthgrad owns, that no NumPy view or DLPack export sees
// (read-only NumPy memory, from ng.from_numpy, included), of a dtype MPI can reduce.
void check_in_place(const char* op, const Tensor& t, ReduceOp reduce) {
  check::writable(op, "t", Variable(t));
  detail::mpi_type(op, t.dtype());
  if (reduce == ReduceOp::Mean && !is_floating(t.dtype()))
    throw TypeError(nthgrad::detail::cat(op, ": the mean of an integer tensor (", dtype_name(t.dtype()),
                                         ") is not supported; use 'sum'"));
}

void check_count(const char* op, int64_t n) {
  if (n > detail::kMaxCount)
    throw ValueError(nthgrad::detail::cat(op, ": ", n, " elements per rank; at most 2^30"));
}

}  // namespace

void Communicator::all_reduce_(const Tensor& t, ReduceOp op) const {
  const char* name = "all_reduce_";
  const Impl& c = checked(name);
  detail::agree(c, name, t, static_cast<int64_t>(op), [&] { check_in_place(name, t, op); });
  t.storage()->bump_version();
  detail::all_reduce_raw(c, name, MPI_IN_PLACE, t.raw_data(), t.numel(), t.dtype(), detail::mpi_op(op));
  if (op == ReduceOp::Mean) detail::scale(t.raw_data(), t.numel(), t.dtype(), 1.0 / c.size);
}

// MPI_Bcast of t's memory in place (checked by the caller)
static void bcast_raw(const Communicator::Impl& c, const char* op, const Tensor& t, int root) {
  const MPI_Datatype type = detail::mpi_type(op, t.dtype());
  detail::in_pieces(t.numel(), itemsize(t.dtype()), [&](std::size_t offset, int count) {
    detail::check_mpi(MPI_Bcast(static_cast<char*>(t.raw_data()) + offset, count, type, root, c.comm), op);
  });
}

void Communicator::broadcast_(const Tensor& t, int root) const {
  const char* name = "broadcast_";
  const Impl& c = checked(name);
  detail::agree(c, name, t, root, [&] {
    check_root(name, root, c.size);
    check_in_place(name, t, ReduceOp::Sum);
  });
  t.storage()->bump_version();
  bcast_raw(c, name, t, root);
}

Variable Communicator::all_reduce(const Variable& x, ReduceOp op) const {
  const char* name = "all_reduce";
  const Impl& c = checked(name);
  detail::agree(c, name, x.value(), static_cast<int64_t>(op), [&] { check::floating(name, "x", x); });
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  detail::all_reduce_raw(c, name, x.value().raw_data(), out.raw_data(), x.numel(), x.dtype(), detail::mpi_op(op));
  if (op == ReduceOp::Mean) detail::scale(out.raw_data(), out.numel(), out.dtype(), 1.0 / c.size);
  const Communicator self = *this;
  if (op != ReduceOp::Max)
    return record("all_reduce", {x}, out, kSavesNothing,
                  [self, op](const Ctx& ctx) { return grads(self.all_reduce(ctx.gy(), op)); });
  // max: the summed gradient goes to the elements equal to the maximum, shared among the ranks that tie
  return record("all_reduce", {x}, out, kSavesInputs | kSavesOutput, [self](const Ctx& ctx) {
    Variable at_max = cast(equal(ctx.in(0), ctx.out()), ctx.gy().dtype());
    Variable ties = self.all_reduce(at_max, ReduceOp::Sum);
    return grads(mul2(div2(self.all_reduce(ctx.gy(), ReduceOp::Sum), ties), at_max));
  });
}

// broadcast and reduce are each other's gradient. Each is one node on every
// rank (root or not), so the ranks' backward graphs have the same shape.
Variable Communicator::broadcast(const Variable& x, int root) const {
  const char* name = "broadcast";
  const Impl& c = checked(name);
  detail::agree(c, name, x.value(), root, [&] {
    check::floating(name, "x", x);
    check_root(name, root, c.size);
  });
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  if (c.rank == root && x.numel() > 0) std::memcpy(out.raw_data(), x.value().raw_data(), x.value().nbytes());
  bcast_raw(c, name, out, root);
  const Communicator self = *this;
  return record("broadcast", {x}, out, kSavesNothing,
                [self, root](const Ctx& ctx) { return grads(self.reduce(ctx.gy(), root)); });
}

Variable Communicator::reduce(const Variable& x, int root) const {
  const char* name = "reduce";
  const Impl& c = checked(name);
  detail::agree(c, name, x.value(), root, [&] {
    check::floating(name, "x", x);
    check_root(name, root, c.size);
  });
  Tensor out = Tensor::zeros(x.shape(), x.dtype());
  const MPI_Datatype type = detail::mpi_type(name, x.dtype());
  detail::in_pieces(x.numel(), itemsize(x.dtype()), [&](std::size_t offset, int count) {
    detail::check_mpi(MPI_Reduce(static_cast<const char*>(x.value().raw_data()) + offset,
                                 static_cast<char*>(out.raw_data()) + offset, count, type, MPI_SUM, root, c.comm),
                      name);
  });
  const Communicator self = *this;
  return record("reduce", {x}, out, kSavesNothing,
                [self, root](const Ctx& ctx) { return grads(self.broadcast(ctx.gy(), root)); });
}

Variable Communicator::all_gather(const Variable& x) const {
  const char* name = "all_gather";
  const Impl& c = checked(name);
  detail::agree(c, name, x.value(), 0, [&] {
    check::floating(name, "x", x);
    if (x.ndim() == 0) throw ValueError("all_gather: x must have at least one axis, got shape ()");
    check_count(name, x.numel());
  });
  Shape shape = x.shape();
  shape[0] *= c.size;
  Tensor out = Tensor::empty(shape, x.dtype());
  const int n = static_cast<int>(x.numel());
  const MPI_Datatype type = detail::mpi_type(name, x.dtype());
  detail::check_mpi(MPI_Allgather(x.value().raw_data(), n, type, out.raw_data(), n, type, c.comm), name);
  const Communicator self = *this;
  return record("all_gather", {x}, out, kSavesNothing,
                [self](const Ctx& ctx) { return grads(self.reduce_scatter(ctx.gy(), ReduceOp::Sum)); });
}

Variable Communicator::reduce_scatter(const Variable& x, ReduceOp op) const {
  const char* name = "reduce_scatter";
  const Impl& c = checked(name);
  detail::agree(c, name, x.value(), static_cast<int64_t>(op), [&] {
    check::floating(name, "x", x);
    if (op == ReduceOp::Max) throw ValueError("reduce_scatter: op must be sum or mean, got max");
    if (x.ndim() == 0 || x.shape()[0] % c.size != 0)
      throw ValueError(nthgrad::detail::cat(name, ": x's first axis must be a multiple of the number of ranks (",
                                            c.size, "), got shape ", shape_str(x.shape())));
    check_count(name, x.numel() / c.size);
  });
  Shape shape = x.shape();
  shape[0] /= c.size;
  Tensor out = Tensor::empty(shape, x.dtype());
  const int n = static_cast<int>(out.numel());
  const MPI_Datatype type = detail::mpi_type(name, x.dtype());
  detail::check_mpi(MPI_Reduce_scatter_block(x.value().raw_data(), out.raw_data(), n, type, MPI_SUM, c.comm), name);
  if (op == ReduceOp::Mean) detail::scale(out.raw_data(), n, out.dtype(), 1.0 / c.size);
  const Communicator self = *this;
  return record("reduce_scatter", {x}, out, kSavesNothing, [self, op](const Ctx& ctx) {
    Variable g = self.all_gather(ctx.gy());
    return grads(op == ReduceOp::Mean ? mul_scalar(g, 1.0 / self.size()) : g);
  });
}

void broadcast_parameters(const VariableList& params, const Communicator& comm, int root) {
  const char* name = "broadcast_parameters";
  const Communicator::Impl& c = comm.checked(name);
  // every check first (the count, then each parameter's shape, dtype and memory), so a failure
  // leaves no rank with some parameters already replaced
  detail::agree(c, name, Tensor::empty({static_cast<int64_t>(params.size())}, DType::Int64), root,
                [&] { check_root(name, root, c.size); });
  for (std::size_t i = 0; i < params.size(); ++i)
    detail::agree(c, name, params[i].value(), static_cast<int64_t>(i),
                  [&] { check_in_place(name, params[i].value(), ReduceOp::Sum); });
  for (const Variable& p : params) {
    p.value().storage()->bump_version();
    bcast_raw(c, name, p.value(), root);
  }
}

void Communicator::fail_collective(const char* op, const std::string& message) const {
  detail::agree(checked(op), op, Tensor(), 0, [&] { throw ValueError(message); });
}

}  // namespace nthgrad::distributed

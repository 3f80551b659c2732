#pragma once
// What the distributed sources share: the communicator's MPI state and the
// raw collectives on buffers. Only cpp/src/distributed includes <mpi.h>.
#include <mpi.h>

#include <functional>

#include "nthgrad/distributed.h"

namespace nthgrad::distributed {

struct Communicator::Impl {
  MPI_Comm comm = MPI_COMM_NULL;  // our own duplicate, freed with the last handle
  int rank = 0;
  int size = 1;
  ~Impl();
};

namespace detail {

// RuntimeError "<what>: MPI error: <MPI's text>" unless code is MPI_SUCCESS.
void check_mpi(int code, const char* what);
MPI_Datatype mpi_type(const char* op, DType dtype);
MPI_Op mpi_op(ReduceOp op);
extern const int64_t kMaxCount;
// Calls f(byte offset, count) over [0, n) elements of `item` bytes in pieces
// of at most kMaxCount (MPI counts are int).
template <typename F>
void in_pieces(int64_t n, std::size_t item, F&& f) {
  for (int64_t at = 0; at < n; at += kMaxCount)
    f(static_cast<std::size_t>(at) * item, static_cast<int>(n - at < kMaxCount ? n - at : kMaxCount));
}
// MPI_Allreduce of n elements (send may be MPI_IN_PLACE), in pieces of at most 2^30.
void all_reduce_raw(const Communicator::Impl& c, const char* op, const void* send, void* recv, int64_t n,
                    DType dtype, MPI_Op mpi_op);
void scale(void* data, int64_t n, DType dtype, double factor);
// Runs this rank's argument checks, then makes sure every rank passed its
// checks and calls the same op with the same dtype, shape and extra; any
// failure is raised on every rank (see communicator.cpp).
void agree(const Communicator::Impl& c, const char* op, const Tensor& t, int64_t extra,
           const std::function<void()>& local_checks = {});

}  // namespace detail
}  // namespace nthgrad::distributed

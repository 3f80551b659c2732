// The tensor layer: shapes, dtypes, storage sharing, errors.
#include <nthgrad/nthgrad.h>

#include <climits>
#include <cstdint>
#include <limits>

#include "check.h"

using namespace nthgrad;

TEST(shape_helpers) {
  CHECK(numel({2, 3, 4}) == 24);
  CHECK(numel({}) == 1);
  CHECK(numel({3, 0}) == 0);
  CHECK_THROWS(numel({int64_t(1) << 40, int64_t(1) << 40}), ValueError);  // would wrap
  CHECK_THROWS(numel({2, -1}), ValueError);
  CHECK(shape_str({2, 3}) == "(2, 3)");
  CHECK(shape_str({5}) == "(5,)");
  CHECK(shape_str({}) == "()");
  CHECK((broadcast_shapes("op", "a", {2, 1, 3}, "b", {4, 1}) == Shape{2, 4, 3}));
  CHECK((broadcast_shapes("op", "a", {}, "b", {3}) == Shape{3}));
  CHECK_THROWS(broadcast_shapes("op", "a", {2, 3}, "b", {4}), ValueError);
  CHECK((normalize_axes("op", {-1, 0}, 3) == Axes{0, 2}));
  CHECK_THROWS(normalize_axes("op", {3}, 3), IndexError);
  CHECK_THROWS(normalize_axes("op", {1, -2}, 3), ValueError);
}

TEST(error_messages_name_op_and_shapes) {
  try {
    broadcast_shapes("add2", "x0", {2, 3}, "x1", {4});
    CHECK(false);
  } catch (const ValueError& e) {
    std::string msg = e.what();
    CHECK(msg.find("add2") != std::string::npos);
    CHECK(msg.find("(2, 3)") != std::string::npos);
    CHECK(msg.find("(4,)") != std::string::npos);
  }
}

TEST(create_and_read) {
  Tensor t = Tensor::full({2, 3}, 1.5, DType::Float32);
  CHECK(t.defined());
  CHECK(t.ndim() == 2);
  CHECK(t.numel() == 6);
  CHECK(t.nbytes() == 24);
  CHECK(t.dtype() == DType::Float32);
  CHECK(t.device() == Device{});
  for (int i = 0; i < 6; ++i) CHECK(t.data<float>()[i] == 1.5f);
  CHECK_THROWS(t.data<double>(), TypeError);
  CHECK_THROWS(t.item(), ValueError);
  CHECK(Tensor::scalar(2.0, DType::Float64).item() == 2.0);
  CHECK(Tensor::ones({2}, DType::Int64).data<int64_t>()[1] == 1);
  CHECK(Tensor::zeros({2}, DType::Bool).data<bool>()[0] == false);
  CHECK_THROWS(Tensor::empty({2, -1}, DType::Float32), ValueError);
  CHECK(Tensor::empty({0, 3}, DType::Float32).numel() == 0);
  CHECK(!Tensor().defined());
}

TEST(reshape_shares_storage) {
  const double data[6] = {0, 1, 2, 3, 4, 5};
  Tensor t = Tensor::from_data(data, {2, 3}, DType::Float64);
  CHECK(t.raw_data() != static_cast<const void*>(data));  // from_data copies
  Tensor r = t.reshape({3, 2});
  CHECK(r.raw_data() == t.raw_data());
  CHECK((r.shape() == Shape{3, 2}));
  CHECK(r.at(5) == 5.0);
  CHECK_THROWS(t.reshape({4}), ValueError);
}

TEST(wrap_keeps_owner_alive) {
  auto buffer = std::make_shared<std::vector<float>>(4, 2.0f);
  std::weak_ptr<std::vector<float>> watch = buffer;
  {
    Tensor t = Tensor::wrap(buffer->data(), {4}, DType::Float32, buffer);
    buffer.reset();
    CHECK(!watch.expired());
    CHECK(t.at(3) == 2.0);
  }
  CHECK(watch.expired());
}

TEST(wrapped_memory_is_never_freed_or_cached_by_nthgrad) {
  // Memory nthgrad did not allocate belongs to its owner, even when the owner handle is empty
  // (freeing or caching it would hand it out as another tensor's buffer).
  static double buffer[1 << 16];  // 512 KiB: a size the cache of freed buffers would keep
  const std::size_t cached_before = Storage::cached_bytes();
  {
    Tensor t = Tensor::wrap(buffer, {1 << 16}, DType::Float64, nullptr);
    CHECK(!t.storage()->owns_data());
  }
  CHECK(Storage::cached_bytes() == cached_before);
  Tensor own = Tensor::zeros({4}, DType::Float64);
  CHECK(own.storage()->owns_data());
}

TEST(storage_counter_returns_to_baseline) {
  int64_t before = Storage::live_count();
  {
    Tensor a = Tensor::zeros({10}, DType::Float32);
    Tensor b = a.reshape({2, 5});
    CHECK(Storage::live_count() == before + 1);
  }
  CHECK(Storage::live_count() == before);
}

TEST(checked_size_arithmetic) {
  CHECK(checked_mul(int64_t(1) << 31, int64_t(1) << 31, "op", {}) == int64_t(1) << 62);
  CHECK(checked_mul(-3, 4, "op", {}) == -12);
  CHECK_THROWS(checked_mul(int64_t(1) << 62, 4, "reshape", {int64_t(1) << 62, 4}), ValueError);
  try {
    checked_mul(int64_t(1) << 62, 4, "reshape", {int64_t(1) << 62, 4});
  } catch (const ValueError& e) {
    CHECK(std::string(e.what()) ==
          "reshape: shape (4611686018427387904, 4) is too large: its sizes overflow 64-bit integers");
  }
  // NumPy's rule: zero dimensions do not hide an overflowing product of the others
  CHECK_THROWS(numel({0, int64_t(1) << 62, int64_t(1) << 62}), ValueError);
  CHECK(numel({0, int64_t(1) << 31, int64_t(1) << 31}) == 0);
}

TEST(storage_sizes_are_bounded) {
  // 8 * (2^61 - 1) bytes padded to 64 once wrapped to a 64-byte allocation
  CHECK_THROWS(Tensor::empty({(int64_t(1) << 61) - 1}, DType::Float64), ValueError);
  CHECK_THROWS(Tensor::empty({INT64_MAX}, DType::Bool), ValueError);
  CHECK_THROWS(Tensor::empty({0, int64_t(1) << 61, 2}, DType::Float32), ValueError);  // byte strides would overflow
  CHECK_THROWS(Storage(SIZE_MAX - 8), ValueError);
  CHECK_THROWS(Tensor::zeros({0}, DType::Float32).reshape({0, int64_t(1) << 61, 4}), ValueError);
  CHECK(Tensor::zeros({0}, DType::Float32).reshape({0, int64_t(1) << 30, int64_t(1) << 30}).numel() == 0);
  // 2^50 doubles: 8 PiB; the allocation fails with a MemoryError naming the shape
  try {
    Tensor::empty({int64_t(1) << 50}, DType::Float64);
    CHECK(false);
  } catch (const MemoryError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("for a tensor of shape (1125899906842624,) and dtype float64") != std::string::npos);
  }
}

TEST(full_refuses_floats_that_do_not_fit_int64) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (double bad : {nan, inf, -inf, 1e300, 9223372036854775808.0, -1e19})
    CHECK_THROWS(Tensor::full({2}, bad, DType::Int64), ValueError);
  CHECK(Tensor::full({1}, -9223372036854775808.0, DType::Int64).data<int64_t>()[0] == INT64_MIN);
  CHECK(Tensor::full({1}, -2.7, DType::Int64).data<int64_t>()[0] == -2);  // truncation toward zero
  CHECK(Tensor::full({1}, nan, DType::Bool).data<bool>()[0]);             // x != 0
  CHECK(fits_int64(9223372036854774784.0) && !fits_int64(9223372036854775808.0) && !fits_int64(nan));
}

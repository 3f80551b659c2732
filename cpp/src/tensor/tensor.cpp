#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "nthgrad/error.h"
#include "nthgrad/tensor.h"

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace nthgrad {

namespace {
std::atomic<int64_t> g_live_storages{0};
std::atomic<int64_t> g_live_bytes{0};
constexpr std::size_t kAlignment = 64;

// Freed buffers of kCacheMin bytes and more are kept for reuse, by exact
// size, up to a cap (NTHGRAD_CACHE_BYTES, default 256 MiB) in all. A backward
// pass frees and allocates tensors of the same few sizes over and over, and a
// buffer fresh from malloc costs a page fault per 4 KiB (the kernel zeroes
// each page on first touch): measured as a fifth of the time of the 6th
// derivative of tanh on 10^5 points. nthgrad.empty_cache() returns them.
void free_buffer(void* data, std::size_t padded);
std::size_t footprint(std::size_t padded);

class BlockCache {
 public:
  static constexpr std::size_t kCacheMin = 256 * 1024;

  // A cached buffer of exactly `bytes`, or nullptr.
  void* take(std::size_t bytes) {
    if (bytes < kCacheMin) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(bytes);
    if (it == free_.end()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    if (it->second.empty()) free_.erase(it);  // no key outlives its buffers
    cached_ -= footprint(bytes);
    return p;
  }
  // Keeps the buffer if it fits under the cap; false: the caller frees it.
  // noexcept: it runs in ~Storage (a failure to grow the map just frees).
  bool give(void* p, std::size_t bytes) noexcept {
    if (bytes < kCacheMin) return false;
    try {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_ + footprint(bytes) > cap_) return false;
      free_[bytes].push_back(p);
      cached_ += footprint(bytes);
      return true;
    } catch (...) {
      return false;
    }
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [bytes, blocks] : free_)
      for (void* p : blocks) free_buffer(p, bytes);
    free_.clear();
    cached_ = 0;
  }
  std::size_t cached() {
    std::lock_guard<std::mutex> lock(mu_);
    return cached_;
  }

 private:
  std::size_t cap_ = [] {
    const char* env = std::getenv("NTHGRAD_CACHE_BYTES");
    return env ? static_cast<std::size_t>(std::strtoull(env, nullptr, 10)) : std::size_t{256} << 20;
  }();
  std::mutex mu_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_ = 0;
};

// Never destroyed: storages may still die during static destruction.
BlockCache& block_cache() {
  static auto* cache = new BlockCache();
  return *cache;
}

// Buffers of kLargeBuffer bytes and more are backed by huge pages and start
// at staggered offsets (see fresh_buffer).
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kLargeBuffer = 2 * kHugePage;
// the start of a large buffer: 4 KiB, plus 64 bytes times a rotating slot of 64
constexpr std::size_t kStaggerBase = 4096, kStaggerStep = 64, kStaggerSlots = 64;
constexpr std::size_t kMaxStagger = kStaggerBase + kStaggerStep * (kStaggerSlots - 1);

// The bytes a buffer of `padded` bytes really takes (the block cache counts these).
std::size_t footprint(std::size_t padded) {
#ifdef __linux__
  if (padded >= kLargeBuffer) return (padded + kMaxStagger + kHugePage - 1) / kHugePage * kHugePage;
#endif
  return padded;
}

// A new buffer of `padded` bytes (nullptr when out of memory). A large one
// is a mapping of its own (given back to the system when freed, where a
// 2 MiB-aligned block from malloc's heap stayed resident), asked to be
// backed by huge pages: Linux's transparent huge pages are often only used
// on request (NumPy requests them), and a pass over 4 KiB pages costs a TLB
// miss per page. Its start is staggered by 4 KiB plus a rotating multiple
// of 64 bytes within a 2 MiB-aligned block, so that two large tensors do not
// map to the same cache sets: an MPI allreduce from one 2 MiB-aligned
// 100 MB buffer into another ran 97 ms against 83 ms with the receiving
// buffer offset. The block is the data's address rounded down to 2 MiB.
void* fresh_buffer(std::size_t padded) {
#ifdef __linux__
  if (padded >= kLargeBuffer) {
    static std::atomic<unsigned> next{0};
    const std::size_t size = footprint(padded);
    // map one huge page more, to cut a 2 MiB-aligned block out of it
    void* mapped = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) return nullptr;
    char* raw = static_cast<char*>(mapped);
    char* block = raw + (kHugePage - reinterpret_cast<std::uintptr_t>(raw) % kHugePage) % kHugePage;
    if (block > raw) munmap(raw, static_cast<std::size_t>(block - raw));
    const std::size_t tail = static_cast<std::size_t>(raw + kHugePage - block);
    if (tail) munmap(block + size, tail);
    madvise(block, size, MADV_HUGEPAGE);  // advice only: a failure changes nothing
    return block + kStaggerBase + kStaggerStep * (next++ % kStaggerSlots);
  }
#endif
  return std::aligned_alloc(kAlignment, padded);
}

void free_buffer(void* data, std::size_t padded) {
#ifdef __linux__
  if (padded >= kLargeBuffer) {
    const std::uintptr_t at = reinterpret_cast<std::uintptr_t>(data);
    munmap(reinterpret_cast<void*>(at - at % kHugePage), footprint(padded));
    return;
  }
#endif
  std::free(data);
}

std::size_t padded_size(std::size_t nbytes) {
  // aligned_alloc needs a size that is a multiple of the alignment; never 0.
  std::size_t padded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  return padded ? padded : kAlignment;
}
}  // namespace

void Storage::empty_cache() { block_cache().clear(); }
std::size_t Storage::cached_bytes() { return block_cache().cached(); }

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "?";
}

std::size_t itemsize(DType dtype) {
  switch (dtype) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}

std::string Device::str() const {
  return type == DeviceType::CPU ? "cpu" : "cuda:" + std::to_string(index);
}

Storage::Storage(std::size_t nbytes) : nbytes_(nbytes) {
  // Padding a size this close to SIZE_MAX would wrap to a tiny buffer.
  if (nbytes > static_cast<std::size_t>(PTRDIFF_MAX) - kAlignment)
    throw ValueError(detail::cat("cannot allocate ", nbytes, " bytes: more than any buffer can hold"));
  const std::size_t padded = padded_size(nbytes);
  owned_ = true;
  data_ = block_cache().take(padded);
  if (!data_) data_ = fresh_buffer(padded);
  if (!data_) {  // give the cached buffers back and try once more
    block_cache().clear();
    data_ = fresh_buffer(padded);
  }
  if (!data_) throw MemoryError(detail::cat("out of memory allocating ", nbytes, " bytes"));
  ++g_live_storages;
  g_live_bytes += static_cast<int64_t>(nbytes_);
}

Storage::Storage(void* data, std::size_t nbytes, std::shared_ptr<void> owner)
    : data_(data), nbytes_(nbytes), owner_(std::move(owner)) {
  ++g_live_storages;
  g_live_bytes += static_cast<int64_t>(nbytes_);
}

Storage::~Storage() {
  if (owned_ && !block_cache().give(data_, padded_size(nbytes_))) free_buffer(data_, padded_size(nbytes_));
  --g_live_storages;
  g_live_bytes -= static_cast<int64_t>(nbytes_);
}

int64_t Storage::live_count() { return g_live_storages.load(); }
int64_t Storage::live_bytes() { return g_live_bytes.load(); }

namespace {
// The element count of a tensor of `shape` and `dtype`, after checking that
// its byte extent (zero dimensions counted as 1, NumPy's rule) stays below
// PTRDIFF_MAX less the alignment: then every byte size, offset and stride of
// any tensor fits in ptrdiff_t, and padding its allocation cannot wrap.
int64_t checked_numel(const Shape& shape, DType dtype) {
  const int64_t n = nthgrad::numel(shape);  // negative dimensions, element count
  int64_t extent = static_cast<int64_t>(itemsize(dtype));
  for (int64_t d : shape)
    if (d > 0) extent = checked_mul(extent, d, "tensor", shape);
  if (extent > PTRDIFF_MAX - static_cast<int64_t>(kAlignment))
    throw ValueError(detail::cat("tensor: shape ", shape_str(shape), " of ", dtype_name(dtype), " is too large: ",
                                 extent, " bytes is more than any buffer can hold"));
  return n;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  if (device.type != DeviceType::CPU) throw RuntimeError("nthgrad was built without CUDA");
  Tensor t;
  t.shape_ = shape;
  t.numel_ = checked_numel(shape, dtype);
  t.dtype_ = dtype;
  t.device_ = device;
  try {
    t.storage_ = std::make_shared<Storage>(t.nbytes());
  } catch (const MemoryError&) {
    throw MemoryError(detail::cat("out of memory allocating ", t.nbytes(), " bytes for a tensor of shape ",
                                  shape_str(shape), " and dtype ", dtype_name(dtype)));
  }
  return t;
}

namespace {
template <typename T>
void fill_as(const Tensor& t, double value) {
  std::fill_n(static_cast<T*>(t.raw_data()), t.numel(), static_cast<T>(value));
}
}  // namespace

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  // Converting NaN, inf or an out-of-range float to an integer is undefined
  // behaviour in C++; nthgrad refuses it (architecture.md section 6).
  if (dtype == DType::Int64 && !fits_int64(value))
    throw ValueError(detail::cat("full: cannot fill an int64 tensor with ", value,
                                 " (NaN, infinite, or outside [-2^63, 2^63))"));
  Tensor t = empty(shape, dtype);
  switch (dtype) {
    case DType::Float32: fill_as<float>(t, value); break;
    case DType::Float64: fill_as<double>(t, value); break;
    case DType::Int64: fill_as<int64_t>(t, value); break;
    case DType::Bool: fill_as<bool>(t, value); break;
  }
  return t;
}

Tensor Tensor::from_data(const void* src, const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  if (t.nbytes()) std::memcpy(t.raw_data(), src, t.nbytes());
  return t;
}

Tensor Tensor::wrap(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> owner) {
  Tensor t;
  t.shape_ = shape;
  t.numel_ = checked_numel(shape, dtype);
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>(data, t.nbytes(), std::move(owner));
  return t;
}

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype) {
  Tensor t;
  t.shape_ = shape;
  t.numel_ = checked_numel(shape, dtype);
  t.dtype_ = dtype;
  if (!storage || storage->nbytes() < t.nbytes())
    throw ValueError(detail::cat("from_storage: a storage of ", storage ? storage->nbytes() : 0,
                                 " bytes cannot hold shape ", shape_str(shape), " of ", dtype_name(dtype)));
  t.storage_ = std::move(storage);
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  if (checked_numel(shape, dtype_) != numel_)
    throw ValueError(detail::cat("reshape: cannot reshape a tensor of shape ", shape_str(shape_), " (", numel_,
                                 " elements) to ", shape_str(shape)));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

double Tensor::at(int64_t i) const {
  switch (dtype_) {
    case DType::Float32: return static_cast<const float*>(raw_data())[i];
    case DType::Float64: return static_cast<const double*>(raw_data())[i];
    case DType::Int64: return static_cast<double>(static_cast<const int64_t*>(raw_data())[i]);
    case DType::Bool: return static_cast<const bool*>(raw_data())[i] ? 1.0 : 0.0;
  }
  return 0.0;
}

double Tensor::item() const {
  if (!defined()) throw RuntimeError("item: the tensor is undefined");
  if (numel_ != 1)
    throw ValueError(detail::cat("item: only a tensor with one element can be converted to a number; this one has shape ",
                                 shape_str(shape_)));
  return at(0);
}

void Tensor::check_dtype(DType expected) const {
  if (dtype_ != expected)
    throw TypeError(detail::cat("tensor data requested as ", dtype_name(expected), " but the tensor is ",
                                dtype_name(dtype_)));
}

}  // namespace nthgrad

#pragma once
// Tensor: a dtype, a shape and contiguous row-major storage on a device.
// Knows nothing of autodiff. Copies are cheap (the storage is shared). Ops
// never write into a tensor after it is created; the few in-place updates
// (optimizer steps, add_, copy_, running statistics) bump the storage's
// version, which graphs that saved the tensor check before using it.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "nthgrad/device.h"
#include "nthgrad/dtype.h"
#include "nthgrad/shape.h"

namespace nthgrad {

class Storage {
 public:
  explicit Storage(std::size_t nbytes);  // owns a 64-byte aligned buffer
  // Wraps memory owned elsewhere (a NumPy array); `owner` keeps it alive.
  Storage(void* data, std::size_t nbytes, std::shared_ptr<void> owner);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  // False when the memory belongs to someone else (a NumPy array, a DLPack producer).
  bool owns_data() const { return owned_; }
  // How many in-place writes this memory has seen. A graph records it when it
  // saves a tensor and refuses to differentiate if it has changed since.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }
  // Live views of this memory handed outside nthgrad (NumPy arrays, DLPack
  // exports): in-place writes are refused while any lives, since tensors
  // wrapped from such a view (from_numpy) have a storage of their own whose
  // version would not change.
  int64_t exports() const { return exports_.load(std::memory_order_relaxed); }
  void add_export() { exports_.fetch_add(1, std::memory_order_relaxed); }
  void drop_export() { exports_.fetch_sub(1, std::memory_order_relaxed); }
  static int64_t live_count();
  static int64_t live_bytes();  // bytes held by live storages
  // Freed buffers kept for reuse (see tensor.cpp), and giving them back.
  static std::size_t cached_bytes();
  static void empty_cache();

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  std::shared_ptr<void> owner_;  // keeps memory owned elsewhere alive (wrap)
  bool owned_ = false;           // data_ was allocated here, and is freed (or cached) here
  std::atomic<uint64_t> version_{0};
  std::atomic<int64_t> exports_{0};
};

class Tensor {
 public:
  Tensor() = default;  // undefined

  static Tensor empty(const Shape& shape, DType dtype, Device device = {});
  static Tensor full(const Shape& shape, double value, DType dtype);
  static Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
  static Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
  static Tensor scalar(double value, DType dtype) { return full({}, value, dtype); }
  // Copies `numel(shape)` elements of `dtype` from `src`.
  static Tensor from_data(const void* src, const Shape& shape, DType dtype);
  // Shares memory owned by `owner` (no copy).
  static Tensor wrap(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> owner);
  // A view of an existing storage (numel(shape) elements of dtype must fit).
  static Tensor from_storage(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t ndim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * itemsize(dtype_); }
  void* raw_data() const { return storage_ ? storage_->data() : nullptr; }
  template <typename T>
  T* data() const {
    check_dtype(dtype_of<T>::value);
    return static_cast<T*>(raw_data());
  }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  // Same storage, new shape (numel must match).
  Tensor reshape(const Shape& shape) const;
  // The single element as a double (numel must be 1).
  double item() const;
  // Element i (row-major) as a double; for tests and printing, not hot loops.
  double at(int64_t i) const;

 private:
  void check_dtype(DType expected) const;
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  int64_t numel_ = 0;
  DType dtype_ = DType::Float32;
  Device device_;
};

}  // namespace nthgrad

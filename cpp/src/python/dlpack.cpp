// DLPack exchange: Tensor.__dlpack__ / __dlpack_device__ and
// nthgrad.from_dlpack, without copying. The structs follow the DLPack 1.0
// ABI (dlpack.h), written out here because the header is not a dependency.
//
// Rules, as for the NumPy views (docs/architecture.md): an exported tensor is
// flagged read-only (a consumer that honours the flag, such as NumPy, gives a
// read-only array; nthgrad never writes into a tensor, and a write could
// corrupt values saved for backward); the export keeps the tensor's storage
// alive until the consumer releases it. A consumer that asks for the legacy,
// unversioned capsule cannot be told "read-only", so it gets a copy.
// Imported memory is shared: later writes by the producer show through, as
// with from_numpy, and it must be C-contiguous.
#include <cstring>

#include "python/common.h"

namespace nthgrad::python {

namespace {

// --- the DLPack 1.0 ABI -----------------------------------------------------
enum DLDeviceTypeCode : int32_t { kDLCPU = 1 };
enum DLDataTypeCode : uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBool = 6 };
struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};
struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};
constexpr uint64_t kFlagReadOnly = 1u << 0;
constexpr uint64_t kFlagIsCopied = 1u << 1;
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  uint64_t flags;
  DLTensor dl_tensor;
};

// --- export -----------------------------------------------------------------

// What an exported DLTensor points into, kept alive until the consumer's deleter runs.
struct Export {
  ExportedTensor exported;
  std::vector<int64_t> shape, strides;
};

DLDataType dl_dtype(DType d) {
  switch (d) {
    case DType::Float32: return {kDLFloat, 32, 1};
    case DType::Float64: return {kDLFloat, 64, 1};
    case DType::Int64: return {kDLInt, 64, 1};
    case DType::Bool: return {kDLBool, 8, 1};
  }
  return {kDLFloat, 32, 1};
}

void fill(DLTensor& dl, Export& e) {
  e.shape.assign(e.exported.tensor.shape().begin(), e.exported.tensor.shape().end());
  e.strides.resize(e.shape.size());
  int64_t s = 1;
  for (int64_t i = static_cast<int64_t>(e.shape.size()) - 1; i >= 0; --i) {
    e.strides[i] = s;
    s *= std::max<int64_t>(e.shape[i], 1);
  }
  dl.data = e.exported.tensor.raw_data();
  dl.device = {kDLCPU, 0};
  dl.ndim = static_cast<int32_t>(e.shape.size());
  dl.dtype = dl_dtype(e.exported.tensor.dtype());
  dl.shape = e.shape.data();
  dl.strides = e.strides.data();
  dl.byte_offset = 0;
}

// A capsule still named "dltensor[_versioned]" was never consumed: free it.
void destroy_unused_versioned(PyObject* capsule) {
  if (!PyCapsule_IsValid(capsule, "dltensor_versioned")) return;
  auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(capsule, "dltensor_versioned"));
  if (m && m->deleter) m->deleter(m);
}
void destroy_unused_legacy(PyObject* capsule) {
  if (!PyCapsule_IsValid(capsule, "dltensor")) return;
  auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
  if (m && m->deleter) m->deleter(m);
}

py::object to_dlpack(const Variable& self, const py::object& stream, const py::object& max_version,
                     const py::object& dl_device, const py::object& copy) {
  if (!stream.is_none() && stream.cast<int64_t>() != -1)
    throw py::buffer_error("__dlpack__: nthgrad tensors live on the CPU; stream must be None");
  if (!dl_device.is_none()) {
    auto dev = dl_device.cast<std::pair<int64_t, int64_t>>();
    if (dev.first != kDLCPU) throw py::buffer_error("__dlpack__: nthgrad tensors can only be exported to the CPU");
  }
  bool versioned = false;
  if (!max_version.is_none()) versioned = max_version.cast<std::pair<int64_t, int64_t>>().first >= 1;
  const bool must_copy = !copy.is_none() && copy.cast<bool>();
  if (!copy.is_none() && !copy.cast<bool>() && !versioned)
    throw py::buffer_error("__dlpack__: copy=False needs a versioned (DLPack >= 1.0) consumer, which can be told "
                           "that the memory is read-only");
  // Legacy consumers cannot be told "read-only": they get a copy (see the top of this file).
  const bool copied = must_copy || !versioned;
  auto* e = new Export{
      ExportedTensor(copied ? Tensor::from_data(self.value().raw_data(), self.shape(), self.dtype()) : self.value()),
      {}, {}};
  if (versioned) {
    auto* m = new DLManagedTensorVersioned{};
    m->version = {1, 0};
    m->manager_ctx = e;
    m->deleter = [](DLManagedTensorVersioned* self) {
      delete static_cast<Export*>(self->manager_ctx);
      delete self;
    };
    m->flags = kFlagReadOnly | (copied ? kFlagIsCopied : 0);
    fill(m->dl_tensor, *e);
    return py::reinterpret_steal<py::object>(PyCapsule_New(m, "dltensor_versioned", destroy_unused_versioned));
  }
  auto* m = new DLManagedTensor{};
  m->manager_ctx = e;
  m->deleter = [](DLManagedTensor* self) {
    delete static_cast<Export*>(self->manager_ctx);
    delete self;
  };
  fill(m->dl_tensor, *e);
  return py::reinterpret_steal<py::object>(PyCapsule_New(m, "dltensor", destroy_unused_legacy));
}

// --- import -----------------------------------------------------------------

DType nthgrad_dtype(const DLDataType& t) {
  if (t.lanes == 1) {
    if (t.code == kDLFloat && t.bits == 32) return DType::Float32;
    if (t.code == kDLFloat && t.bits == 64) return DType::Float64;
    if (t.code == kDLInt && t.bits == 64) return DType::Int64;
    if (t.code == kDLBool && t.bits == 8) return DType::Bool;
  }
  throw TypeError(detail::cat("from_dlpack: unsupported DLPack dtype (code ", int(t.code), ", ", int(t.bits),
                              " bits, ", t.lanes, " lanes); nthgrad has float32, float64, int64 and bool"));
}

// The consumer side of one capsule: checks it, and wraps its memory in a
// tensor whose storage calls the producer's deleter when it dies.
template <typename Managed>
Tensor wrap_capsule(PyObject* capsule, const char* name, const char* used_name) {
  auto* m = static_cast<Managed*>(PyCapsule_GetPointer(capsule, name));
  if (!m) throw py::error_already_set();
  const DLTensor& dl = m->dl_tensor;
  if (dl.device.device_type != kDLCPU)
    throw ValueError(detail::cat("from_dlpack: the tensor is on device type ", dl.device.device_type,
                                 ", not the CPU; copy it to the CPU first"));
  const DType dtype = nthgrad_dtype(dl.dtype);
  if (dl.ndim < 0) throw ValueError("from_dlpack: negative ndim");
  Shape shape(dl.shape, dl.shape + dl.ndim);
  if (dl.strides && numel(shape) > 0) {  // must be C-contiguous (size-1 axes may carry any stride)
    int64_t expected = 1;
    for (int64_t i = dl.ndim - 1; i >= 0; --i) {
      if (shape[i] != 1 && dl.strides[i] != expected)
        throw ValueError(detail::cat("from_dlpack: the tensor of shape ", shape_str(shape),
                                     " is not C-contiguous, so its memory cannot be shared; make it contiguous first "
                                     "(torch: .contiguous(), NumPy: np.ascontiguousarray)"));
      expected *= shape[i];
    }
  }
  void* data = static_cast<char*>(dl.data) + dl.byte_offset;
  // From here the capsule is ours: rename it so that its destructor leaves it alone.
  PyCapsule_SetName(capsule, used_name);
  std::shared_ptr<void> owner(m, [](void* p) {
    auto* managed = static_cast<Managed*>(p);
    if (managed->deleter) {
      py::gil_scoped_acquire gil;  // the producer's deleter may touch Python objects
      managed->deleter(managed);
    }
  });
  return Tensor::wrap(data, shape, dtype, std::move(owner));
}

Variable from_dlpack(const py::object& obj) {
  py::object capsule = obj;
  if (!PyCapsule_CheckExact(obj.ptr())) {
    if (!py::hasattr(obj, "__dlpack__"))
      throw TypeError(detail::cat("from_dlpack: expected an object with __dlpack__ (a NumPy array, a torch tensor, "
                                  "...) or a DLPack capsule, got ", std::string(py::str(obj.get_type().attr("__name__")))));
    if (py::hasattr(obj, "__dlpack_device__")) {
      auto dev = obj.attr("__dlpack_device__")().cast<std::pair<int64_t, int64_t>>();
      if (dev.first != kDLCPU)
        throw ValueError(detail::cat("from_dlpack: the tensor is on device type ", dev.first,
                                     ", not the CPU; copy it to the CPU first"));
    }
    try {
      capsule = obj.attr("__dlpack__")(py::arg("max_version") = py::make_tuple(1, 0));
    } catch (const py::error_already_set& e) {
      if (!e.matches(PyExc_TypeError)) throw;
      capsule = obj.attr("__dlpack__")();  // an older producer without max_version
    }
  }
  PyObject* c = capsule.ptr();
  if (PyCapsule_IsValid(c, "dltensor_versioned")) {
    auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(c, "dltensor_versioned"));
    if (m->version.major > 1)
      throw ValueError(detail::cat("from_dlpack: DLPack version ", m->version.major, ".", m->version.minor,
                                   " is newer than nthgrad understands (1.x)"));
    return Variable(wrap_capsule<DLManagedTensorVersioned>(c, "dltensor_versioned", "used_dltensor_versioned"));
  }
  if (PyCapsule_IsValid(c, "dltensor"))
    return Variable(wrap_capsule<DLManagedTensor>(c, "dltensor", "used_dltensor"));
  throw ValueError("from_dlpack: the capsule is not an unused DLPack capsule (was it consumed already?)");
}

}  // namespace

void bind_dlpack(py::module_& m) {
  auto tensor = py::reinterpret_borrow<py::class_<Variable>>(m.attr("Tensor"));
  tensor.def("__dlpack__", &to_dlpack, py::kw_only(), py::arg("stream") = py::none(),
             py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(), py::arg("copy") = py::none(),
             "A DLPack capsule sharing this tensor's memory, flagged read-only (a copy for legacy consumers).");
  tensor.def("__dlpack_device__", [](const Variable&) { return py::make_tuple(int(kDLCPU), 0); });
  m.def("from_dlpack", &from_dlpack, py::arg("x"),
        "A tensor sharing the memory of a DLPack producer (NumPy array, torch tensor, capsule); C-contiguous CPU "
        "data only.");
}

}  // namespace nthgrad::python

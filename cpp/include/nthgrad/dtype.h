#pragma once
#include <cstddef>
#include <cstdint>

namespace nthgrad {

enum class DType : uint8_t { Float32, Float64, Int64, Bool };

const char* dtype_name(DType dtype);
std::size_t itemsize(DType dtype);
inline bool is_floating(DType dtype) { return dtype == DType::Float32 || dtype == DType::Float64; }

template <typename T>
struct dtype_of;
template <>
struct dtype_of<float> {
  static constexpr DType value = DType::Float32;
};
template <>
struct dtype_of<double> {
  static constexpr DType value = DType::Float64;
};
template <>
struct dtype_of<int64_t> {
  static constexpr DType value = DType::Int64;
};
template <>
struct dtype_of<bool> {
  static constexpr DType value = DType::Bool;
};

}  // namespace nthgrad

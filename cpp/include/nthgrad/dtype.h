#pragma once
#include <cstddef>
#include <cstdint>

namespace nthgrad {

enum class DType : uint8_t { Float32, Float64, Int64, Bool };

const char* dtype_name(DType dtype);
std::size_t itemsize(DType dtype);
inline bool is_floating(DType dtype) { return dtype == DType::Float32 || dtype == DType::Float64; }

// True when the float `v` converts to int64 by truncation toward zero. C++
// leaves the conversion of NaN, +-inf and values outside [-2^63, 2^63)
// undefined, so every float-to-int64 conversion checks this first.
inline bool fits_int64(double v) { return v >= -9223372036854775808.0 && v < 9223372036854775808.0; }

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

// Reading a JSON number into a signed integer safely. nlohmann's get<int>() converts with a
// plain cast, undefined behaviour when the value does not fit (the fuzzers found "dim": 1e30 in
// the vector-index header and 4.8e123 in config.json): check first. Header-only (nlohmann is).
#pragma once
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace clap {

// True when the number `v` (integer or float) lies within T's range.
template <typename T>
bool json_number_fits(const nlohmann::json& v) {
  static_assert(std::is_integral_v<T> && std::is_signed_v<T>);
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max());
  if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    return x >= int64_t{std::numeric_limits<T>::min()} && x <= int64_t{std::numeric_limits<T>::max()};
  }
  if (!v.is_number_float()) return false;
  const double d = v.get<double>();
  const double low = static_cast<double>(std::numeric_limits<T>::min());  // -2^(bits-1), exact
  return d >= low && d < -low;  // NaN fails both
}

// obj[key] as T, for a file that writes only integers there (the headers of the index files):
// throws std::runtime_error naming the key when it is absent (nlohmann's out_of_range), not an
// integer (a float means a damaged file), or out of T's range.
template <typename T>
T json_integer_field(const nlohmann::json& obj, const char* key) {
  const nlohmann::json& v = obj.at(key);
  if (!v.is_number_integer()) throw std::runtime_error(std::string(key) + " is not an integer");
  if (!json_number_fits<T>(v)) throw std::runtime_error(std::string(key) + " is out of range");
  return v.get<T>();
}

}  // namespace clap

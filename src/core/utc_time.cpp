#include "core/utc_time.h"

#include <chrono>

#include <algorithm>
#include <ctime>

namespace clap {

std::string utc_date_time(int64_t unix_s) {
  constexpr int64_t kLastRfc3339Second = 253402300799;  // 9999-12-31T23:59:59Z
  const std::time_t t = static_cast<std::time_t>(std::clamp<int64_t>(unix_s, 0, kLastRfc3339Second));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

int64_t now_unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace clap

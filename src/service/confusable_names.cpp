#include "service/confusable_names.h"

#include <unicode/uspoof.h>

#include <memory>
#include <mutex>
#include <vector>

#include "core/error.h"

namespace clap::service {

namespace {

struct CheckerClose {
  void operator()(USpoofChecker* c) const { uspoof_close(c); }
};

// One checker for the process, opened on first use: its data is read once, and a checker is
// safe to use from several threads once made (ICU's uspoof.h: const functions).
const USpoofChecker& checker() {
  static std::unique_ptr<USpoofChecker, CheckerClose> made;
  static std::once_flag once;
  std::call_once(once, [] {
    UErrorCode status = U_ZERO_ERROR;
    made.reset(uspoof_open(&status));
    if (U_FAILURE(status) || !made) {
      made.reset();
      throw Error(std::string("the Unicode look-alike table (ICU uspoof) cannot be opened: ") + u_errorName(status));
    }
  });
  if (!made) throw Error("the Unicode look-alike table (ICU uspoof) cannot be opened");
  return *made;
}

}  // namespace

std::string confusable_skeleton(const std::string& utf8) {
  const USpoofChecker& c = checker();
  // A skeleton is at most a few times longer than its text (each character maps to at most a
  // few); one retry with the size ICU asks for covers any case.
  std::vector<char> out(utf8.size() * 4 + 16);
  for (int attempt = 0; attempt < 2; ++attempt) {
    UErrorCode status = U_ZERO_ERROR;
    const int32_t n = uspoof_getSkeletonUTF8(&c, 0, utf8.data(), static_cast<int32_t>(utf8.size()), out.data(),
                                             static_cast<int32_t>(out.size()), &status);
    if (status == U_BUFFER_OVERFLOW_ERROR && attempt == 0) {
      out.resize(static_cast<size_t>(n) + 1);
      continue;
    }
    if (U_FAILURE(status)) throw Error(std::string("cannot compare the name with others: ") + u_errorName(status));
    return std::string(out.data(), static_cast<size_t>(n));
  }
  throw Error("cannot compare the name with others: its look-alike form keeps growing");
}

}  // namespace clap::service

// Unix seconds as RFC 3339 UTC text ("2026-11-27T01:02:03Z"): what the Subsonic API's date-time
// fields, `user list --json` and `history export` write.
#pragma once
#include <cstdint>
#include <string>

namespace clap {

// RFC 3339 has four-digit years: a time beyond 9999 (a client's wrong clock) is written as the
// last second it can hold, a time before 1970 as the epoch - never a date no reader parses.
std::string utc_date_time(int64_t unix_s);

// The current time in Unix seconds (the system clock): what a play, a saved queue or an account
// records as "now".
int64_t now_unix_seconds();

}  // namespace clap

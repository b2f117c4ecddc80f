// The window settings' bounds (index/identity.h check_window_settings) with both settings named
// as a front end names them: Python's keywords (window or chunk, and hop) are not the CLI's
// --window/--chunk and --hop (hostile pass 10: like(chunk=...)'s messages named --chunk, --hop).
#pragma once
#include <string>

namespace clap::index {

// window >= 1 s, 0.5 s <= hop <= window; throws InvalidArgument naming `window_name` or `hop_name`.
void check_window_settings_named(double window_s, double hop_s, const std::string& window_name, const std::string& hop_name);

}  // namespace clap::index

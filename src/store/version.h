// The database client libraries this process runs with, for `clapsearch --version`.
#pragma once
#include <string>

namespace clap::store {

std::string sqlite_version();  // sqlite3_libversion(): "3.40.1"
std::string libpq_version();   // PQlibVersion(): "15.5"

}  // namespace clap::store

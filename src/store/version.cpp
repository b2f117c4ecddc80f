#include "store/version.h"

#include <libpq-fe.h>
#include <sqlite3.h>

namespace clap::store {

std::string sqlite_version() { return sqlite3_libversion(); }

std::string libpq_version() {
  // 150005 = 15.5; before PostgreSQL 10 it was major.minor.patch (90624 = 9.6.24).
  const int v = PQlibVersion();
  if (v >= 100000) return std::to_string(v / 10000) + "." + std::to_string(v % 10000);
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

}  // namespace clap::store

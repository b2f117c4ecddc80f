// The set-up of the server tests that sign in as a user on either store (scrobble_once_test.cpp,
// postgres_restart_test.cpp): an index of the songs a test made, by the real CLI, with the user bob
// (password "secret"), and `/rest/` calls as bob over real HTTP.
#pragma once
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "server/running_server.h"
#include "support/golden.h"

namespace clap::server::test_users {

// A PostgreSQL index keeps its password key file under $XDG_DATA_HOME, read by the CLI and by this
// process's server alike: set (for both: the CLI inherits it) while this lives.
class BobsIndex {
 public:
  BobsIndex(const std::string& dir, const std::string& music, std::string db) : db_(std::move(db)) {
    setenv("XDG_DATA_HOME", (dir + "/data").c_str(), 1);
    try {
      test::index_library(music, db_, test::case_dir("tiny-unfused"));
      std::ofstream(dir + "/pw") << "secret\n";
      std::string err;
      if (test::run_cli("user add bob --db " + test::quoted(db_) + " < " + test::quoted(dir + "/pw"), nullptr, &err) != 0)
        throw std::runtime_error("user add bob: " + err);
    } catch (...) {
      unsetenv("XDG_DATA_HOME");
      throw;
    }
  }
  ~BobsIndex() { unsetenv("XDG_DATA_HOME"); }
  BobsIndex(const BobsIndex&) = delete;
  BobsIndex& operator=(const BobsIndex&) = delete;

  const std::string& db() const { return db_; }

 private:
  std::string db_;
};

// `/rest/CALL` (CALL holds its `?`) as bob in JSON: the "subsonic-response" object, or
// {"status": "no answer"} when the server did not answer.
inline nlohmann::json rest_as_bob(RunningServer& s, const std::string& call) {
  auto r = s.client().Get("/rest/" + call + "&u=bob&p=secret&f=json&v=1.16.1&c=t");
  return r ? nlohmann::json::parse(r->body)["subsonic-response"] : nlohmann::json{{"status", "no answer"}};
}

}  // namespace clap::server::test_users

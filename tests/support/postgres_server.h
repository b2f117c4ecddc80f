// A real PostgreSQL server for the tests of the PostgreSQL store: initdb into a temporary
// folder, started on 127.0.0.1 with a free port (its socket in that folder too), stopped
// (pg_ctl stop -m immediate) and removed when the test process ends. The server's programs
// are Debian's (/usr/lib/postgresql/<version>/bin, package `postgresql`); they refuse to run
// as root, so as root they run as the `postgres` system user (runuser), which owns the folder.
// Nothing is skipped when the server is missing: the test fails with what to install.
#pragma once
#include <memory>
#include <string>

namespace clap::test {

class PostgresServer {
 public:
  // The one server of this test process, started on first use. Throws std::runtime_error with
  // the reason (and the server's log) when it cannot start.
  static PostgresServer& shared();
  // A server of its own, its programs run with `environment` ("NAME=VALUE ...", quoted for a
  // shell): a fault injector preloaded into it (support/faultfs.c: its files on a "full disk").
  // Stopped and removed when the returned object is destroyed.
  static std::unique_ptr<PostgresServer> started_with(const std::string& environment);

  // A new, empty database with a unique name; returns its postgresql:// URL.
  std::string create_database();
  // The URL of database `name` on this server.
  std::string url(const std::string& name) const;
  int port() const { return port_; }
  // Restarts the server as an administrator would (-m fast: every session is cut, committed work
  // kept; an immediate stop would lose the last commits, since the test server runs with
  // synchronous_commit=off), on the same port, `down_s` seconds later. Throws std::runtime_error when it does not come back.
  void restart(double down_s = 0);
  const std::string& bin_dir() const { return bin_; }
  // A new folder `name` in the server's own folder, owned by the user the server runs as (a
  // tablespace's LOCATION must be).
  std::string folder(const std::string& name) const;

  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

 private:
  explicit PostgresServer(std::string environment = "");
  void start();
  void stop();
  std::string as_server_user(const std::string& command) const;  // runuser prefix when root
  std::string pg_ctl_start(const std::string& data, const std::string& log) const;
  std::string bin_, dir_, user_prefix_, environment_;
  int port_ = 0;
  int databases_ = 0;
  bool running_ = false;
};

}  // namespace clap::test

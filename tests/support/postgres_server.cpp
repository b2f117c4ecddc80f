#include "support/postgres_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "store/postgres.h"
#include "support/golden.h"

namespace clap::test {

namespace fs = std::filesystem;

namespace {

// Debian's newest server: /usr/lib/postgresql/<version>/bin with initdb and pg_ctl.
std::string find_bin() {
  std::vector<std::pair<int, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const fs::path bin = e.path() / "bin";
    if (fs::exists(bin / "initdb", ec) && fs::exists(bin / "pg_ctl", ec))
      found.emplace_back(std::atoi(e.path().filename().c_str()), bin.string());
  }
  if (found.empty())
    throw std::runtime_error(
        "no PostgreSQL server: /usr/lib/postgresql/*/bin/initdb not found; install Debian's `postgresql` package "
        "(bash scripts/install-deps.sh --tests)");
  std::sort(found.begin(), found.end());
  return found.back().second;
}

// A TCP port on 127.0.0.1 that nothing listens on right now.
int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) throw std::runtime_error("socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(s);
    throw std::runtime_error("cannot find a free port on 127.0.0.1");
  }
  ::close(s);
  return ntohs(a.sin_port);
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

PostgresServer& PostgresServer::shared() {
  // Started once; a server that could not start fails every later test with the same reason
  // (no second initdb per test).
  static std::string failure;
  static std::unique_ptr<PostgresServer> server;
  if (!server) {
    if (!failure.empty()) throw std::runtime_error(failure);
    try {
      server.reset(new PostgresServer());
    } catch (const std::exception& e) {
      failure = e.what();
      throw;
    }
  }
  return *server;
}

std::string PostgresServer::as_server_user(const std::string& command) const { return user_prefix_ + command; }

std::unique_ptr<PostgresServer> PostgresServer::started_with(const std::string& environment) {
  return std::unique_ptr<PostgresServer>(new PostgresServer(environment));
}

PostgresServer::PostgresServer(std::string environment) : environment_(std::move(environment)) {
  bin_ = find_bin();
  char tmpl[] = "/tmp/clapsearch-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("cannot create a temporary folder for the PostgreSQL server");
  dir_ = tmpl;
  try {
    start();
  } catch (...) {
    stop();  // a half-started server and its folder do not outlive the failure
    throw;
  }
}

namespace {
// Loopback only; durability off (a test's data need not survive a power cut).
std::string server_options(int port, const std::string& dir) {
  return "-c listen_addresses=127.0.0.1 -p " + std::to_string(port) + " -c unix_socket_directories=" + dir +
         " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
}
}  // namespace

// pg_ctl start on this server's port, with its environment (the server inherits it).
std::string PostgresServer::pg_ctl_start(const std::string& data, const std::string& log) const {
  return as_server_user((environment_.empty() ? "" : "env " + environment_ + " ") + quoted(bin_ + "/pg_ctl") + " -D " +
                        quoted(data) + " -l " + quoted(log) + " -w -t 60 -o " + quoted(server_options(port_, dir_)) +
                        " start");
}

void PostgresServer::start() {
  if (::geteuid() == 0) {
    // initdb and postgres refuse to run as root: Debian's package creates the `postgres` user.
    const passwd* pw = ::getpwnam("postgres");
    if (!pw)
      throw std::runtime_error("running as root and there is no `postgres` user to run the PostgreSQL server as "
                               "(Debian's `postgresql` package creates it)");
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("cannot give " + dir_ + " to the postgres user");
    user_prefix_ = "runuser -u postgres -- ";
  }
  const std::string data = dir_ + "/data", log = dir_ + "/server.log";
  std::string out, err;
  if (run_command(as_server_user(quoted(bin_ + "/initdb") + " -D " + quoted(data) +
                                 " -A trust -U clap -E UTF8 --locale=C --no-sync"),
                  &out, &err) != 0)
    throw std::runtime_error("initdb failed in " + dir_ + ": " + err + out);
  std::string last_log;
  for (int attempt = 0; attempt < 3 && !running_; ++attempt) {
    port_ = free_port();
    if (run_command(pg_ctl_start(data, log), &out, &err) == 0)
      running_ = true;
    else
      last_log = read_all(log);
  }
  if (!running_) throw std::runtime_error("the PostgreSQL server did not start (" + bin_ + "): " + err + "\n" + last_log);
}

PostgresServer::~PostgresServer() { stop(); }

void PostgresServer::stop() {
  // Runs at process exit, after test::temp_dir()'s folder (run_command's) may be gone: std::system.
  if (running_) {
    const std::string command =
        as_server_user(quoted(bin_ + "/pg_ctl") + " -D " + quoted(dir_ + "/data") + " -m immediate -w stop") +
        " >/dev/null 2>&1 </dev/null";
    if (std::system(command.c_str()) != 0) {
      // Its folder is kept: `pg_ctl -D DIR/data stop` ends it by hand.
      std::fprintf(stderr, "could not stop the PostgreSQL server in %s\n", dir_.c_str());
      return;
    }
  }
  running_ = false;
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

void PostgresServer::restart(double down_s) {
  const std::string data = dir_ + "/data", log = dir_ + "/server.log";
  std::string out, err;
  if (run_command(as_server_user(quoted(bin_ + "/pg_ctl") + " -D " + quoted(data) + " -m fast -w stop"), &out, &err) != 0)
    throw std::runtime_error("pg_ctl stop failed: " + err + out);
  running_ = false;
  if (down_s > 0) ::usleep(static_cast<useconds_t>(down_s * 1e6));
  if (run_command(pg_ctl_start(data, log), &out, &err) != 0)
    throw std::runtime_error("pg_ctl start (after a restart) failed: " + err + out);
  running_ = true;
}

std::string PostgresServer::folder(const std::string& name) const {
  const std::string path = dir_ + "/" + name;
  fs::create_directory(path);
  struct stat st {};
  if (::stat(dir_.c_str(), &st) != 0 || ::chown(path.c_str(), st.st_uid, st.st_gid) != 0)
    throw std::runtime_error("cannot give " + path + " to the server's user");
  return path;
}

std::string PostgresServer::url(const std::string& name) const {
  return "postgresql://clap@127.0.0.1:" + std::to_string(port_) + "/" + name;
}

std::string PostgresServer::create_database() {
  const std::string name = "clap_" + std::to_string(::getpid()) + "_" + std::to_string(++databases_);
  store::pg::Connection admin(url("postgres"));
  admin.exec("CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8'");
  return url(name);
}

}  // namespace clap::test

// A clapsearch server over an index, on a free loopback port, run by a thread of the test
// process, with a cpp-httplib client that waits until it answers. Shared by the server tests.
#pragma once
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "server/server.h"

namespace clap::server {

class RunningServer {
 public:
  // `o.db` defaults to `default_db`; replies are awaited `read_timeout_s` at most.
  RunningServer(ServerOptions o, const std::string& default_db, int read_timeout_s) {
    o.port = 0;
    if (o.db.empty()) o.db = default_db;
    server_ = std::make_unique<Server>(o);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(read_timeout_s, 0);
    for (int i = 0; i < 100 && !client_->Get("/api/status"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ~RunningServer() {
    server_->stop();
    thread_.join();
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  httplib::Client& client() { return *client_; }
  int port() const { return port_; }

  // GET `path`, expecting `expect_status` and a JSON body.
  nlohmann::json get_json(const std::string& path, int expect_status = 200) {
    auto r = client_->Get(path);
    if (!r) throw std::runtime_error("no response to " + path);
    EXPECT_EQ(r->status, expect_status) << path << ": " << r->body;
    EXPECT_NE(r->get_header_value("Content-Type").find("application/json"), std::string::npos) << path;
    return nlohmann::json::parse(r->body);
  }

  // The id of the track the library lists under `display_path`.
  int64_t id_of(const std::string& display_path) {
    const nlohmann::json tracks = get_json("/api/tracks?limit=1000");
    for (const auto& t : tracks["tracks"])
      if (t["display_path"] == display_path) return t["track_id"].get<int64_t>();
    throw std::runtime_error("no track " + display_path + " in " + tracks.dump());
  }

 private:
  std::unique_ptr<Server> server_;
  int port_ = 0;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace clap::server

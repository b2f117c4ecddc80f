// Hub downloads against a real HTTP server on the loopback interface that serves the golden
// model folder in the Hugging Face hub's URL layout, with the hub's headers (X-Repo-Commit,
// ETag / X-Linked-Etag / X-Linked-Size, X-Error-Code), a 302 from /resolve/ to a "CDN" path on
// another host name for model.safetensors (as the hub does for LFS files), and Range support.
// The server can cut connections half-way and corrupt data. (cpp-httplib is installed here as
// Debian's compiled library, not header-only, so the server is a small socket one.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/sha256.h"
#include "hub/hub.h"
#include "model/clap.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;

const std::string kRepo = "test-org/tiny-clap";
const std::string kCommit = "4f2ad5c3e1b0a9d8c7b6a5f4e3d2c1b0a9f8e7d6";
const std::string kToken = "hf_test_token_123";

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// sha1("blob <size>\0<data>"): the id git gives a file, which the hub sends as ETag for
// files not stored with LFS.
std::string git_blob_sha1(const std::string& data) {
  const std::string head = "blob " + std::to_string(data.size()) + std::string(1, '\0');
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
  EVP_DigestUpdate(ctx, head.data(), head.size());
  EVP_DigestUpdate(ctx, data.data(), data.size());
  EVP_DigestFinal_ex(ctx, md, &n);
  EVP_MD_CTX_free(ctx);
  return to_hex(md, n);
}

struct Request {
  std::string method, target, range, authorization;
};

class FakeHub {
 public:
  // Serves every regular file of `folder` (model.safetensors as an LFS file).
  explicit FakeHub(const std::string& folder, std::string repo = kRepo) : repo_(std::move(repo)) {
    for (const auto& e : fs::directory_iterator(folder))
      if (e.is_regular_file()) files_[e.path().filename().string()] = slurp(e.path());
    if (files_.count("model.safetensors")) weights_sha_ = sha256_hex(files_["model.safetensors"]);
    start();
  }
  ~FakeHub() { stop(); }

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& weights_sha() const { return weights_sha_; }

  // Knobs.
  std::atomic<int64_t> cut_at{-1};  // CDN closes the connection once this absolute offset is sent
  std::atomic<int> cuts_left{0};    // how many responses are cut (-1 = all)
  std::atomic<bool> corrupt{false}; // CDN flips bytes (sizes and ETag stay right)
  std::atomic<bool> gated{false};   // every resolve answers 403 GatedRepo

  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  void clear_log() {
    std::lock_guard<std::mutex> lock(mu_);
    log_.clear();
  }

  void stop() {
    if (!running_.exchange(false)) return;
    thread_.join();
    ::close(listen_fd_);
  }

 private:
  void start() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // any free port
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0)
      throw std::runtime_error("fake hub: cannot listen on 127.0.0.1");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    running_ = true;
    thread_ = std::thread([this] { serve(); });
  }

  void serve() {
    while (running_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      handle(fd);
      ::close(fd);
    }
  }

  static bool send_all(int fd, const char* data, size_t len) {
    while (len > 0) {
      const ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
      if (n <= 0) return false;
      data += n;
      len -= static_cast<size_t>(n);
    }
    return true;
  }

  static void respond(int fd, int status, const std::map<std::string, std::string>& headers, const std::string& body,
                      bool head) {
    static const std::map<int, std::string> reasons = {{200, "OK"},        {206, "Partial Content"}, {302, "Found"},
                                                       {403, "Forbidden"}, {404, "Not Found"},       {416, "Range Not Satisfiable"}};
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reasons.at(status) + "\r\n";
    for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
    if (!headers.count("Content-Length")) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += "Connection: close\r\n\r\n";
    if (!head) out += body;
    send_all(fd, out.data(), out.size());
  }

  void handle(int fd) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      req.append(buf, static_cast<size_t>(n));
    }
    std::istringstream in(req.substr(0, req.find("\r\n\r\n")));
    Request r;
    std::string line, version;
    std::getline(in, line);
    std::istringstream(line) >> r.method >> r.target >> version;
    std::map<std::string, std::string> headers;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      headers[lower(line.substr(0, colon))] = value;
    }
    r.range = headers["range"];
    r.authorization = headers["authorization"];
    {
      std::lock_guard<std::mutex> lock(mu_);
      log_.push_back(r);
    }
    const bool head = r.method == "HEAD";
    if (r.target.rfind("/cdn/", 0) == 0) return serve_cdn(fd, r, head);

    // /{org}/{name}/resolve/{revision}/{file}
    std::vector<std::string> parts;
    std::stringstream ss(r.target.substr(1));
    for (std::string p; std::getline(ss, p, '/');) parts.push_back(p);
    if (parts.size() != 5 || parts[2] != "resolve") return respond(fd, 404, {}, "Not Found", head);
    if (parts[0] + "/" + parts[1] != repo_)
      return respond(fd, 404, {{"X-Error-Code", "RepositoryNotFound"}, {"X-Error-Message", "Repository not found"}},
                     "Repository not found", head);
    if (gated)
      return respond(fd, 403, {{"X-Error-Code", "GatedRepo"}, {"X-Error-Message", "Access to model " + kRepo + " is restricted."}},
                     "gated", head);
    if (parts[3] != "main" && parts[3] != kCommit)
      return respond(fd, 404, {{"X-Error-Code", "RevisionNotFound"}, {"X-Error-Message", "Invalid rev id: " + parts[3]}},
                     "Invalid rev id", head);
    const std::string& file = parts[4];
    auto it = files_.find(file);
    if (it == files_.end())
      return respond(fd, 404, {{"X-Error-Code", "EntryNotFound"}, {"X-Repo-Commit", kCommit}}, "Entry not found", head);
    if (file == "model.safetensors") {  // LFS: metadata here, bytes on the CDN
      const std::string size = std::to_string(it->second.size());
      return respond(fd, 302,
                     {{"Location", "http://localhost:" + std::to_string(port_) + "/cdn/" + weights_sha_ + "?sig=abc"},
                      {"X-Repo-Commit", kCommit},
                      {"X-Linked-Etag", "\"" + weights_sha_ + "\""},
                      {"X-Linked-Size", size},
                      {"ETag", "W/\"redirect-etag\""}},
                     "Found. Redirecting", head);
    }
    serve_bytes(fd, r, head, it->second, {{"X-Repo-Commit", kCommit}, {"ETag", "\"" + git_blob_sha1(it->second) + "\""}}, false);
  }

  void serve_cdn(int fd, const Request& r, bool head) {
    const std::string path = r.target.substr(5, r.target.find('?') - 5);
    if (path != weights_sha_) return respond(fd, 404, {}, "NoSuchKey", head);
    serve_bytes(fd, r, head, files_["model.safetensors"], {{"ETag", "\"cdn-etag-not-a-sha\""}}, true);
  }

  void serve_bytes(int fd, const Request& r, bool head, const std::string& data, std::map<std::string, std::string> headers,
                   bool cdn) {
    int64_t start = 0, end = static_cast<int64_t>(data.size()) - 1;
    int status = 200;
    headers["Accept-Ranges"] = "bytes";
    if (r.range.rfind("bytes=", 0) == 0) {
      const std::string spec = r.range.substr(6);
      const size_t dash = spec.find('-');
      start = std::stoll(spec.substr(0, dash));
      if (dash + 1 < spec.size()) end = std::min<int64_t>(end, std::stoll(spec.substr(dash + 1)));
      if (start >= static_cast<int64_t>(data.size()))
        return respond(fd, 416, {{"Content-Range", "bytes */" + std::to_string(data.size())}}, "", head);
      status = 206;
      headers["Content-Range"] = "bytes " + std::to_string(start) + "-" + std::to_string(end) + "/" + std::to_string(data.size());
    }
    std::string body = data.substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1));
    if (cdn && corrupt)
      for (size_t i = body.size() / 3; i < body.size(); i += 4096) body[i] = static_cast<char>(~body[i]);
    headers["Content-Length"] = std::to_string(body.size());
    if (head) return respond(fd, status, headers, "", true);
    const int64_t cut = cut_at;
    int left = cuts_left;
    if (cdn && cut >= 0 && left != 0) {  // send up to the absolute offset `cut`, then drop the connection
      if (left > 0) cuts_left = left - 1;
      const size_t keep = cut > start ? static_cast<size_t>(cut - start) : 0;
      std::string out = "HTTP/1.1 " + std::to_string(status) + (status == 206 ? " Partial Content" : " OK") + "\r\n";
      for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
      out += "Connection: close\r\n\r\n";
      out += body.substr(0, std::min(keep, body.size()));
      send_all(fd, out.data(), out.size());
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    respond(fd, status, headers, body, false);
  }

  std::map<std::string, std::string> files_;
  std::string weights_sha_;
  std::string repo_;  // the one repository it serves
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> running_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<Request> log_;
};

// Each test gets its own HF_HOME (cache) and a clean hub environment.
class Hub : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",
                          "HF_HUB_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_ENDPOINT"})
      ::unsetenv(v);
    ::setenv("NO_PROXY", "127.0.0.1,localhost", 1);  // the fake hub is on loopback: never via a proxy
    ::setenv("no_proxy", "127.0.0.1,localhost", 1);
    home_ = test::temp_dir() + "/hf-home";
    ::setenv("HF_HOME", home_.c_str(), 1);
  }
  void TearDown() override {
    for (const char* v : {"HF_HOME", "HF_ENDPOINT", "HF_HUB_OFFLINE", "HF_TOKEN"}) ::unsetenv(v);
  }

  FakeHub& serve(const std::string& folder = test::case_dir("tiny-unfused"), const std::string& repo = kRepo) {
    hub_ = std::make_unique<FakeHub>(folder, repo);
    ::setenv("HF_ENDPOINT", hub_->endpoint().c_str(), 1);
    return *hub_;
  }

  fs::path storage() const { return fs::path(home_) / "hub" / "models--test-org--tiny-clap"; }

  static hub::ResolvedModel resolve(const std::string& spec) {
    hub::HubOptions o;
    o.quiet = true;
    return hub::resolve_model(spec, o);
  }
  static std::string error_of(const std::string& spec) {
    try {
      resolve(spec);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  std::vector<std::string> blob_names() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(storage() / "blobs", ec)) names.push_back(e.path().filename().string());
    return names;
  }

  std::string home_;
  std::unique_ptr<FakeHub> hub_;
};

const std::vector<std::string> kGoldenFiles = {"config.json", "model.safetensors", "preprocessor_config.json", "vocab.json",
                                               "merges.txt", "tokenizer_config.json", "special_tokens_map.json"};

TEST(Sha256, KnownVectorsAndIncremental) {
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(std::string("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(msg), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 h;
  for (char c : msg) h.update(&c, 1);
  EXPECT_EQ(h.bytes(), msg.size());
  EXPECT_EQ(h.hex_digest(), sha256_hex(msg));
  h.update("abc");  // reusable after a digest
  EXPECT_EQ(h.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(is_sha256_hex(sha256_hex(msg)));
  EXPECT_FALSE(is_sha256_hex("abc"));
}

TEST(Sha256, FilesMatchTheGoldenManifest) {
  std::ifstream f(test::case_dir("tiny-unfused") + "/cases.json");
  const auto files = nlohmann::json::parse(f)["files"];
  for (const std::string name : {"config.json", "model.safetensors", "vocab.json", "merges.txt"})
    EXPECT_EQ(sha256_file(test::case_dir("tiny-unfused") + "/" + name), files[name]["sha256"].get<std::string>()) << name;
  try {
    sha256_file(test::temp_dir() + "/missing");
    ADD_FAILURE() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos);
  }
}

TEST_F(Hub, HubIdsAndLocalFolders) {
  std::string repo, rev;
  ASSERT_TRUE(hub::parse_hub_id("laion/larger_clap_music", &repo, &rev));
  EXPECT_EQ(repo, "laion/larger_clap_music");
  EXPECT_EQ(rev, "main");
  ASSERT_TRUE(hub::parse_hub_id("laion/clap-htsat-fused@refs/pr/3", &repo, &rev));
  EXPECT_EQ(rev, "refs/pr/3");
  EXPECT_FALSE(hub::parse_hub_id("laion", &repo, &rev));
  EXPECT_FALSE(hub::parse_hub_id("a/b/c", &repo, &rev));
  EXPECT_FALSE(hub::parse_hub_id("a/b@../x", &repo, &rev));
  EXPECT_FALSE(hub::parse_hub_id("a/b@", &repo, &rev));

  const auto local = resolve(test::case_dir("tiny-unfused"));
  EXPECT_EQ(local.revision, "local");
  EXPECT_EQ(local.id, fs::path(test::case_dir("tiny-unfused")).lexically_normal().string());
  EXPECT_EQ(local.dir, test::case_dir("tiny-unfused"));
  EXPECT_FALSE(local.downloaded);
  EXPECT_NE(error_of("/no/such/folder").find("no such model folder"), std::string::npos);
  EXPECT_NE(error_of("justaword").find("not a hub id"), std::string::npos);
  // A missing checkpoint file is named as one, not looked up on the hub as org/name.
  EXPECT_NE(error_of("models/clap.pt").find("models/clap.pt: no such model folder or checkpoint file"), std::string::npos)
      << error_of("models/clap.pt");
  // A folder without config.json is not a model folder (not "config.json: cannot open").
  const std::string empty = test::temp_dir() + "/not-a-model";
  fs::create_directories(empty);
  EXPECT_NE(error_of(empty).find(empty + ": not a model folder (it has no config.json"), std::string::npos) << error_of(empty);

  ::setenv("HF_HUB_CACHE", "/somewhere/hub", 1);
  EXPECT_EQ(hub::hub_cache_dir(), "/somewhere/hub");
  ::unsetenv("HF_HUB_CACHE");
  EXPECT_EQ(hub::hub_cache_dir(), home_ + "/hub");
  ::setenv("HF_ENDPOINT", "https://mirror.example/", 1);
  EXPECT_EQ(hub::hub_endpoint(), "https://mirror.example");
  ::unsetenv("HF_ENDPOINT");
  EXPECT_EQ(hub::hub_endpoint(), "https://huggingface.co");
}

TEST_F(Hub, FirstDownloadFillsTheCacheInHuggingfaceHubLayout) {
  FakeHub& hub = serve();
  const auto r = resolve(kRepo);
  EXPECT_EQ(r.id, kRepo);
  EXPECT_EQ(r.revision, kCommit);
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(fs::path(r.dir), storage() / "snapshots" / kCommit);
  EXPECT_EQ(slurp(storage() / "refs" / "main"), kCommit);
  for (const auto& name : kGoldenFiles) {
    const fs::path link = fs::path(r.dir) / name;
    ASSERT_TRUE(fs::is_symlink(link)) << name;
    const fs::path target = fs::read_symlink(link);
    EXPECT_EQ(target.parent_path(), fs::path("../../blobs")) << name;
    EXPECT_TRUE(fs::is_regular_file(storage() / "blobs" / target.filename())) << name;
    EXPECT_EQ(slurp(link), slurp(fs::path(test::case_dir("tiny-unfused")) / name)) << name;
  }
  // LFS blob named by its sha256, small files by their git id; absent optional file recorded.
  EXPECT_EQ(fs::read_symlink(fs::path(r.dir) / "model.safetensors").filename().string(), hub.weights_sha());
  EXPECT_EQ(fs::read_symlink(fs::path(r.dir) / "config.json").filename().string(),
            git_blob_sha1(slurp(fs::path(test::case_dir("tiny-unfused")) / "config.json")));
  EXPECT_TRUE(fs::exists(storage() / ".no_exist" / kCommit / "tokenizer.json"));
  EXPECT_FALSE(fs::exists(fs::path(r.dir) / "tokenizer.json"));
  for (const auto& b : blob_names()) EXPECT_EQ(b.find(".incomplete"), std::string::npos) << b;
  EXPECT_EQ(hub::cached_blob_sha256(r.dir + "/model.safetensors"), hub.weights_sha());
  // The weights came through the redirect; later files were asked for by commit.
  bool via_cdn = false, by_commit = false;
  for (const auto& q : hub.requests()) {
    via_cdn |= q.method == "GET" && q.target.rfind("/cdn/" + hub.weights_sha(), 0) == 0;
    by_commit |= q.target.find("/resolve/" + kCommit + "/") != std::string::npos;
  }
  EXPECT_TRUE(via_cdn);
  EXPECT_TRUE(by_commit);

  // The downloaded model is the golden one, bit for bit.
  auto got = ClapModel::load(r.dir);
  auto ref = ClapModel::load(test::case_dir("tiny-unfused"));
  const std::vector<std::string> texts = {"a dog barking", "classical piano sonata"};
  const auto t1 = got->embed_text(texts), t2 = ref->embed_text(texts);
  ASSERT_EQ(t1.size(), t2.size());
  EXPECT_EQ(std::memcmp(t1.data(), t2.data(), t1.size() * sizeof(float)), 0);
  const auto clip = test::golden_clip('a');
  const std::vector<std::span<const float>> clips = {clip};
  const auto a1 = got->embed_audio(clips), a2 = ref->embed_audio(clips);
  ASSERT_EQ(a1.size(), a2.size());
  EXPECT_EQ(std::memcmp(a1.data(), a2.data(), a1.size() * sizeof(float)), 0);
}

TEST_F(Hub, CacheHitNeedsNoNetwork) {
  FakeHub& hub = serve();
  const auto first = resolve(kRepo);
  hub.clear_log();
  const auto again = resolve(kRepo);  // server still up: must not be asked
  EXPECT_TRUE(hub.requests().empty());
  EXPECT_EQ(again.dir, first.dir);
  EXPECT_FALSE(again.downloaded);
  hub.stop();
  const auto offline = resolve(kRepo);  // server gone
  EXPECT_EQ(offline.dir, first.dir);
  EXPECT_EQ(offline.revision, kCommit);
  EXPECT_EQ(resolve(kRepo + "@" + kCommit).dir, first.dir);
}

TEST_F(Hub, ResumesAfterACutConnection) {
  FakeHub& hub = serve();
  const int64_t size = static_cast<int64_t>(fs::file_size(test::case_dir("tiny-unfused") + "/model.safetensors"));
  const int64_t half = size / 2;
  hub.cut_at = half;
  hub.cuts_left = -1;  // every attempt of the first call is cut
  const std::string err = error_of(kRepo);
  EXPECT_NE(err.find("interrupted"), std::string::npos) << err;
  EXPECT_NE(err.find("resume"), std::string::npos) << err;
  const fs::path blob = storage() / "blobs" / hub.weights_sha();
  const fs::path part = blob.string() + ".incomplete";
  EXPECT_FALSE(fs::exists(blob));  // nothing that looks complete
  EXPECT_FALSE(fs::exists(storage() / "snapshots" / kCommit / "model.safetensors"));
  ASSERT_TRUE(fs::exists(part));
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(part)), half);

  hub.cuts_left = 0;
  hub.clear_log();
  const auto r = resolve(kRepo);
  bool resumed = false, refetched_whole = false;
  for (const auto& q : hub.requests())
    if (q.method == "GET" && q.target.rfind("/cdn/", 0) == 0) {
      resumed |= q.range == "bytes=" + std::to_string(half) + "-";
      refetched_whole |= q.range.empty();
    }
  EXPECT_TRUE(resumed);
  EXPECT_FALSE(refetched_whole);
  EXPECT_FALSE(fs::exists(part));
  EXPECT_EQ(sha256_file(r.dir + "/model.safetensors"), hub.weights_sha());
}

// Hostile pass 15 (H15C-1's sibling): a symbolic link at the partial download's name was written
// through (the weights appended to the file it named); at the download's lock, a file was made
// where it pointed. The partial file's link is replaced; the lock's is refused by name.
TEST_F(Hub, ALinkAtThePartialDownloadIsReplacedNotWrittenThrough) {
  FakeHub& hub = serve();
  const fs::path blob = storage() / "blobs" / hub.weights_sha();
  fs::create_directories(blob.parent_path());
  const std::string victim = home_ + "/precious.txt";
  std::ofstream(victim) << "a file of the user's\n";
  fs::create_symlink(victim, blob.string() + ".incomplete");
  // The ref's temporary (named by the pid, as main's was "main.tmp-PID" and is "main.tmp.PID").
  fs::create_directories(storage() / "refs");
  for (const char* tmp : {"main.tmp-", "main.tmp."})
    fs::create_symlink(victim, storage() / "refs" / (std::string(tmp) + std::to_string(::getpid())));
  const auto r = resolve(kRepo);
  EXPECT_EQ(test::read_file(victim), "a file of the user's\n");
  EXPECT_EQ(sha256_file(r.dir + "/model.safetensors"), hub.weights_sha());
  EXPECT_EQ(test::read_file((storage() / "refs" / "main").string()), kCommit);
}

TEST_F(Hub, RecoversFromOneCutWithinOneCall) {
  FakeHub& hub = serve();
  hub.cut_at = 3 * 1000 * 1000;
  hub.cuts_left = 1;
  const auto r = resolve(kRepo);
  EXPECT_EQ(sha256_file(r.dir + "/model.safetensors"), hub.weights_sha());
  bool ranged = false;
  for (const auto& q : hub.requests()) ranged |= q.target.rfind("/cdn/", 0) == 0 && q.range == "bytes=3000000-";
  EXPECT_TRUE(ranged);
}

TEST_F(Hub, CorruptedDownloadIsRejected) {
  FakeHub& hub = serve();
  hub.corrupt = true;
  const std::string err = error_of(kRepo);
  EXPECT_NE(err.find("checksum"), std::string::npos) << err;
  EXPECT_NE(err.find("model.safetensors"), std::string::npos) << err;
  for (const auto& b : blob_names()) {
    EXPECT_NE(b, hub.weights_sha());
    EXPECT_EQ(b.find(".incomplete"), std::string::npos) << b;
  }
  EXPECT_FALSE(fs::exists(storage() / "snapshots" / kCommit / "model.safetensors"));
  hub.corrupt = false;  // a clean retry then works
  EXPECT_EQ(sha256_file(resolve(kRepo).dir + "/model.safetensors"), hub.weights_sha());
}

TEST_F(Hub, UnknownRepoRevisionAndGatedRepo) {
  FakeHub& hub = serve();
  std::string err = error_of("test-org/no-such-model");
  EXPECT_NE(err.find("test-org/no-such-model"), std::string::npos) << err;
  EXPECT_NE(err.find("not found"), std::string::npos) << err;
  err = error_of(kRepo + "@v9.9");
  EXPECT_NE(err.find("revision 'v9.9' not found"), std::string::npos) << err;
  hub.gated = true;
  err = error_of(kRepo);
  EXPECT_NE(err.find("HF_TOKEN"), std::string::npos) << err;
  EXPECT_NE(err.find("gated"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(storage() / "snapshots"));
}

TEST_F(Hub, UnreachableEndpoint) {
  int port = 0;
  {
    FakeHub closed(test::case_dir("tiny-unfused"));
    port = closed.port();
  }  // now nothing listens there
  ::setenv("HF_ENDPOINT", ("http://127.0.0.1:" + std::to_string(port)).c_str(), 1);
  const std::string err = error_of(kRepo);
  EXPECT_NE(err.find("cannot reach"), std::string::npos) << err;
  EXPECT_NE(err.find("HF_HUB_OFFLINE"), std::string::npos) << err;
}

TEST_F(Hub, OfflineModeWithAnEmptyCache) {
  FakeHub& hub = serve();
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  const std::string err = error_of(kRepo);
  EXPECT_NE(err.find("HF_HUB_OFFLINE"), std::string::npos) << err;
  EXPECT_NE(err.find("not in the Hugging Face cache"), std::string::npos) << err;
  EXPECT_TRUE(hub.requests().empty());
}

TEST_F(Hub, OfflineModeWithAWarmCache) {
  FakeHub& hub = serve();
  const auto first = resolve(kRepo);
  hub.stop();
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  EXPECT_EQ(resolve(kRepo).dir, first.dir);
  EXPECT_EQ(resolve(kRepo + "@" + kCommit).dir, first.dir);
  const std::string err = error_of(kRepo + "@v2");
  EXPECT_NE(err.find("revision 'v2' is not in the Hugging Face cache"), std::string::npos) << err;
  // A snapshot missing its weights is not usable offline.
  fs::remove(fs::path(first.dir) / "model.safetensors");
  const std::string incomplete = error_of(kRepo);
  EXPECT_NE(incomplete.find("incomplete"), std::string::npos) << incomplete;
  EXPECT_NE(incomplete.find("model.safetensors"), std::string::npos) << incomplete;
}

TEST_F(Hub, CommitRevisionForm) {
  FakeHub& hub = serve();
  const auto r = resolve(kRepo + "@" + kCommit);
  EXPECT_EQ(r.revision, kCommit);
  EXPECT_EQ(fs::path(r.dir), storage() / "snapshots" / kCommit);
  EXPECT_FALSE(fs::exists(storage() / "refs" / kCommit));
  EXPECT_FALSE(fs::exists(storage() / "refs" / "main"));
  for (const auto& q : hub.requests()) {
    if (q.target.find("/resolve/") != std::string::npos) {
      EXPECT_NE(q.target.find("/resolve/" + kCommit + "/"), std::string::npos) << q.target;
    }
  }
  // Afterwards "main" shares the blobs: one HEAD, nothing downloaded again.
  hub.clear_log();
  const auto main = resolve(kRepo);
  EXPECT_EQ(main.dir, r.dir);
  EXPECT_FALSE(main.downloaded);
  for (const auto& q : hub.requests()) EXPECT_EQ(q.method, "HEAD") << q.target;
}

TEST_F(Hub, TokenGoesToTheHubButNotToTheCdn) {
  FakeHub& hub = serve();
  ::setenv("HF_TOKEN", kToken.c_str(), 1);
  resolve(kRepo);
  int hub_requests = 0, cdn_requests = 0;
  for (const auto& q : hub.requests()) {
    if (q.target.rfind("/cdn/", 0) == 0) {
      ++cdn_requests;
      EXPECT_EQ(q.authorization, "") << q.target;
    } else {
      ++hub_requests;
      EXPECT_EQ(q.authorization, "Bearer " + kToken) << q.target;
    }
  }
  EXPECT_GT(hub_requests, 0);
  EXPECT_GT(cdn_requests, 0);
}

// An older repo with only pytorch_model.bin (here the golden weights as a torch.save archive)
// is fetched and loads through the safe pickle reader, giving the golden model's embeddings.
TEST_F(Hub, PytorchOnlyRepoLoadsThroughTheSafeReader) {
  const fs::path folder = fs::path(test::temp_dir()) / "pt-only";
  fs::create_directories(folder);
  for (const auto& name : kGoldenFiles)
    if (name != "model.safetensors") fs::copy_file(fs::path(test::case_dir("tiny-unfused")) / name, folder / name);
  fs::copy_file(fs::path(test::case_dir("tiny-unfused")) / "laion.pt", folder / "pytorch_model.bin");
  serve(folder.string());
  const auto r = resolve(kRepo);
  EXPECT_TRUE(fs::exists(fs::path(r.dir) / "pytorch_model.bin"));
  EXPECT_TRUE(fs::exists(storage() / ".no_exist" / kCommit / "model.safetensors"));
  auto got = ClapModel::load(r.dir);
  EXPECT_EQ(got->weights_format(), "PyTorch training checkpoint (epoch 15)");
  auto ref = ClapModel::load(test::case_dir("tiny-unfused"));
  const std::vector<std::string> texts = {"a dog barking"};
  EXPECT_EQ(got->embed_text(texts), ref->embed_text(texts));
  // The cache alone answers the next time (the snapshot counts as complete without safetensors).
  hub_->stop();
  EXPECT_EQ(resolve(kRepo).dir, r.dir);
}

// A checkpoint file has no tokenizer: roberta-base's vocab.json + merges.txt come from the hub
// (only those two files, not its weights), then from the cache alone.
TEST_F(Hub, CheckpointFileGetsRobertaTokenizerFromTheHub) {
  const std::string pt = test::case_dir("tiny-unfused") + "/laion.pt";
  FakeHub& hub = serve(test::case_dir("tiny-unfused"), hub::kCheckpointTokenizerRepo);
  const auto r = resolve(pt);
  EXPECT_EQ(r.weights_file, fs::canonical(pt).string());
  const fs::path roberta = fs::path(home_) / "hub" / "models--FacebookAI--roberta-base";
  EXPECT_EQ(fs::path(r.tokenizer_dir), roberta / "snapshots" / kCommit);
  EXPECT_EQ(slurp(fs::path(r.tokenizer_dir) / "vocab.json"), slurp(fs::path(test::case_dir("tiny-unfused")) / "vocab.json"));
  for (const auto& q : hub.requests()) EXPECT_EQ(q.target.find("model.safetensors"), std::string::npos) << q.target;
  hub.stop();
  EXPECT_EQ(resolve(pt).tokenizer_dir, r.tokenizer_dir);
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  EXPECT_EQ(resolve(pt).tokenizer_dir, r.tokenizer_dir);
}

TEST_F(Hub, CheckpointFileOfflineWithoutTokenizerSaysWhatToDo) {
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  const auto r = resolve(test::case_dir("tiny-unfused") + "/laion.pt");
  EXPECT_TRUE(r.tokenizer_dir.empty());
  EXPECT_NE(r.no_tokenizer_hint.find("--tokenizer DIR"), std::string::npos) << r.no_tokenizer_hint;
  EXPECT_NE(r.no_tokenizer_hint.find("FacebookAI/roberta-base"), std::string::npos) << r.no_tokenizer_hint;
  hub::HubOptions o;
  o.tokenizer = "/nonexistent";
  try {
    hub::resolve_model(test::case_dir("tiny-unfused") + "/laion.pt", o);
    ADD_FAILURE() << "a missing --tokenizer folder must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--tokenizer /nonexistent"), std::string::npos) << e.what();
  }
}

TEST_F(Hub, SafetensorsIsPreferredOverPytorchModelBin) {
  const fs::path folder = fs::path(test::temp_dir()) / "both";
  fs::create_directories(folder);
  for (const auto& name : kGoldenFiles) fs::copy_file(fs::path(test::case_dir("tiny-unfused")) / name, folder / name);
  fs::copy_file(fs::path(test::case_dir("tiny-unfused")) / "laion.pt", folder / "pytorch_model.bin");
  FakeHub& hub = serve(folder.string());
  const auto r = resolve(kRepo);
  EXPECT_TRUE(fs::exists(fs::path(r.dir) / "model.safetensors"));
  EXPECT_FALSE(fs::exists(fs::path(r.dir) / "pytorch_model.bin"));
  for (const auto& q : hub.requests()) EXPECT_EQ(q.target.find("pytorch_model.bin"), std::string::npos) << q.target;
}

TEST_F(Hub, RepoWithoutWeightsSaysSo) {
  const fs::path folder = fs::path(test::temp_dir()) / "no-weights";
  fs::create_directories(folder);
  for (const auto& name : kGoldenFiles)
    if (name != "model.safetensors") fs::copy_file(fs::path(test::case_dir("tiny-unfused")) / name, folder / name);
  serve(folder.string());
  const std::string err = error_of(kRepo);
  EXPECT_NE(err.find("no model.safetensors or pytorch_model.bin"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(storage() / "snapshots" / kCommit / "config.json"));  // nothing fetched for nothing
}

TEST_F(Hub, ProgressMessagesDoNotBreakTheDownload) {
  serve();
  hub::HubOptions o;  // not quiet: plain lines on a non-terminal stderr
  testing::internal::CaptureStderr();
  const auto r = hub::resolve_model(kRepo, o);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("model.safetensors"), std::string::npos) << err;
  EXPECT_TRUE(fs::exists(r.dir + "/model.safetensors"));
}

}  // namespace
}  // namespace clap

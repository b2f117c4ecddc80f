// A model file rewritten in place under a running `clapsearch serve` (hostile pass 10, H10C-4):
// `cp new/model.safetensors M/`, `rsync --inplace` or a truncation while the server holds the
// model. The weights were read in place from a memory map of the file, so the next new text
// query killed the server (SIGBUS, status 135) once the file was truncated, and a file rewritten
// with other bytes of the same size was read silently (pages not faulted yet came from the new
// file). The server now loads both towers out of the file when the model loads and never reads
// it again: it answers as before the rewrite.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A `serve` child on a free loopback port; stopped (SIGTERM) when it goes.
class Serve {
 public:
  Serve(const std::string& db, const std::string& model)
      : child_(test::start_cli({"serve", "--db", db, "--model", model, "--port", "0", "--threads", "1"})),
        port_(test::served_port(child_)),
        client_("127.0.0.1", port_) {
    client_.set_read_timeout(120, 0);
  }
  ~Serve() {
    if (::kill(child_.pid, 0) == 0) ::kill(child_.pid, SIGTERM);
    test::wait_exit(child_.pid);
  }
  bool alive() const { return ::kill(child_.pid, 0) == 0; }
  std::string log() const { return test::read_file(child_.err_path); }

  // The results of a text query (a new text: the model runs).
  json search(const std::string& text) {
    auto r = client_.Get("/api/search?k=4&q=" + httplib::detail::encode_query_param(text));
    if (!r) return json{{"no answer", httplib::to_string(r.error())}};
    if (r->status != 200) return json{{"status", r->status}, {"body", r->body}};
    return json::parse(r->body)["queries"][0]["results"];
  }
  // The results of an audio query (the uploaded file is embedded with the audio tower).
  json like(const std::string& audio_path) {
    const httplib::MultipartFormDataItems items = {{"file", test::read_file(audio_path), "query.flac", "audio/flac"}};
    auto r = client_.Post("/api/like?k=4", items);
    if (!r) return json{{"no answer", httplib::to_string(r.error())}};
    if (r->status != 200) return json{{"status", r->status}, {"body", r->body}};
    return json::parse(r->body)["results"];
  }

 private:
  test::Child child_;
  int port_;
  httplib::Client client_;
};

TEST(ModelFileRewritten, AServerAnswersAsBeforeWhenItsModelFileIsTruncatedAndRewritten) {
  const std::string dir = test::temp_dir() + "/model-rewritten";
  fs::remove_all(dir);
  const std::string model = dir + "/model", music = dir + "/music", db = dir + "/library.db", reference_db = dir + "/ref.db";
  fs::create_directories(dir);
  fs::copy(test::case_dir("tiny-unfused"), model, fs::copy_options::recursive);
  test::ffmpeg(music + "/tone.flac", "-f lavfi -i \"sine=f=440:d=12\" -ar 48000");
  test::ffmpeg(music + "/noise.flac", "-f lavfi -i \"anoisesrc=color=pink:d=12:seed=5\" -ar 48000");
  test::ffmpeg(music + "/chirp.flac", "-f lavfi -i \"aevalsrc=sin(2*PI*(200+400*t)*t):d=12\" -ar 48000");
  const std::string query = test::ffmpeg(dir + "/query.flac", "-f lavfi -i \"sine=f=523:d=11\" -ar 48000");
  test::index_library(music, db, model);
  fs::copy_file(db, reference_db);  // its own text cache: the queries below are new to each server

  // What the model answers: a server over a copy of the index, before anything happens to it.
  json expected_text, expected_other_text, expected_audio;
  {
    Serve reference(reference_db, model);
    ASSERT_EQ(reference.search("warm guitar").size(), 3u);
    expected_text = reference.search("cold drums in the rain");
    expected_other_text = reference.search("a choir singing");
    expected_audio = reference.like(query);
    ASSERT_TRUE(expected_text.is_array()) << expected_text.dump();
    ASSERT_TRUE(expected_audio.is_array()) << expected_audio.dump();
  }

  Serve s(db, model);
  ASSERT_EQ(s.search("warm guitar").size(), 3u) << s.log();  // the model is loaded
  const std::string weights = model + "/model.safetensors";
  const auto size = fs::file_size(weights);
  fs::resize_file(weights, 1000);  // `truncate -s 1000`: was SIGBUS at the next new text
  EXPECT_EQ(s.search("cold drums in the rain"), expected_text) << s.log();
  ASSERT_TRUE(s.alive()) << s.log();
  {
    // Rewritten in place with other bytes of the same size (`cp other/model.safetensors M/`).
    std::ofstream out(weights, std::ios::binary | std::ios::trunc);
    const std::string other = test::read_file(test::case_dir("tiny-unfused") + "/model.safetensors");
    std::string bytes = other;
    for (size_t i = 4096; i < bytes.size(); ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
    ASSERT_EQ(bytes.size(), size);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  EXPECT_EQ(s.search("a choir singing"), expected_other_text) << s.log();
  EXPECT_EQ(s.like(query), expected_audio) << s.log();
  EXPECT_TRUE(s.alive()) << s.log();
}

}  // namespace
}  // namespace clap

// `clapsearch map` as a real process on a small library of real encoded audio (three genres of
// four tracks and one without a genre, made with ffmpeg), indexed by the real `clapsearch index`
// with the tiny random-weight golden model: the SVG and PNG written, byte-identical runs, one
// panel per --model, the text and JSON summaries, and the errors (bad options, a picture that
// cannot be written, an index with too few tracks), none of which leaves a file behind.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
std::string q(const std::string& s) { return test::quoted(s); }

struct MapCliLib {
  std::string dir, music, db;
};
MapCliLib* g = nullptr;

int cli_raw(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return test::run_cli(args, out, err, "HF_HOME=" + q(g->dir + "/hf-home"));
}
int cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return cli_raw(args + " --db " + q(g->db), out, err);
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

// The files in a folder (to see that a failed run left nothing, not even a temporary).
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class MapCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g = new MapCliLib;
    g->dir = test::temp_dir() + "/map-cli";
    g->music = g->dir + "/music";
    g->db = g->dir + "/library.db";
    const std::string& m = g->music;
    const char* sweeps[] = {"100+200*t", "300+100*t", "50+400*t", "800-100*t"};
    for (int i = 0; i < 4; ++i) {
      const std::string n = std::to_string(i);
      test::ffmpeg(m + "/tone" + n + ".flac",
                   "-f lavfi -i \"sine=f=" + std::to_string(220 * (i + 1)) + ":d=4\" -metadata genre=tones");
      test::ffmpeg(m + "/noise" + n + ".ogg", "-f lavfi -i \"anoisesrc=c=" + std::string(i % 2 ? "pink" : "white") +
                                                  ":d=4:a=0.3:seed=" + n + "\" -metadata genre=noise");
      test::ffmpeg(m + "/sweep" + n + ".wav", "-f lavfi -i \"aevalsrc=0.5*sin(2*PI*(" + std::string(sweeps[i]) +
                                                  ")*t):d=4:s=48000\" -metadata genre=sweeps");
    }
    test::ffmpeg(m + "/square.mp3", "-f lavfi -i \"aevalsrc=0.3*sgn(sin(2*PI*330*t)):d=4:s=48000\"");
    std::string out, err;
    ASSERT_EQ(cli_raw("index " + q(m) + " --db " + q(g->db) + " --model " +
                          q(test::case_dir("tiny-unfused")) + " --quiet --json",
                      &out, &err),
              0)
        << err;
    ASSERT_EQ(json::parse(out)["indexed"], 13) << out;
  }
  static void TearDownTestSuite() {
    delete g;
    g = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(g && fs::exists(g->db)); }
};

// A fresh folder for a test's pictures (run_command keeps its captures in test::temp_dir()).
std::string picture_dir() {
  const std::string dir = test::temp_dir() + "/pictures";
  fs::create_directories(dir);
  return dir;
}

TEST_F(MapCli, WritesAnSvgThatIsTheSameEveryRun) {
  const std::string dir = picture_dir();
  std::string out, err;
  ASSERT_EQ(cli("map --out " + q(dir + "/a.svg"), &out, &err), 0) << err;
  ASSERT_EQ(cli("map --out " + q(dir + "/b.svg"), nullptr, &err), 0) << err;
  const std::string a = slurp(dir + "/a.svg");
  EXPECT_EQ(a, slurp(dir + "/b.svg"));
  ASSERT_EQ(a.rfind("<?xml", 0), 0u);
  EXPECT_NE(a.find("<svg"), std::string::npos);
  EXPECT_NE(a.find("</svg>"), std::string::npos);
  EXPECT_NE(a.find("width=\"720px\""), std::string::npos);  // one panel
  EXPECT_EQ(listing(dir), (std::vector<std::string>{"a.svg", "b.svg"}));

  // The summary: the file, the classes with their counts, one row per panel.
  EXPECT_NE(out.find("wrote " + dir + "/a.svg: 1 panel, 13 tracks coloured by genre"), std::string::npos) << out;
  EXPECT_NE(out.find("classes   3: noise 4, sweeps 4, tones 4; 1 track without a genre"), std::string::npos) << out;
  EXPECT_NE(out.find("k-NN full"), std::string::npos) << out;
  EXPECT_NE(out.find(test::case_dir("tiny-unfused")), std::string::npos) << out;
}

TEST_F(MapCli, PngAndOnePanelPerModel) {
  const std::string dir = test::temp_dir();
  const std::string model = test::case_dir("tiny-unfused");
  // The same model through a copy: two panels (a model and "its fine-tune").
  const std::string copy = dir + "/copy-of-tiny";
  fs::copy(model, copy);
  std::string out, err;
  ASSERT_EQ(cli("map --out " + q(dir + "/two.png") + " --model " + q(model) + " --model " + q(copy) +
                    " --json",
                &out, &err),
            0)
      << err;
  const json j = json::parse(out);
  EXPECT_EQ(j["format"], "png");
  EXPECT_EQ(j["color_by"], "genre");
  EXPECT_EQ(j["template"], "This audio is a {} song.");
  EXPECT_EQ(j["k"], 5);
  ASSERT_EQ(j["panels"].size(), 2u);
  EXPECT_EQ(j["panels"][0]["model"], model);
  EXPECT_EQ(j["panels"][1]["model"], copy);
  for (const json& p : j["panels"]) {
    EXPECT_EQ(p["tracks"], 13);
    EXPECT_EQ(p["classified"], 12);
    ASSERT_EQ(p["classes"].size(), 3u);
    EXPECT_EQ(p["classes"][0], json::parse(R"({"name": "noise", "count": 4, "color": 0, "anchor": )" +
                                           p["classes"][0]["anchor"].dump() + "}"));
    ASSERT_EQ(p["explained_variance"].size(), 2u);
    for (const char* key : {"knn_full", "knn_2d", "zero_shot"}) {
      ASSERT_TRUE(p[key].is_number()) << key;
      const double v = p[key];
      EXPECT_GE(v, 0.0);
      EXPECT_LE(v, 1.0);
      // A share of the 12 tracks with a genre.
      EXPECT_NEAR(v * 12, std::round(v * 12), 1e-4) << key << " " << v;
    }
    EXPECT_NEAR(p["chance"].get<double>(), 1.0 / 3, 1e-6);
  }
  // The same model and index: the same figures in both panels.
  EXPECT_EQ(j["panels"][0]["knn_full"], j["panels"][1]["knn_full"]);
  EXPECT_EQ(j["panels"][0]["classes"], j["panels"][1]["classes"]);

  const std::string png = slurp(dir + "/two.png");
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(be32(png, 16), 1440u);  // two panels of 720
  EXPECT_GE(be32(png, 20), 500u);
  EXPECT_LE(be32(png, 20), 1000u);
}

TEST_F(MapCli, ColourByAnotherTagAndATemplate) {
  const std::string dir = test::temp_dir();
  std::string out, err;
  ASSERT_EQ(cli("map -o " + q(dir + "/m.svg") + " --color-by artist --template 'a {} recording' --json", &out, &err), 0)
      << err;
  const json j = json::parse(out);
  EXPECT_EQ(j["template"], "a {} recording");
  EXPECT_EQ(j["panels"][0]["classified"], 0);  // no track has an artist
  EXPECT_TRUE(j["panels"][0]["knn_full"].is_null());
  EXPECT_TRUE(j["panels"][0]["chance"].is_null());
  ASSERT_EQ(cli("map -o " + q(dir + "/m.svg") + " --color-by artist", &out, &err), 0) << err;
  EXPECT_NE(out.find("n/a"), std::string::npos) << out;
}

TEST_F(MapCli, ErrorsAreClearAndLeaveNoFile) {
  const std::string dir = picture_dir();
  std::string out, err;
  // Unknown field: a usage error listing the valid ones.
  EXPECT_EQ(cli("map --out " + q(dir + "/x.svg") + " --color-by mood", &out, &err), 2);
  EXPECT_NE(err.find("genre, label, title, artist, album, date"), std::string::npos) << err;
  // A format the extension does not name.
  EXPECT_EQ(cli("map --out " + q(dir + "/x.jpg"), &out, &err), 1);
  EXPECT_NE(err.find(dir + "/x.jpg: the picture's name must end in .svg or .png"), std::string::npos) << err;
  // A folder that does not exist.
  EXPECT_EQ(cli("map --out " + q(dir + "/no/such/x.svg"), &out, &err), 1);
  EXPECT_NE(err.find(dir + "/no/such/x.svg: cannot write"), std::string::npos) << err;
  // A model that fails after the picture was opened: no picture, no temporary.
  EXPECT_EQ(cli("map --out " + q(dir + "/x.svg") + " --model " + q(dir + "/no-model"), &out, &err), 1);
  EXPECT_NE(err.find("no-model"), std::string::npos) << err;
  // --out is required.
  EXPECT_EQ(cli("map", &out, &err), 2);
  EXPECT_NE(err.find("--out"), std::string::npos) << err;
  EXPECT_TRUE(listing(dir).empty()) << listing(dir).front();

  // An index with a single track: the message names it, exit 1, no picture.
  const std::string one = dir + "/one";
  test::ffmpeg(one + "/music/a.wav", "-f lavfi -i \"sine=f=440:d=3\"");
  ASSERT_EQ(cli_raw("index " + q(one + "/music") + " --db " + q(one + "/one.db") + " --model " +
                        q(test::case_dir("tiny-unfused")) + " --quiet",
                    nullptr, &err),
            0)
      << err;
  EXPECT_EQ(cli_raw("map --out " + q(one + "/m.svg") + " --db " + q(one + "/one.db"), &out, &err), 1);
  EXPECT_NE(err.find(one + "/one.db: the map needs at least two tracks with embeddings, the index has 1"), std::string::npos)
      << err;
  EXPECT_FALSE(fs::exists(one + "/m.svg"));
}

TEST_F(MapCli, HelpNamesEveryOption) {
  std::string out, err;
  ASSERT_EQ(cli_raw("map --help", &out, &err), 0);
  for (const char* opt : {"--out", "--color-by", "--model", "--template", "--json", "--db", "--config", "--tokenizer",
                          "--threads", "--verbose"})
    EXPECT_NE(out.find(opt), std::string::npos) << opt << "\n" << out;
  EXPECT_NE(out.find(".svg"), std::string::npos);
}

}  // namespace
}  // namespace clap

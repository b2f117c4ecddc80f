#include "support/recordings.h"

#include <filesystem>

#include "store/store.h"
#include "support/golden.h"

namespace clap::test {

std::string song_expression(int family) {
  std::string e = "0";
  for (int s = 0; s < 5; ++s) {
    const std::string f = "(55*pow(2,(" + std::to_string(s) + "*5+mod(floor(t*4)*7,12))/12))";
    std::string section;
    switch (family) {
      case 0: section = "0.5*sin(2*PI*" + f + "*t+2*sin(2*PI*" + f + "*3*t))"; break;
      case 1: section = "0.5*(random(0)*2-1)*pow(1-mod(t*" + std::to_string(s + 1) + ",1),6)"; break;
      default: section = "0.5*sin(2*PI*(100+150*" + std::to_string(s) + ")*mod(t,2)*mod(t,2)*4)"; break;
    }
    e += "+between(t," + std::to_string(s * 9) + "," + std::to_string(s * 9 + 9) + ")*(" + section + ")";
  }
  return e;
}

const std::vector<std::pair<std::string, std::string>>& copy_kinds() {
  static const std::vector<std::pair<std::string, std::string>> kinds = {
      {"flac.flac", ""},
      {"mp3.mp3", "-b:a 128k"},
      {"aac.m4a", "-c:a aac -b:a 160k"},
      {"opus.opus", "-c:a libopus -b:a 96k"},
      {"resampled.wav", "-ar 22050 -ac 1"},
      {"trimmed.flac", "-ss 2"},
      {"faded.mp3", "-af afade=t=in:d=3,afade=t=out:st=40:d=5 -b:a 192k"},
      {"silence3s.ogg", "-af adelay=3000:all=1"},
  };
  return kinds;
}

namespace {
std::string song20(int family) { return "-f lavfi -i \"aevalsrc='" + song_expression(family) + "':s=44100:d=20\""; }

// The three other recordings of both libraries: y, z (the other song families) and pink noise.
void write_other_recordings(const std::string& music) {
  ffmpeg(music + "/y/song.flac", song20(1));
  ffmpeg(music + "/z/song.flac", song20(2));
  ffmpeg(music + "/n/noise.flac", "-f lavfi -i \"anoisesrc=color=pink:d=20:seed=7\"");
}
}  // namespace

void write_reencoded_library(const std::string& music, int more_copies) {
  const std::string flac = ffmpeg(music + "/x/song.flac", song20(0));
  ffmpeg(music + "/x/song.mp3", "-i " + quoted(flac) + " -b:a 128k");
  for (int i = 0; i < more_copies; ++i)
    ffmpeg(music + "/x/copy-" + std::to_string(i) + ".mp3", "-i " + quoted(music + "/x/song.mp3") + " -c copy -metadata comment=" + std::to_string(i));
  write_other_recordings(music);
}

void write_copies_in_two_folders(const std::string& music) {
  const std::string flac =
      ffmpeg(music + "/a/song.flac", song20(0) + " -metadata artist=\"Artist A\" -metadata album=\"Album A\"");
  ffmpeg(music + "/b/song.mp3", "-i " + quoted(flac) + " -map_metadata -1 -b:a 128k");
  write_other_recordings(music);
}

std::string copies_in_two_folders() {
  return shared_fixture("copies-in-two-folders", [](const std::string& dir) {
    write_copies_in_two_folders(dir + "/music");
    index_library(dir + "/music", dir + "/library.db", case_dir("tiny-unfused"));
  });
}

void write_copies_of_two_kinds(const std::string& music, int per_kind) {
  const std::string flac = ffmpeg(music + "/x/song.flac", song20(0));
  for (const char* kind : {"64", "128"}) {
    const std::string first = ffmpeg(music + "/x/mp3-" + kind + ".mp3", "-i " + quoted(flac) + " -b:a " + kind + "k");
    for (int i = 1; i < per_kind; ++i)
      ffmpeg(music + "/x/mp3-" + kind + "-" + std::to_string(i) + ".mp3",
             "-i " + quoted(first) + " -c copy -metadata comment=" + std::to_string(i));
  }
  write_other_recordings(music);
}

std::string copies_of_two_kinds(int per_kind) {
  return shared_fixture("copies-of-two-kinds-" + std::to_string(per_kind), [per_kind](const std::string& dir) {
    write_copies_of_two_kinds(dir + "/music", per_kind);
    index_library(dir + "/music", dir + "/library.db", case_dir("tiny-unfused"));
  });
}

void write_two_kinds_and_variants(const std::string& music, int per_kind) {
  write_copies_of_two_kinds(music, per_kind);
  const std::string flac = music + "/x/song.flac";
  ffmpeg(music + "/v/short.flac", "-i " + quoted(flac) + " -t 16");
  ffmpeg(music + "/v/take2.flac", "-i " + quoted(flac) + " -af atempo=1.06");
  ffmpeg(music + "/v/remix.flac", "-i " + quoted(flac) + " -i " + quoted(music + "/y/song.flac") +
                                      " -filter_complex \"[0][1]amix=inputs=2:normalize=0\"");
}

std::string two_kinds_and_variants(int per_kind) {
  return shared_fixture("two-kinds-and-variants-" + std::to_string(per_kind), [per_kind](const std::string& dir) {
    write_two_kinds_and_variants(dir + "/music", per_kind);
    index_library(dir + "/music", dir + "/library.db", case_dir("tiny-unfused"));
  });
}

std::string reencoded_library(int more_copies) {
  return shared_fixture("reencoded-" + std::to_string(more_copies), [more_copies](const std::string& dir) {
    write_reencoded_library(dir + "/music", more_copies);
    index_library(dir + "/music", dir + "/library.db", case_dir("tiny-unfused"));
  });
}

void reencoded_library_with_store_copies(int more_copies, int store_copies, const std::string& db) {
  const std::string dir = reencoded_library(more_copies);
  std::filesystem::create_directories(std::filesystem::path(db).parent_path());
  std::filesystem::copy_file(dir + "/library.db", db, std::filesystem::copy_options::overwrite_existing);
  auto store = store::open_store(db, store::OpenMode::ReadWrite);
  const std::optional<store::Track> mp3 = store->track_by_path(dir + "/music/x/song.mp3");
  if (!mp3) throw std::runtime_error("x/song.mp3 is not in " + db);
  std::vector<store::WindowRecord> windows = store->windows(mp3->id);
  for (store::WindowRecord& w : windows) w.id = 0, w.track_id = 0;
  const Embeddings rows = store->track_embeddings({mp3->id});
  const std::vector<float> embedding(rows.row(0), rows.row(0) + rows.dim);
  store::Track copy = *mp3;
  copy.fingerprint = store->fingerprints({mp3->id}).at(mp3->id);
  for (int i = 0; i < store_copies; ++i) {
    copy.id = 0;
    copy.path = dir + "/music/x/stored-" + std::to_string(i) + ".mp3";
    copy.content_hash = mp3->content_hash.substr(0, 48) + std::to_string(1000000000000000 + i);
    store->put_track(copy, windows, embedding.data());
  }
}

}  // namespace clap::test

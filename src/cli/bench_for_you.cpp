// clapsearch bench --for-you --db DB [--user NAME]: the time of the "For you" work (issue 55) on
// an index as it is, in this process: reading the user's history, the taste centres, their
// labels, six mixes of 50 and the radio for you's next song (a fill of one song with a no-repeat
// window of 100, as the MPD radio asks). Each step is timed best of --repeat runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "cli/bench_for_you.h"
#include "cli/common.h"
#include "core/error.h"
#include "service/for_you.h"
#include "service/mixes.h"
#include "service/playlists.h"
#include "service/taste.h"

namespace clap::cli {

namespace {

template <class F>
double best_ms(int repeat, F f) {
  double best = 1e300;
  for (int i = 0; i < repeat; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int run_for_you_bench(const std::string& db, const std::string& user_name, int repeat, bool json) {
  if (db.empty()) throw InvalidArgument("--for-you needs --db: an index with a user's plays");
  service::LibraryOptions lo;
  lo.db = db;
  const auto t0 = std::chrono::steady_clock::now();
  service::Library lib(lo, service::Access::ReadWriteIfPossible);
  const auto snap = lib.snapshot();
  snap->track_embeddings();
  const double open_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  auto st = store::open_store(lib.location(), store::OpenMode::ReadOnly);
  const store::UserRecord user = service::history_user(*st, user_name);
  service::TasteHistory history;
  const double history_ms = best_ms(repeat, [&] { history = service::load_history(*st, user.id, *snap); });
  service::TasteOptions to;
  to.now = service::taste_clock(static_cast<int64_t>(std::time(nullptr)));
  service::Taste taste;
  const double taste_ms = best_ms(repeat, [&] { taste = service::build_taste(*snap, history, to); });
  const double label_ms = best_ms(repeat, [&] { service::label_centres(lib, taste); });
  service::MixOptions mo;
  std::vector<service::Mix> mixes;
  const double mix_ms = best_ms(repeat, [&] { mixes = service::make_mixes(*snap, taste, mo); });
  int64_t mixed = 0;
  for (const auto& m : mixes) mixed += static_cast<int64_t>(m.tracks.size());

  // The radio's next song: seeded by the last song played, toward its nearest centre, away from
  // three skipped songs, past a no-repeat window of 100 (RadioStation::fill's request).
  double radio_ms = 0;
  if (!history.plays.empty()) {
    const int64_t seed = std::max_element(history.plays.begin(), history.plays.end(), [](const auto& a, const auto& b) {
                           return a.at < b.at;
                         })->track_id;
    radio_ms = best_ms(repeat, [&] {
      const std::vector<float> e = snap->track_embedding(seed);
      int64_t centre = -1;
      service::for_me_query(taste, e.data(), static_cast<int64_t>(e.size()), {}, &centre);
      service::RadioRequest r;
      r.seeds = {std::to_string(seed)};
      r.length = 1 + 1 + 100;
      if (centre >= 0) r.toward = taste.centres[static_cast<size_t>(centre)].vector;
      for (size_t i = 0; i < 3 && i < history.plays.size(); ++i)
        if (history.plays[i].track_id != seed)
          r.negatives.push_back({service::TermKind::Audio, std::to_string(history.plays[i].track_id) + ":0.5", true, "--for-me"});
      service::radio(lib, *snap, r);
    });
  }
  if (json) {
    print_json({{"tracks", snap->tracks().size()},
                {"plays", history.plays.size()},
                {"played_tracks", taste.tracks.size()},
                {"centres", taste.centres.size()},
                {"mixes", mixes.size()},
                {"mixed_songs", mixed},
                {"open_ms", open_ms},
                {"history_ms", history_ms},
                {"taste_ms", taste_ms},
                {"label_ms", label_ms},
                {"mix_ms", mix_ms},
                {"radio_next_ms", radio_ms}});
    return 0;
  }
  std::printf("library          %zu tracks; %s: %zu plays of %zu songs\n", snap->tracks().size(), user.name.c_str(),
              history.plays.size(), taste.tracks.size());
  std::printf("open             %s (the index and its track embeddings, once)\n", ms_text(open_ms).c_str());
  std::printf("history          %s (plays, stars, ratings read)\n", ms_text(history_ms).c_str());
  std::printf("taste            %s (%zu centres)\n", ms_text(taste_ms).c_str(), taste.centres.size());
  std::printf("labels           %s (zero-shot tags, text cache)\n", ms_text(label_ms).c_str());
  std::printf("mixes            %s (%zu mixes, %lld songs)\n", ms_text(mix_ms).c_str(), mixes.size(), static_cast<long long>(mixed));
  std::printf("radio next song  %s\n", ms_text(radio_ms).c_str());
  return 0;
}

}  // namespace clap::cli

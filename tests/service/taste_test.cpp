// Taste centres, mixes and the history evaluation (service/taste.h, mixes.h, taste_eval.h) on a
// synthetic library whose answer is known (support/taste_library.h): plays drawn from two
// distinct clusters give two centres, each mix stays in its own cluster, stars pull a centre,
// skips push it away, and every answer is the same bit for bit run after run.
#include "service/taste.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "service/for_you.h"
#include "service/mixes.h"
#include "service/radio.h"
#include "service/taste_eval.h"
#include "support/golden.h"
#include "support/taste_library.h"

namespace clap::service {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1800000000;
constexpr int64_t kDay = 86400;

store::ModelIdentity identity() {
  store::ModelIdentity m;
  m.id = "org/taste-model";
  m.revision = "0123456789abcdef0123456789abcdef01234567";
  m.config_hash = std::string(64, 'a');
  m.dim = 32;
  return m;
}

struct Fixture {
  std::string dir = test::temp_dir() + "/taste";
  std::string db = dir + "/library.db";
  test::TasteLibrary tracks;
  std::unique_ptr<Library> lib;
  Fixture() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::create_directories(dir + "/music");
    tracks = test::write_taste_library(db, identity(), dir + "/music");
    LibraryOptions o;
    o.db = db;
    lib = std::make_unique<Library>(o, Access::ReadOnly);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

std::vector<int64_t> first(const std::vector<int64_t>& ids, size_t n) { return {ids.begin(), ids.begin() + n}; }

// Eight songs of each cluster played, A's more.
TasteHistory two_cluster_history() {
  const Fixture& f = fixture();
  TasteHistory h;
  for (int n = 0; n < 3; ++n)
    for (int64_t id : first(f.tracks.a, 8)) h.plays.push_back({id, kNow - n * kDay - 10 * kDay, false});
  for (int n = 0; n < 2; ++n)
    for (int64_t id : first(f.tracks.b, 8)) h.plays.push_back({id, kNow - n * kDay - 10 * kDay, false});
  return h;
}

TasteOptions options() {
  TasteOptions o;
  o.now = kNow;
  return o;
}

double cos_to(const LibrarySnapshot& snap, const std::vector<float>& centre, int64_t id) {
  const std::vector<float> e = snap.track_embedding(id);
  return cosine(centre.data(), e.data(), static_cast<int64_t>(e.size()));
}

bool in(const std::vector<int64_t>& ids, int64_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

TEST(Taste, PlaysFromTwoClustersGiveTwoCentresEachNearItsCluster) {
  Fixture& f = fixture();
  const auto snap = f.lib->snapshot();
  const Taste taste = build_taste(*snap, two_cluster_history(), options());
  ASSERT_EQ(taste.centres.size(), 2u);
  const TasteCentre &heavy = taste.centres[0], &light = taste.centres[1];
  // A was played more: its centre comes first, with the larger weight.
  EXPECT_GT(heavy.weight, light.weight);
  EXPECT_NEAR(heavy.weight + light.weight, 1.0, 1e-9);
  EXPECT_EQ(heavy.members.size(), 8u);
  for (int64_t id : heavy.members) EXPECT_TRUE(in(f.tracks.a, id)) << id;
  for (int64_t id : light.members) EXPECT_TRUE(in(f.tracks.b, id)) << id;
  EXPECT_EQ(heavy.label, "jazz");  // no zero-shot tags here: the top genre
  EXPECT_EQ(light.top_genres.at(0).first, "metal");
  ASSERT_EQ(heavy.nearest.size(), 10u);
  for (const auto& [id, cos] : heavy.nearest) EXPECT_TRUE(in(f.tracks.a, id)) << id;
  for (const auto& [id, cos] : light.nearest) EXPECT_TRUE(in(f.tracks.b, id)) << id;

  // One cluster played: one centre.
  TasteHistory one;
  for (int64_t id : first(f.tracks.a, 8)) one.plays.push_back({id, kNow, false});
  EXPECT_EQ(build_taste(*snap, one, options()).centres.size(), 1u);
  // Nothing played: none.
  EXPECT_TRUE(build_taste(*snap, TasteHistory{}, options()).centres.empty());
}

TEST(Taste, StarsPullACentreAndSkipsPushItAway) {
  Fixture& f = fixture();
  const auto snap = f.lib->snapshot();
  const TasteHistory base = two_cluster_history();
  const int64_t starred = f.tracks.a[15], skipped = f.tracks.a[12];
  const double before_star = cos_to(*snap, build_taste(*snap, base, options()).centres[0].vector, starred);
  const double before_skip = cos_to(*snap, build_taste(*snap, base, options()).centres[0].vector, skipped);

  TasteHistory with_star = base;
  with_star.starred[starred] = kNow;
  const Taste starred_taste = build_taste(*snap, with_star, options());
  EXPECT_GT(cos_to(*snap, starred_taste.centres[0].vector, starred), before_star);
  EXPECT_TRUE(in(starred_taste.centres[0].members, starred));

  TasteHistory with_skips = base;
  for (int n = 0; n < 4; ++n) with_skips.plays.push_back({skipped, kNow - n * kDay, true});
  const Taste skipped_taste = build_taste(*snap, with_skips, options());
  EXPECT_LT(cos_to(*snap, skipped_taste.centres[0].vector, skipped), before_skip);
  EXPECT_TRUE(in(skipped_taste.centres[0].pushed, skipped));

  // A low rating pushes too, a high one pulls.
  TasteHistory rated = base;
  rated.ratings[skipped] = 1;
  rated.ratings[starred] = 5;
  const Taste rated_taste = build_taste(*snap, rated, options());
  EXPECT_LT(cos_to(*snap, rated_taste.centres[0].vector, skipped), before_skip);
  EXPECT_GT(cos_to(*snap, rated_taste.centres[0].vector, starred), before_star);
}

TEST(Taste, RecentPlaysWeighMoreThanOldOnes) {
  Fixture& f = fixture();
  const auto snap = f.lib->snapshot();
  TasteHistory h;
  for (int64_t id : first(f.tracks.a, 6)) h.plays.push_back({id, kNow - 400 * kDay, false});  // old
  for (int64_t id : first(f.tracks.b, 6)) h.plays.push_back({id, kNow - kDay, false});        // recent
  TasteOptions o = options();
  o.half_life_days = 200;  // the old plays count a quarter
  const Taste taste = build_taste(*snap, h, o);
  ASSERT_EQ(taste.centres.size(), 2u);
  EXPECT_TRUE(in(f.tracks.b, taste.centres[0].members[0]));  // the recent cluster leads
  EXPECT_NEAR(taste.centres[0].weight, 0.8, 1e-3);
  // Half-life 30 days: 400-day-old plays weigh nothing much, below a centre's minimum share.
  o.half_life_days = 30;
  const Taste faded = build_taste(*snap, h, o);
  ASSERT_EQ(faded.centres.size(), 1u);
  EXPECT_TRUE(in(f.tracks.b, faded.centres[0].members[0]));
  EXPECT_THROW(check_taste_options([] { TasteOptions x; x.half_life_days = 0; return x; }()), InvalidArgument);
}

TEST(Mixes, EachMixStaysInItsClusterMixingFavouritesWithNewSongsWithReasons) {
  Fixture& f = fixture();
  const auto snap = f.lib->snapshot();
  TasteHistory h = two_cluster_history();
  h.starred[f.tracks.a[10]] = kNow;
  h.starred[f.tracks.a[11]] = kNow;  // two songs of "alpha album 2" (A10..A14), never played
  const Taste taste = build_taste(*snap, h, options());
  MixOptions mo;
  mo.size = 10;
  mo.discovery = 0.5;
  mo.per_artist = 3;
  const std::vector<Mix> mixes = make_mixes(*snap, taste, mo);
  ASSERT_EQ(mixes.size(), 2u);  // one per centre, though 6 were allowed
  EXPECT_EQ(mixes[0].name, "Mix 1 \u00b7 jazz");
  std::set<int64_t> seen;
  for (size_t m = 0; m < 2; ++m) {
    const std::vector<int64_t>& cluster = m == 0 ? f.tracks.a : f.tracks.b;
    ASSERT_EQ(mixes[m].tracks.size(), 10u);
    int known = 0;
    std::map<std::string, int> per_artist;
    for (const MixPick& p : mixes[m].tracks) {
      EXPECT_TRUE(in(cluster, p.track_id)) << "mix " << m << " holds " << p.track_id;
      EXPECT_TRUE(seen.insert(p.track_id).second) << "in two mixes: " << p.track_id;
      EXPECT_FALSE(p.reason.empty());
      EXPECT_LE(++per_artist[snap->track(p.track_id)->artist], 3);
      if (p.known) {
        ++known;
        EXPECT_TRUE(p.reason.rfind("you played it", 0) == 0 || p.reason.rfind("you starred", 0) == 0) << p.reason;
      } else {
        EXPECT_FALSE(in(first(f.tracks.a, 8), p.track_id) || in(first(f.tracks.b, 8), p.track_id)) << p.track_id;
        EXPECT_TRUE(p.reason.rfind("near '", 0) == 0 || p.reason.rfind("like the ", 0) == 0) << p.reason;
      }
    }
    EXPECT_EQ(known, 5);
  }
  // An unplayed song of the starred songs' album says so; the other new songs name their neighbour.
  for (const MixPick& p : mixes[0].tracks) {
    if (p.known) continue;
    const bool album_2 = std::find(f.tracks.a.begin() + 12, f.tracks.a.begin() + 15, p.track_id) != f.tracks.a.begin() + 15;
    if (album_2) EXPECT_EQ(p.reason, "like the 2 songs you starred on this album");
    else EXPECT_EQ(p.reason.rfind("near 'alpha song ", 0), 0u) << p.reason;
  }
  // Nothing played in the last 3 days: songs played yesterday stay out.
  TasteHistory recent = h;
  for (int64_t id : first(f.tracks.a, 4)) recent.plays.push_back({id, kNow - kDay, false});
  MixOptions fresh = mo;
  fresh.not_played_days = 3;
  for (const MixPick& p : make_mixes(*snap, build_taste(*snap, recent, options()), fresh)[0].tracks)
    EXPECT_FALSE(in(first(f.tracks.a, 4), p.track_id)) << p.track_id;

  // Discovery 1: only songs never played.
  MixOptions all_new = mo;
  all_new.discovery = 1;
  for (const MixPick& p : make_mixes(*snap, taste, all_new)[0].tracks) EXPECT_FALSE(p.known);
  EXPECT_THROW(check_mix_options([] { MixOptions x; x.discovery = 1.5; return x; }()), InvalidArgument);
}

// H12S-2: the taste library again, with copies (the same bytes, the same embedding) of two songs.
// 2,000 copies of one song filled the rows a taste centre's nearest songs and a mix's pools were
// taken from: `taste --nearest 5` listed five files of one song, and a mix of 10 over a user's
// starred library listed that song alone.
struct CopiesFixture {
  std::string dir = test::temp_dir() + "/taste-copies";
  std::string db = dir + "/library.db";
  test::TasteLibrary tracks;
  std::unique_ptr<Library> lib;
  // `n` copies of each of `originals`, written after the library.
  CopiesFixture(const std::vector<int64_t>& originals, int n) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    tracks = test::write_taste_library(db, identity(), dir + "/music");
    auto store = store::open_store(db, store::OpenMode::ReadWrite);
    for (int64_t id : originals) {
      const store::Track original = *store->track(id);
      const std::vector<float> e = fixture().lib->snapshot()->track_embedding(id);
      for (int i = 0; i < n; ++i) {
        store::Track t = original;
        t.id = 0;
        t.path = dir + "/music/copies/" + std::to_string(id) + "-" + std::to_string(i) + ".flac";
        store::WindowRecord w;
        w.end_s = 10;
        w.loudness_dbfs = -20;
        w.embedding = e;
        store->put_track(t, {w}, e.data());
      }
    }
    store.reset();
    LibraryOptions o;
    o.db = db;
    lib = std::make_unique<Library>(o, Access::ReadOnly);
  }
};

// Whether two of `ids` are copies of one recording (one content hash).
bool copies_among(const LibrarySnapshot& snap, const std::vector<int64_t>& ids) {
  std::set<std::string> hashes;
  for (int64_t id : ids)
    if (!hashes.insert(snap.track(id)->content_hash).second) return true;
  return false;
}

TEST(Mixes, CopiesOfOneSongDoNotFillTheListsOfATasteOrAMix) {
  const Fixture& base = fixture();
  const auto base_snap = base.lib->snapshot();
  // Played: alpha 0..7, 3 times each. Copied: the song nearest the centre (whichever it is) and
  // the unplayed song nearest it, 250 copies each (more than a mix of 10's pool of new songs, 200).
  TasteHistory h;
  for (int n = 0; n < 3; ++n)
    for (int64_t id : first(base.tracks.a, 8)) h.plays.push_back({id, kNow - n * kDay - 10 * kDay, false});
  TasteOptions to = options();
  to.nearest = 5;
  const Taste before = build_taste(*base_snap, h, to);
  ASSERT_EQ(before.centres.size(), 1u);
  int64_t nearest_unplayed = 0;
  for (const auto& [id, cos] : before.centres[0].nearest)
    if (!in(first(base.tracks.a, 8), id) && !nearest_unplayed) nearest_unplayed = id;
  ASSERT_NE(nearest_unplayed, 0) << "no unplayed song among the centre's nearest 5";
  CopiesFixture f({before.centres[0].nearest[0].first, nearest_unplayed}, 250);
  const auto snap = f.lib->snapshot();
  const Taste taste = build_taste(*snap, h, to);
  ASSERT_EQ(taste.centres.size(), 1u);
  std::vector<int64_t> nearest;
  for (const auto& [id, cos] : taste.centres[0].nearest) nearest.push_back(id);
  EXPECT_EQ(nearest.size(), 5u);
  EXPECT_FALSE(copies_among(*snap, nearest)) << ::testing::PrintToString(nearest);
  MixOptions mo;
  mo.size = 10;
  mo.discovery = 0.5;
  mo.per_artist = 10;
  const std::vector<Mix> mixes = make_mixes(*snap, taste, mo);
  ASSERT_EQ(mixes.size(), 1u);
  std::vector<int64_t> picks;
  int known = 0;
  for (const MixPick& p : mixes[0].tracks) picks.push_back(p.track_id), known += p.known;
  EXPECT_EQ(picks.size(), 10u);
  EXPECT_EQ(known, 5);
  EXPECT_FALSE(copies_among(*snap, picks)) << ::testing::PrintToString(picks);

  // The favourites' pool: a user who played each copy of a song more than the others.
  const std::vector<int64_t> copies = [&] {
    std::vector<int64_t> out;
    for (const store::Track& t : snap->tracks())
      if (t.content_hash == snap->track(before.centres[0].nearest[0].first)->content_hash) out.push_back(t.id);
    return out;
  }();
  ASSERT_EQ(copies.size(), 251u);
  TasteHistory fan;
  for (int n = 0; n < 3; ++n)
    for (int64_t id : copies) fan.plays.push_back({id, kNow - n * kDay - 10 * kDay, false});
  for (int64_t id : first(base.tracks.a, 8)) fan.plays.push_back({id, kNow - 10 * kDay, false});
  MixOptions favourites = mo;
  favourites.discovery = 0;
  picks.clear();
  known = 0;
  const std::vector<Mix> fan_mixes = make_mixes(*snap, build_taste(*snap, fan, options()), favourites);
  ASSERT_EQ(fan_mixes.size(), 1u);
  for (const MixPick& p : fan_mixes[0].tracks) picks.push_back(p.track_id), known += p.known;
  std::set<std::string> played;  // the recordings played: alpha 0..7 and the copied song (one of them or not)
  for (const TastePlay& p : fan.plays) played.insert(snap->track(p.track_id)->content_hash);
  EXPECT_EQ(known, static_cast<int>(played.size()));  // each once (then new songs fill the mix)
  EXPECT_FALSE(copies_among(*snap, picks)) << ::testing::PrintToString(picks);
}

TEST(Taste, TheSameHistoryGivesTheSameAnswerBitForBit) {
  Fixture& f = fixture();
  TasteHistory h = two_cluster_history();
  h.plays.push_back({f.tracks.a[12], kNow, true});
  h.starred[f.tracks.b[15]] = kNow;
  const auto snap = f.lib->snapshot();
  const Taste one = build_taste(*snap, h, options());
  // A second library (another snapshot, loaded again) and a second run.
  LibraryOptions lo;
  lo.db = f.db;
  Library again(lo, Access::ReadOnly);
  const Taste two = build_taste(*again.snapshot(), h, options());
  ASSERT_EQ(one.centres.size(), two.centres.size());
  for (size_t j = 0; j < one.centres.size(); ++j) {
    ASSERT_EQ(one.centres[j].vector.size(), two.centres[j].vector.size());
    EXPECT_EQ(std::memcmp(one.centres[j].vector.data(), two.centres[j].vector.data(), one.centres[j].vector.size() * 4), 0);
    EXPECT_EQ(one.centres[j].nearest, two.centres[j].nearest);
    EXPECT_EQ(one.centres[j].members, two.centres[j].members);
  }
  MixOptions mo;
  mo.size = 8;
  const auto m1 = make_mixes(*snap, one, mo), m2 = make_mixes(*again.snapshot(), two, mo);
  ASSERT_EQ(m1.size(), m2.size());
  for (size_t j = 0; j < m1.size(); ++j)
    for (size_t i = 0; i < m1[j].tracks.size(); ++i) {
      EXPECT_EQ(m1[j].tracks[i].track_id, m2[j].tracks[i].track_id);
      EXPECT_EQ(m1[j].tracks[i].reason, m2[j].tracks[i].reason);
    }
}

TEST(ForMe, TheQueryFollowsTheCentreNearestTheSongAndLeavesSkippedSongs) {
  Fixture& f = fixture();
  const auto snap = f.lib->snapshot();
  const Taste taste = build_taste(*snap, two_cluster_history(), options());
  const std::vector<float> seed = snap->track_embedding(f.tracks.b[10]);
  const auto dim = static_cast<int64_t>(seed.size());
  int64_t centre = -1;
  const std::vector<float> q = for_me_query(taste, seed.data(), dim, {}, &centre);
  EXPECT_EQ(centre, 1);  // the B centre
  EXPECT_GT(cosine(q.data(), taste.centres[1].vector.data(), dim), cosine(seed.data(), taste.centres[1].vector.data(), dim));
  const std::vector<float> skipped = snap->track_embedding(f.tracks.b[11]);
  const std::vector<float> pushed = for_me_query(taste, seed.data(), dim, {skipped.data()});
  EXPECT_LT(cosine(pushed.data(), skipped.data(), dim), cosine(q.data(), skipped.data(), dim));
}

// The MPD radio for you (service/radio.h): from a B song it stays with B; a song left after 5
// seconds is a skip, never played again and pushed away from.
TEST(RadioForMe, FollowsTheTasteAndLeavesSkippedSongs) {
  Fixture& f = fixture();
  const auto snap = f.lib->snapshot();
  RadioStationOptions so;
  so.min_queue = 4;
  so.diversity = 0;
  so.taste = std::make_shared<Taste>(build_taste(*snap, two_cluster_history(), options()));
  // The radio queues only files that are in the music folder (H12P-6: a file gone since it was
  // indexed is skipped): the synthetic tracks' files are made here, empty (MPD is not asked).
  for (const std::string& path : f.tracks.paths) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path).close();
  }
  RadioStation station(*f.lib, MusicFolderMap(f.dir + "/music"), so);
  QueueView q;
  q.current_uri = "beta/10.flac";
  q.clock_s = 100;
  const RadioFill first = station.fill(q);
  ASSERT_EQ(first.picks.size(), 4u);
  for (const RadioPick& p : first.picks) EXPECT_TRUE(in(f.tracks.b, p.track_id)) << p.path;
  EXPECT_TRUE(station.skipped().empty());
  // The first pick started 5 s later: beta/10 was skipped.
  q.played_uris = {"beta/10.flac"};
  q.current_uri = first.picks[0].uri;
  q.upcoming_uris = {first.picks[1].uri, first.picks[2].uri, first.picks[3].uri};
  q.clock_s = 105;
  const RadioFill second = station.fill(q);
  ASSERT_EQ(station.skipped(), std::vector<int64_t>{f.tracks.b[10]});
  ASSERT_EQ(second.picks.size(), 1u);
  EXPECT_NE(second.picks[0].track_id, f.tracks.b[10]);
  // Played for 200 s (its whole length): the next song is no skip.
  q.played_uris.push_back(q.current_uri.value());
  q.current_uri = first.picks[1].uri;
  q.upcoming_uris = {first.picks[2].uri, first.picks[3].uri, second.picks[0].uri};
  q.clock_s = 305;
  station.fill(q);
  EXPECT_EQ(station.skipped().size(), 1u);
}

// Trained on 8 songs of each cluster before the last 7 days; in those days 4 unplayed A songs
// were played. The mixes (only new songs, 12 a mix) list every unplayed song of both clusters:
// every held-out song is a hit; most played lists only songs played before: none is.
TEST(HistoryEval, ScoresTheMixesAndBaselinesOnTheHeldOutDays) {
  Fixture& f = fixture();
  const auto snap = f.lib->snapshot();
  TasteHistory h = two_cluster_history();  // 10 to 12 days before kNow
  for (size_t i = 8; i < 12; ++i) h.plays.push_back({f.tracks.a[i], kNow - static_cast<int64_t>(i - 8) * kDay, false});
  HistoryEvalOptions o;
  o.holdout_days = 7;
  o.mix.size = 12;
  o.mix.discovery = 1;
  o.mix.per_artist = 0;
  const HistoryEval ev = evaluate_history(*snap, h, o);
  EXPECT_EQ(ev.cutoff, kNow - 7 * kDay);
  EXPECT_EQ(ev.train_plays, 40);
  EXPECT_EQ(ev.heldout_plays, 4);
  EXPECT_EQ(ev.heldout_songs, 4);
  EXPECT_EQ(ev.centres, 2);
  ASSERT_EQ(ev.rows.size(), 5u);
  const HistoryEvalRow &mixes = ev.rows[0], &radio = ev.rows[1], &random = ev.rows[2], &most = ev.rows[3], &similar = ev.rows[4];
  EXPECT_EQ(mixes.name, "mixes");
  EXPECT_EQ(mixes.listed, 24);
  EXPECT_EQ(mixes.hits, 4);
  EXPECT_DOUBLE_EQ(mixes.hit_rate, 1.0);
  EXPECT_DOUBLE_EQ(mixes.novelty, 1.0);
  EXPECT_DOUBLE_EQ(mixes.diversity, 4.0);  // Alpha 0..3, Beta 0..3
  EXPECT_EQ(most.name, "most played");
  EXPECT_EQ(most.listed, 16);
  EXPECT_EQ(most.hits, 0);
  EXPECT_DOUBLE_EQ(most.novelty, 0.0);
  EXPECT_EQ(random.listed, 24);
  // The radio starts from the last song played before the cut (a B song: B was played last):
  // it stays with B, so it misses the A songs.
  EXPECT_EQ(radio.listed, 12);
  EXPECT_EQ(radio.hits, 0);
  EXPECT_EQ(similar.listed, 24);

  // Deterministic: the same numbers again.
  const HistoryEval again = evaluate_history(*snap, h, o);
  for (size_t r = 0; r < ev.rows.size(); ++r) {
    EXPECT_EQ(ev.rows[r].hits, again.rows[r].hits);
    EXPECT_EQ(ev.rows[r].novelty, again.rows[r].novelty);
    EXPECT_EQ(ev.rows[r].diversity, again.rows[r].diversity);
  }
  HistoryEvalOptions nothing_after = o;
  nothing_after.holdout_days = 1;
  TasteHistory old = two_cluster_history();
  old.plays.push_back({f.tracks.a[0], kNow, true});  // only a skip after the cut
  EXPECT_NE(test::error_of([&] { evaluate_history(*snap, old, nothing_after); }).find("no plays (not skipped) in the last 1 days"),
            std::string::npos);
}

}  // namespace
}  // namespace clap::service

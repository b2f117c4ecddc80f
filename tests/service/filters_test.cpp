// Filters and caps on every ranked query (service/filters.h): a filtered top-k is the
// brute-force ranking of the matching tracks alone, k long whenever k tracks match; in memory
// and compressed mode, through the exact scoring of the allowed tracks and through the enlarged
// search (both forced here: the library is small). Per-artist and per-album caps, the radio.
// Synthetic embeddings written to a real SQLite store with tags (no model: text queries come
// from the index's text cache).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/vector_math.h"
#include "search/like.h"
#include "search/text_search.h"
#include "service/aggregates.h"
#include "service/diversity.h"
#include "service/filters.h"
#include "service/library.h"
#include "service/playlists.h"
#include "service/queries.h"
#include "service/seeds.h"
#include "store/store.h"
#include "support/golden.h"

namespace clap::service {
namespace {

constexpr int kDim = 64;  // the compressed index's 64 sub-quantisers of one dimension each
constexpr int kTracks = 48;
const char* const kGenres[] = {"Jazz", "Rock", "Ambient"};

store::ModelIdentity identity() {
  store::ModelIdentity m;
  m.id = "org/filters-model";
  m.revision = "0123456789abcdef0123456789abcdef01234567";
  m.config_hash = std::string(64, 'f');
  m.dim = kDim;
  return m;
}

std::vector<float> unit(std::vector<float> v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  for (auto& x : v) x = static_cast<float>(x / std::sqrt(s));
  return v;
}

std::vector<float> random_unit(std::mt19937& rng) {
  std::normal_distribution<float> n;
  std::vector<float> v(kDim);
  for (auto& x : v) x = n(rng);
  return unit(v);
}

// Track i's tags: artist "Artist i%5" (every 7th track has none), album "Album i%4" of that
// artist, genre by i%3, year 1970 + i.
std::string artist_of(int i) { return i % 7 == 6 ? "" : "Artist " + std::to_string(i % 5); }

// The expression the tests filter by, and the same rule written out by hand.
const char* const kWhere = "(genre = \"jazz\" or year >= 2010) and not artist = \"artist 2\"";
bool hand_filter(const store::Track& t) {
  const int year = std::stoi(t.date.substr(0, 4));
  return (t.genre == "Jazz" || year >= 2010) && t.artist != "Artist 2";
}

class Filters : public ::testing::TestWithParam<std::tuple<WindowIndexMode, bool>> {
 protected:
  void SetUp() override {
    setenv("HF_HUB_OFFLINE", "1", 1);  // the model is never there: texts come from the cache
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');
    const std::string dir = test::temp_dir() + "/filters-" + name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    location_ = dir + "/library.db";
    auto st = store::open_store(location_, store::OpenMode::ReadWrite);
    st->set_model(identity());
    st->add_roots({"/music"});
    std::mt19937 rng(7);
    for (int i = 0; i < kTracks; ++i) {
      store::Track t;
      t.path = "/music/" + std::string(kGenres[i % 3]) + "/t" + std::to_string(100 + i) + (i % 2 ? ".flac" : ".mp3");
      t.size = 1000 + i;
      t.artist = artist_of(i);
      t.album = "Album " + std::to_string(i % 4);
      t.genre = kGenres[i % 3];
      t.date = std::to_string(1970 + i) + "-01-01";
      t.title = "T" + std::to_string(i);
      const int n = 5 + i % 6;
      t.duration_s = 5.0 * n + 5;
      const std::vector<float> centre = random_unit(rng);
      std::vector<store::WindowRecord> ws;
      std::vector<float> active;
      for (int w = 0; w < n; ++w) {
        store::WindowRecord r;
        r.idx = w;
        r.start_s = 5.0 * w;
        r.end_s = r.start_s + 10;
        r.silent = w == 2 && n > 6;
        r.loudness_dbfs = r.silent ? -90 : -20;
        std::vector<float> v = centre;
        std::normal_distribution<float> noise(0, 0.3f);
        for (auto& x : v) x += noise(rng);
        r.embedding = unit(v);
        if (!r.silent) active.insert(active.end(), r.embedding.begin(), r.embedding.end());
        ws.push_back(std::move(r));
      }
      const std::vector<float> e = track_embedding(static_cast<int64_t>(active.size() / kDim), kDim, active.data(), nullptr);
      st->put_track(t, ws, e.data());
    }
    st->put_cached_texts({{identity().model_key(), "calm piano", random_unit(rng)}});
    st->put_cached_texts({{identity().model_key(), "vocals", random_unit(rng)}});
  }

  std::unique_ptr<Library> open(WindowIndexMode mode) const {
    LibraryOptions o;
    o.db = location_;
    o.window_index = mode;
    o.compressed.nprobe = 1 << 16;     // every list and every window: the compressed mode's
    o.compressed.shortlist = 1 << 20;  // unfiltered answers are then the memory mode's
    auto lib = std::make_unique<Library>(o, Access::ReadOnly);
    lib->refresh(/*force=*/true);
    return lib;
  }

  ResultRules rules() const {
    ResultRules r;
    r.where = parse_where(kWhere, "--where");
    if (std::get<1>(GetParam())) {  // the enlarged search and its fallback, not the exact scoring
      r.exact_windows = -1;
      r.exact_share = 0;
    } else {
      r.exact_windows = int64_t{1} << 40;
    }
    return r;
  }

  std::string location_;
};

// The ids of the tracks the hand filter allows, ascending.
std::vector<int64_t> hand_allowed(const LibrarySnapshot& snap) {
  std::vector<int64_t> ids;
  for (const store::Track& t : snap.tracks())
    if (hand_filter(t)) ids.push_back(t.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

bool before(double sa, int64_t ia, double sb, int64_t ib) { return sa > sb || (sa == sb && ia < ib); }

// The memory catalog's windows of the allowed tracks only.
search::Catalog allowed_catalog(const LibrarySnapshot& memory, const std::vector<int64_t>& allowed) {
  const WindowTable& all = memory.catalog().table();
  WindowTable t;
  t.dim = all.dim;
  for (int64_t r = 0; r < all.size(); ++r)
    if (std::binary_search(allowed.begin(), allowed.end(), all.track_ids[r])) {
      t.window_ids.push_back(all.window_ids[r]);
      t.track_ids.push_back(all.track_ids[r]);
      t.starts.push_back(all.starts[r]);
      t.ends.push_back(all.ends[r]);
      t.silent.push_back(all.silent.empty() ? 0 : all.silent[r]);
      t.embeddings.insert(t.embeddings.end(), all.embeddings.begin() + r * all.dim, all.embeddings.begin() + (r + 1) * all.dim);
    }
  return search::Catalog(std::move(t));
}

TEST_P(Filters, TopKIsTheBruteForceRankingOfTheMatchingTracks) {
  const auto memory = open(WindowIndexMode::Memory);
  const auto lib = open(std::get<0>(GetParam()));
  const auto snap = lib->snapshot();
  const auto m = memory->snapshot();
  ASSERT_EQ(snap->compressed() != nullptr, std::get<0>(GetParam()) == WindowIndexMode::Compressed);
  const std::vector<int64_t> allowed = hand_allowed(*m);
  ASSERT_GE(allowed.size(), 12u);
  ASSERT_LT(allowed.size(), static_cast<size_t>(kTracks) / 2);
  const ResultRules r = rules();

  // Text: each allowed track scored over its windows, ranked by hand.
  const std::vector<float> q = lib->embed_texts({"calm piano"});
  for (auto aggregate : {search::Aggregate::Mean, search::Aggregate::Max})
    for (int64_t k : {int64_t{1}, int64_t{5}, int64_t{0}}) {
      SCOPED_TRACE(std::string(search::aggregate_name(aggregate)) + " k " + std::to_string(k));
      search::TextSearchOptions so;
      so.k = k;
      so.aggregate = aggregate;
      std::vector<search::TrackScore> want;
      for (int64_t id : allowed) want.push_back(search::score_track(m->catalog(), m->catalog().track_index(id), q.data(), so));
      std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) { return before(a.score, a.track_id, b.score, b.track_id); });
      if (k > 0) want.resize(static_cast<size_t>(k));
      const auto got = search_texts(*lib, *snap, {"calm piano"}, so, r)[0];
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i].track_id, want[i].track_id) << "rank " << i;
        EXPECT_EQ(got[i].score, want[i].score) << "rank " << i;
      }
    }

  // Similar: cosines to the allowed tracks' embeddings, by hand; the query track left out.
  const Embeddings& emb = m->track_embeddings();
  for (int64_t query_id : {emb.ids[0], allowed[3]}) {
    SCOPED_TRACE("similar to " + std::to_string(query_id));
    const float* qv = emb.row(emb.find(query_id));
    std::vector<search::Hit> want;
    for (int64_t id : allowed) {
      if (id == query_id) continue;
      const float* v = emb.row(emb.find(id));
      const double c = dot(qv, v, kDim) / (std::sqrt(double(dot(qv, qv, kDim))) * std::sqrt(double(dot(v, v, kDim))));
      want.push_back({id, c});
    }
    std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) { return before(a.score, a.id, b.score, b.id); });
    want.resize(6);
    const auto got = similar_tracks(*snap, *snap->track(query_id), 6, r);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].id, want[i].id) << "rank " << i;
      EXPECT_NEAR(got[i].score, want[i].score, 1e-6) << "rank " << i;
    }
  }

  // Query by example: the library of the allowed tracks alone, scanned exactly.
  const search::Catalog only = allowed_catalog(*m, allowed);
  const search::QueryChunks chunks = track_query_chunks(*m, *m->track(emb.ids[1]));
  search::LikeOptions lo;
  lo.k = 5;
  const auto want = search::like(only, nullptr, chunks, lo);
  const auto got = like(*snap, chunks, lo, r);
  ASSERT_EQ(got.size(), want.size());
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].track_id, want[i].track_id) << "rank " << i;
    EXPECT_EQ(got[i].combined, want[i].combined) << "rank " << i;
    EXPECT_EQ(got[i].votes, want[i].votes) << "rank " << i;
  }
}

TEST_P(Filters, CapsKeepAtMostNPerArtistAndAlbumAndStillFillTheList) {
  const auto lib = open(std::get<0>(GetParam()));
  const auto snap = lib->snapshot();
  const Embeddings& emb = snap->track_embeddings();
  const store::Track& seed = *snap->track(emb.ids[0]);
  const auto full = similar_tracks(*snap, seed, 0);  // every track, ranked
  for (auto [per_artist, per_album] : {std::pair{1, 0}, std::pair{2, 0}, std::pair{0, 1}, std::pair{1, 1}}) {
    SCOPED_TRACE("per artist " + std::to_string(per_artist) + ", per album " + std::to_string(per_album));
    ResultRules r;
    r.per_artist = per_artist;
    r.per_album = per_album;
    // By hand: the full ranking walked in order, a track taken while its artist and album have room.
    std::map<std::string, int> artists, albums;
    std::vector<int64_t> want;
    for (const search::Hit& h : full) {
      const store::Track& t = *snap->track(h.id);
      const std::string album = t.album + "|" + t.artist;
      const bool artist_full = per_artist > 0 && !t.artist.empty() && artists[t.artist] >= per_artist;
      const bool album_full = per_album > 0 && albums[album] >= per_album;  // every track has an album
      if (artist_full || album_full) continue;
      if (!t.artist.empty()) ++artists[t.artist];
      ++albums[album];
      want.push_back(h.id);
      if (want.size() == 8) break;
    }
    ASSERT_EQ(want.size(), 8u);  // enough tracks: the list is full
    const auto got = similar_tracks(*snap, seed, 8, r);
    std::vector<int64_t> got_ids;
    for (const auto& h : got) got_ids.push_back(h.id);
    EXPECT_EQ(got_ids, want);
  }
  // A filter and a cap together on text search: at most one per artist among the allowed.
  ResultRules r = rules();
  r.per_artist = 1;
  search::TextSearchOptions so;
  so.k = 10;
  const auto got = search_texts(*lib, *snap, {"calm piano"}, so, r)[0];
  std::map<std::string, int> seen;
  for (const auto& s : got) {
    const store::Track& t = *snap->track(s.track_id);
    EXPECT_TRUE(hand_filter(t)) << t.path;
    if (!t.artist.empty()) {
      EXPECT_EQ(++seen[t.artist], 1) << t.artist;
    }
  }
  // Artists 0, 1, 3, 4 (2 is filtered out) and the allowed tracks without an artist.
  int no_artist = 0;
  for (const store::Track& t : snap->tracks()) no_artist += hand_filter(t) && t.artist.empty();
  EXPECT_EQ(got.size(), static_cast<size_t>(std::min(10, 4 + no_artist)));
}

TEST_P(Filters, RadioPlaysOnlyMatchingTracksAfterItsSeeds) {
  const auto lib = open(std::get<0>(GetParam()));
  const auto snap = lib->snapshot();
  const std::vector<int64_t> allowed = hand_allowed(*snap);
  RadioRequest request;
  const store::Track* seed = nullptr;
  for (const store::Track& t : snap->tracks())
    if (!hand_filter(t)) seed = &t;
  ASSERT_NE(seed, nullptr);
  request.seeds = {std::to_string(seed->id)};
  request.length = 8;
  request.rules = rules();
  request.rules.per_album = 2;
  const Playlist p = radio(*lib, *snap, request);
  ASSERT_EQ(p.tracks.size(), 8u);
  EXPECT_EQ(p.tracks[0].id, seed->id);  // the seed plays, matching or not
  std::map<std::string, int> albums;
  ++albums[seed->album + "|" + seed->artist];
  for (size_t i = 1; i < p.tracks.size(); ++i) {
    const store::Track& t = *snap->track(p.tracks[i].id);
    EXPECT_TRUE(hand_filter(t)) << t.path;
    EXPECT_LE(++albums[t.album + "|" + t.artist], 2) << t.path;
  }
}

// Several seeds, texts and negatives (service/seeds.h): the query vector and the rankings by
// hand from the stored embeddings, the seeds left out, under the filter.
std::vector<double> unit_d(const float* v) {
  double s = 0;
  for (int i = 0; i < kDim; ++i) s += double(v[i]) * v[i];
  std::vector<double> out(kDim);
  for (int i = 0; i < kDim; ++i) out[i] = v[i] / std::sqrt(s);
  return out;
}

// normalise(Σ w·unit) in double, as floats.
std::vector<float> weighted_unit(const std::vector<std::pair<double, std::vector<double>>>& terms) {
  std::vector<double> sum(kDim, 0.0);
  for (const auto& [w, u] : terms)
    for (int i = 0; i < kDim; ++i) sum[i] += w * u[i];
  double s = 0;
  for (double x : sum) s += x * x;
  std::vector<float> out(kDim);
  for (int i = 0; i < kDim; ++i) out[i] = static_cast<float>(sum[i] / std::sqrt(s));
  return out;
}

TEST_P(Filters, SeveralSeedsTextsAndNegativesAreArithmeticOnUnitEmbeddings) {
  const auto lib = open(std::get<0>(GetParam()));
  const auto snap = lib->snapshot();
  const auto memory = open(WindowIndexMode::Memory);
  const auto m = memory->snapshot();
  const std::vector<int64_t> allowed = hand_allowed(*m);
  const Embeddings& emb = m->track_embeddings();
  const int64_t a = allowed[0], b = allowed[2], c = allowed[4];
  const std::vector<float> texts = lib->embed_texts({"calm piano", "vocals"});
  const std::vector<double> ua = unit_d(emb.row(emb.find(a))), ub = unit_d(emb.row(emb.find(b))), uc = unit_d(emb.row(emb.find(c)));
  const std::vector<double> piano = unit_d(texts.data()), vocals = unit_d(texts.data() + kDim);

  using K = TermKind;
  const std::vector<QueryTerm> terms = {{K::Audio, std::to_string(a), false, "--seed"},
                                        {K::Audio, m->track(b)->path + ":0.5", false, "--seed"},
                                        {K::Text, "calm piano:2", false, "--text"},
                                        {K::Text, "vocals", true, "--not"},
                                        {K::Audio, std::to_string(c) + ":0.75", true, "--not-like"}};
  const MixedQuery mq = resolve_query(*lib, *snap, terms);
  EXPECT_EQ(mq.seed_tracks, (std::vector<int64_t>{a, b, c}));
  ASSERT_EQ(mq.terms.size(), 5u);
  EXPECT_EQ(mq.terms[1].weight, 0.5);
  EXPECT_EQ(mq.terms[2].value, "calm piano");
  const std::vector<float> want_q = weighted_unit({{1, ua}, {0.5, ub}, {2, piano}, {-1, vocals}, {-0.75, uc}});
  const std::vector<float> got_q = combine_terms(mq.terms, kDim);
  for (int i = 0; i < kDim; ++i) ASSERT_NEAR(got_q[i], want_q[i], 1e-6) << i;

  // similar: the allowed tracks but the seeds, by cosine to the query vector.
  const ResultRules r = rules();
  std::vector<search::Hit> want;
  for (int64_t id : allowed) {
    if (id == a || id == b || id == c) continue;
    const std::vector<double> u = unit_d(emb.row(emb.find(id)));
    double cos = 0;
    for (int i = 0; i < kDim; ++i) cos += want_q[i] * u[i];
    want.push_back({id, cos});
  }
  std::sort(want.begin(), want.end(), [](const auto& x, const auto& y) { return before(x.score, x.id, y.score, y.id); });
  want.resize(6);
  const auto got = similar_mixed(*snap, mq, kDim, 6, r);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << "rank " << i;
    EXPECT_NEAR(got[i].score, want[i].score, 1e-5) << "rank " << i;
  }

  // search: each text mixed with the terms, scored over windows; the seeds never listed.
  const MixedQuery steer = resolve_query(*lib, *snap, {{K::Audio, std::to_string(a), false, "--seed"}, {K::Text, "vocals", true, "--not"}});
  const std::vector<float> text_q = weighted_unit({{1, ua}, {-1, vocals}, {1, piano}});
  search::TextSearchOptions so;
  so.k = 0;
  std::vector<search::TrackScore> want_s;
  for (int64_t id : allowed)
    if (id != a) want_s.push_back(search::score_track(m->catalog(), m->catalog().track_index(id), text_q.data(), so));
  std::sort(want_s.begin(), want_s.end(), [](const auto& x, const auto& y) { return before(x.score, x.track_id, y.score, y.track_id); });
  const auto got_s = search_mixed(*lib, *snap, {"calm piano"}, steer, so, r)[0];
  ASSERT_EQ(got_s.size(), want_s.size());
  for (size_t i = 0; i < want_s.size(); ++i) {
    EXPECT_EQ(got_s[i].track_id, want_s[i].track_id) << "rank " << i;
    EXPECT_NEAR(got_s[i].score, want_s[i].score, 1e-5) << "rank " << i;
  }

  // like: every chunk of each positive audio seed c becomes normalise(w·ĉ + Σ texts − Σ negatives).
  const search::QueryChunks chunks = mixed_query_chunks(*lib, *snap, mq);
  const search::QueryChunks ca = track_query_chunks(*m, *m->track(a)), cb = track_query_chunks(*m, *m->track(b));
  ASSERT_EQ(chunks.size(), ca.size() + cb.size());
  for (int64_t k = 0; k < chunks.size(); ++k) {
    const bool first = k < ca.size();
    const search::QueryChunks& from = first ? ca : cb;
    const int64_t row = first ? k : k - ca.size();
    const std::vector<float> want_c =
        weighted_unit({{first ? 1 : 0.5, unit_d(from.embeddings.data() + row * kDim)}, {2, piano}, {-1, vocals}, {-0.75, uc}});
    for (int i = 0; i < kDim; ++i) ASSERT_NEAR(chunks.embeddings[k * kDim + i], want_c[i], 1e-6) << "chunk " << k;
    EXPECT_EQ(chunks.starts[k], from.starts[row]);
  }
  search::LikeOptions lo;
  lo.k = 0;
  for (const auto& res : like(*snap, chunks, lo, excluding_seeds(r, mq))) {
    EXPECT_TRUE(std::binary_search(allowed.begin(), allowed.end(), res.track_id)) << res.track_id;
    EXPECT_TRUE(res.track_id != a && res.track_id != b && res.track_id != c) << res.track_id;
  }
}

TEST_P(Filters, ABadSeedOrWeightNamesTheTermAndTheReason) {
  const auto lib = open(std::get<0>(GetParam()));
  const auto snap = lib->snapshot();
  const std::string id = std::to_string(snap->tracks()[0].id);
  using K = TermKind;
  auto error = [&](const std::vector<QueryTerm>& terms) { return test::error_of([&] { resolve_query(*lib, *snap, terms); }); };
  EXPECT_EQ(error({{K::Audio, "/music/none.flac", false, "--seed"}}),
            "--seed /music/none.flac: no such file, and no track with that id or path in the index");
  EXPECT_EQ(error({{K::Audio, "999999:0.5", false, "--seed"}}), "--seed 999999: no such file, and no track with that id or path in the index");
  // 1e39 and 1e300 are finite doubles but beyond float, where the query is computed (L2).
  for (const char* w : {"inf", "nan", "0", "-1", "1e999", "1e39", "1e300"})
    EXPECT_EQ(error({{K::Audio, id + ":" + w, false, "--seed"}}),
              "--seed " + id + ":" + w + ": the weight after ':' must be a finite number above 0, at most 3.4e38");
  EXPECT_EQ(error({{K::Text, "calm piano:nan", false, "--text"}}),
            "--text calm piano:nan: the weight after ':' must be a finite number above 0, at most 3.4e38");
  EXPECT_EQ(error({}), "give at least one seed or text to search by (negatives alone do not make a query)");
  EXPECT_EQ(error({{K::Text, "vocals", true, "--not"}}), "give at least one seed or text to search by (negatives alone do not make a query)");
  EXPECT_EQ(error({{K::Text, " ", false, "--text"}}), "--text: empty text");
  const MixedQuery same = resolve_query(*lib, *snap, {{K::Audio, id, false, "--seed"}, {K::Audio, id, true, "--not-like"}});
  EXPECT_EQ(test::error_of([&] { combine_terms(same.terms, kDim); }),
            "the query's seeds and negatives cancel out (their weighted sum is zero)");
  // A server names tracks only: a path on its disk is no seed.
  EXPECT_EQ(test::error_of([&] { resolve_query(*lib, *snap, {{K::Audio, "/etc/passwd", false, "seed"}}, false); }),
            "seed /etc/passwd: no track with that id in the index");
}

TEST(SeedLists, APlaylistGivesItsEntriesRelativeToItsFolder) {
  const std::string dir = test::temp_dir() + "/seed-list";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/list.m3u") << "\xEF\xBB\xBF#EXTM3U\r\n#EXTINF:1,x\r\nsub/a.flac\r\n\r\n  12  \n/abs/b.mp3\n";
  EXPECT_EQ(read_seed_list(dir + "/list.m3u"), (std::vector<std::string>{dir + "/sub/a.flac", "12", "/abs/b.mp3"}));
  std::ofstream(dir + "/empty.m3u") << "#EXTM3U\n";
  EXPECT_EQ(test::error_of([&] { read_seed_list(dir + "/empty.m3u"); }), dir + "/empty.m3u: the seed list has no entries");
  EXPECT_EQ(test::error_of([&] { read_seed_list(dir + "/none.m3u"); }), dir + "/none.m3u: no such file (seed list)");
  // Issue 53, L4: a folder is said to be one; an endless stream stops at its first NUL byte
  // (R9C-3; it was read to the 64 MB bound before).
  EXPECT_EQ(test::error_of([&] { read_seed_list(dir); }), dir + ": is a folder (seed list)");
  EXPECT_EQ(test::error_of([&] { read_seed_list("/dev/zero"); }), "/dev/zero: not text (a NUL byte at byte 0) (seed list); is it the right file?");
}

// --diversity (service/diversity.h): maximal marginal relevance over the track embeddings, by hand.
TEST_P(Filters, DiversityIsMaximalMarginalRelevanceOverTrackEmbeddings) {
  const auto lib = open(std::get<0>(GetParam()));
  const auto snap = lib->snapshot();
  const auto m = open(WindowIndexMode::Memory)->snapshot();
  const Embeddings& emb = m->track_embeddings();
  const auto ranked = similar_tracks(*snap, *snap->track(emb.ids[0]), 20);
  auto id_of = [](const search::Hit& h) { return h.id; };
  auto score_of = [](const search::Hit& h) { return h.score; };
  // d = 0: the ranking's order.
  const auto same = diversify(*snap, ranked, 8, 0.0, id_of, score_of);
  ASSERT_EQ(same.size(), 8u);
  for (size_t i = 0; i < same.size(); ++i) EXPECT_EQ(same[i].id, ranked[i].id);
  for (double d : {0.3, 0.7, 1.0}) {
    SCOPED_TRACE("diversity " + std::to_string(d));
    std::vector<int64_t> want;
    std::vector<bool> used(ranked.size(), false);
    while (want.size() < 8) {
      size_t best = ranked.size();
      double best_v = 0;
      for (size_t i = 0; i < ranked.size(); ++i) {
        if (used[i]) continue;
        double closest = 0;
        for (size_t w = 0; w < want.size(); ++w) {
          const double c = dot(emb.row(emb.find(want[w])), emb.row(emb.find(ranked[i].id)), kDim);
          closest = w == 0 ? c : std::max(closest, c);
        }
        const double v = (1 - d) * ranked[i].score - d * closest;
        if (best == ranked.size() || v > best_v) {
          best = i;
          best_v = v;
        }
      }
      used[best] = true;
      want.push_back(ranked[best].id);
    }
    std::vector<int64_t> got;
    for (const auto& h : diversify(*snap, ranked, 8, d, id_of, score_of)) got.push_back(h.id);
    EXPECT_EQ(got, want);
  }
  EXPECT_NE(test::error_of([&] { diversify(*snap, ranked, 8, 1.5, id_of, score_of); }).find("diversity: must be"), std::string::npos);
}

// Artists and albums (service/aggregates.h): the normalised mean of the unit track embeddings
// of their tracks (those the filter allows), recomputed here from the stored track embeddings.
TEST_P(Filters, ArtistsAndAlbumsAreTheNormalisedMeanOfTheirTracks) {
  const auto lib = open(std::get<0>(GetParam()));
  const auto snap = lib->snapshot();
  const auto m = open(WindowIndexMode::Memory)->snapshot();
  const Embeddings& emb = m->track_embeddings();
  // group name -> (tracks, normalised mean), by hand; `album`: "album|artist".
  auto by_hand = [&](bool album, bool filtered) {
    std::map<std::string, std::pair<int64_t, std::vector<double>>> sums;
    for (const store::Track& t : m->tracks()) {
      if ((!album && t.artist.empty()) || (filtered && !hand_filter(t))) continue;
      auto& [n, sum] = sums[album ? t.album + "|" + t.artist : t.artist];
      sum.resize(kDim);
      const std::vector<float> e = unit(std::vector<float>(emb.row(emb.find(t.id)), emb.row(emb.find(t.id)) + kDim));
      for (int d = 0; d < kDim; ++d) sum[d] += e[d];
      ++n;
    }
    for (auto& [name, g] : sums) {
      double n2 = 0;
      for (double x : g.second) n2 += x * x;
      for (double& x : g.second) x /= std::sqrt(n2);
    }
    return sums;
  };
  auto check = [&](const std::vector<GroupHit>& got, bool album, bool filtered, const std::vector<double>& query,
                   const std::string& leave_out) {
    const auto hand = by_hand(album, filtered);
    std::vector<std::pair<double, std::string>> want;
    for (const auto& [name, g] : hand)
      if (name != leave_out) want.emplace_back(std::inner_product(query.begin(), query.end(), g.second.begin(), 0.0), name);
    std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(album ? got[i].name + "|" + got[i].artist : got[i].name, want[i].second) << i;
      EXPECT_NEAR(got[i].score, want[i].first, 1e-5) << i;
      EXPECT_EQ(got[i].tracks, hand.at(want[i].second).first) << i;
    }
  };
  ResultRules where;
  where.where = parse_where(kWhere, "--where");
  for (bool filtered : {false, true}) {
    SCOPED_TRACE(filtered ? "filtered" : "all tracks");
    const ResultRules r = filtered ? where : ResultRules{};
    // like an artist: every other artist, by the cosine of the aggregates.
    check(similar_groups(*snap, GroupKind::Artist, "ARTIST 1", "", 0, r), false, filtered, by_hand(false, filtered).at("Artist 1").second,
          "Artist 1");
    check(similar_groups(*snap, GroupKind::Album, "album 3", "artist 3", 0, r), true, filtered,
          by_hand(true, filtered).at("Album 3|Artist 3").second, "Album 3|Artist 3");
    // by text: the cached text embedding against every aggregate.
    const std::vector<float> q = lib->embed_texts({"calm piano"});
    check(search_groups(*lib, *snap, GroupKind::Artist, {"calm piano"}, 0, r)[0], false, filtered,
          std::vector<double>(q.begin(), q.end()), "");
    const auto top2 = search_groups(*lib, *snap, GroupKind::Album, {"calm piano"}, 2, r)[0];
    EXPECT_EQ(top2.size(), 2u);
  }
  // Errors name the input and the reason.
  EXPECT_NE(test::error_of([&] { similar_groups(*snap, GroupKind::Artist, "Artsit 1", "", 5); })
                .find("artist \"Artsit 1\": no track in the index is tagged with this artist; did you mean \"Artist 1\""),
            std::string::npos);
  // A long unknown name (the server takes 2,000 bytes): the same error, the name shown cut with its
  // length, no suggestions (no typo is that long; the edit distances to every artist are not computed).
  const std::string long_name = "Artist 1" + std::string(1992, 'x');
  const std::string long_error = test::error_of([&] { similar_groups(*snap, GroupKind::Artist, long_name, "", 5); });
  EXPECT_EQ(long_error.rfind("artist \"Artist 1xxx", 0), 0u) << long_error;
  EXPECT_NE(long_error.find("x\u2026\" (2000 bytes): no track in the index is tagged with this artist"), std::string::npos)
      << long_error;
  EXPECT_EQ(long_error.find("did you mean"), std::string::npos) << long_error;
  EXPECT_LT(long_error.size(), 300u) << long_error;
  EXPECT_NE(test::error_of([&] { similar_groups(*snap, GroupKind::Artist, "Artist 2", "", 5, where); })
                .find("artist \"Artist 2\": none of its 9 indexed tracks matches the filter"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { similar_groups(*snap, GroupKind::Album, "Album 1", "", 5); })
                .find("album \"Album 1\": several albums have this name (by (no artist), Artist 0, Artist 1, Artist 2"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Modes, Filters,
                         ::testing::Combine(::testing::Values(WindowIndexMode::Memory, WindowIndexMode::Compressed),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == WindowIndexMode::Memory ? "Memory" : "Compressed") +
                                  (std::get<1>(info.param) ? "Enlarged" : "Exact");
                         });

TEST(FilterRules, ABadExpressionNamesTheOptionAndTheColumn) {
  const std::string e = test::error_of([] { parse_where("yaer > 1970", "--where"); });
  EXPECT_EQ(e.substr(0, 44), "--where: unknown field \"yaer\" at column 1; f") << e;
  EXPECT_TRUE(parse_where("  ", "--where").empty());
  ResultRules r;
  r.per_artist = -1;
  EXPECT_NE(test::error_of([&] { check_rules(r); }).find("per-artist"), std::string::npos);
}

}  // namespace
}  // namespace clap::service

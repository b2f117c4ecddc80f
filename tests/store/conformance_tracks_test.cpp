// The Store contract, what a track carries on both stores: fingerprints, packet hashes, windows
// added pass by pass, speech scores, track and window embeddings read in pages or by id, and the
// embedding sets of another model (set-up: store_contract.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "index/indexer.h"

#include "store_contract.h"

namespace clap::store {
namespace {

using namespace contract;

// Acoustic fingerprints (issue 33): written with the track, read by id, replaced with it,
// gone with it, added later for tracks that have none, carried by migrate's copy.
TEST_P(StoreContract, FingerprintsTravelWithTheirTrack) {
  auto s = open();
  s->set_model(identity());
  Track t = track("/m/a.flac");
  t.fingerprint = {0x00000000u, 0xffffffffu, 0x80000001u, 0x12345678u};
  const int64_t a = s->put_track(t, windows(2), unit(0).data());
  const int64_t b = s->put_track(track("/m/b.flac"), windows(2, -1, 2), unit(1).data());
  Track quiet = track("/m/quiet.flac");
  quiet.silent = true;
  quiet.status = TrackStatus::Error;
  s->put_track(quiet, {}, nullptr);
  EXPECT_TRUE(s->track(a)->fingerprint.empty()) << "track reads leave it out";
  auto got = s->fingerprints({a, b, 9999});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[a], t.fingerprint);
  // Only ok, non-silent tracks without one are listed for an index run to compute.
  auto missing = s->tracks_without_fingerprint();
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].id, b);
  s->put_fingerprint(b, {7u, 8u});
  s->put_fingerprint(b, {9u});  // replaced, not added
  EXPECT_EQ(s->fingerprints({b})[b], std::vector<uint32_t>{9u});
  EXPECT_TRUE(s->tracks_without_fingerprint().empty());
  EXPECT_THROW(s->put_fingerprint(9999, {1u}), Error);
  // migrate's copy carries them.
  const std::string other = GetParam() == "sqlite" ? test::temp_dir() + "/copy-prints.db"
                                                   : test::PostgresServer::shared().create_database();
  auto target = open_store(other, OpenMode::ReadWrite);
  {
    auto scope = target->begin_import(identity(), {});
    target->import_tracks(s->export_tracks(s->track_ids()));
    scope->commit();
  }
  EXPECT_EQ(target->fingerprints({a, b}), s->fingerprints({a, b}));
  // A track written again (the file changed) has the new fingerprint or none; a removed one has none.
  Track again = track("/m/a.flac");
  EXPECT_EQ(s->put_track(again, windows(2), unit(0).data()), a);
  EXPECT_TRUE(s->fingerprints({a}).empty());
  s->remove_tracks({b});
  EXPECT_TRUE(s->fingerprints({b}).empty());
}

// Packet hashes (H9S-5): keyed by content hash, listed for the ok tracks that lack one, a row
// stored once is kept, and purge_retired forgets those no track or retired track holds.
TEST_P(StoreContract, PacketHashesAreKeptByContentHash) {
  auto s = open();
  s->set_model(identity());
  Track ta = track("/m/a.flac");
  ta.content_hash = std::string(64, 'a');
  Track tb = track("/m/b.flac");
  tb.content_hash = std::string(64, 'c');
  const int64_t a = s->put_track(ta, windows(2), unit(0).data());
  const int64_t b = s->put_track(tb, windows(2), unit(1).data());
  Track bad = track("/m/bad.flac");
  bad.content_hash = std::string(64, 'd');
  bad.status = TrackStatus::Error;
  bad.error = "undecodable";
  s->put_track(bad, {}, nullptr);
  auto missing = s->tracks_without_packet_hash();
  ASSERT_EQ(missing.size(), 2u) << "ok tracks only";
  EXPECT_EQ(missing[0].id, a);
  EXPECT_EQ(missing[1].id, b);
  EXPECT_TRUE(s->packet_hashes({ta.content_hash, tb.content_hash}).empty());
  s->put_packet_hashes({{ta.content_hash, std::string(64, '1')}, {tb.content_hash, ""}});
  // Replaced (issue 53): a file that could not be demuxed ("") is tried again when it changes, and
  // its hash then takes the row of its content hash.
  s->put_packet_hashes({{ta.content_hash, std::string(64, '2')}});
  EXPECT_TRUE(s->tracks_without_packet_hash().empty()) << "an empty hash (no packets) is stored too";
  const auto got = s->packet_hashes({ta.content_hash, tb.content_hash, std::string(64, 'e'), ""});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got.at(ta.content_hash), std::string(64, '2'));
  EXPECT_EQ(got.at(tb.content_hash), "");
  // A retired track keeps its row until it is purged; a track removed for good loses it.
  s->retire_tracks({a});
  s->remove_tracks({b});
  s->purge_retired(0);
  EXPECT_EQ(s->packet_hashes({ta.content_hash}).size(), 1u) << "still restorable";
  EXPECT_TRUE(s->packet_hashes({tb.content_hash}).empty());
  s->purge_retired(std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(s->packet_hashes({ta.content_hash}).empty());
}

// Progressive indexing (index/passes.h): a track written with some of its windows, the rest
// added batch by batch with the track embedding made again; coverage and partial_tracks follow.
TEST_P(StoreContract, PartlyIndexedTracksGainWindowsAtomically) {
  auto s = open();
  s->set_model(identity());
  const std::vector<WindowRecord> all = windows(6, 2);  // window 2 silent
  Track t = track("/m/a.flac");
  t.window_total = 6;
  std::vector<WindowRecord> first = {all[1], all[2], all[4]};
  const int64_t a = s->put_track(t, first, awkward(7).data());
  const int64_t b = s->put_track(track("/m/b.flac"), windows(3), unit(1).data());  // whole (window_total 0 = given)
  EXPECT_TRUE(s->check().empty());
  Counts c = s->counts();
  EXPECT_EQ(c.window_total, 9);
  EXPECT_EQ(c.ok_windows, 6);
  EXPECT_EQ(c.complete_tracks, 1);
  EXPECT_EQ(s->track(a)->window_total, 6);
  EXPECT_EQ(s->track(a)->window_count, 3);
  EXPECT_EQ(s->track(b)->window_total, 3);
  auto partial = s->partial_tracks();
  ASSERT_EQ(partial.size(), 1u);
  EXPECT_EQ(partial[0].state.id, a);
  EXPECT_EQ(partial[0].state.path, "/m/a.flac");
  EXPECT_EQ(partial[0].window_total, 6);
  EXPECT_EQ(partial[0].present, (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(partial[0].silent, (std::vector<int>{2}));

  const int64_t before = s->library_generation();
  s->add_windows(a, {all[0], all[3]}, awkward(8).data());
  EXPECT_GT(s->library_generation(), before);
  ASSERT_TRUE(s->changes_since(before));
  EXPECT_EQ(s->changes_since(before)->changed, ids({a}));
  // A window already there is refused, and the track is left as it was.
  EXPECT_THROW(s->add_windows(a, {all[3]}, awkward(9).data()), Error);
  EXPECT_THROW(s->add_windows(b + 100, {all[5]}, awkward(9).data()), Error);
  EXPECT_EQ(s->track(a)->window_count, 5);
  const Embeddings mid = s->track_embeddings({a});
  ASSERT_EQ(mid.size(), 1);
  EXPECT_TRUE(same_bits(std::vector<float>(mid.row(0), mid.row(0) + kDim), awkward(8)));
  s->add_windows(a, {all[5]}, awkward(10).data());
  EXPECT_TRUE(s->partial_tracks().empty());
  c = s->counts();
  EXPECT_EQ(c.ok_windows, 9);
  EXPECT_EQ(c.complete_tracks, 2);
  const auto got = s->windows(a);
  ASSERT_EQ(got.size(), 6u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].idx, static_cast<int>(i));
    EXPECT_EQ(got[i].silent, all[i].silent);
    EXPECT_TRUE(same_bits(got[i].embedding, all[i].embedding)) << i;
  }
  EXPECT_TRUE(s->check().empty());
  // The copy of `clapsearch migrate` keeps a partly indexed track partly indexed.
  s->put_track(t, first, awkward(7).data());
  const std::string other = GetParam() == "sqlite" ? test::temp_dir() + "/copy/library.db"
                                                   : test::PostgresServer::shared().create_database();
  auto target = open_store(other, OpenMode::ReadWrite);
  {
    auto scope = target->begin_import(identity(), {});
    target->import_tracks(s->export_tracks(s->track_ids()));
    scope->commit();
  }
  EXPECT_EQ(target->track(a)->window_total, 6);
  EXPECT_EQ(target->partial_tracks().size(), 1u);
}

// Speech scores (Track::speech; index/speech.h): none for a new track, stored by put_speech as a
// library write, cleared when add_windows replaces the track embedding, carried by migrate's copy;
// a score outside [0, 1] or an unknown track is refused.
TEST_P(StoreContract, SpeechScoresAreClearedWhenTheTrackEmbeddingChanges) {
  auto s = open();
  s->set_model(identity());
  const std::vector<WindowRecord> all = windows(4);
  Track t = track("/m/a.flac");
  t.window_total = 4;
  const int64_t a = s->put_track(t, {all[0], all[1]}, unit(0).data());
  const int64_t b = s->put_track(track("/m/b.flac"), windows(2), unit(1).data());
  s->put_track(track("/m/silent.flac"), windows(1, 0), nullptr);  // no embedding: never listed
  const Embeddings unscored = s->tracks_without_speech();
  EXPECT_EQ(unscored.ids, ids({a, b}));
  ASSERT_EQ(unscored.size(), 2);
  EXPECT_TRUE(same_bits(std::vector<float>(unscored.row(1), unscored.row(1) + kDim), unit(1)));
  const int64_t before = s->library_generation();
  s->put_speech({{a, 0.25}, {b, 1.0 / 3}});
  EXPECT_EQ(s->changes_since(before)->changed, ids({a, b}));
  EXPECT_EQ(s->track(a)->speech, 0.25);
  EXPECT_EQ(s->track(b)->speech, 1.0 / 3);  // bit for bit
  EXPECT_TRUE(s->tracks_without_speech().ids.empty());
  EXPECT_THROW(s->put_speech({{a, 1.5}}), Error);
  EXPECT_THROW(s->put_speech({{b + 100, 0.5}}), Error);
  EXPECT_EQ(s->track(a)->speech, 0.25);
  s->add_windows(a, {all[2], all[3]}, unit(2).data());  // coverage changed: the score with it
  EXPECT_FALSE(s->track(a)->has_speech());
  EXPECT_EQ(s->tracks_without_speech().ids, ids({a}));
  const std::string other = GetParam() == "sqlite" ? test::temp_dir() + "/copy/library.db"
                                                   : test::PostgresServer::shared().create_database();
  auto target = open_store(other, OpenMode::ReadWrite);
  {
    auto scope = target->begin_import(identity(), {});
    target->import_tracks(s->export_tracks(s->track_ids()));
    scope->commit();
  }
  EXPECT_EQ(target->track(b)->speech, 1.0 / 3);
  EXPECT_FALSE(target->track(a)->has_speech());
}

TEST_P(StoreContract, TrackEmbeddingsOfSomeTracks) {
  auto s = open();
  s->set_model(identity());
  const auto e1 = awkward(1), e2 = awkward(2);
  const int64_t a = s->put_track(track("/m/a.mp3"), windows(2), e1.data());
  const int64_t b = s->put_track(track("/m/b.mp3"), windows(2), e2.data());
  Track bad = track("/m/bad.mp3");
  bad.status = TrackStatus::Error;
  bad.error = "undecodable";
  const int64_t c = s->put_track(bad, {}, nullptr);
  const Embeddings got = s->track_embeddings({b, c, a, 999});
  EXPECT_EQ(got.dim, kDim);
  EXPECT_EQ(got.ids, ids({a, b}));
  EXPECT_TRUE(same_bits(std::vector<float>(got.row(0), got.row(0) + kDim), e1));
  EXPECT_TRUE(same_bits(std::vector<float>(got.row(1), got.row(1) + kDim), e2));
  EXPECT_EQ(s->track_embeddings(std::vector<int64_t>{}).size(), 0);
}

// All track embeddings of a library larger than one page of the PostgreSQL reader (16,384
// rows): every embedded track once, in id order, bit for bit; tracks without one (errors) left out.
TEST_P(StoreContract, AllTrackEmbeddingsAcrossPages) {
  auto s = open();
  const int64_t n = 2 * 16384 + 5;
  std::vector<int64_t> want_ids;
  std::vector<float> want;
  {
    const auto import = s->begin_import(identity(), {"/m"});
    std::vector<TrackCopy> copies;
    for (int64_t i = 0; i < n; ++i) {
      TrackCopy c;
      c.track = track("/m/" + std::to_string(i) + ".flac");
      c.track.id = 3 * i + 7;  // gaps: pages are by id, not by row number
      if (i % 1000 == 999) {
        c.track.status = TrackStatus::Error;
        c.track.error = "undecodable";
      } else {
        c.embedding = awkward(static_cast<int>(i));
        want_ids.push_back(c.track.id);
        want.insert(want.end(), c.embedding.begin(), c.embedding.end());
      }
      copies.push_back(std::move(c));
    }
    s->import_tracks(copies);
    import->commit();
  }
  const Embeddings got = s->track_embeddings();
  EXPECT_EQ(got.dim, kDim);
  EXPECT_EQ(got.ids, want_ids);
  EXPECT_TRUE(same_bits(got.data, want));
}

// What a search node reads to build a compressed index without holding the library: the ids,
// a scan in pages, and rows by id - each exactly the rows of window_embeddings(), by window id.
TEST_P(StoreContract, WindowScanAndRowsByIdAreTheSearchableWindows) {
  auto s = open();
  s->set_model(identity());
  const auto e = awkward(1);
  const int64_t z = s->put_track(track("/m/z.flac"), windows(3, 1, 1), e.data());  // window 1 silent
  s->put_track(track("/m/a.flac"), windows(2, -1, 2), e.data());
  Track bad = track("/m/bad.mp3");
  bad.status = TrackStatus::Error;
  bad.error = "undecodable";
  s->put_track(bad, {}, nullptr);

  const WindowTable all = s->window_embeddings();
  ASSERT_EQ(all.size(), 4);
  std::vector<int64_t> order(4);
  for (int i = 0; i < 4; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return all.window_ids[a] < all.window_ids[b]; });
  std::vector<int64_t> by_id;
  std::vector<float> floats_by_id;
  for (int64_t i : order) {
    by_id.push_back(all.window_ids[i]);
    floats_by_id.insert(floats_by_id.end(), all.embeddings.begin() + i * kDim, all.embeddings.begin() + (i + 1) * kDim);
  }
  EXPECT_EQ(s->active_window_ids(), by_id);

  std::vector<int64_t> scanned, pages;
  std::vector<float> scanned_floats;
  s->scan_window_embeddings(3, [&](const WindowTable& page) {
    EXPECT_EQ(page.dim, kDim);
    pages.push_back(page.size());
    scanned.insert(scanned.end(), page.window_ids.begin(), page.window_ids.end());
    scanned_floats.insert(scanned_floats.end(), page.embeddings.begin(), page.embeddings.end());
    for (int64_t i = 0; i < page.size(); ++i) {
      const int64_t at = std::find(all.window_ids.begin(), all.window_ids.end(), page.window_ids[i]) - all.window_ids.begin();
      EXPECT_EQ(page.track_ids[i], all.track_ids[at]);
      EXPECT_EQ(page.starts[i], all.starts[at]);
      EXPECT_EQ(page.ends[i], all.ends[at]);
    }
    return true;
  });
  EXPECT_EQ(scanned, by_id);
  EXPECT_EQ(pages, (std::vector<int64_t>{3, 1}));
  EXPECT_TRUE(same_bits(scanned_floats, floats_by_id));
  int calls = 0;
  s->scan_window_embeddings(1, [&](const WindowTable&) { return ++calls < 2; });
  EXPECT_EQ(calls, 2);  // stopped when asked
  EXPECT_THROW(s->scan_window_embeddings(0, [](const WindowTable&) { return true; }), Error);

  int64_t silent_id = 0;
  for (const auto& w : s->windows(z))
    if (w.silent) silent_id = w.id;
  ASSERT_GT(silent_id, 0);
  const WindowTable some = s->window_embeddings(std::vector<int64_t>{by_id[3], silent_id, by_id[0], 999999, by_id[0]});
  EXPECT_EQ(some.window_ids, (std::vector<int64_t>{by_id[0], by_id[3]}));
  std::vector<float> want(floats_by_id.begin(), floats_by_id.begin() + kDim);
  want.insert(want.end(), floats_by_id.begin() + 3 * kDim, floats_by_id.end());
  EXPECT_TRUE(same_bits(some.embeddings, want));
  EXPECT_EQ(s->window_embeddings(std::vector<int64_t>{}).size(), 0);
}

// Another model over the same windows (issue 37): both stores record an embedding set beside the
// active one, fill it without touching what queries read, switch in one transaction (and back,
// bit for bit), drop an inactive set, and copy every set with migrate's export and import.
TEST_P(StoreContract, AnotherModelGetsItsOwnSetSwitchedBackAndCopied) {
  auto s = open();
  s->set_model(identity());
  const auto emb = awkward(7);
  const int64_t a = s->put_track(track("/m/a.mp3"), windows(2), emb.data());
  ModelIdentity other = identity();
  other.id = "org/other";
  other.content_hash = std::string(64, 'e');
  other.audio_hash = std::string(64, 'f');
  std::vector<EmbeddingSet> sets = s->embedding_sets();
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_TRUE(sets[0].active);
  EXPECT_EQ(sets[0].identity.id, identity().id);
  EXPECT_EQ(sets[0].windows, 2);
  EXPECT_NE(test::error_of([&] { index::ensure_identity(*s, other, false); }).find("--rebuild"),
            std::string::npos);  // a model not named for it (index without --model) gets no set
  const int64_t set = index::ensure_identity(*s, other, false, /*new_set=*/true);
  EXPECT_EQ(set, 2);
  EXPECT_EQ(index::ensure_identity(*s, other, false, true), set);  // the next run continues it
  EXPECT_EQ(s->model()->id, identity().id);

  // Filled one window at a time; what queries read stays as it was.
  const Embeddings before = s->track_embeddings();
  ASSERT_EQ(s->set_tracks(set).size(), 1u);
  EXPECT_EQ(s->set_tracks(set)[0].stored, (std::vector<int>{0, 1}));
  std::vector<WindowRecord> mine = windows(2);
  for (WindowRecord& w : mine) w.embedding = awkward(20 + w.idx);
  EXPECT_NE(test::error_of([&] { s->activate_set(1); }).find("is the active one"), std::string::npos);
  s->add_set_windows(set, a, {mine[0]}, mine[0].embedding.data());
  EXPECT_EQ(s->set_tracks(set)[0].held, (std::vector<int>{0}));
  EXPECT_NE(test::error_of([&] { s->add_set_windows(set, a, {mine[0]}, mine[0].embedding.data()); }), "");  // held already
  WindowRecord unknown = mine[1];
  unknown.idx = 7;
  EXPECT_NE(test::error_of([&] { s->add_set_windows(set, a, {unknown}, mine[0].embedding.data()); })
                .find("not a stored non-silent window"),
            std::string::npos);
  const std::vector<float> set_track = awkward(30);
  s->add_set_windows(set, a, {mine[1]}, set_track.data());
  sets = s->embedding_sets();
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_TRUE(sets[1].complete());
  EXPECT_TRUE(same_bits(s->track_embeddings().data, before.data));
  ASSERT_EQ(s->set_windows(set, a).size(), 2u);
  EXPECT_TRUE(same_bits(s->set_windows(set, a)[1].embedding, mine[1].embedding));

  // A copy (migrate's export and import) holds both sets, the same one active.
  const std::string copy_at = GetParam() == "sqlite" ? test::temp_dir() + "/sets-copy.db"
                                                     : test::PostgresServer::shared().create_database();
  {
    auto copy = open_store(copy_at, OpenMode::ReadWrite);
    auto scope = copy->begin_import(*s->model(), {});
    std::vector<EmbeddingSet> wrong = s->embedding_sets();
    wrong[0].active = false;
    EXPECT_NE(test::error_of([&] { copy->import_sets(wrong); }).find("0 active embedding sets"), std::string::npos);
    wrong[1].active = true;  // another model than the copy's
    EXPECT_NE(test::error_of([&] { copy->import_sets(wrong); }).find("is not the copy's model"), std::string::npos);
    copy->import_sets(s->embedding_sets());
    const std::vector<TrackCopy> tracks = s->export_tracks(s->track_ids());
    ASSERT_EQ(tracks.at(0).sets.size(), 1u);
    EXPECT_EQ(tracks[0].sets[0].set_id, set);
    copy->import_tracks(tracks);
    scope->commit();
    const std::vector<EmbeddingSet> copied = copy->embedding_sets();
    ASSERT_EQ(copied.size(), 2u);
    EXPECT_TRUE(copied[0].active);
    EXPECT_EQ(copied[1].identity.id, "org/other");
    EXPECT_EQ(copied[1].covered_windows, 2);
    EXPECT_TRUE(same_bits(copy->set_windows(set, a)[1].embedding, mine[1].embedding));
  }

  // The switch: the set's embeddings are read, the old ones kept as their own set.
  s->activate_set(set);
  EXPECT_EQ(s->model()->id, "org/other");
  EXPECT_TRUE(same_bits(s->windows(a)[1].embedding, mine[1].embedding));
  EXPECT_TRUE(same_bits(s->track_embeddings().data, set_track));
  EXPECT_FALSE(s->changes_since(0));  // readers read everything again
  sets = s->embedding_sets();
  EXPECT_FALSE(sets[0].active);
  EXPECT_TRUE(sets[0].complete());
  EXPECT_TRUE(s->check().empty());
  s->activate_set(1);  // and back, bit for bit
  EXPECT_EQ(s->model()->id, identity().id);
  EXPECT_TRUE(same_bits(s->track_embeddings().data, before.data));
  EXPECT_NE(test::error_of([&] { s->drop_set(1); }).find("is the active one"), std::string::npos);
  EXPECT_NE(test::error_of([&] { s->drop_set(9); }).find("no embedding set 9"), std::string::npos);
  s->drop_set(set);
  EXPECT_EQ(s->embedding_sets().size(), 1u);
  EXPECT_EQ(index::ensure_identity(*s, other, false, true), 2);  // a new set takes the freed id, as SQLite's rowids do
}

}  // namespace
}  // namespace clap::store

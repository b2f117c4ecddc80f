#include "support/index_state.h"

#include <cstring>

#include "store/sqlite_store.h"

namespace clap::test {

std::map<std::string, TrackState> index_state(const std::string& db) {
  store::SqliteStore s = store::SqliteStore::open_readonly(db);
  const auto scope = s.read_scope();
  std::map<std::string, TrackState> out;
  const Embeddings emb = s.track_embeddings();
  std::vector<int64_t> ids;
  for (const store::Track& t : s.tracks()) ids.push_back(t.id);
  const auto prints = s.fingerprints(ids);
  for (const store::Track& t : s.tracks()) {
    TrackState& st = out[t.path];
    st.track = t;
    st.windows = s.windows(t.id);
    if (const int64_t row = emb.find(t.id); row >= 0) st.embedding.assign(emb.row(row), emb.row(row) + emb.dim);
    if (auto it = prints.find(t.id); it != prints.end()) st.fingerprint = it->second;
  }
  return out;
}

namespace {
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}
}  // namespace

std::string index_state_diff(const std::map<std::string, TrackState>& a, const std::map<std::string, TrackState>& b) {
  std::string d;
  auto note = [&](const std::string& path, const std::string& what) {
    if (d.size() < 4000) d += path + ": " + what + "\n";
  };
  for (const auto& [path, x] : a) {
    auto it = b.find(path);
    if (it == b.end()) {
      note(path, "only in the first index");
      continue;
    }
    const TrackState& y = it->second;
    if (x.track.status != y.track.status || x.track.silent != y.track.silent) note(path, "status differs");
    if (x.track.window_total != y.track.window_total)
      note(path, "window_total " + std::to_string(x.track.window_total) + " vs " + std::to_string(y.track.window_total));
    if (x.track.duration_s != y.track.duration_s || x.track.content_hash != y.track.content_hash) note(path, "file data differs");
    if (!same_bits(x.embedding, y.embedding)) note(path, "track embedding differs");
    if (x.fingerprint != y.fingerprint) note(path, "fingerprint differs");
    if (x.windows.size() != y.windows.size()) {
      note(path, std::to_string(x.windows.size()) + " windows vs " + std::to_string(y.windows.size()));
      continue;
    }
    for (size_t i = 0; i < x.windows.size(); ++i) {
      const store::WindowRecord &v = x.windows[i], &w = y.windows[i];
      if (v.idx != w.idx || v.start_s != w.start_s || v.end_s != w.end_s || v.loudness_dbfs != w.loudness_dbfs ||
          v.silent != w.silent || !same_bits(v.embedding, w.embedding))
        note(path, "window " + std::to_string(v.idx) + " differs");
    }
  }
  for (const auto& [path, y] : b)
    if (!a.count(path)) note(path, "only in the second index");
  return d;
}

}  // namespace clap::test

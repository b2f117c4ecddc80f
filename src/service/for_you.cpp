#include "service/for_you.h"

#include <cmath>
#include <unordered_map>

#include "core/error.h"
#include "service/history.h"
#include "service/history_files.h"
#include "service/song_resolver.h"
#include "core/vector_math.h"

namespace clap::service {

TasteHistory load_history(const store::Store& store, int64_t user_id, const LibrarySnapshot& snap, int64_t* unresolved) {
  TasteHistory h;
  int64_t missing = 0;
  auto here = [&](const store::SongRef& s) {
    const store::Track* t = snap.track(s.track_id);
    // A reference still attached to its recording: the same content, or the same path.
    const bool ok = t && t->status == store::TrackStatus::Ok && (t->content_hash == s.content_hash || t->path == s.path);
    if (!ok) ++missing;
    return ok;
  };
  constexpr size_t kPage = 20000;  // a long history is read a page at a time
  for (auto page = store.plays(user_id, 0, kPage); !page.empty(); page = store.plays(user_id, page.back().id, kPage)) {
    for (const store::PlayRecord& p : page)
      if (here(p.song)) h.plays.push_back({p.song.track_id, p.played_at, p.skipped});
    if (page.size() < kPage) break;
  }
  for (const store::FeedbackRecord& f : store.stars(user_id))
    if (f.kind == "song" && here(f.song)) h.starred.emplace(f.song.track_id, f.at);
  for (const store::FeedbackRecord& f : store.ratings(user_id))
    if (f.kind == "song" && here(f.song)) h.ratings.emplace(f.song.track_id, f.rating), h.rated_at.emplace(f.song.track_id, f.at);
  if (unresolved) *unresolved = missing;
  return h;
}

TasteHistory history_from_file(const LibrarySnapshot& snap, const std::string& path, int64_t* unresolved) {
  const HistoryFile file = read_history_file(path);
  TasteHistory h;
  int64_t missing = 0;
  std::unordered_map<std::string, const store::Track*> resolved;  // a favourite is resolved once
  for (const Listen& l : file.listens) {
    const std::string key = listen_key(l);
    auto it = resolved.find(key);
    if (it == resolved.end()) it = resolved.emplace(key, snap.song_index().resolve(song_ref_of(l)).track).first;
    if (it->second) h.plays.push_back({it->second->id, l.played_at, false});
    else ++missing;
  }
  if (unresolved) *unresolved = missing;
  return h;
}

int64_t taste_clock(int64_t now) {
  constexpr int64_t kDay = 86400;
  return (now / kDay + 1) * kDay;
}

std::vector<float> for_me_query(const Taste& taste, const float* seed, int64_t dim, const std::vector<const float*>& skipped,
                                int64_t* centre) {
  int64_t arg = -1;
  double top = -2;
  for (size_t j = 0; j < taste.centres.size(); ++j) {
    const double s = cosine(seed, taste.centres[j].vector.data(), dim);
    if (s > top) top = s, arg = static_cast<int64_t>(j);
  }
  if (centre) *centre = arg;
  std::vector<double> sum(seed, seed + dim);
  if (arg >= 0)
    for (int64_t d = 0; d < dim; ++d) sum[d] += taste.centres[arg].vector[d];
  for (const float* s : skipped)
    for (int64_t d = 0; d < dim; ++d) sum[d] -= kSkipPush * s[d];
  double norm = 0;
  for (double v : sum) norm += v * v;
  if (!(norm > 1e-12)) return std::vector<float>(seed, seed + dim);  // the skips cancelled the seed out
  std::vector<float> q(sum.begin(), sum.end());
  l2_normalize_rows(q.data(), 1, dim);
  return q;
}

}  // namespace clap::service

#include "support/taste_library.h"

#include <cmath>
#include <random>

namespace clap::test {

std::string TasteLibrary::path_of(int64_t id) const {
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] == id) return paths[i];
  for (size_t i = 0; i < b.size(); ++i)
    if (b[i] == id) return paths[a.size() + i];
  for (size_t i = 0; i < scattered.size(); ++i)
    if (scattered[i] == id) return paths[a.size() + b.size() + i];
  return "";
}

namespace {

// normalise(e_axis + spread · gaussian noise over every dimension / sqrt(dim)).
std::vector<float> around(int axis, double spread, int dim, std::mt19937& rng) {
  std::normal_distribution<double> n;
  std::vector<double> v(dim, 0.0);
  for (int d = 0; d < dim; ++d) v[d] = spread * n(rng) / std::sqrt(static_cast<double>(dim));
  v[axis] += 1;
  double s = 0;
  for (double x : v) s += x * x;
  std::vector<float> out(dim);
  for (int d = 0; d < dim; ++d) out[d] = static_cast<float>(v[d] / std::sqrt(s));
  return out;
}

}  // namespace

TasteLibrary write_taste_library(const std::string& location, const store::ModelIdentity& identity,
                                 const std::string& root) {
  auto store = store::open_store(location, store::OpenMode::ReadWrite);
  if (!store->model()) store->set_model(identity);
  const int dim = store->model()->dim;
  std::mt19937 rng(55);
  TasteLibrary lib;
  auto put = [&](const std::string& group, int i, const std::vector<float>& e, const std::string& artist,
                 const std::string& genre) {
    store::Track t;
    t.path = root + "/" + group + "/" + std::to_string(i) + ".flac";
    t.size = 1000 + i;
    t.mtime_ns = 1700000000000000000;
    t.content_hash = std::string(60, 'c') + group.substr(0, 1) + (i < 10 ? "0" : "") + std::to_string(i) + "x";
    t.content_hash.resize(64, 'x');
    t.duration_s = 200;
    t.title = group + " song " + std::to_string(i);
    t.artist = artist;
    t.album = group + " album " + std::to_string(i / 5);
    t.genre = genre;
    t.indexed_at = 1700000000;
    store::WindowRecord w;
    w.idx = 0;
    w.start_s = 0;
    w.end_s = 10;
    w.loudness_dbfs = -20;
    w.embedding = e;
    const int64_t id = store->put_track(t, {w}, e.data());
    lib.paths.push_back(t.path);
    return id;
  };
  for (int i = 0; i < kClusterSize; ++i)
    lib.a.push_back(put("alpha", i, around(0, 0.5, dim, rng), "Alpha " + std::to_string(i % 4), "jazz"));
  for (int i = 0; i < kClusterSize; ++i)
    lib.b.push_back(put("beta", i, around(1, 0.5, dim, rng), "Beta " + std::to_string(i % 4), "metal"));
  for (int i = 0; i < kClusterSize; ++i)
    lib.scattered.push_back(put("other", i, around(2 + i, 0.5, dim, rng), "Other " + std::to_string(i), "pop"));
  return lib;
}

int64_t add_user_plays(store::Store& store, const std::string& user, const std::vector<int64_t>& tracks, int plays,
                       int64_t last_at, bool skipped, const std::string& source) {
  int64_t uid = 0;
  if (auto u = store.user(user)) {
    uid = u->id;
  } else {
    store::UserRecord r;
    r.name = user;
    r.password_encrypted = "v1:none";
    r.created_at = 1700000000;
    uid = store.add_user(r);
  }
  int64_t at = last_at;
  for (int n = 0; n < plays; ++n)
    for (int64_t id : tracks) {
      const auto t = store.track(id);
      store::PlayRecord p;
      p.user_id = uid;
      p.song = {id, t ? t->content_hash : "", t ? t->path : ""};
      p.played_at = at;
      p.skipped = skipped;
      p.source = source;
      store.add_play(p);
      at -= 3600;
    }
  return uid;
}

}  // namespace clap::test

// The vector index's file (format 3, vector_index.h "File"): writing it whole-or-nothing,
// reading and checking its header, payload and checksum (against the matrix it was built
// from, when given), and load_or_build, which decides whether a file is reused, updated or
// rebuilt. The index itself (build, search, update) is vector_index.cpp.
#include "search/vector_index.h"

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "core/error.h"
#include "core/json_integer.h"
#include "core/output_file.h"
#include "core/regular_file.h"
#include "search/faiss_io.h"
#include "search/vector_index_internal.h"


namespace clap::search {
namespace {

constexpr char kMagic[8] = {'C', 'L', 'A', 'P', 'V', 'I', 'D', 'X'};
constexpr uint32_t kFormat = 3;  // 2: a checksum after the payload; 3: own payload for Exact/IVF (older files are rebuilt)
constexpr char kTrailerMagic[8] = {'C', 'L', 'A', 'P', 'S', 'U', 'M', '1'};

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<FILE, FileCloser>;

}  // namespace

// --- file ------------------------------------------------------------------------------------

void VectorIndex::save(const std::string& path, int64_t content_key) const {
  if (build_key_.empty()) throw Error("vector index: nothing to save to " + path);
  if (kind_ == IndexKind::Hnsw ? !index_ : (n_ > 0 && !vectors_)) throw Error("vector index: nothing to save to " + path);
  nlohmann::json h;
  h["format"] = kFormat;
  h["content_key"] = content_key;
  h["dim"] = dim_;
  h["n"] = n_;
  h["kind"] = index_kind_name(kind_);
  h["build_key"] = build_key_;
  h["trained_n"] = trained_n_;
  const std::string header = h.dump();

  // Written beside `path` and renamed over it only when complete (core/output_file.h). A search
  // killed while writing leaves its temporary (as large as the index), and nobody looks beside
  // the database: the next save removes it.
  OutputFile::remove_stale_temporaries(path);
  OutputFile f(path, OutputFile::Target::Derived);  // a FIFO at the name never blocks the write
  const uint32_t format = kFormat, len = static_cast<uint32_t>(header.size());
  f.write(kMagic, sizeof kMagic);
  f.write(&format, sizeof format);
  f.write(&len, sizeof len);
  f.write(header);
  ChecksumFileWriter writer(f);
  auto put = [&writer](const void* p, size_t bytes) { writer(p, 1, bytes); };
  if (kind_ == IndexKind::Hnsw) {
    try {
      faiss::write_index(index_.get(), &writer);
    } catch (const faiss::FaissException& e) {
      throw Error("cannot write vector index " + path + ": " + e.what());
    }
  } else {
    // Payload: ids (ascending); IVF: nlist, centroids, each vector's list; then the vectors in
    // id order, so the file alone is a complete index and a load can check them against its
    // matrix.
    put(ids_.data(), ids_.size() * sizeof(int64_t));
    if (kind_ == IndexKind::Ivf) {
      const int32_t nl = nlist();
      put(&nl, sizeof nl);
      put(centroids_.data(), centroids_.size() * sizeof(float));
      put(list_of_.data(), list_of_.size() * sizeof(int32_t));
    }
    std::vector<float> buf;
    const int64_t per = std::max<int64_t>(1, (int64_t{1} << 18) / dim_);  // 1 MB at a time
    for (int64_t i0 = 0; i0 < n_; i0 += per) {
      const int64_t i1 = std::min(n_, i0 + per);
      buf.resize(static_cast<size_t>((i1 - i0) * dim_));
      for (int64_t i = i0; i < i1; ++i)
        std::memcpy(buf.data() + (i - i0) * dim_, vectors_.get() + rows_[i] * dim_, sizeof(float) * dim_);
      put(buf.data(), buf.size() * sizeof(float));
    }
  }
  const uint64_t sum = writer.sum.finish();
  f.write(&sum, sizeof sum);
  f.write(kTrailerMagic, sizeof kTrailerMagic);
  f.commit();
}

namespace {

// Reads and validates the header; leaves `f` positioned at the payload.
bool read_header_from(FILE* f, IndexHeader* out, std::string* why) {
  char magic[8];
  uint32_t format = 0, len = 0;
  if (std::fread(magic, 1, 8, f) != 8 || std::memcmp(magic, kMagic, 8) != 0) {
    *why = "not a clapsearch vector index";
    return false;
  }
  if (std::fread(&format, sizeof format, 1, f) != 1 || format != kFormat) {
    *why = "unsupported format " + std::to_string(format);
    return false;
  }
  if (std::fread(&len, sizeof len, 1, f) != 1 || len > (1u << 20)) {
    *why = "bad header length";
    return false;
  }
  std::string text(len, '\0');
  if (std::fread(text.data(), 1, len, f) != len) {
    *why = "truncated header";
    return false;
  }
  try {
    const auto h = nlohmann::json::parse(text);
    out->format = json_integer_field<int>(h, "format");
    // Files from before the rename held the same value (a window fingerprint) as "generation".
    out->content_key = json_integer_field<int64_t>(h, h.contains("content_key") ? "content_key" : "generation");
    out->dim = json_integer_field<int>(h, "dim");
    out->n = json_integer_field<int64_t>(h, "n");
    out->kind = parse_index_kind(h.at("kind").get<std::string>());
    out->build_key = h.at("build_key").get<std::string>();
    out->trained_n = h.contains("trained_n") ? json_integer_field<int64_t>(h, "trained_n") : out->n;
  } catch (const std::exception& e) {
    *why = std::string("bad header: ") + e.what();
    return false;
  }
  return true;
}

// Reads a payload of known length from `f`, checksumming every byte.
class PayloadReader {
 public:
  PayloadReader(FILE* f, int64_t length, std::string where) : f_(f), left_(length), where_(std::move(where)) {}
  void read(void* p, int64_t bytes) {
    if (bytes < 0 || bytes > left_) throw Error(where_ + ": payload sizes do not match its header");
    if (bytes > 0 && std::fread(p, 1, static_cast<size_t>(bytes), f_) != static_cast<size_t>(bytes))
      throw Error(where_ + ": truncated");
    sum_.update(p, static_cast<size_t>(bytes));
    left_ -= bytes;
  }
  int64_t left() const { return left_; }
  uint64_t finish() { return sum_.finish(); }

 private:
  FILE* f_;
  int64_t left_;
  std::string where_;
  IndexPayloadChecksum sum_;
};

}  // namespace

// A file's contents: ids and lists; the vectors when no source was given, otherwise which of
// them equal the source's.
struct VectorIndex::Payload {
  std::vector<int64_t> ids;
  std::vector<float> centroids;
  std::vector<int32_t> list_of;
  std::vector<float> vectors;       // load without a source
  std::vector<int64_t> source_pos;  // with a source: position of ids[i] in it, -1 when absent
  std::vector<uint8_t> same;        // with a source: 1 when the stored vector equals the source's bit for bit
  std::unique_ptr<faiss::Index> hnsw;
};

uint64_t index_payload_checksum(const void* payload, size_t n) {
  IndexPayloadChecksum sum;
  sum.update(payload, n);
  return sum.finish();
}

bool VectorIndex::read_header(const std::string& path, IndexHeader* header) {
  File f(fopen_regular(path));  // a FIFO at the derived name never blocks (core/regular_file.h)
  if (!f) return false;
  std::string why;
  IndexHeader h;
  if (!read_header_from(f.get(), &h, &why)) return false;
  if (header) *header = h;
  return true;
}

VectorIndex VectorIndex::from_payload(Payload&& p, const IndexHeader& h) {
  VectorIndex out;
  out.n_ = h.n;
  out.dim_ = h.dim;
  out.kind_ = h.kind;
  out.build_key_ = h.build_key;
  out.trained_n_ = h.trained_n;
  if (h.kind == IndexKind::Hnsw) {
    out.index_ = std::move(p.hnsw);
    return out;
  }
  out.ids_ = std::move(p.ids);
  if (h.kind == IndexKind::Ivf) {
    out.centroids_ = std::move(p.centroids);
    out.set_lists(std::move(p.list_of));
  }
  return out;
}

VectorIndex VectorIndex::load(const std::string& path) {
  IndexHeader h;
  Payload p;
  read_file(path, nullptr, h, p);
  std::vector<float> vectors = std::move(p.vectors);
  VectorIndex out = from_payload(std::move(p), h);
  if (out.kind_ != IndexKind::Hnsw) {
    auto data = std::make_shared<std::vector<float>>(std::move(vectors));
    out.vectors_ = std::shared_ptr<const float>(data, data->data());
    out.rows_.resize(static_cast<size_t>(out.n_));
    std::iota(out.rows_.begin(), out.rows_.end(), 0);
    out.owns_vectors_ = true;
  }
  return out;
}

VectorIndex VectorIndex::load(const std::string& path, const VectorSource& source) {
  source.check("vector index " + path);
  IndexHeader h;
  Payload p;
  read_file(path, &source, h, p);
  int64_t differ = source.size() == h.n ? 0 : std::abs(source.size() - h.n);
  for (size_t i = 0; i < p.same.size(); ++i) differ += p.same[i] ? 0 : 1;
  if (differ > 0)
    throw Error("vector index " + path + ": does not match the vectors it is loaded with (" + std::to_string(differ) +
                " of " + std::to_string(h.n) + " missing or different)");
  std::vector<int64_t> pos = std::move(p.source_pos);
  VectorIndex out = from_payload(std::move(p), h);
  if (out.kind_ != IndexKind::Hnsw) {
    out.rows_.resize(pos.size());
    for (size_t i = 0; i < pos.size(); ++i) out.rows_[i] = source.rows[pos[i]];
    out.vectors_ = source.matrix;
    out.owns_vectors_ = source.owned;
  }
  return out;
}

// Reads a file into `p`; throws clap::Error on anything unexpected.
void VectorIndex::read_file(const std::string& path, const VectorSource* source, IndexHeader& h, Payload& p) {
  const std::string where = "vector index " + path;
  File f(fopen_regular(path));
  if (!f) throw Error("cannot open vector index " + path + ": " + open_error(errno));
  std::string why;
  if (!read_header_from(f.get(), &h, &why)) throw Error(where + ": " + why);
  if (h.dim <= 0 || h.n < 0 || (source && source->dim != h.dim)) throw Error(where + ": header does not match its contents");
  const long start = std::ftell(f.get());
  if (start < 0 || std::fseek(f.get(), 0, SEEK_END) != 0) throw Error(where + ": cannot seek");
  const long end = std::ftell(f.get());
  if (end - start < 16) throw Error(where + ": truncated");
  const int64_t payload = end - start - 16;
  std::fseek(f.get(), start, SEEK_SET);
  auto check_trailer = [&](uint64_t sum) {
    uint64_t stored = 0;
    char trailer[8];
    if (std::fread(&stored, sizeof stored, 1, f.get()) != 1 || std::fread(trailer, 1, 8, f.get()) != 8 ||
        std::memcmp(trailer, kTrailerMagic, 8) != 0)
      throw Error(where + ": no checksum trailer (damaged or truncated)");
    if (stored != sum) throw Error(where + ": checksum mismatch (the file is damaged)");
  };

  if (h.kind == IndexKind::Hnsw) {
    // FAISS's payload must match the checksum written after it before FAISS reads a byte of it.
    PayloadReader r(f.get(), payload, where);
    std::vector<unsigned char> buf(1 << 20);
    while (r.left() > 0) {
      const int64_t want = std::min<int64_t>(r.left(), static_cast<int64_t>(buf.size()));
      r.read(buf.data(), want);
    }
    check_trailer(r.finish());
    std::fseek(f.get(), start, SEEK_SET);
    try {
      p.hnsw.reset(faiss::read_index(f.get()));
    } catch (const faiss::FaissException& e) {
      throw Error(where + ": " + e.what());
    }
    const faiss::IndexIDMap* map = nullptr;
    if (!hnsw_of(p.hnsw.get(), &map) || p.hnsw->d != h.dim || p.hnsw->ntotal != h.n ||
        map->id_map.size() != static_cast<size_t>(h.n))
      throw Error(where + ": header does not match its contents");
    if (source) {  // FAISS holds its own vectors; the ids must still be the source's
      std::vector<int64_t> a(map->id_map.begin(), map->id_map.end()), b = source->ids;
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      p.same.assign(static_cast<size_t>(h.n), a == b ? 1 : 0);
    }
    return;
  }

  // Exact / IVF: sizes follow from the header (n, dim) and nlist; every size is checked against
  // the bytes present before anything is allocated.
  const int64_t d = h.dim, n = h.n;
  const int64_t per_vector = 8 + (h.kind == IndexKind::Ivf ? 4 : 0) + 4 * d;
  if (d > (int64_t{1} << 20) || n > payload / per_vector) throw Error(where + ": payload sizes do not match its header");
  PayloadReader r(f.get(), payload, where);
  p.ids.resize(static_cast<size_t>(n));
  r.read(p.ids.data(), n * 8);
  for (int64_t i = 1; i < n; ++i)
    if (p.ids[i] <= p.ids[i - 1]) throw Error(where + ": ids out of order");
  if (h.kind == IndexKind::Ivf) {
    int32_t nl = 0;
    r.read(&nl, 4);
    if (nl < 1 || nl > (r.left() - n * (4 + 4 * d)) / (4 * d)) throw Error(where + ": payload sizes do not match its header");
    p.centroids.resize(static_cast<size_t>(nl) * d);
    r.read(p.centroids.data(), int64_t{nl} * d * 4);
    p.list_of.resize(static_cast<size_t>(n));
    r.read(p.list_of.data(), n * 4);
    for (int32_t l : p.list_of)
      if (l < 0 || l >= nl) throw Error(where + ": a list number out of range");
  }
  if (r.left() != n * d * 4) throw Error(where + ": payload sizes do not match its header");
  if (!source) {
    p.vectors.resize(static_cast<size_t>(n * d));
    r.read(p.vectors.data(), n * d * 4);
  } else {
    // Compared with the source while reading; none of them is kept.
    p.source_pos = positions_in(p.ids, *source, id_order(*source));
    p.same.assign(static_cast<size_t>(n), 0);
    const int64_t per = std::max<int64_t>(1, (int64_t{1} << 18) / d);
    std::vector<float> buf;
    for (int64_t i0 = 0; i0 < n; i0 += per) {
      const int64_t i1 = std::min(n, i0 + per);
      buf.resize(static_cast<size_t>((i1 - i0) * d));
      r.read(buf.data(), (i1 - i0) * d * 4);
      for (int64_t i = i0; i < i1; ++i)
        p.same[i] = p.source_pos[i] >= 0 &&
                    std::memcmp(buf.data() + (i - i0) * d, source->row_of(p.source_pos[i]), sizeof(float) * d) == 0;
    }
  }
  check_trailer(r.finish());
}

// --- load or build ---------------------------------------------------------------------------

namespace {

// What load_or_build needs from its caller: the vectors as a source (made on first use), and
// how to load a file over them.
struct Vectors {
  std::function<VectorSource()> make;
  std::optional<VectorSource> made;
  const VectorSource& get() {
    if (!made) made = make();
    return *made;
  }
};

}  // namespace

VectorIndex VectorIndex::load_impl(const std::string& path, const VectorSource* source, const VectorIndexOptions* update_options,
                                   LoadInfo* info) {
  // Used by load_or_build: a stale file brought to `source` (IVF keeps its centroids and
  // lists). An empty VectorIndex (no build key) means "rebuild instead".
  IndexHeader h;
  Payload p;
  read_file(path, source, h, p);
  if (h.kind == IndexKind::Hnsw) return VectorIndex();  // never updated
  // The file's vectors that equal the source's stand in for the vectors the index held; those
  // that differ (re-embedded) or whose id is gone are dropped first, and update() then counts
  // them as removed and adds the source's new and changed vectors.
  std::vector<int64_t> pos = std::move(p.source_pos);
  std::vector<uint8_t> same = std::move(p.same);
  VectorIndex old = from_payload(std::move(p), h);
  std::vector<int64_t> keep;
  for (size_t i = 0; i < same.size(); ++i)
    if (same[i]) keep.push_back(static_cast<int64_t>(i));
  const int64_t dropped = h.n - static_cast<int64_t>(keep.size());
  std::vector<int64_t> ids(keep.size()), rows(keep.size());
  std::vector<int32_t> lists(old.kind_ == IndexKind::Ivf ? keep.size() : 0);
  for (size_t j = 0; j < keep.size(); ++j) {
    ids[j] = old.ids_[keep[j]];
    rows[j] = source->rows[pos[keep[j]]];
    if (old.kind_ == IndexKind::Ivf) lists[j] = old.list_of_[keep[j]];
  }
  old.ids_ = std::move(ids);
  old.rows_ = std::move(rows);
  if (old.kind_ == IndexKind::Ivf) old.set_lists(std::move(lists));
  old.vectors_ = source->matrix;
  old.n_ = static_cast<int64_t>(keep.size());
  if (!old.update(*source, *update_options, info)) return VectorIndex();
  if (info) info->removed += dropped;
  return old;
}

namespace {

VectorIndex build_and_save(const std::string& path, int64_t content_key, Vectors& v, const VectorIndexOptions& options,
                           LoadInfo& inf) {
  VectorIndex idx = VectorIndex::build(v.get(), options);
  try {
    idx.save(path, content_key);
  } catch (const std::exception& e) {
    inf.save_error = e.what();
  }
  return idx;
}

}  // namespace

static VectorIndex load_or_build_impl(const std::string& path, int64_t content_key, Vectors& v,
                                      const VectorIndexOptions& options, LoadInfo* info,
                                      const std::function<VectorIndex(const VectorSource*, const VectorIndexOptions*, LoadInfo*)>& load) {
  LoadInfo local;
  LoadInfo& inf = info ? *info : local;
  inf = {};
  IndexHeader h;
  if (VectorIndex::read_header(path, &h)) {
    if (h.content_key != content_key && h.build_key == index_build_key(options, h.trained_n, h.dim)) {
      // Only the vectors changed: bring the stored index up to date instead of rebuilding it.
      try {
        VectorIndex idx = load(&v.get(), &options, &inf);
        if (!idx.build_key().empty()) {
          inf.reason = "updated (+" + std::to_string(inf.added) + " −" + std::to_string(inf.removed) + " vectors)";
          try {
            idx.save(path, content_key);
          } catch (const std::exception& e) {
            inf.save_error = e.what();
          }
          return idx;
        }
        inf = {};
        inf.reason = "stale content, and the library has changed too much to update the index";
        inf.rebuilt = true;
        return build_and_save(path, content_key, v, options, inf);
      } catch (const std::exception& e) {
        inf = {};
        inf.reason = std::string("stale and unreadable: ") + e.what();
      }
    } else if (h.content_key != content_key) {
      inf.reason = "stale content (index " + std::to_string(h.content_key) + ", vectors now " +
                   std::to_string(content_key) + ")";
    } else if (h.build_key != index_build_key(options, h.trained_n, h.dim)) {
      inf.reason = "options changed (index '" + h.build_key + "', wanted '" + index_build_key(options, h.trained_n, h.dim) + "')";
    } else {
      try {
        VectorIndex idx = load(nullptr, nullptr, &inf);
        inf.reason = "loaded";
        return idx;
      } catch (const std::exception& e) {
        inf.reason = std::string("unreadable: ") + e.what();
      }
    }
  } else {
    // With an error code: a loop of links at the name (replaced by the build below) is no
    // filesystem_error that fails the query (hostile pass 15, H15C-3).
    std::error_code ec;
    inf.reason = std::filesystem::exists(path, ec) || ec ? "unreadable: invalid header" : "missing";
  }
  inf.rebuilt = true;
  return build_and_save(path, content_key, v, options, inf);
}

VectorIndex VectorIndex::load_or_build(const std::string& path, int64_t content_key,
                                       const std::function<Embeddings()>& provider,
                                       const VectorIndexOptions& options, LoadInfo* info) {
  Vectors v;
  v.make = [&provider] { return VectorSource::owning(provider()); };
  return load_or_build_impl(path, content_key, v, options, info,
                            [&](const VectorSource* source, const VectorIndexOptions* opts, LoadInfo* inf) {
                              // A current file is complete by itself: the provider is not called.
                              if (!source) return load(path);
                              return load_impl(path, source, opts, inf);
                            });
}

VectorIndex VectorIndex::load_or_build(const std::string& path, int64_t content_key, const VectorSource& source,
                                       const VectorIndexOptions& options, LoadInfo* info) {
  Vectors v;
  v.made = source;
  return load_or_build_impl(path, content_key, v, options, info,
                            [&](const VectorSource* s, const VectorIndexOptions* opts, LoadInfo* inf) {
                              if (!s) return load(path, source);
                              return load_impl(path, s, opts, inf);
                            });
}

}  // namespace clap::search

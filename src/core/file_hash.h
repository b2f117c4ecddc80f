// sha256 of a file, remembered per file identity so that a multi-gigabyte model is hashed once,
// not on every query. The cache (clapsearch_cache_dir()/file-sha256.tsv) is keyed by the real
// path, device, inode, size, modification and change time: replacing, rewriting or touching the
// file changes at least the change time (which no user call can set back), so a stale entry
// is never used. The cache is an optimisation only: when it cannot be read or written, the
// file is simply hashed.
#pragma once
#include <functional>
#include <string>

namespace clap {

std::string cached_sha256_file(const std::string& path);

// Any sha256-like digest derived from a file's content (`kind` names the derivation, e.g. the
// sha256 of a checkpoint's conversion), remembered the same way; `compute` runs on a miss.
std::string cached_file_digest(const std::string& path, const std::string& kind,
                               const std::function<std::string()>& compute);

}  // namespace clap

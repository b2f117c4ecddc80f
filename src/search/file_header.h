// The opening of clapsearch's own binary files (the compressed window index, the track norms):
// 8 magic bytes, the length of a JSON header (uint32, little-endian), the header. What follows
// is each file's own.
#pragma once
#include <cstdint>
#include <functional>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "core/output_file.h"

namespace clap::search {

void write_file_header(OutputFile& file, const char (&magic)[8], const nlohmann::json& header);

// Reads and parses the header from the start of `in`. Throws clap::Error(not_ours) when the
// magic differs, and damaged("header length" | "truncated header" | "header: <why>") when the
// length is over max_length, the file ends early or the header is not JSON.
nlohmann::json read_file_header(std::istream& in, const char (&magic)[8], uint32_t max_length, const std::string& not_ours,
                                const std::function<Error(const std::string&)>& damaged);

}  // namespace clap::search

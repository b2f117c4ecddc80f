// The files the server serves from inside the binary (cmake/embed_assets.cmake writes the
// table at build time from src/server/web/ and src/server/openapi.json): nothing is read from
// disk or fetched from elsewhere to show the page.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace clap::server {

struct Asset {
  std::string name;  // file name: "index.html", "app.js", "openapi.json", ...
  const unsigned char* data;
  size_t size;
};

const std::vector<Asset>& assets();

}  // namespace clap::server

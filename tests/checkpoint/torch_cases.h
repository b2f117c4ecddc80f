// The shared set-up of the torch.save tests (torch_file_test.cpp: the files that read and the
// fuzz seeds; torch_file_refusals_test.cpp: the hostile files): where a hand-built file is
// written, the error it gives (which must start with the file's path), and the state dicts and
// views the cases build (support/torch_archive.h), without Python.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "checkpoint/pickle.h"
#include "checkpoint/torch_file.h"
#include "core/error.h"
#include "support/golden.h"
#include "support/torch_archive.h"

#define EXPECT_HAS(message, part) EXPECT_NE((message).find(part), std::string::npos) << "message: " << (message)

namespace clap::torch_cases {

using test::PickleWriter;


inline std::string temp_path(const std::string& name) { return test::temp_dir() + "/" + name; }

// The clap::Error of Checkpoint::open, or "" when it opens.
inline std::string open_error(const std::string& path) {
  try {
    Checkpoint::open(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// `bytes` as the file `name`, opened: its error ("" when it opens), which must start with the
// file's path (also in `*path`).
inline std::string error_of(const std::string& name, const std::string& bytes, std::string* path = nullptr) {
  const std::string p = test::write_file(temp_path(name), bytes);
  if (path) *path = p;
  const std::string e = open_error(p);
  if (!e.empty()) {
    EXPECT_EQ(e.rfind(p, 0), 0u) << "the message does not start with the file's path: " << e;
  }
  return e;
}

// The error of a pickle inside an otherwise valid archive with the given storages; the message
// must name the file.
inline std::string archive_error(const std::string& name, const std::string& pickle,
                                 const std::vector<std::pair<std::string, std::string>>& storages = {}) {
  std::string path;
  const std::string e = error_of(name, test::torch_archive(pickle, storages), &path);
  EXPECT_HAS(e, path + ": ");
  return e;
}

// The same for an error of the pickle reader itself: it names the file and its pickle entry.
inline std::string pickle_error(const std::string& name, const std::string& pickle) {
  std::string path;
  const std::string e = error_of(name, test::torch_archive(pickle, {}), &path);
  EXPECT_HAS(e, path + " (archive/data.pkl): refused pickle (byte ");
  return e;
}

inline std::span<const uint8_t> span_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

inline std::string pickle_read_error(const std::string& pickle, const pickle::Limits& limits = {}) {
  try {
    pickle::read(span_of(pickle), "test.pkl", limits);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A bare state dict {name: tensor of storage <key>, ...}: EMPTY_DICT MARK (name tensor)* SETITEMS.
struct Spec {
  std::string name, storage_class, key;
  int64_t storage_numel = 0, offset = 0;
  std::vector<int64_t> shape, stride;
};
inline std::string state_dict_pickle(const std::vector<Spec>& specs) {
  PickleWriter w;
  w.proto().empty_dict().mark();
  for (const Spec& s : specs) w.text(s.name).tensor(s.storage_class, s.key, s.storage_numel, s.offset, s.shape, s.stride);
  return w.setitems().stop().bytes();
}

// One F32 tensor "w" of storage "0" with this view; the storage holds `numel` floats.
inline std::string view_error(const std::string& name, int64_t storage_numel, int64_t offset,
                              const std::vector<int64_t>& shape, const std::vector<int64_t>& stride, size_t storage_bytes = SIZE_MAX) {
  const std::string pickle = state_dict_pickle({{"w", "FloatStorage", "0", storage_numel, offset, shape, stride}});
  const std::string data(storage_bytes == SIZE_MAX ? static_cast<size_t>(storage_numel) * 4 : storage_bytes, '\0');
  std::string path;
  const std::string e = error_of(name, test::torch_archive(pickle, {{"0", data}}), &path);
  EXPECT_HAS(e, path + ": tensor 'w': ");
  return e;
}

inline std::vector<float> floats_of(const Checkpoint& c, const std::string& name) {
  const TensorView* t = c.find(name);
  if (!t) throw std::runtime_error("no tensor " + name);
  return tensor_to_float(*t);
}

}  // namespace clap::torch_cases

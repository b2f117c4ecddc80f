// A whole file as a torch.save archive: the zip directory (checkpoint/zip_directory.h), then,
// when it parses, the state dict (checkpoint/torch_file.h: the pickle, storages, views) and the
// conversions every tensor goes through when a model loads. Every entry and tensor must lie
// inside the input (or, for a non-contiguous view, in a copy the reader owns) and hold exactly
// numel values; the copies never exceed the input's size.
#include <cstdint>
#include <span>

#include "checkpoint/tensor_view.h"
#include "checkpoint/torch_file.h"
#include "checkpoint/zip_directory.h"
#include "core/error.h"
#include "fuzz_util.h"

namespace {

bool inside(const uint8_t* p, size_t n, const uint8_t* begin, size_t size) {
  const auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(begin);
  return a >= b && n <= size && a - b <= size - n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  (void)clap::is_legacy_torch_file(bytes);
  try {
    const clap::ZipDirectory zip(bytes, "fuzz.pt");
    for (const clap::ZipEntry& e : zip.entries()) {
      FUZZ_CHECK(e.data_offset <= size && e.compressed_size <= size - e.data_offset);
      FUZZ_CHECK(zip.find(e.name) == &e);
      if (e.method == 0) {
        const auto stored = zip.stored_bytes(e);
        FUZZ_CHECK(stored.size() == e.size);
        FUZZ_CHECK(inside(stored.data(), stored.size(), data, size));
      }
    }
  } catch (const clap::Error&) {
    return 0;  // no directory: nothing more to read
  }
  try {
    const clap::TorchStateDict sd = clap::read_torch_state_dict(bytes, "fuzz.pt");
    size_t copied = 0;
    for (const auto& c : sd.copies) copied += c.size();
    FUZZ_CHECK(copied <= size);
    for (const clap::TensorView& t : sd.tensors) {
      FUZZ_CHECK(t.numel() >= 0);
      FUZZ_CHECK(static_cast<size_t>(t.numel()) * clap::dtype_size(t.dtype) == t.nbytes);
      if (t.nbytes > 0) {
        bool in_copy = false;
        for (const auto& c : sd.copies) in_copy = in_copy || inside(t.data, t.nbytes, c.data(), c.size());
        FUZZ_CHECK(inside(t.data, t.nbytes, data, size) || in_copy);
      }
      if (clap::dtype_is_float(t.dtype)) {
        FUZZ_CHECK(clap::tensor_to_float(t).size() == static_cast<size_t>(t.numel()));
      } else {
        FUZZ_CHECK(clap::tensor_to_int64(t).size() == static_cast<size_t>(t.numel()));
      }
      (void)t.shape_string();
    }
  } catch (const clap::Error&) {
    // A clear refusal is the expected outcome for a damaged or hostile archive.
  }
  return 0;
}

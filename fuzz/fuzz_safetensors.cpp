// The safetensors reader (model/safetensors.h) on arbitrary bytes as a checkpoint file: the
// header length, the JSON header, the tensor table (dtypes, shapes, byte ranges, overlaps)
// and the conversions every valid tensor goes through when a model loads.
#include <cstdint>

#include "core/error.h"
#include "fuzz_util.h"
#include "checkpoint/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static clap::fuzz::MemFile file("model.safetensors");
  try {
    const clap::SafeTensors st(file.write(data, size));
    for (const clap::TensorView& t : st.tensors()) {
      // A tensor the header accepted lies inside the file and holds exactly numel values.
      FUZZ_CHECK(t.numel() >= 0);
      FUZZ_CHECK(static_cast<size_t>(t.numel()) * clap::dtype_size(t.dtype) == t.nbytes);
      FUZZ_CHECK(t.nbytes <= size);
      FUZZ_CHECK(st.find(t.name) == &t);
      if (clap::dtype_is_float(t.dtype)) {
        FUZZ_CHECK(st.to_float(t).size() == static_cast<size_t>(t.numel()));
      } else {
        FUZZ_CHECK(st.to_int64(t).size() == static_cast<size_t>(t.numel()));
      }
      (void)t.shape_string();
    }
    for (const auto& [key, value] : st.metadata()) (void)key, (void)value;
  } catch (const clap::Error&) {
    // A clear refusal is the expected outcome for a damaged file.
  }
  return 0;
}

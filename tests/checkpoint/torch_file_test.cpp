// torch.save files (checkpoint/torch_file.h, pickle.h, zip_directory.h): the golden LAION
// checkpoints, hand-built state dicts, and hostile inputs. Every hostile file must give a
// clap::Error naming the file and the reason: no crash, no code run, no allocation beyond what
// the file holds. The inputs are built here (support/torch_archive.h), without Python.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "checkpoint/pickle.h"
#include "checkpoint/torch_file.h"
#include "checkpoint/zip_directory.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "support/golden.h"
#include "support/torch_archive.h"

namespace clap {
namespace {

using test::PickleWriter;

#define EXPECT_HAS(message, part) EXPECT_NE((message).find(part), std::string::npos) << "message: " << (message)

std::string temp_path(const std::string& name) { return test::temp_dir() + "/" + name; }

// The clap::Error of Checkpoint::open, or "" when it opens.
std::string open_error(const std::string& path) {
  try {
    Checkpoint::open(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// `bytes` as the file `name`, opened: its error ("" when it opens), which must start with the
// file's path (also in `*path`).
std::string error_of(const std::string& name, const std::string& bytes, std::string* path = nullptr) {
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
std::string archive_error(const std::string& name, const std::string& pickle,
                          const std::vector<std::pair<std::string, std::string>>& storages = {}) {
  std::string path;
  const std::string e = error_of(name, test::torch_archive(pickle, storages), &path);
  EXPECT_HAS(e, path + ": ");
  return e;
}

// The same for an error of the pickle reader itself: it names the file and its pickle entry.
std::string pickle_error(const std::string& name, const std::string& pickle) {
  std::string path;
  const std::string e = error_of(name, test::torch_archive(pickle, {}), &path);
  EXPECT_HAS(e, path + " (archive/data.pkl): refused pickle (byte ");
  return e;
}

std::span<const uint8_t> span_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::string pickle_read_error(const std::string& pickle, const pickle::Limits& limits = {}) {
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
std::string state_dict_pickle(const std::vector<Spec>& specs) {
  PickleWriter w;
  w.proto().empty_dict().mark();
  for (const Spec& s : specs) w.text(s.name).tensor(s.storage_class, s.key, s.storage_numel, s.offset, s.shape, s.stride);
  return w.setitems().stop().bytes();
}

// One F32 tensor "w" of storage "0" with this view; the storage holds `numel` floats.
std::string view_error(const std::string& name, int64_t storage_numel, int64_t offset, const std::vector<int64_t>& shape,
                       const std::vector<int64_t>& stride, size_t storage_bytes = SIZE_MAX) {
  const std::string pickle = state_dict_pickle({{"w", "FloatStorage", "0", storage_numel, offset, shape, stride}});
  const std::string data(storage_bytes == SIZE_MAX ? static_cast<size_t>(storage_numel) * 4 : storage_bytes, '\0');
  std::string path;
  const std::string e = error_of(name, test::torch_archive(pickle, {{"0", data}}), &path);
  EXPECT_HAS(e, path + ": tensor 'w': ");
  return e;
}

std::vector<float> floats_of(const Checkpoint& c, const std::string& name) {
  const TensorView* t = c.find(name);
  if (!t) throw std::runtime_error("no tensor " + name);
  return tensor_to_float(*t);
}

// ---- valid files ----

const std::vector<float> kW = {1, 2, 3, 4, 5, 6};
const std::vector<int64_t> kI = {-5, 7, int64_t(1) << 40};

// A bare state dict with every kind of view: F32 contiguous, transposed and strided, F16, I64,
// 0-d, two tensors sharing a storage, F64, BF16, an empty tensor (also a fuzz seed).
std::string hand_built_pickle() {
  return state_dict_pickle({
      {"w", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
      {"t", "FloatStorage", "0", 6, 0, {3, 2}, {1, 3}},  // w transposed: copied, row-major
      {"h", "HalfStorage", "1", 2, 0, {2}, {1}},
      {"i", "LongStorage", "2", 3, 0, {3}, {1}},
      {"scalar", "FloatStorage", "3", 1, 0, {}, {}},  // 0-d
      {"a", "FloatStorage", "4", 4, 0, {2}, {1}},     // a and b share storage 4
      {"b", "FloatStorage", "4", 4, 2, {2}, {1}},
      {"every_other", "FloatStorage", "4", 4, 1, {2}, {2}},  // non-contiguous 1-d: 20, 40
      {"d", "DoubleStorage", "5", 1, 0, {1}, {1}},
      {"bf", "BFloat16Storage", "6", 2, 0, {2}, {1}},
      {"empty", "FloatStorage", "7", 0, 0, {0, 3}, {3, 1}},
  });
}
std::string hand_built_archive() {
  return test::torch_archive(hand_built_pickle(), {
      {"0", test::raw_values(kW)}, {"1", test::raw_values(std::vector<uint16_t>{0x3c00, 0xc000})},  // F16 1, -2
      {"2", test::raw_values(kI)}, {"3", test::raw_values(std::vector<float>{42.5f})},
      {"4", test::raw_values(std::vector<float>{10, 20, 30, 40})}, {"5", test::raw_values(std::vector<double>{0.25})},
      {"6", test::raw_values(std::vector<uint16_t>{0x3f80, 0x4040})},  // BF16 1, 3
      {"7", ""}});
}

TEST(TorchCheckpoint, ReadsAHandBuiltStateDict) {
  const std::vector<float>& w = kW;
  const std::vector<int64_t>& i = kI;
  const auto c = Checkpoint::open(test::write_file(temp_path("hand.pt"), hand_built_archive()));
  EXPECT_EQ(c->format(), "PyTorch state dict");
  EXPECT_FALSE(c->is_safetensors());
  ASSERT_EQ(c->tensors().size(), 11u);
  EXPECT_EQ(floats_of(*c, "w"), w);
  EXPECT_EQ(c->find("w")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(floats_of(*c, "t"), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(c->find("t")->shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(c->find("t")->nbytes, 24u);
  EXPECT_EQ(floats_of(*c, "h"), (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(c->find("h")->dtype, DType::F16);
  EXPECT_EQ(tensor_to_int64(*c->find("i")), i);
  EXPECT_EQ(c->find("i")->dtype, DType::I64);
  EXPECT_THROW(tensor_to_float(*c->find("i")), Error);
  EXPECT_EQ(c->find("scalar")->shape, std::vector<int64_t>{});
  EXPECT_EQ(c->find("scalar")->numel(), 1);
  EXPECT_EQ(floats_of(*c, "scalar"), std::vector<float>{42.5f});
  EXPECT_EQ(floats_of(*c, "a"), (std::vector<float>{10, 20}));
  EXPECT_EQ(floats_of(*c, "b"), (std::vector<float>{30, 40}));
  EXPECT_EQ(c->find("b")->data, c->find("a")->data + 8);  // both in place, in the one storage
  EXPECT_EQ(floats_of(*c, "every_other"), (std::vector<float>{20, 40}));
  EXPECT_EQ(floats_of(*c, "d"), std::vector<float>{0.25f});
  EXPECT_EQ(floats_of(*c, "bf"), (std::vector<float>{1.0f, 3.0f}));
  EXPECT_EQ(c->find("empty")->numel(), 0);
  EXPECT_TRUE(floats_of(*c, "empty").empty());
}

// What torch.save writes for a training checkpoint: {"epoch": n, "state_dict": OrderedDict with
// a _metadata attribute (BUILD), parameters wrapped by _rebuild_parameter, "module." names,
// "optimizer": its state with tensors of its own} (also a fuzz seed).
std::string training_pickle() {
  PickleWriter p;
  p.proto().empty_dict().put(0).mark();
  p.text("epoch").integer(3);
  p.text("state_dict").global("collections", "OrderedDict").empty_tuple().reduce().put(1).mark();
  p.text("module.w").global("torch._utils", "_rebuild_parameter").mark();
  p.tensor("FloatStorage", "0", 2, 0, {2}, {1}).boolean(true).global("collections", "OrderedDict").empty_tuple().reduce();
  p.tuple().reduce();
  p.text("module.n").tensor("LongStorage", "1", 1, 0, {}, {});
  p.setitems();
  p.empty_dict().text("_metadata").global("collections", "OrderedDict").empty_tuple().reduce().setitem().build();
  p.text("optimizer").empty_dict().mark().text("state").empty_dict().mark().integer(0).empty_dict().mark();
  p.text("exp_avg").tensor("FloatStorage", "2", 2, 0, {2}, {1}).setitems().setitems().setitems();
  p.text("lr").real(1e-4);
  p.setitems().stop();
  return p.bytes();
}
std::string training_archive() {
  return test::torch_archive(training_pickle(), {{"0", test::raw_values(std::vector<float>{1.5f, -1.5f})},
                                                 {"1", test::raw_values(std::vector<int64_t>{77})},
                                                 {"2", test::raw_values(std::vector<float>{9, 9})}});
}

TEST(TorchCheckpoint, ReadsATrainingCheckpointWithOrderedDictParametersAndModulePrefix) {
  const auto c = Checkpoint::open(test::write_file(temp_path("train.pt"), training_archive()));
  EXPECT_EQ(c->format(), "PyTorch training checkpoint (epoch 3)");
  ASSERT_EQ(c->tensors().size(), 2u);  // the optimizer's exp_avg is not a weight
  EXPECT_EQ(floats_of(*c, "w"), (std::vector<float>{1.5f, -1.5f}));
  EXPECT_EQ(tensor_to_int64(*c->find("n")), std::vector<int64_t>{77});
  EXPECT_EQ(c->find("module.w"), nullptr);
}

// An archive with zip64 extra fields for every entry (sizes and offsets in 64 bits).
std::string zip64_archive() {
  const std::string pickle = state_dict_pickle({{"w", "FloatStorage", "k", 2, 0, {2}, {1}}});
  return test::zip_archive({{"a/data.pkl", pickle, 0, 0x0808, true},
                            {"a/data/k", test::raw_values(std::vector<float>{3, 4}), 0, 0x0808, true},
                            {"a/version", "3\n", 0, 0x0808, true}}).bytes;
}

TEST(TorchCheckpoint, ReadsZip64Entries) {
  const auto c = Checkpoint::open(test::write_file(temp_path("zip64.pt"), zip64_archive()));
  EXPECT_EQ(floats_of(*c, "w"), (std::vector<float>{3, 4}));
}

TEST(TorchCheckpoint, OpensTheGoldenTrainingCheckpoint) {
  const auto c = Checkpoint::open(test::case_dir("tiny-unfused") + "/laion.pt");
  EXPECT_EQ(c->format(), "PyTorch training checkpoint (epoch 15)");
  EXPECT_EQ(c->tensors().size(), 157u);  // the state dict's; the file has 550 storages with the optimizer's
  for (const TensorView& t : c->tensors()) {
    EXPECT_NE(t.name.rfind("module.", 0), 0u) << t.name;
    EXPECT_EQ(t.name.find("exp_avg"), std::string::npos) << t.name;
    EXPECT_EQ(static_cast<size_t>(t.numel()) * dtype_size(t.dtype), t.nbytes) << t.name;
  }
  const TensorView* bias = c->find("audio_branch.bn0.bias");
  ASSERT_NE(bias, nullptr);
  EXPECT_EQ(bias->shape, std::vector<int64_t>{64});
  EXPECT_FLOAT_EQ(tensor_to_float(*bias)[0], -0.04175041243433952f);
  EXPECT_EQ(c->find("module.audio_branch.bn0.bias"), nullptr);
}

TEST(TorchCheckpoint, OpensTheGoldenStateDict) {
  const auto c = Checkpoint::open(test::case_dir("tiny-fused") + "/laion.pt");
  EXPECT_EQ(c->format(), "PyTorch state dict");
  EXPECT_EQ(c->tensors().size(), 187u);
  int longs = 0;
  for (const TensorView& t : c->tensors()) longs += t.dtype == DType::I64;
  EXPECT_EQ(longs, 12);  // num_batches_tracked
  const TensorView* bias = c->find("audio_branch.bn0.bias");
  ASSERT_NE(bias, nullptr);
  EXPECT_FLOAT_EQ(tensor_to_float(*bias)[0], 0.003934936132282019f);
  EXPECT_EQ(tensor_to_int64(*c->find("audio_branch.bn0.num_batches_tracked")), std::vector<int64_t>{0});
}

// ---- refused globals: nothing but torch tensors, storages and OrderedDict ----

TEST(TorchCheckpoint, RefusesEveryOtherGlobalByName) {
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"os", "system"}, {"builtins", "eval"}, {"builtins", "exec"}, {"posix", "system"}, {"nt", "system"},
      {"subprocess", "Popen"}, {"torch", "load"}, {"numpy.core.multiarray", "_reconstruct"},
      {"__builtin__", "getattr"}, {"builtins", "open"}, {"torch._utils", "_rebuild_tensor"},
      {"torch.nn.modules.linear", "Linear"}, {"torch", "Tensor"}, {"torch", "storage"},
      {"collections", "defaultdict"}, {"torch._utils", "_rebuild_tensor_v2 "}, {"torch ", "FloatStorage"}};
  for (const auto& [module, name] : refused) {
    for (const bool stack : {false, true}) {
      PickleWriter p;
      p.proto(stack ? 4 : 2);
      if (stack) p.stack_global(module, name); else p.global(module, name);
      p.text("x").tuple1().reduce().stop();
      const std::string e = pickle_error("global.pt", p.bytes());
      EXPECT_HAS(e, "global '" + module + "." + name + "' is not allowed");
    }
  }
}

// A pickle that would run `touch FILE` (and one that would open FILE for writing) is refused
// before anything runs: FILE never appears.
TEST(TorchCheckpoint, ARefusedPickleRunsNothing) {
  const std::string victim = temp_path("pwned");
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"os", "system"}, {"posix", "system"}, {"subprocess", "call"}, {"builtins", "eval"}};
  for (const auto& [module, name] : calls) {
    PickleWriter p;
    const std::string arg = name == "eval" ? "__import__('os').system('touch " + victim + "')" : "touch " + victim;
    p.proto().global(module, name).text(arg).tuple1().reduce().stop();
    EXPECT_HAS(pickle_error("run.pt", p.bytes()), "is not allowed");
    // The same call hidden as a state dict's value, reached through STACK_GLOBAL.
    PickleWriter q;
    q.proto(4).empty_dict().text("w").stack_global(module, name).text(arg).tuple1().reduce().setitem().stop();
    EXPECT_HAS(pickle_error("run2.pt", q.bytes()), "is not allowed");
  }
  PickleWriter open_call;
  open_call.proto().global("builtins", "open").text(victim).text("w").tuple2().reduce().stop();
  EXPECT_HAS(pickle_error("open.pt", open_call.bytes()), "'builtins.open' is not allowed");
  EXPECT_FALSE(std::filesystem::exists(victim));
}

// Opcodes that build or call objects (INST, OBJ, NEWOBJ, EXT*), text forms, sets, buffers: none
// is in a torch.save pickle; each is refused by name.
TEST(TorchCheckpoint, RefusesOpcodesTorchSaveDoesNotWrite) {
  const std::vector<uint8_t> opcodes = {'i', 'o', 0x81, 0x92, 0x82, 0x83, 0x84, 'P', 'I', 'L', 'F', 'S', 'V',
                                        'p', 'g', 0x8f, 0x90, 0x91, 0x96, 0x97, 0x98, 0x8e, 0x00, 0xff};
  for (uint8_t op : opcodes) {
    const std::string e = pickle_error("opcode.pt", PickleWriter().proto().op(op).raw("os\nsystem\n").stop().bytes());
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", op);
    EXPECT_HAS(e, std::string("opcode ") + hex);
    EXPECT_HAS(e, "is not one torch.save writes");
  }
}

// ---- truncated archives ----

TEST(TorchCheckpoint, TruncatedGoldenArchivesAreRefused) {
  const std::string golden = test::case_dir("tiny-unfused") + "/laion.pt";
  const MappedFile file(golden);
  const std::span<const uint8_t> all(file.data(), file.size());
  const ZipDirectory zip(all, golden);
  const ZipEntry* pkl = zip.find("laion/data.pkl");
  const ZipEntry* storage = zip.find("laion/data/10");
  ASSERT_TRUE(pkl && storage);
  const size_t n = all.size();
  const size_t directory = all[n - 6] | all[n - 5] << 8 | all[n - 4] << 16 | size_t(all[n - 3]) << 24;
  const std::vector<size_t> cuts = {
      4, 21, 22, 30, 40, 64, 100, pkl->data_offset + 1, pkl->data_offset + pkl->size / 2, pkl->data_offset + pkl->size - 1,
      pkl->data_offset + pkl->size + 8, storage->data_offset + storage->size / 2, n / 3, n / 2, directory,
      directory + 1, directory + 46 + 7, (directory + n) / 2, n - 22 - 20 - 56, n - 22 - 20 - 10, n - 22 - 10, n - 22, n - 1};
  for (size_t cut : cuts) {
    const std::string what = "laion.pt cut at " + std::to_string(cut);
    try {
      read_torch_state_dict(all.first(cut), what);
      ADD_FAILURE() << what << " was read";
    } catch (const Error& e) {
      EXPECT_HAS(std::string(e.what()), what + ": damaged zip archive: ");
    }
  }
  // A few through Checkpoint::open, as files (the first bytes are not even a zip header).
  const std::string bytes(reinterpret_cast<const char*>(all.data()), all.size());
  for (size_t cut : {size_t(0), size_t(3), size_t(4), size_t(1000), pkl->data_offset + 100}) {
    std::string path;
    const std::string e = error_of("cut.pt", bytes.substr(0, cut), &path);
    EXPECT_HAS(e, path + ": ");
  }
}

// The data cut short but the directory kept (what a copy that stopped early and was "repaired"
// looks like): entries point past the data or at the directory itself.
TEST(TorchCheckpoint, DataCutShortBehindAValidDirectoryIsRefused) {
  const std::string golden = test::read_file(test::case_dir("tiny-fused") + "/laion.pt");
  for (size_t keep : {size_t(30), size_t(50), size_t(64 + 1000), size_t(23737 + 5), size_t(65536), size_t(1) << 20,
                      golden.size() / 2, golden.size() - 12000}) {
    std::string path;
    const std::string e = error_of("kept_dir.pt", test::cut_keeping_directory(golden, keep), &path);
    EXPECT_HAS(e, path + ": ");
    EXPECT_TRUE(e.find("lies outside the file") != std::string::npos || e.find("no local file header") != std::string::npos ||
                e.find("truncated") != std::string::npos)
        << "keep " << keep << ": " << e;
  }
}

// The golden state dict's own pickle cut at many lengths, in an archive that is otherwise whole.
TEST(TorchCheckpoint, TruncatedPicklesAreRefused) {
  const std::string golden = test::case_dir("tiny-fused") + "/laion.pt";
  const MappedFile file(golden);
  const ZipDirectory zip({file.data(), file.size()}, golden);
  const auto whole = zip.stored_bytes(*zip.find("laion/data.pkl"));
  const std::string pickle(reinterpret_cast<const char*>(whole.data()), whole.size());
  for (int i = 0; i < 24; ++i) {
    const size_t cut = i == 0 ? 0 : (i == 23 ? pickle.size() - 1 : pickle.size() * i / 23 + i);
    const std::string e = pickle_error("cut_pickle.pt", pickle.substr(0, cut));
    EXPECT_TRUE(e.find("truncated") != std::string::npos || e.find("runs past the end") != std::string::npos) << cut << ": " << e;
  }
}

// ---- views: bounds, overlap, sizes ----

TEST(TorchCheckpoint, ViewsOutsideTheirStorageAreRefused) {
  EXPECT_HAS(view_error("short.pt", 4, 0, {5}, {1}), "(the storage is shorter than the tensor)");
  EXPECT_HAS(view_error("past.pt", 4, 2, {3}, {1}), "reaches element 4 of a storage of 4");
  EXPECT_HAS(view_error("past2.pt", 6, 0, {2, 3}, {4, 1}), "reaches element 6 of a storage of 6");
  EXPECT_HAS(view_error("neg_offset.pt", 4, -1, {2}, {1}), "a negative storage offset");
  EXPECT_HAS(view_error("neg_stride.pt", 4, 3, {2}, {-1}), "a negative size or stride");
  EXPECT_HAS(view_error("neg_size.pt", 4, 0, {-2}, {1}), "a negative size or stride");
  EXPECT_HAS(view_error("big_offset.pt", 4, int64_t(1) << 62, {1}, {1}), "reaches past any storage");
  EXPECT_HAS(view_error("big_stride.pt", 4, 0, {2}, {int64_t(1) << 62}), "is too large");
  // 2^40 elements of a 4-element storage: refused before anything is allocated.
  EXPECT_HAS(view_error("huge.pt", 4, 0, {int64_t(1) << 40}, {1}), "the storage is shorter than the tensor");
  EXPECT_HAS(view_error("huge2.pt", 4, 0, {int64_t(1) << 20, int64_t(1) << 20}, {int64_t(1) << 20, 1}), "is shorter");
  EXPECT_HAS(view_error("huge3.pt", 4, 0, {int64_t(1) << 62, 4}, {1, 1}), "is too large");
}

TEST(TorchCheckpoint, OverlappingViewsAreRefused) {
  EXPECT_HAS(view_error("stride0.pt", 4, 0, {4}, {0}), "stride [0] makes elements overlap");
  EXPECT_HAS(view_error("stride11.pt", 9, 0, {3, 3}, {1, 1}), "stride [1, 1] makes elements overlap");
  EXPECT_HAS(view_error("stride21.pt", 9, 0, {2, 3}, {2, 1}), "makes elements overlap");
  EXPECT_HAS(view_error("expand.pt", 3, 0, {4, 3}, {0, 1}), "makes elements overlap");
  // Size-1 dimensions may have any stride (torch writes odd ones); they overlap nothing.
  const std::string pickle = state_dict_pickle({{"w", "FloatStorage", "0", 3, 0, {1, 3, 1}, {99, 1, 0}}});
  const auto c = Checkpoint::open(test::write_file(
      temp_path("ones.pt"), test::torch_archive(pickle, {{"0", test::raw_values(std::vector<float>{1, 2, 3})}})));
  EXPECT_EQ(floats_of(*c, "w"), (std::vector<float>{1, 2, 3}));
}

// The pickle's storage size and the archive entry's byte count must agree (both are lies a
// crafted file can tell).
TEST(TorchCheckpoint, StorageSizesThatDisagreeWithTheArchiveAreRefused) {
  EXPECT_HAS(view_error("more.pt", 8, 0, {2}, {1}, 16), "its storage '0' should hold 8 x F32 but has 16 bytes");
  EXPECT_HAS(view_error("fewer.pt", 2, 0, {2}, {1}, 16), "its storage '0' should hold 2 x F32 but has 16 bytes");
  EXPECT_HAS(view_error("odd.pt", 1, 0, {1}, {1}, 5), "should hold 1 x F32 but has 5 bytes");
  EXPECT_HAS(view_error("lie.pt", int64_t(1) << 40, 0, {int64_t(1) << 40}, {1}, 16), "should hold 1099511627776 x F32");
  EXPECT_HAS(view_error("lie2.pt", int64_t(1) << 62, 0, {1}, {1}, 16), "should hold 4611686018427387904 x F32");
}

// ---- broken pickles ----

TEST(TorchCheckpoint, PickleStructureErrorsAreNamed) {
  // A storage key with no archive entry.
  EXPECT_HAS(archive_error("missing.pt", state_dict_pickle({{"w", "FloatStorage", "7", 2, 0, {2}, {1}}}),
                           {{"0", std::string(8, '\0')}}),
             "tensor 'w': its storage '7' is not in the archive (archive/data/7)");
  // A key is only ever looked up among the archive's entries: a path names no file.
  EXPECT_HAS(archive_error("path_key.pt", state_dict_pickle({{"w", "FloatStorage", "../../../../etc/passwd", 1, 0, {1}, {1}}}),
                           {{"0", std::string(4, '\0')}}),
             "its storage '../../../../etc/passwd' is not in the archive (archive/data/../../../../etc/passwd)");
  // Persistent ids that are not ('storage', type, key, location, size).
  EXPECT_HAS(pickle_error("pid.pt", PickleWriter().proto().text("/etc/passwd").binpersid().stop().bytes()),
             "a persistent id that is not ('storage', type, key, location, size)");
  EXPECT_HAS(pickle_error("pid2.pt", PickleWriter().proto().mark().text("storage").global("torch", "FloatStorage").text("0")
                                         .text("cpu").tuple().binpersid().stop().bytes()),
             "a persistent id that is not");
  EXPECT_HAS(pickle_error("pid3.pt", PickleWriter().proto().mark().text("storage").text("torch.FloatStorage").text("0")
                                         .text("cpu").integer(1).tuple().binpersid().stop().bytes()),
             "a storage whose type is not a torch storage class");
  EXPECT_HAS(pickle_error("pid4.pt", PickleWriter().proto().mark().text("storage").global("torch", "FloatStorage").text("0")
                                         .text("cpu").integer(-1).tuple().binpersid().stop().bytes()),
             "storage '0' has a negative size");
  // Memo, opcodes, protocol, integers, strings.
  EXPECT_HAS(pickle_error("memo.pt", PickleWriter().proto().none().put(1).get(2).stop().bytes()),
             "GET of memo 2, which was never PUT");
  EXPECT_HAS(pickle_error("memo2.pt", PickleWriter().proto().get(100000).stop().bytes()), "GET of memo 100000");
  EXPECT_HAS(pickle_error("proto.pt", PickleWriter().proto(6).none().stop().bytes()), "pickle protocol 6 is not one Python writes");
  EXPECT_HAS(pickle_error("proto2.pt", PickleWriter().proto(255).none().stop().bytes()), "pickle protocol 255");
  EXPECT_HAS(pickle_error("long1.pt", PickleWriter().proto().long1(std::string(9, '\x01')).stop().bytes()),
             "an integer of 9 bytes (wider than 64 bits)");
  EXPECT_HAS(pickle_error("long4.pt", PickleWriter().proto().op(0x8b).raw(std::string("\xff\xff\xff\xff", 4)).stop().bytes()),
             "an integer of 4294967295 bytes");
  EXPECT_HAS(pickle_error("unicode.pt", PickleWriter().proto().op('X').raw(std::string("\x00\x00\x00\x10", 4)).raw("abc").bytes()),
             "a string of 268435456 bytes runs past the end of the pickle");
  EXPECT_HAS(pickle_error("unicode8.pt", PickleWriter().proto().op(0x8d).raw(std::string(8, '\xff')).bytes()),
             "a string of 18446744073709551615 bytes runs past the end");
  EXPECT_HAS(pickle_error("global_line.pt", PickleWriter().proto().op('c').raw(std::string(1000, 'a')).bytes()),
             "a GLOBAL name longer than 256 bytes");
  EXPECT_HAS(pickle_error("nostop.pt", PickleWriter().proto().empty_dict().bytes()), "ends without STOP (truncated)");
  EXPECT_HAS(pickle_error("stop2.pt", PickleWriter().proto().none().none().stop().bytes()), "STOP with 2 values on the stack");
  EXPECT_HAS(pickle_error("stop0.pt", PickleWriter().proto().stop().bytes()), "STOP with 0 values");
  EXPECT_HAS(pickle_error("empty.pt", PickleWriter().proto().op('0').stop().bytes()), "the stack is empty");
  EXPECT_HAS(pickle_error("nomark.pt", PickleWriter().proto().none().tuple().stop().bytes()), "needs a MARK but there is none");
  EXPECT_HAS(pickle_error("t3.pt", PickleWriter().proto().none().mark().none().tuple3().stop().bytes()), "TUPLE3 on a short stack");
  EXPECT_HAS(pickle_error("append.pt", PickleWriter().proto().empty_dict().none().append().stop().bytes()), "APPEND to a dict");
  EXPECT_HAS(pickle_error("setitem.pt", PickleWriter().proto().empty_list().none().none().setitem().stop().bytes()),
             "SETITEM on a list");
  EXPECT_HAS(pickle_error("odd.pt", PickleWriter().proto().mark().none().dict().stop().bytes()), "an odd number of values");
  EXPECT_HAS(pickle_error("build.pt", PickleWriter().proto().empty_list().empty_dict().build().stop().bytes()), "BUILD on a list");
  EXPECT_HAS(pickle_error("reduce.pt", PickleWriter().proto().empty_list().empty_tuple().reduce().stop().bytes()), "REDUCE calls a list");
  EXPECT_HAS(pickle_error("reduce2.pt", PickleWriter().proto().global("collections", "OrderedDict").none().reduce().stop().bytes()),
             "REDUCE arguments are not a tuple");
  EXPECT_HAS(pickle_error("od.pt", PickleWriter().proto().global("collections", "OrderedDict").none().tuple1().reduce().stop().bytes()),
             "OrderedDict called with arguments");
  EXPECT_HAS(pickle_error("storagecall.pt", PickleWriter().proto().global("torch", "FloatStorage").empty_tuple().reduce().stop().bytes()),
             "a storage class is not callable here");
  EXPECT_HAS(pickle_error("param.pt", PickleWriter().proto().global("torch._utils", "_rebuild_parameter").none().tuple1().reduce().stop().bytes()),
             "_rebuild_parameter without a tensor");
  EXPECT_HAS(pickle_error("rebuild.pt", PickleWriter().proto().global("torch._utils", "_rebuild_tensor_v2").none().tuple1().reduce().stop().bytes()),
             "_rebuild_tensor_v2 with 1 arguments");
  EXPECT_HAS(pickle_error("rebuild2.pt", PickleWriter().proto().global("torch._utils", "_rebuild_tensor_v2").mark().none().integer(0)
                                             .int_tuple({1}).int_tuple({1}).tuple().reduce().stop().bytes()),
             "_rebuild_tensor_v2 of something that is not a storage");
  PickleWriter mismatch;
  mismatch.proto().global("torch._utils", "_rebuild_tensor_v2").mark().storage("FloatStorage", "0", 4).integer(0);
  mismatch.int_tuple({2, 2}).int_tuple({1}).tuple().reduce().stop();
  EXPECT_HAS(pickle_error("rank.pt", mismatch.bytes()), "a tensor whose size and stride differ in length");
  PickleWriter text_size;
  text_size.proto().global("torch._utils", "_rebuild_tensor_v2").mark().storage("FloatStorage", "0", 4).integer(0);
  text_size.mark().text("4").tuple().int_tuple({1}).tuple().reduce().stop();
  EXPECT_HAS(pickle_error("size_text.pt", text_size.bytes()), "a tensor's size is a string, not an int");
}

// Objects that are no state dict, and state dicts without tensors, say so.
TEST(TorchCheckpoint, FilesWithoutAStateDictSaySo) {
  std::string path;
  EXPECT_HAS(error_of("list2.pt", test::torch_archive(PickleWriter().proto().empty_list().stop().bytes(), {}), &path),
             path + ": holds no state dict (the pickled object is not a dict)");
  EXPECT_HAS(error_of("nodict.pt", test::torch_archive(PickleWriter().proto().empty_dict().text("a").integer(1).setitem().stop().bytes(), {}),
                      &path),
             path + ": holds no tensors");
  EXPECT_HAS(error_of("nopkl.pt", test::zip_archive({{"archive/version", "3\n"}}).bytes, &path),
             path + ": a zip archive without <name>/data.pkl: not a PyTorch checkpoint");
  EXPECT_HAS(error_of("twopkl.pt", test::zip_archive({{"a/data.pkl", "x"}, {"b/data.pkl", "y"}}).bytes, &path),
             "the archive holds two pickles (a/data.pkl, b/data.pkl)");
  EXPECT_HAS(error_of("bigend.pt", test::zip_archive({{"a/data.pkl", "x"}, {"a/byteorder", "big"}}).bytes, &path),
             "saved on a 'big'-endian machine");
  const std::string pickle = state_dict_pickle({{"module.w", "FloatStorage", "0", 1, 0, {1}, {1}},
                                                {"w", "FloatStorage", "0", 1, 0, {1}, {1}}});
  EXPECT_HAS(error_of("twice.pt", test::torch_archive(pickle, {{"0", std::string(4, '\0')}}), &path),
             path + ": tensor 'w' appears twice");
}

// ---- nesting, recursion, limits ----

TEST(TorchCheckpoint, DeepNestingIsRefusedOrHarmless) {
  // 100,000 nested MARKs: refused at the limit (4096), not after allocating for all of them.
  const std::string marks = PickleWriter().proto().raw(std::string(100000, '(')).stop().bytes();
  EXPECT_HAS(pickle_error("marks.pt", marks), "more than 4096 nested MARKs");
  // 1,000,000 nested 1-tuples need no MARK: read without recursion, then refused as no dict.
  const std::string tuples = PickleWriter().proto().none().raw(std::string(1000000, '\x85')).stop().bytes();
  EXPECT_HAS(archive_error("tuples.pt", tuples), "holds no state dict");
  // The same nesting as a state dict's value is skipped (the other entry is the weight).
  PickleWriter deep;
  deep.proto().empty_dict().mark().text("deep").none().raw(std::string(1000000, '\x85'));
  deep.text("w").tensor("FloatStorage", "0", 1, 0, {1}, {1}).setitems().stop();
  const auto c = Checkpoint::open(test::write_file(temp_path("deep.pt"), test::torch_archive(deep.bytes(), {{"0", std::string(4, '\0')}})));
  EXPECT_EQ(c->tensors().size(), 1u);
}

TEST(TorchCheckpoint, RecursiveStructuresAreHarmless) {
  // l = []; l.append(l)
  const std::string list = PickleWriter().proto().empty_list().put(0).get(0).append().stop().bytes();
  EXPECT_HAS(archive_error("rlist.pt", list), "holds no state dict");
  // d = {}; d["state_dict"] = d; d["model"] = [d]: no tensors anywhere.
  const std::string dict = PickleWriter().proto().empty_dict().put(0).text("state_dict").get(0).setitem()
                               .text("model").get(0).tuple1().setitem().stop().bytes();
  EXPECT_HAS(archive_error("rdict.pt", dict), "holds no tensors");
  // A state dict that contains itself next to a weight: the weight is read, the loop skipped.
  PickleWriter self;
  self.proto().empty_dict().put(0).mark().text("state_dict").get(0).text("w").tensor("FloatStorage", "0", 1, 0, {1}, {1});
  self.setitems().stop();
  const auto c = Checkpoint::open(test::write_file(temp_path("self.pt"), test::torch_archive(self.bytes(), {{"0", std::string(4, '\0')}})));
  EXPECT_EQ(c->tensors().size(), 1u);
}

TEST(TorchCheckpoint, ObjectAndMarkLimits) {
  pickle::Limits limits;
  limits.max_objects = 10;
  // MARK, n Nones, POP_MARK, None: n + 1 values.
  const auto nones = [](int n) { return PickleWriter().proto().mark().raw(std::string(n, 'N')).op('1').none().stop().bytes(); };
  EXPECT_EQ(pickle_read_error(nones(9), limits), "");
  EXPECT_HAS(pickle_read_error(nones(10), limits), "test.pkl: refused pickle (byte 14): more than 10 objects");
  limits = {};
  limits.max_mark_depth = 3;
  EXPECT_EQ(pickle_read_error(PickleWriter().proto().mark().mark().mark().tuple().tuple().tuple().stop().bytes(), limits), "");
  EXPECT_HAS(pickle_read_error(PickleWriter().proto().mark().mark().mark().mark().stop().bytes(), limits),
             "test.pkl: refused pickle (byte 5): more than 3 nested MARKs");
}

// ---- lying zip directories ----

test::ZipLayout one_tensor_zip() {
  const std::string pickle = state_dict_pickle({{"w", "FloatStorage", "0", 2, 0, {2}, {1}}});
  return test::zip_archive({{"archive/data.pkl", pickle}, {"archive/data/0", test::raw_values(std::vector<float>{1, 2})},
                            {"archive/version", "3\n"}});
}

TEST(TorchCheckpoint, LyingZipDirectoriesAreRefused) {
  std::string path;
  ASSERT_EQ(error_of("good.pt", one_tensor_zip().bytes), "");  // the base every case below damages
  {  // more entries than the directory's bytes can hold
    auto z = one_tensor_zip();
    test::put_le(z.bytes, z.zip64_end + 32, 1000000, 8);
    EXPECT_HAS(error_of("count.pt", z.bytes, &path), path + ": damaged zip archive: the directory claims 1000000 entries in");
    auto y = one_tensor_zip();
    test::put_le(y.bytes, y.zip64_end + 32, ~uint64_t(0), 8);
    EXPECT_HAS(error_of("count2.pt", y.bytes), "the directory claims 18446744073709551615 entries");
  }
  {  // the directory's offset or size out of the file
    auto z = one_tensor_zip();
    test::put_le(z.bytes, z.zip64_end + 48, uint64_t(1) << 60, 8);
    EXPECT_HAS(error_of("dir_offset.pt", z.bytes), "the central directory lies outside the file");
    auto y = one_tensor_zip();
    test::put_le(y.bytes, y.zip64_end + 40, ~uint64_t(0) - 10, 8);
    EXPECT_HAS(error_of("dir_size.pt", y.bytes), "the central directory lies outside the file");
    auto x = one_tensor_zip();
    test::put_le(x.bytes, x.zip64_locator + 8, ~uint64_t(0) - 2, 8);
    EXPECT_HAS(error_of("locator.pt", x.bytes), "lies outside the file");
    auto w = one_tensor_zip();
    test::put_le(w.bytes, w.zip64_locator + 8, 0, 8);
    EXPECT_HAS(error_of("locator2.pt", w.bytes), "the zip64 directory locator points at no zip64 record");
  }
  {  // an entry whose size runs past the end of the file
    auto z = one_tensor_zip();
    test::put_le(z.bytes, z.central_records[1] + 20, 0x7fffffff, 4);
    test::put_le(z.bytes, z.central_records[1] + 24, 0x7fffffff, 4);
    EXPECT_HAS(error_of("size.pt", z.bytes), "entry 'archive/data/0' lies outside the file");
    auto y = one_tensor_zip();
    test::put_le(y.bytes, y.central_records[1] + 24, 4, 4);  // stored, but two sizes
    EXPECT_HAS(error_of("sizes.pt", y.bytes), "stored entry 'archive/data/0' has different sizes (4 and 8)");
    auto x = one_tensor_zip();
    test::put_le(x.bytes, x.central_records[1] + 42, 3, 4);  // local header offset
    EXPECT_HAS(error_of("local.pt", x.bytes), "entry 'archive/data/0' points at no local file header");
    auto w = one_tensor_zip();
    test::put_le(w.bytes, w.local_headers[1] + 28, 0xffff, 2);  // local extra length runs past the end
    EXPECT_HAS(error_of("local_extra.pt", w.bytes), "entry 'archive/data/0' lies outside the file");
    auto v = one_tensor_zip();
    test::put_le(v.bytes, v.central_records[0] + 28, 0xffff, 2);  // name length
    EXPECT_HAS(error_of("name.pt", v.bytes), "damaged zip archive");
    auto u = one_tensor_zip();
    test::put_le(u.bytes, u.central_records[2], 0x12345678, 4);
    EXPECT_HAS(error_of("signature.pt", u.bytes), "directory record 2 has a wrong signature");
  }
  {  // a compressed pickle, an encrypted entry, a name twice
    const std::string pickle = state_dict_pickle({{"w", "FloatStorage", "0", 1, 0, {1}, {1}}});
    EXPECT_HAS(error_of("deflate.pt", test::zip_archive({{"archive/data.pkl", pickle, 8}, {"archive/data/0", "abcd"}}).bytes, &path),
               path + ": entry 'archive/data.pkl' is compressed (zip method 8); torch.save stores every entry uncompressed");
    EXPECT_HAS(error_of("deflate2.pt", test::zip_archive({{"archive/data.pkl", pickle}, {"archive/data/0", "abcd", 8}}).bytes),
               "entry 'archive/data/0' is compressed (zip method 8)");
    EXPECT_HAS(error_of("encrypted.pt", test::zip_archive({{"archive/data.pkl", pickle, 0, 0x0809}, {"archive/data/0", "abcd"}}).bytes),
               "damaged zip archive: entry 'archive/data.pkl' is encrypted");
    EXPECT_HAS(error_of("dup.pt", test::zip_archive({{"archive/data.pkl", pickle}, {"archive/data/0", "abcd"}, {"archive/data/0", "efgh"}}).bytes),
               "damaged zip archive: entry 'archive/data/0' appears twice");
  }
  {  // zip64 extra fields that are short or damaged
    auto z = test::zip_archive({{"a/data.pkl", "x", 0, 0x0808, true}});
    test::put_le(z.bytes, z.central_records[0] + 46 + 10 + 2, 8, 2);  // zip64 field of 8 bytes: the offset is missing
    EXPECT_HAS(error_of("zip64short.pt", z.bytes), "entry 'a/data.pkl' has a short zip64 field");
    auto y = test::zip_archive({{"a/data.pkl", "x", 0, 0x0808, true}});
    test::put_le(y.bytes, y.central_records[0] + 46 + 10 + 2, 200, 2);
    EXPECT_HAS(error_of("zip64extra.pt", y.bytes), "entry 'a/data.pkl' has a damaged extra field");
  }
  // No end record at all, and one with a comment length that does not reach the end.
  EXPECT_HAS(error_of("noend.pt", std::string("PK\x03\x04", 4) + std::string(100, '\0')), "no end-of-central-directory record");
  auto z = one_tensor_zip();
  test::put_le(z.bytes, z.end_record + 20, 5, 2);
  EXPECT_HAS(error_of("comment.pt", z.bytes), "no end-of-central-directory record");
}

// ---- the legacy format ----

TEST(TorchCheckpoint, TheLegacyFormatIsRefusedWithHowToResave) {
  // What torch.save wrote before PyTorch 1.6: a pickled magic number, protocol, sys info, ...
  const std::string legacy = PickleWriter().proto().long1(std::string("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10)).stop()
                                 .raw(PickleWriter().proto().integer(1001).stop().bytes()).bytes();
  ASSERT_EQ(legacy.substr(0, 14), std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14));
  std::string path;
  const std::string e = error_of("old.pt", legacy, &path);
  EXPECT_HAS(e, path + ": a PyTorch file in the legacy format (torch.save before PyTorch 1.6)");
  EXPECT_HAS(e, "torch.save(torch.load(\"OLD\", map_location=\"cpu\"), \"NEW.pt\")");
  // The same with protocol 4 framing.
  const std::string framed = std::string("\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00", 11) + legacy.substr(2);
  EXPECT_HAS(error_of("old4.pt", framed), "legacy format");
}


// Only the legacy format's magic number makes a file "legacy": a safetensors file whose header
// length starts with the byte 0x80 (128, 384, 640, ... bytes) is no pickle (it was refused as one).
TEST(TorchCheckpoint, SafetensorsWhoseHeaderLengthLooksLikeAPickleProtocolStillOpen) {
  for (const size_t header_length : {size_t(128), size_t(384), size_t(1408), size_t(0x20580)}) {
    std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    header.resize(header_length, ' ');
    std::string bytes;
    test::put_le(bytes, 0, header_length, 8);
    ASSERT_EQ(static_cast<uint8_t>(bytes[0]), 0x80);
    bytes += header + std::string("\0\0\x80\x3f", 4);
    const std::string path = test::write_file(temp_path("st_" + std::to_string(header_length) + ".safetensors"), bytes);
    EXPECT_EQ(open_error(path), "") << header_length;
  }
}

// ---- bounds on what a small file can make the reader allocate or do ----

// Copies of non-contiguous views are bounded by the archive's size: many names for transposed
// views of one storage would otherwise copy that storage once per name.
TEST(TorchCheckpoint, NonContiguousCopiesAreBoundedByTheArchive) {
  const int64_t n = 128;  // a 128 x 128 storage, 64 KB
  std::vector<Spec> specs;
  for (int i = 0; i < 40; ++i) specs.push_back({std::string("t").append(std::to_string(i)), "FloatStorage", "0", n * n, 0, {n, n}, {1, n}});
  std::string path;
  const std::string e = error_of("copies.pt", test::torch_archive(state_dict_pickle(specs), {{"0", std::string(n * n * 4, '\0')}}), &path);
  EXPECT_HAS(e, path + ": tensor 't");
  EXPECT_HAS(e, "would copy more than the archive's");
  // One transposed copy per storage is fine (the hand-built state dict above has one).
  specs.resize(1);
  EXPECT_EQ(error_of("copy.pt", test::torch_archive(state_dict_pickle(specs), {{"0", std::string(n * n * 4, '\0')}})), "");
}

// A tensor's size tuple is copied into the reader's table: a tuple of 100,000 ones (cheap to
// write with DUP) would be 1.6 MB per tensor, per REDUCE.
TEST(TorchCheckpoint, TensorsWithAbsurdlyManyDimensionsAreRefused) {
  PickleWriter p;
  p.proto().empty_dict().text("w").global("torch._utils", "_rebuild_tensor_v2").mark().storage("FloatStorage", "0", 1).integer(0);
  p.mark().integer(1).raw(std::string(99999, '2')).tuple().op('2').tuple().reduce().setitem().stop();  // stride: the same tuple
  EXPECT_HAS(pickle_error("dims.pt", p.bytes()), "a tensor of 100000 dimensions");
  // 32 is fine (every dimension 1).
  const std::vector<int64_t> ones(32, 1);
  const std::string ok = state_dict_pickle({{"w", "FloatStorage", "0", 1, 0, ones, ones}});
  EXPECT_EQ(error_of("dims32.pt", test::torch_archive(ok, {{"0", std::string(4, '\0')}})), "");
}

// REDUCE must not copy its argument tuple: _rebuild_parameter(t, <200,000 more items>) called
// 20,000 times through the memo was 16 GB of copying (minutes) for a 300 KB pickle.
TEST(TorchCheckpoint, RepeatedCallsWithAHugeArgumentTupleStayCheap) {
  PickleWriter p;
  p.proto().empty_dict().put(0).global("torch._utils", "_rebuild_parameter").put(1).op('0').mark();
  p.tensor("FloatStorage", "0", 1, 0, {1}, {1}).raw(std::string(200000, '2')).tuple().put(2).op('0');
  for (int i = 0; i < 20000; ++i) p.get(1).get(2).reduce().op('0');
  p.text("w").get(1).get(2).reduce().setitem().stop();
  const auto c = Checkpoint::open(test::write_file(temp_path("args.pt"), test::torch_archive(p.bytes(), {{"0", std::string(4, '\0')}})));
  EXPECT_EQ(c->tensors().size(), 1u);
}

// Everything the reader stores grows its object count: values, the slots of lists, tuples and
// dicts, tensor dimensions and memo entries (a DUP or a BINGET is one byte of input but a slot).
TEST(TorchCheckpoint, ContainerSlotsMemoEntriesAndStackCountTowardTheObjectLimit) {
  pickle::Limits limits;
  limits.max_objects = 1000;
  // 5000 slots of one list, from DUPs of one None, 500 at a time (the stack stays small).
  PickleWriter slots;
  slots.proto().empty_list();
  for (int i = 0; i < 10; ++i) slots.mark().none().raw(std::string(499, '2')).appends();
  EXPECT_HAS(pickle_read_error(slots.stop().bytes(), limits), "more than 1000 objects");
  // 5000 memo entries of one value.
  PickleWriter memo;
  memo.proto().none();
  for (uint32_t i = 0; i < 5000; ++i) memo.put(1000 + i);
  EXPECT_HAS(pickle_read_error(memo.stop().bytes(), limits), "more than 1000 objects");
  // 5000 values on the stack.
  EXPECT_HAS(pickle_read_error(PickleWriter().proto().none().raw(std::string(5000, '2')).stop().bytes(), limits),
             "more than 1000 values on the stack");
  // Well below the limit, the same shapes read.
  EXPECT_EQ(pickle_read_error(PickleWriter().proto().empty_list().mark().none().raw(std::string(500, '2')).appends().stop().bytes(),
                              limits),
            "");
}

// One 64 KB key used for 100,000 entries through the memo (2 bytes an entry) is refused at its
// second use: the names were checked only after every entry's tensor (and a copy of its name,
// 6.5 GB in all) had been made.
TEST(TorchCheckpoint, ARepeatedLongKeyIsRefusedAtOnce) {
  PickleWriter p;
  p.proto().empty_dict().text(std::string(65536, 'k')).put(0).op('0');
  p.tensor("FloatStorage", "0", 1, 0, {1}, {1}).put(1).op('0').mark();
  for (int i = 0; i < 100000; ++i) p.get(0).get(1);
  p.setitems().stop();
  std::string path;
  const std::string e = error_of("long_key.pt", test::torch_archive(p.bytes(), {{"0", std::string(4, '\0')}}), &path);
  EXPECT_HAS(e, path + ": tensor 'kkkk");
  EXPECT_HAS(e, "' appears twice in the state dict");
}

// A tensor with no elements may still not have a size whose product overflows: the contiguity
// check multiplied the dimensions in 64 bits (undefined behaviour; UBSan reported it).
TEST(TorchCheckpoint, EmptyTensorsWithHugeDimensionsAreRefused) {
  EXPECT_HAS(view_error("zero_huge.pt", 0, 0, {0, int64_t(1) << 62, int64_t(1) << 62}, {1, 1, 1}), "is too large");
  EXPECT_HAS(view_error("zero_huge2.pt", 0, 0, {int64_t(1) << 30, int64_t(1) << 30, 0}, {0, 0, 0}), "is too large");
  // Ordinary empty tensors are fine.
  const std::string pickle = state_dict_pickle({{"w", "FloatStorage", "0", 0, 0, {0, 512}, {512, 1}}});
  EXPECT_EQ(error_of("empty_ok.pt", test::torch_archive(pickle, {{"0", ""}})), "");
}


// ---- fuzz seeds ----

// Protocol 4 forms of the same things: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, BINUNICODE8.
std::string protocol4_pickle() {
  PickleWriter p;
  p.proto(4).op(0x95).raw(std::string(8, '\0')).empty_dict().op(0x94).mark();
  p.op(0x8c).raw(std::string("\x01w", 2)).op(0x94);
  p.stack_global("torch._utils", "_rebuild_tensor_v2").op(0x94).mark();
  p.mark().op(0x8c).raw(std::string("\x07storage", 8)).stack_global("torch", "FloatStorage").op(0x8d);
  p.raw(std::string("\x01\0\0\0\0\0\0\0" "0", 9)).op(0x8c).raw(std::string("\x03" "cpu", 4)).integer(2).tuple().binpersid();
  p.integer(0).integer(2).tuple1().integer(1).tuple1().boolean(false).stack_global("collections", "OrderedDict");
  p.empty_tuple().reduce().tuple().reduce().op(0x94).setitems().stop();
  return p.bytes();
}

// Every other opcode the reader knows, once: ints of each width, floats, the string and bytes
// forms, lists, tuples, dicts, DUP, POP, POP_MARK, the 4-byte memo forms.
std::string opcodes_pickle() {
  PickleWriter p;
  p.proto().empty_dict().put(0).mark();
  p.text("ints").mark().integer(7).integer(300).integer(-70000).integer(int64_t(1) << 40).integer(-(int64_t(1) << 62));
  p.op(0x8b).raw(std::string("\x02\0\0\0\xff\x7f", 6)).long1("").tuple();
  p.text("floats").real(0.5).real(-1e300).tuple2();
  p.text("texts").mark().op('U').raw(std::string("\x02" "ab", 3)).op('T').raw(std::string("\x01\0\0\0" "c", 5));
  p.op('B').raw(std::string("\x01\0\0\0" "d", 5)).op('C').raw(std::string("\x01" "e", 2)).tuple();
  p.text("list").empty_list().put(300).none().append().mark().boolean(true).boolean(false).op('2').appends();
  p.text("dict").mark().text("k").none().dict().text("l").get(300).setitem();
  p.text("x").mark().none().none().op('1').none().op('0').get(0).op('0').none();
  p.setitems().stop();
  return p.bytes();
}

std::string refused_pickle() {
  return PickleWriter().proto().global("os", "system").text("touch /tmp/x").tuple1().reduce().stop().bytes();
}

std::string legacy_file() {
  return PickleWriter().proto().long1(std::string("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10)).stop().bytes();
}

// Inputs for the fuzz targets that reproduce the bugs these tests found (small versions of the
// tests' inputs), replayed by Fuzz.pickle.Replay / Fuzz.torch_zip.Replay.
std::string many_dimensions_pickle() {  // a 1000-dimension size tuple, REDUCEd 100 times
  PickleWriter p;
  p.proto().global("torch._utils", "_rebuild_tensor_v2").put(0).op('0').mark();
  p.storage("FloatStorage", "0", 1).integer(0).mark().integer(1).raw(std::string(999, '2')).tuple().op('2').tuple().put(1).op('0');
  p.mark();
  for (int i = 0; i < 100; ++i) p.get(0).get(1).reduce();
  return p.op('1').none().stop().bytes();
}
std::string huge_arguments_pickle() {  // _rebuild_parameter(t, <50,000 more>) 2000 times
  PickleWriter p;
  p.proto().global("torch._utils", "_rebuild_parameter").put(1).op('0').mark();
  p.tensor("FloatStorage", "0", 1, 0, {1}, {1}).raw(std::string(50000, '2')).tuple().put(2).op('0');
  for (int i = 0; i < 2000; ++i) p.get(1).get(2).reduce().op('0');
  return p.none().stop().bytes();
}
std::string slots_and_memo_pickle() {  // 3000 list slots from DUPs, 3000 memo entries
  PickleWriter p;
  p.proto().empty_list();
  for (int i = 0; i < 30; ++i) p.mark().none().raw(std::string(99, '2')).appends();
  for (uint32_t i = 0; i < 3000; ++i) p.put(1000 + i);
  return p.stop().bytes();
}
std::string copied_views_archive() {  // 20 transposed views of one 1 KB storage: 20 KB of copies
  std::vector<Spec> specs;
  for (int i = 0; i < 20; ++i) specs.push_back({std::string("t").append(std::to_string(i)), "FloatStorage", "0", 256, 0, {16, 16}, {1, 16}});
  return test::torch_archive(state_dict_pickle(specs), {{"0", std::string(1024, '\0')}});
}
std::string empty_huge_archive() {  // size [0, 2^62, 2^62]
  return test::torch_archive(state_dict_pickle({{"w", "FloatStorage", "0", 0, 0, {0, int64_t(1) << 62, int64_t(1) << 62}, {1, 1, 1}}}),
                             {{"0", ""}});
}
std::string repeated_key_archive() {  // one 4 KB key for 2000 entries
  PickleWriter p;
  p.proto().empty_dict().text(std::string(4096, 'k')).put(0).op('0');
  p.tensor("FloatStorage", "0", 1, 0, {1}, {1}).put(1).op('0').mark();
  for (int i = 0; i < 2000; ++i) p.get(0).get(1);
  return test::torch_archive(p.setitems().stop().bytes(), {{"0", std::string(4, '\0')}});
}

// Writes the seed corpora fuzz/corpus/{pickle,torch_zip} and the regression inputs
// fuzz/regressions/{pickle,torch_zip} (fuzz/README.md) under $CLAPSEARCH_FUZZ_DIR (the fuzz/
// folder): run by hand with --gtest_also_run_disabled_tests.
TEST(TorchCheckpointSeeds, DISABLED_WriteFuzzInputs) {
  const char* dir = std::getenv("CLAPSEARCH_FUZZ_DIR");
  ASSERT_NE(dir, nullptr) << "set CLAPSEARCH_FUZZ_DIR to the fuzz/ folder";
  const std::string pickles = std::string(dir) + "/corpus/pickle", zips = std::string(dir) + "/corpus/torch_zip";
  const std::string bad_pickles = std::string(dir) + "/regressions/pickle", bad_zips = std::string(dir) + "/regressions/torch_zip";
  for (const std::string& d : {pickles, zips, bad_pickles, bad_zips}) std::filesystem::create_directories(d);
  for (const char* c : {"tiny-fused", "tiny-unfused"}) {
    const std::string golden = test::case_dir(c) + "/laion.pt";
    const MappedFile file(golden);
    const ZipDirectory zip({file.data(), file.size()}, golden);
    const auto pkl = zip.stored_bytes(*zip.find("laion/data.pkl"));
    test::write_file(pickles + "/golden_" + std::string(c).substr(5) + "_data.pkl",
                     std::string(reinterpret_cast<const char*>(pkl.data()), pkl.size()));
  }
  test::write_file(pickles + "/state_dict.pkl", hand_built_pickle());
  test::write_file(pickles + "/training_checkpoint.pkl", training_pickle());
  test::write_file(pickles + "/protocol4.pkl", protocol4_pickle());
  test::write_file(pickles + "/opcodes.pkl", opcodes_pickle());
  test::write_file(pickles + "/refused_global.pkl", refused_pickle());

  test::write_file(zips + "/state_dict.pt", hand_built_archive());
  test::write_file(zips + "/training_checkpoint.pt", training_archive());
  test::write_file(zips + "/zip64_entries.pt", zip64_archive());
  test::write_file(zips + "/protocol4.pt", test::torch_archive(protocol4_pickle(), {{"0", test::raw_values(std::vector<float>{1, 2})}}));
  test::write_file(zips + "/legacy.pt", legacy_file());
  const std::string fused = test::read_file(test::case_dir("tiny-fused") + "/laion.pt");
  test::write_file(zips + "/golden_fused_64k_with_directory.pt", test::cut_keeping_directory(fused, 65536));

  test::write_file(bad_pickles + "/size_tuple_of_1000_dimensions_reduced_100_times.pkl", many_dimensions_pickle());
  test::write_file(bad_pickles + "/reduce_of_a_50000_item_tuple_2000_times.pkl", huge_arguments_pickle());
  test::write_file(bad_pickles + "/list_slots_and_memo_entries_from_dup_and_put.pkl", slots_and_memo_pickle());
  test::write_file(bad_zips + "/transposed_views_of_one_storage_copied_20_times.pt", copied_views_archive());
  test::write_file(bad_zips + "/empty_tensor_of_size_0_2e62_2e62.pt", empty_huge_archive());
  test::write_file(bad_zips + "/one_4k_key_for_2000_entries.pt", repeated_key_archive());
}

// The regression inputs are refused (the pickle ones with the fuzz target's small limits).
TEST(TorchCheckpointSeeds, RegressionInputsAreRefused) {
  pickle::Limits small;
  small.max_objects = 256;
  EXPECT_HAS(pickle_read_error(many_dimensions_pickle()), "a tensor of 1000 dimensions (at most 32)");
  EXPECT_EQ(pickle_read_error(huge_arguments_pickle()), "");  // read, and cheaply
  EXPECT_HAS(pickle_read_error(slots_and_memo_pickle(), small), "more than 256 objects");
  EXPECT_EQ(pickle_read_error(slots_and_memo_pickle()), "");
  EXPECT_HAS(error_of("copied.pt", copied_views_archive()), "would copy more than the archive's");
  EXPECT_HAS(error_of("empty_huge.pt", empty_huge_archive()), "is too large");
  EXPECT_HAS(error_of("repeated_key.pt", repeated_key_archive()), "appears twice in the state dict");
}

// The seeds themselves: the hand-written ones read (or are refused) as intended.
TEST(TorchCheckpointSeeds, HandWrittenSeedsReadAsIntended) {
  const auto p4 = Checkpoint::open(test::write_file(
      temp_path("p4.pt"), test::torch_archive(protocol4_pickle(), {{"0", test::raw_values(std::vector<float>{1, 2})}})));
  EXPECT_EQ(floats_of(*p4, "w"), (std::vector<float>{1, 2}));
  const pickle::Pickle ops = pickle::read(span_of(opcodes_pickle()), "opcodes.pkl");
  const pickle::Value& root = ops.at(ops.root);
  ASSERT_EQ(root.kind, pickle::Kind::Dict);
  const pickle::Value* ints = ops.get(root, "ints");
  ASSERT_TRUE(ints && ints->kind == pickle::Kind::Tuple);
  std::vector<int64_t> values;
  for (uint32_t i : ints->items) values.push_back(ops.at(i).integer);
  EXPECT_EQ(values, (std::vector<int64_t>{7, 300, -70000, int64_t(1) << 40, -(int64_t(1) << 62), 0x7fff, 0}));
  const pickle::Value* list = ops.get(root, "list");
  ASSERT_TRUE(list && list->kind == pickle::Kind::List);
  EXPECT_EQ(list->items.size(), 4u);
  EXPECT_EQ(ops.at(ops.get(root, "floats")->items[1]).real, -1e300);
  const pickle::Value* dict = ops.get(root, "dict");
  ASSERT_TRUE(dict && dict->kind == pickle::Kind::Dict);
  EXPECT_EQ(ops.get(*dict, "l"), list);
  EXPECT_EQ(ops.get(*dict, "k")->kind, pickle::Kind::None);
  EXPECT_EQ(ops.at(ops.get(root, "texts")->items[3]).text, "e");
  EXPECT_HAS(pickle_read_error(refused_pickle()), "global 'os.system' is not allowed");
  EXPECT_HAS(error_of("legacy.pt", legacy_file()), "legacy format");
}

}  // namespace
}  // namespace clap

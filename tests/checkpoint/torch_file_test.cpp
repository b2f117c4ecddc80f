// torch.save files (checkpoint/torch_file.h, pickle.h, zip_directory.h) that must read: the
// golden LAION checkpoints, hand-built state dicts with every kind of view, a training
// checkpoint, zip64 entries; and the fuzz seed corpora and regression inputs built from them and
// from the bugs the hostile cases found. The hostile files are in torch_file_refusals_test.cpp
// (split by concern to keep files under ~800 lines); the shared set-up is torch_cases.h.
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
#include "torch_cases.h"

namespace clap {
namespace {

using namespace torch_cases;

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

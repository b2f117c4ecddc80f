// Hostile torch.save files (checkpoint/torch_file.h, pickle.h, zip_directory.h): refused
// globals and opcodes, truncated archives, views outside their storage, pickle structure errors,
// deep and recursive nesting, object limits, lying zip directories, the legacy format. Every
// hostile file must give a clap::Error naming the file and the reason: no crash, no code run, no
// allocation beyond what the file holds. The inputs are built here (support/torch_archive.h),
// without Python. The files that read are in torch_file_test.cpp; the shared set-up is
// torch_cases.h.
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

}  // namespace
}  // namespace clap

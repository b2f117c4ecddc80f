#include "support.h"
#include "core/missing_file.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>

namespace clap::python {

namespace fs = std::filesystem;

void require_file(const std::string& path) {
  // A link loop or a name too long is named as such, not as a missing file (hostile pass 10).
  const std::string why = missing_file_reason(path);
  if (why == kNoSuchFile) throw NotFound(path + ": no such file", path);
  if (!why.empty()) throw Error(path + ": " + why);
}

void check_threads(int threads) {
  if (threads < 0 || threads > kMaxThreads)
    throw InvalidInput("threads must be between 1 and " + std::to_string(kMaxThreads) + ", or None for every core (got " +
                       std::to_string(threads) + ")");
}

void check_batch(int batch) {
  if (batch < 1 || batch > 1024) throw InvalidInput("batch must be between 1 and 1024 (got " + std::to_string(batch) + ")");
}

void check_rate(int sr, const char* what) {
  if (sr < kMinSampleRate || sr > kMaxSampleRate)
    throw InvalidInput(std::string(what) + " must be a sample rate between " + std::to_string(kMinSampleRate) + " and " +
                       std::to_string(kMaxSampleRate) + " Hz (got " + std::to_string(sr) + ")");
}

py::array_t<float> owned_matrix(std::vector<float>&& v, py::ssize_t rows, py::ssize_t dim) {
  auto* heap = new std::vector<float>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>({rows, dim}, {dim * static_cast<py::ssize_t>(sizeof(float)), static_cast<py::ssize_t>(sizeof(float))},
                            heap->data(), owner);
}

py::array_t<float> owned_vector(std::vector<float>&& v) {
  auto* heap = new std::vector<float>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>({static_cast<py::ssize_t>(heap->size())}, {static_cast<py::ssize_t>(sizeof(float))}, heap->data(), owner);
}

void raise_copy_failed(const std::string& what, const py::array& array) {
  const double gib = static_cast<double>(array.nbytes()) / (1024.0 * 1024.0 * 1024.0);
  char size[64];
  std::snprintf(size, sizeof size, "%.1f GiB", gib);
  PyErr_SetString(PyExc_MemoryError, (what + ": the array is not C-contiguous and its copy (" + size +
                                      ") cannot be allocated; a broadcast or strided view this large holds more "
                                      "samples than memory: pass the samples themselves")
                                         .c_str());
  throw py::error_already_set();
}

Clips clips_of(const py::array& array) {
  // Float32 in either byte order: a big-endian '>f4' array (read from an AIFF or raw file) was
  // refused as "must be float32 (got >f4)" (H20P-1); ensure() below makes the native copy.
  if (array.dtype().kind() != 'f' || array.itemsize() != 4)
    throw InvalidInput("audio must be a float32 numpy array (got dtype " + py::str(array.dtype()).cast<std::string>() +
                       "): convert with x.astype(np.float32), samples in [-1, 1]");
  if (array.ndim() != 1 && array.ndim() != 2)
    throw InvalidInput("audio must be 1-D (one clip) or 2-D (a batch of clips, one per row); got " +
                       std::to_string(array.ndim()) + " dimensions");
  Clips c;
  c.data = py::array_t<float, py::array::c_style>::ensure(array);  // copies only when not C-contiguous
  if (!c.data) raise_copy_failed("audio", array);
  c.batch = array.ndim() == 2;
  c.rows = c.batch ? array.shape(0) : 1;
  c.length = c.batch ? array.shape(1) : array.shape(0);
  if (c.rows == 0) throw InvalidInput("audio: an empty batch (0 clips)");
  if (c.length == 0) throw InvalidInput("audio: a clip of 0 samples");
  const float* p = c.data.data();
  const py::ssize_t n = c.rows * c.length;
  for (py::ssize_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i]))
      throw InvalidInput("audio: sample " + std::to_string(i % c.length) + (c.batch ? " of clip " + std::to_string(i / c.length) : "") +
                         " is not finite (NaN or infinity)");
  return c;
}

std::unique_ptr<MemoryWav> one_clip_wav(const py::array& array, int sr, const std::string& call,
                                        const std::string& clip) {
  check_rate(sr);
  const Clips clips = clips_of(array);
  if (clips.batch) throw InvalidInput(call + ": one " + clip + " at a time (a 1-D array of samples)");
  ReleaseGil release;
  return std::make_unique<MemoryWav>(clips.row(0), static_cast<size_t>(clips.length), sr);
}

MemoryWav::MemoryWav(const float* samples, size_t n, int rate) {
  // A WAV's sizes are 32-bit: a longer clip cannot be described (4 GB of samples, ~6 hours at 48 kHz).
  if (n > (UINT32_MAX - 36) / sizeof(float)) throw InvalidInput("audio: a clip too long to resample (more than 1 billion samples)");
  fd_ = ::memfd_create("clapsearch-samples", MFD_CLOEXEC);
  if (fd_ < 0) throw Error("cannot hold the samples in memory for resampling");
  std::string header;
  auto u32 = [&](uint32_t v) { header.append(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { header.append(reinterpret_cast<const char*>(&v), 2); };
  const uint32_t data_bytes = static_cast<uint32_t>(n * sizeof(float));
  header += "RIFF";
  u32(36 + data_bytes);
  header += "WAVEfmt ";
  u32(16);
  u16(3);  // IEEE float
  u16(1);  // mono
  u32(static_cast<uint32_t>(rate));
  u32(static_cast<uint32_t>(rate) * 4);
  u16(4);
  u16(32);
  header += "data";
  u32(data_bytes);
  auto write_all = [&](const char* p, size_t size) {
    while (size > 0) {
      const ssize_t w = ::write(fd_, p, size);
      if (w <= 0) {
        ::close(fd_);
        throw Error("cannot hold the samples in memory for resampling");
      }
      p += w;
      size -= static_cast<size_t>(w);
    }
  };
  write_all(header.data(), header.size());
  write_all(reinterpret_cast<const char*>(samples), data_bytes);
  path_ = "/proc/self/fd/" + std::to_string(fd_);
}

MemoryWav::~MemoryWav() {
  if (fd_ >= 0) ::close(fd_);
}

std::string replace_path(std::string message, const std::string& path, const std::string& what) {
  for (size_t at = message.find(path); at != std::string::npos; at = message.find(path, at + what.size()))
    message.replace(at, path.size(), what);
  return message;
}

py::str fs_str(const std::string& s) {
  PyObject* o = PyUnicode_DecodeFSDefaultAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

py::object py_of(const service::ojson& j) {
  switch (j.type()) {
    case service::ojson::value_t::null:
    case service::ojson::value_t::discarded:
      return py::none();
    case service::ojson::value_t::boolean:
      return py::bool_(j.get<bool>());
    case service::ojson::value_t::number_integer:
      return py::int_(j.get<int64_t>());
    case service::ojson::value_t::number_unsigned:
      return py::int_(j.get<uint64_t>());
    case service::ojson::value_t::number_float: {
      const double v = j.get<double>();
      if (!std::isfinite(v)) return py::none();  // as the JSON text says (null)
      return py::float_(v);
    }
    case service::ojson::value_t::string:
      return fs_str(j.get_ref<const std::string&>());
    case service::ojson::value_t::array: {
      py::list out;
      for (const auto& item : j) out.append(py_of(item));
      return out;
    }
    case service::ojson::value_t::object: {
      py::dict out;
      for (const auto& [key, value] : j.items()) out[fs_str(key)] = py_of(value);
      return out;
    }
    case service::ojson::value_t::binary:
      break;
  }
  return py::none();
}

namespace {
std::atomic<unsigned long> g_main_thread{0};
}

namespace {
std::atomic<long> g_library_calls{0};          // LibraryCalls running now, in any thread
std::atomic<bool> g_forked_during_call{false};  // this process is a child forked during one

void on_fork_child() {
  // Only the forking thread goes on in the child: the others' calls never end here.
  if (g_library_calls.exchange(0) > 0) g_forked_during_call = true;
}
}  // namespace

void watch_forks_during_library_calls() {
  static const bool registered = pthread_atfork(nullptr, nullptr, on_fork_child) == 0;
  (void)registered;
}

void LibraryCall::enter_library_call() {
  if (g_forked_during_call)
    throw Error("this process was forked (os.fork, or multiprocessing's 'fork' start method) while another thread was "
                "inside a clapsearch Library call or index run: the locks that call held stay locked in this process, so "
                "no index can be used here (it would wait for ever). Start workers with "
                "multiprocessing.get_context('spawn') or 'forkserver' (a Library pickles to them), or fork while no "
                "thread is in a Library call");
  ++g_library_calls;
}

void LibraryCall::leave_library_call() { --g_library_calls; }

void remember_main_thread() {
  g_main_thread = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
}

void wait_out_interpreter_exit() {
#if PY_VERSION_HEX >= 0x030D0000
  const bool exiting = Py_IsFinalizing();
#else
  const bool exiting = _Py_IsFinalizing();
#endif
  if (exiting && PyThread_get_thread_ident() != g_main_thread)
    for (;;) pause();  // the process ends around this thread (exit does not wait for it)
}

void refuse_unmade(py::handle self, const std::type_info& type, const char* shown_name) {
  namespace detail = pybind11::detail;
  detail::type_info* info = detail::get_type_info(type);
  const std::string public_name = std::string("clapsearch.") + (shown_name[0] == '_' ? shown_name + 1 : shown_name);
  if (info == nullptr || !PyObject_TypeCheck(self.ptr(), info->type))
    throw py::type_error(std::string("a method of ") + shown_name + " was called on a " + Py_TYPE(self.ptr())->tp_name +
                         " object, not a " + shown_name);
  const auto held = reinterpret_cast<detail::instance*>(self.ptr())->get_value_and_holder(info, false);
  if (held.inst == nullptr || !held.holder_constructed())  // not found: a default record, no inst
    throw py::type_error(std::string("this ") + shown_name +
                         " was made by __new__ without __init__: it holds nothing to call; make one with " + public_name + "(...)");
}

void check_signals() {
  if (!PyGILState_Check()) wait_out_interpreter_exit();
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

}  // namespace clap::python

// What module.cpp (Model, index, load_audio) and library.cpp (Library) of the compiled
// `clapsearch._clapsearch` share: the errors a bad argument raises, the checks of audio from
// Python, the in-memory WAV that carries samples at another rate to FFmpeg, the conversion of
// the library's JSON records and of file names to Python objects, and Ctrl-C between items.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include "core/error.h"
#include "service/records.h"

namespace clap::python {

namespace py = pybind11;

// A bad argument from Python (shape, dtype, sample rate, empty list): clapsearch.InvalidInputError,
// as is every clap::InvalidArgument the library throws (a value out of range, a missing query).
class InvalidInput : public clap::InvalidArgument {
 public:
  using clap::InvalidArgument::InvalidArgument;
};
// A file that is not there: clapsearch.NotFoundError (a FileNotFoundError), its `filename` the
// file's name when there is one (a track id or an array has none).
class NotFound : public Error {
 public:
  explicit NotFound(const std::string& message, std::string file = "") : Error(message), filename(std::move(file)) {}
  std::string filename;
};

void require_file(const std::string& path);

// At interpreter exit (Py_Finalize), a daemon thread inside a native call must not take the GIL
// back: Python 3.11 to 3.13 end such a thread with pthread_exit, a forced unwind, and pybind11's
// gil_scoped_release takes the GIL back in its destructor, which is noexcept: the unwind there is
// std::terminate, and a script ending while a thread searched or indexed died by SIGABRT
// ("terminate called without an active exception"; hostile pass 19, H19P-1). Such a thread
// sleeps here until the process ends instead (as Python 3.14 does with its own threads).
// The thread that runs the exit (Python's main thread) goes on: only other threads wait.
void wait_out_interpreter_exit();
void remember_main_thread();  // at import, with the GIL

// py::gil_scoped_release, but a thread returning at interpreter exit waits the exit out
// (wait_out_interpreter_exit). Used for every native call without the GIL, also as a call_guard.
class ReleaseGil {
 public:
  ReleaseGil() : state_(PyEval_SaveThread()) {}
  // noexcept(false): should exit begin between the check and taking the GIL back, the forced
  // unwind passes on to pybind11's dispatcher (which lets abi::__forced_unwind through).
  ~ReleaseGil() noexcept(false) {
    wait_out_interpreter_exit();
    PyEval_RestoreThread(state_);
  }
  ReleaseGil(const ReleaseGil&) = delete;
  ReleaseGil& operator=(const ReleaseGil&) = delete;

 private:
  PyThreadState* state_;
};

// A Library call or an index run (every call that opens or reads an index), without the GIL as
// ReleaseGil, and counted while it runs. A process forked (os.fork, multiprocessing's "fork" start
// method) while another thread is inside one keeps, in the child, the locks that call held (the
// library's, SQLite's, the open-files registry's) locked for good, and no thread there to unlock
// them: the child's next call on any library waited for ever (hostile pass 20, H20P-2). In such a
// child every LibraryCall raises clapsearch.Error instead, saying why and what to do; a process
// forked while no library call ran (a multiprocessing pool forked from a script's main thread)
// is not affected. Model calls are not counted: they share no lock with a library's reads.
class LibraryCall {
 public:
  LibraryCall() { enter_library_call(); }
  ~LibraryCall() noexcept(false) { leave_library_call(); }
  LibraryCall(const LibraryCall&) = delete;
  LibraryCall& operator=(const LibraryCall&) = delete;

 private:
  static void enter_library_call();  // throws in a child forked during a library call
  static void leave_library_call();
  ReleaseGil release_;  // made before the body runs, ended after it
};
// At import: the fork handler that notes library calls in flight in the child (LibraryCall).
void watch_forks_during_library_calls();

// The CLI's --threads range (src/cli/common.cpp: 0 = all cores, at most 1024). More threads than
// that made OpenMP allocate per-thread state without bound (a segfault, or libgomp aborting the
// interpreter), so every entry point taking threads checks it.
inline constexpr int kMaxThreads = 1024;
void check_threads(int threads);
// Windows or texts per model call: the CLI's --batch range.
void check_batch(int batch);

// Sample rates taken from Python, the same range for every call (embed_audio, embed_song,
// Library.like, load_audio): FFmpeg's decoder refuses a source below 1000 Hz as a damaged header.
inline constexpr int kMinSampleRate = 1000;
inline constexpr int kMaxSampleRate = 1000000;
void check_rate(int sr, const char* what = "sr");

// A numpy array of rows × dim floats (or a vector) that owns `v` (moved, not copied).
py::array_t<float> owned_matrix(std::vector<float>&& v, py::ssize_t rows, py::ssize_t dim);
py::array_t<float> owned_vector(std::vector<float>&& v);

// Audio samples from Python: float32, 1-D (one clip) or 2-D (a batch of equal-length clips),
// finite. Read in place when C-contiguous.
struct Clips {
  py::array_t<float, py::array::c_style> data;
  bool batch = false;
  py::ssize_t rows = 0, length = 0;
  const float* row(py::ssize_t i) const { return data.data() + i * length; }
};
Clips clips_of(const py::array& array);
// A C-ordered copy of `array` (pybind11's ensure()) failed: it returns null and clears numpy's
// error, and reading through the null was a segfault (a broadcast view of a few bytes copies to
// petabytes). Raises MemoryError naming `what` and the size.
[[noreturn]] void raise_copy_failed(const std::string& what, const py::array& array);

// One clip as a 32-bit float WAV file in memory (memfd_create), named /proc/self/fd/N: how
// samples at another rate reach the resampler the CLI and the indexer use (audio::decode_file).
// Nothing is written to the file system: no name in /tmp another user could plant a symlink
// at, nothing left behind, nobody else can read the audio.
class MemoryWav {
 public:
  MemoryWav(const float* samples, size_t n, int rate);
  ~MemoryWav();
  MemoryWav(const MemoryWav&) = delete;
  MemoryWav& operator=(const MemoryWav&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// One clip (a 1-D array at rate `sr`) as a MemoryWav, written without the GIL: `call` names the
// method in the error for a 2-D array (embed_song, like take one clip at a time).
std::unique_ptr<MemoryWav> one_clip_wav(const py::array& array, int sr, const std::string& call,
                                        const std::string& clip);

// `message` with every `path` in it replaced by `what`.
std::string replace_path(std::string message, const std::string& path, const std::string& what);

// Runs `f` (which decodes a MemoryWav) and rethrows its errors with the memory file's name
// replaced by `what`: a message names the caller's samples, not /proc/self/fd/N.
template <class F>
auto naming_samples(const MemoryWav& wav, const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const InvalidArgument& e) {
    throw InvalidInput(replace_path(e.what(), wav.path(), what));
  } catch (const NotFound& e) {
    throw NotFound(replace_path(e.what(), wav.path(), what));  // no filename: the samples were an array
  } catch (const Error& e) {
    throw Error(replace_path(e.what(), wav.path(), what));
  }
}

// A file name (or any string holding one) as Python's os.fsdecode gives it: bytes that are not
// UTF-8 become lone surrogates (surrogateescape), so os.fsencode gives the same bytes back and
// the name can be passed to any call again.
py::str fs_str(const std::string& s);
// A JSON record of service/records.h as the Python objects json.loads would make of the CLI's
// --json, except that strings keep their bytes (fs_str) instead of U+FFFD.
py::object py_of(const service::ojson& j);

// The C++ object behind `self` of a native class (_Library, _Model), or TypeError when `self`
// was made by __new__ without __init__: pybind11 2.10 gives a method called on such an instance
// a freshly allocated, never constructed object ("lazy allocation", type_caster_generic::
// load_value), and the call read uninitialised memory: SIGABRT in a mutex, "cannot run
// 206742458 threads" (hostile pass 20, H20P-3). pybind11 has no public hook telling that
// allocation from a construction, so every bound method and property takes `self` as a handle
// and asks pybind11's instance record whether its holder was constructed (only __init__ does).
void refuse_unmade(py::handle self, const std::type_info& type, const char* shown_name);
template <class T>
T& made(py::handle self) {
  refuse_unmade(self, typeid(T), T::kShownName);
  namespace detail = pybind11::detail;
  auto* instance = reinterpret_cast<detail::instance*>(self.ptr());
  return *instance->get_value_and_holder(detail::get_type_info(typeid(T))).template value_ptr<T>();
}
// A member function bound as a method whose `self` is checked by made<T>.
template <class T, class R, class... A>
auto on_made(R (T::*method)(A...)) {
  return [method](py::handle self, A... args) -> R { return (made<T>(self).*method)(std::forward<A>(args)...); };
}
template <class T, class R, class... A>
auto on_made(R (T::*method)(A...) const) {
  return [method](py::handle self, A... args) -> R { return (made<T>(self).*method)(std::forward<A>(args)...); };
}

// Ctrl-C between the items of a long call: with the GIL released, takes it and runs Python's
// signal handlers; a KeyboardInterrupt (or whatever a handler raised) is thrown as
// py::error_already_set. Only the main thread sees signals; elsewhere it costs a GIL round trip.
void check_signals();

}  // namespace clap::python

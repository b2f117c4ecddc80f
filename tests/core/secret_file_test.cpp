// read_secret_line: the first line of --password-file / --token-file from a file, an anonymous
// pipe (/dev/fd/N, a process substitution), a FIFO in the file system; refused devices, folders,
// long lines; a FIFO nobody writes to ends at the deadline instead of hanging (hostile pass 12,
// R12P-2). A hang here is caught by the test's timeout, never by timing a call.
#include "core/secret_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/error.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("secret-file-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

std::string error_of(const std::string& path, std::chrono::milliseconds deadline = 1h) {
  try {
    read_secret_line(path, "password file", 4096, deadline);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A pipe whose read end is named /dev/fd/N, as bash's <(...) names it.
struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { EXPECT_EQ(::pipe(fds), 0); }
  ~Pipe() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  std::string name() const { return "/dev/fd/" + std::to_string(fds[0]); }
  void write(const std::string& text) { ASSERT_EQ(::write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size())); }
  void close_writer() {
    ::close(fds[1]);
    fds[1] = -1;
  }
};

TEST(SecretFile, AFileGivesItsFirstLine) {
  const std::string path = scratch("pw.txt");
  std::ofstream(path, std::ios::binary) << "open sesame\r\nsecond line\n";
  EXPECT_EQ(read_secret_line(path, "password file", 4096), "open sesame");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "no line break";
  EXPECT_EQ(read_secret_line(path, "password file", 4096), "no line break");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "";
  EXPECT_EQ(read_secret_line(path, "password file", 4096), "") << "the caller says the file is empty";
}

TEST(SecretFile, AnAnonymousPipeIsReadAsAProcessSubstitutionIs) {
  {
    Pipe p;
    p.write("from pass\nurl: https://example.org\n");
    p.close_writer();
    EXPECT_EQ(read_secret_line(p.name(), "password file", 4096), "from pass");
  }
  {
    // The writer is still there when the line arrives (pass waiting on a pinentry): read when it comes.
    Pipe p;
    std::thread writer([&] {
      std::this_thread::sleep_for(200ms);
      p.write("typed later\n");
    });
    EXPECT_EQ(read_secret_line(p.name(), "password file", 4096), "typed later");
    writer.join();
  }
  {
    // A command that printed nothing (pass show of an entry that is not there): empty at once,
    // not a wait for a writer that will never come (the hour's deadline would hang the test).
    Pipe p;
    p.close_writer();
    EXPECT_EQ(read_secret_line(p.name(), "password file", 4096, 1h), "");
  }
  {
    Pipe p;  // a writer that never writes: the deadline, with the reason
    const std::string e = error_of(p.name(), 200ms);
    EXPECT_NE(e.find(p.name() + ": no line arrived within 200 ms (password file; a pipe or FIFO that nobody writes to?)"),
              std::string::npos) << e;
  }
}

TEST(SecretFile, AFifoInTheFileSystemWaitsForItsWriterWithinTheDeadline) {
  const std::string fifo = scratch("pw.fifo");
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    std::this_thread::sleep_for(200ms);
    std::ofstream(fifo) << "through a fifo\n";
  });
  EXPECT_EQ(read_secret_line(fifo, "password file", 4096), "through a fifo");
  writer.join();
  // Nobody writes: an error naming it once the deadline passed, never a hang.
  const std::string e = error_of(fifo, 200ms);
  EXPECT_NE(e.find(fifo + ": no line arrived within 200 ms"), std::string::npos) << e;
}

// Standard input made a pipe for the length of a test, put back after.
struct PipeOnStandardInput {
  Pipe p;
  int saved = ::dup(STDIN_FILENO);
  PipeOnStandardInput() { EXPECT_EQ(::dup2(p.fds[0], STDIN_FILENO), STDIN_FILENO); }
  ~PipeOnStandardInput() {
    ::dup2(saved, STDIN_FILENO);
    ::close(saved);
  }
};

// `sleep infinity | clapsearch serve --token-file -` (and `user add` with a pipe on standard input)
// waited for ever: standard input is read blocking, so the deadline was never looked at (hostile
// pass 14, H14C-1). Before the fix this test hangs until ctest's timeout.
TEST(SecretFile, StandardInputThatIsAPipeEndsAtTheDeadline) {
  {
    PipeOnStandardInput in;  // a writer that never writes
    const std::string e = error_of("-", 200ms);
    EXPECT_NE(e.find("standard input: no line arrived within 200 ms (password file; a pipe or FIFO that nobody writes to?)"),
              std::string::npos) << e;
  }
  {
    PipeOnStandardInput in;  // part of a line, then the writer stalls
    in.p.write("half a pass");
    const std::string e = error_of("-", 200ms);
    EXPECT_NE(e.find("standard input: no line arrived within 200 ms"), std::string::npos) << e;
  }
  {
    PipeOnStandardInput in;  // the line comes later, within the deadline
    std::thread writer([&] {
      std::this_thread::sleep_for(200ms);
      in.p.write("typed later\nrest\n");
    });
    EXPECT_EQ(read_secret_line("-", "token file", 4096, 1h), "typed later");
    writer.join();
  }
  {
    PipeOnStandardInput in;  // its writer gone at once: empty, not a wait
    in.p.close_writer();
    EXPECT_EQ(read_secret_line("-", "token file", 4096, 1h), "");
  }
}

// "is empty" was said of a file whose first line alone is blank, and "-" was named as a file
// (hostile pass 14, H14C-2).
TEST(SecretFile, AnEmptyFirstLineIsSaidAsSuch) {
  EXPECT_EQ(empty_secret_message("pw.txt", "password file"),
            "pw.txt: its first line is empty (password file; the secret is the first line: is the file empty, or does it "
            "begin with a blank line?)");
  EXPECT_EQ(empty_secret_message("-", "token file").rfind("standard input: its first line is empty (token file; ", 0), 0u);
}

TEST(SecretFile, DevicesFoldersLongLinesAndNulAreRefusedByName) {
  EXPECT_NE(error_of("/dev/zero").find("/dev/zero: a device, not a file or a pipe (password file); give a file, a pipe "
                                       "such as <(pass show NAME), or - for standard input"),
            std::string::npos)
      << error_of("/dev/zero");
  const std::string dir = fs::path(scratch("x")).parent_path().string();
  EXPECT_NE(error_of(dir).find(dir + ": is a folder (password file)"), std::string::npos) << error_of(dir);
  EXPECT_NE(error_of(dir + "/nope").find(dir + "/nope: no such file (password file)"), std::string::npos);
  const std::string big = scratch("big.txt");
  std::ofstream(big, std::ios::binary) << std::string(5000, 'x') << "\n";
  EXPECT_NE(error_of(big).find("its first line is longer than 4096 bytes"), std::string::npos) << error_of(big);
  const std::string nul = scratch("nul.txt");
  std::ofstream(nul, std::ios::binary) << std::string("pass\0word\n", 10);
  EXPECT_NE(error_of(nul).find("a NUL byte in its first line"), std::string::npos) << error_of(nul);
}

}  // namespace
}  // namespace clap

/* faultfs: an LD_PRELOAD fault injector for the fault tests (tests/cli/fault_cli_test.cpp).
 *
 * It interposes the calls through which clapsearch's output reaches a disk and makes the Nth of
 * them fail, as a full disk or a failing device would:
 *
 *   op "write":    write, pwrite, pwrite64, writev, pwritev, pwritev64, and fwrite (see stdio)
 *   op "fsync":    fsync, fdatasync
 *   op "truncate": ftruncate, ftruncate64
 *   op "rename":   rename (the last step of a whole-or-nothing output file)
 *
 * What each path really calls (strace -f and nm -D, Debian 12):
 *   SQLite (libsqlite3, unix VFS): pwrite64 (database, WAL, and one byte per page to grow the
 *     -shm file), write (rarely), fdatasync, ftruncate64. All through the PLT, so interposed.
 *   core/output_file (--output/--csv files, standard output, the vector-index file): stdio
 *     fwrite, then fflush, fsync, fclose, rename. glibc's fwrite/fflush/fclose reach write(2)
 *     through libc-internal calls that LD_PRELOAD cannot see, so fwrite on a stream whose file
 *     matches the filter is done here instead: the stream is flushed (it holds nothing after the
 *     first such call) and the bytes go to the descriptor through the interposed write(), which
 *     counts and fails like any other write. On failure the stream's error flag is set and fwrite
 *     returns a short count, as glibc's would. fflush/fclose then have nothing left to write.
 *   Not interposed: writes through memory maps (SQLite's -shm pages after they were allocated by
 *   pwrite64), open/creat failing with ENOSPC (no inode left), close(2) errors (NFS), and
 *   stdio calls other than fwrite (fputs, fprintf: used only for messages on stderr).
 *
 * Environment (nothing set: every call passes through untouched and nothing is counted):
 *   FAULTFS_OPS     comma-separated ops to count and fail: write,fsync,truncate,rename
 *                   (default "write,fsync")
 *   FAULTFS_PATH    only calls on files whose path contains this substring (resolved with
 *                   readlink /proc/self/fd/N; rename: either name). Empty or unset: faultfs is off.
 *   FAULTFS_FAIL_AT N: the Nth matching call (1-based, counted over the whole process) fails;
 *                   0 or unset: none fails (a counting run)
 *   FAULTFS_PERSIST 1: every matching call from the Nth on fails too (a full disk stays full);
 *                   default 0: only the Nth (a transient I/O error)
 *   FAULTFS_ERRNO   ENOSPC (default), EIO, EDQUOT or a number (ftruncate: always EIO, see there)
 *   FAULTFS_SHORT   1: the first failing write writes half its bytes and returns that count (a
 *                   disk filling up mid-write); the following failures return -1
 *   FAULTFS_COUNT   file that receives "<matching calls> <injected faults>\n" after every
 *                   matching call (a clean run's count tells a test how many Ns to try)
 *   FAULTFS_LOG     1: one line per matching call on stderr ("faultfs: #7 pwrite64 path -> ok")
 *
 * Counting is per process and thread-safe. A process that re-executes itself (clapsearch does,
 * to set OpenMP's wait policy before libgomp loads) starts counting again; the first image makes
 * no matching calls.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_FSYNC = 2, OP_TRUNCATE = 4, OP_RENAME = 8 };

static int g_ready;
static int g_ops;
static const char* g_path;
static long g_fail_at;
static int g_persist, g_short, g_log, g_errno = ENOSPC;
static const char* g_count_path;
static long g_calls, g_faults;

static ssize_t (*real_write)(int, const void*, size_t);
static ssize_t (*real_pwrite)(int, const void*, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void*, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec*, int);
static ssize_t (*real_pwritev)(int, const struct iovec*, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec*, int, off64_t);
static size_t (*real_fwrite)(const void*, size_t, size_t, FILE*);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_rename)(const char*, const char*);

static void* next(const char* name) { return dlsym(RTLD_NEXT, name); }

static void init(void) {
  if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE)) return;
  real_write = next("write");
  real_pwrite = next("pwrite");
  real_pwrite64 = next("pwrite64");
  real_writev = next("writev");
  real_pwritev = next("pwritev");
  real_pwritev64 = next("pwritev64");
  real_fwrite = next("fwrite");
  real_fsync = next("fsync");
  real_fdatasync = next("fdatasync");
  real_ftruncate = next("ftruncate");
  real_ftruncate64 = next("ftruncate64");
  real_rename = next("rename");
  const char* path = getenv("FAULTFS_PATH");
  g_path = path && *path ? path : NULL;
  const char* ops = getenv("FAULTFS_OPS");
  if (!ops || !*ops) ops = "write,fsync";
  g_ops = (strstr(ops, "write") ? OP_WRITE : 0) | (strstr(ops, "fsync") ? OP_FSYNC : 0) |
          (strstr(ops, "truncate") ? OP_TRUNCATE : 0) | (strstr(ops, "rename") ? OP_RENAME : 0);
  const char* at = getenv("FAULTFS_FAIL_AT");
  g_fail_at = at ? strtol(at, NULL, 10) : 0;
  const char* persist = getenv("FAULTFS_PERSIST");
  g_persist = persist && *persist == '1';
  const char* short_write = getenv("FAULTFS_SHORT");
  g_short = short_write && *short_write == '1';
  const char* log = getenv("FAULTFS_LOG");
  g_log = log && *log == '1';
  const char* err = getenv("FAULTFS_ERRNO");
  if (err && *err) {
    if (!strcmp(err, "ENOSPC")) g_errno = ENOSPC;
    else if (!strcmp(err, "EIO")) g_errno = EIO;
    else if (!strcmp(err, "EDQUOT")) g_errno = EDQUOT;
    else g_errno = atoi(err) > 0 ? atoi(err) : ENOSPC;
  }
  const char* count = getenv("FAULTFS_COUNT");
  g_count_path = count && *count ? count : NULL;
  __atomic_store_n(&g_ready, 1, __ATOMIC_RELEASE);  // racing initialisers store the same values
}

static int fd_matches(int fd) {
  if (!g_path || fd < 0) return 0;
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = '\0';
  return strstr(target, g_path) != NULL;
}

static void save_count(long calls, long faults) {
  if (!g_count_path) return;
  const int fd = open(g_count_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char line[64];
  const int len = snprintf(line, sizeof line, "%ld %ld\n", calls, faults);
  if (real_write(fd, line, (size_t)len) < 0) { /* best effort */ }
  close(fd);
}

/* Counts a matching call; returns 0 (let it through), 1 (fail it) or 2 (short write, then fail). */
static int decide(int op, const char* name, const char* path_or_null, int fd) {
  init();
  if (!(g_ops & op)) return 0;
  if (path_or_null ? !(g_path && strstr(path_or_null, g_path)) : !fd_matches(fd)) return 0;
  const long n = __atomic_add_fetch(&g_calls, 1, __ATOMIC_SEQ_CST);
  int verdict = 0;
  if (g_fail_at > 0 && (n == g_fail_at || (g_persist && n > g_fail_at))) {
    const long f = __atomic_add_fetch(&g_faults, 1, __ATOMIC_SEQ_CST);
    verdict = (g_short && f == 1 && op == OP_WRITE) ? 2 : 1;
  }
  save_count(n, __atomic_load_n(&g_faults, __ATOMIC_SEQ_CST));
  if (g_log) {
    char line[4200], target[4096] = "";
    if (path_or_null) snprintf(target, sizeof target, "%s", path_or_null);
    else {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      const ssize_t k = readlink(link, target, sizeof target - 1);
      target[k > 0 ? k : 0] = '\0';
    }
    const int len = snprintf(line, sizeof line, "faultfs: #%ld %s %s -> %s\n", n, name, target,
                             verdict == 0 ? "ok" : verdict == 2 ? "short" : "FAIL");
    if (real_write(2, line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line - 1)) < 0) { /* best effort */ }
  }
  return verdict;
}

static ssize_t fail(void) {
  errno = g_errno;
  return -1;
}

static ssize_t faulty_write(int fd, const void* buf, size_t n) {
  switch (decide(OP_WRITE, "write", NULL, fd)) {
    case 1: return fail();
    case 2: return n > 1 ? real_write(fd, buf, n / 2) : fail();
  }
  return real_write(fd, buf, n);
}

ssize_t write(int fd, const void* buf, size_t n) { return faulty_write(fd, buf, n); }

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  switch (decide(OP_WRITE, "pwrite", NULL, fd)) {
    case 1: return fail();
    case 2: return n > 1 ? real_pwrite(fd, buf, n / 2, off) : fail();
  }
  return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
  switch (decide(OP_WRITE, "pwrite64", NULL, fd)) {
    case 1: return fail();
    case 2: return n > 1 ? real_pwrite64(fd, buf, n / 2, off) : fail();
  }
  return real_pwrite64(fd, buf, n, off);
}

/* Vector writes fail whole (a short vector write is not simulated). */
ssize_t writev(int fd, const struct iovec* iov, int count) {
  if (decide(OP_WRITE, "writev", NULL, fd)) return fail();
  return real_writev(fd, iov, count);
}

ssize_t pwritev(int fd, const struct iovec* iov, int count, off_t off) {
  if (decide(OP_WRITE, "pwritev", NULL, fd)) return fail();
  return real_pwritev(fd, iov, count, off);
}

ssize_t pwritev64(int fd, const struct iovec* iov, int count, off64_t off) {
  if (decide(OP_WRITE, "pwritev64", NULL, fd)) return fail();
  return real_pwritev64(fd, iov, count, off);
}

/* See the header: a matching stream's bytes go through the interposed write() unbuffered. */
size_t fwrite(const void* data, size_t size, size_t items, FILE* stream) {
  init();
  if (!(g_ops & OP_WRITE) || size == 0 || items == 0 || !fd_matches(fileno(stream)))
    return real_fwrite(data, size, items, stream);
  if (fflush(stream) != 0) return 0;
  const int fd = fileno(stream);
  const char* p = data;
  size_t left = size * items, done = 0;
  while (left > 0) {
    const ssize_t w = faulty_write(fd, p + done, left);  /* counted and maybe failed like write() */
    if (w < 0) {
      if (errno == EINTR) continue;
      stream->_flags |= _IO_ERR_SEEN;  /* ferror(stream) now reports it, as after a real failure */
      break;
    }
    done += (size_t)w;
    left -= (size_t)w;
  }
  return done / size;
}

int fsync(int fd) {
  if (decide(OP_FSYNC, "fsync", NULL, fd)) return (int)fail();
  return real_fsync(fd);
}

int fdatasync(int fd) {
  if (decide(OP_FSYNC, "fdatasync", NULL, fd)) return (int)fail();
  return real_fdatasync(fd);
}

/* A truncation frees blocks (or grows a file sparsely): a full disk does not fail it, a failing
 * device does. So it fails with EIO whatever FAULTFS_ERRNO says. */
static int fail_truncate(void) {
  errno = EIO;
  return -1;
}

int ftruncate(int fd, off_t length) {
  if (decide(OP_TRUNCATE, "ftruncate", NULL, fd)) return fail_truncate();
  return real_ftruncate(fd, length);
}

int ftruncate64(int fd, off64_t length) {
  if (decide(OP_TRUNCATE, "ftruncate64", NULL, fd)) return fail_truncate();
  return real_ftruncate64(fd, length);
}

int rename(const char* from, const char* to) {
  init();
  const char* hit = (g_path && from && strstr(from, g_path)) ? from : to;
  if (decide(OP_RENAME, "rename", hit ? hit : "", -1)) return (int)fail();
  return real_rename(from, to);
}

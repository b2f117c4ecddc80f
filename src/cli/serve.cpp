// clapsearch serve: the web page and the REST API over one index (src/server). Prints the
// address once listening; logs one line per request on stderr; stops cleanly on Ctrl-C/SIGTERM.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/secret_file.h"
#include "server/server.h"
#include "store/store.h"
#include "service/indexing.h"
#include "service/watching.h"

namespace clap::cli {
namespace {

struct ServeCliOptions {
  LibraryCliOptions lib;
  server::ServerOptions server;
  std::string token_file;
  int64_t max_upload_mb = 50;
  bool quiet = false;
  std::vector<std::string> watch_dirs;
  std::string quiet_period = "2s", rescan_every = "10min";
};

// `serve --watch` on a library without an index yet: an empty index with the model recorded (a
// run that takes no file), so the server starts at once and the watch's first run fills the
// index while it serves.
// Returns the SQLite file it made ("" when none): removed again when the server is refused.
std::string create_index_if_missing(const ServeCliOptions& o) {
  const std::string location = store::resolve_location(o.lib.db);
  try {
    store::open_store(location, store::OpenMode::ReadOnly);
    return "";
  } catch (const std::exception&) {  // missing (or damaged: the run below says why)
  }
  std::error_code ec;
  const bool absent = !store::is_server_location(location) && !std::filesystem::exists(std::filesystem::symlink_status(location, ec));
  service::IndexRequest request;
  // Only the folders that are there: one not there yet is waited for by the watch (the crawl
  // of a missing folder would fail this run, and with it the server's start).
  for (const std::string& d : o.watch_dirs)
    if (std::filesystem::is_directory(d) || std::filesystem::is_regular_file(d)) request.dirs.push_back(d);
  request.db = o.lib.db;
  if (!o.lib.model.empty()) request.model = o.lib.model;
  request.model_config = o.lib.config;
  request.model_tokenizer = o.lib.tokenizer;
  request.quiet = o.quiet;
  request.skip = [](const index::CrawledFile&) { return true; };
  service::run_index(request, {}, print_warning);
  return absent ? location : "";
}

// `serve --watch`: the index kept current by a thread of this process (service/watching.h),
// niced so that answering queries comes first; new tracks reach the answers through the
// server's refresh of its snapshot, like those of a separate `clapsearch index`.
std::thread start_watch(const ServeCliOptions& o, const std::function<void(const std::string&)>& log,
                        const std::atomic<bool>& stop) {
  service::IndexRequest request;
  request.dirs = o.watch_dirs;
  request.db = o.lib.db;
  request.threads = o.lib.threads;
  request.quiet = true;  // the model and settings are the index's own
  request.follow_links_out = o.server.follow_links_out;
  index::WatchOptions watch;
  watch.quiet = index::parse_duration(o.quiet_period, "--quiet-period");
  watch.rescan_every = index::parse_duration(o.rescan_every, "--rescan-every");
  return std::thread([request, watch, log, &stop] {
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 5);  // its model threads inherit it
    service::WatchCallbacks cb;
    cb.retry_first_run = true;  // a server keeps serving: its watch waits for another indexer
    cb.log = [log](const std::string& line) { log("watch: " + line); };
    cb.index.event = [log](const index::FileEvent& e) {
      using K = index::FileEvent::Kind;
      if (e.kind == K::Indexed) log("watch: indexed " + e.path);
      else if (e.kind == K::Moved) log("watch: moved " + e.detail + " -> " + e.path);
      else if (e.kind == K::Pruned) log("watch: pruned " + e.path);
      else if (e.kind == K::Restored) log("watch: restored " + e.path);
      else if (e.kind == K::Error) log("watch: skipped " + e.path + ": " + e.detail);
    };
    cb.finished = [log](const service::IndexRun& run, const index::Rescan* rescan) {
      for (const auto& w : run.summary.warnings) log("watch: warning: " + w.path + ": " + w.reason);
      if (!rescan) log("watch: first run done (" + std::to_string(run.summary.indexed) + " indexed, " +
                       std::to_string(run.summary.unchanged) + " unchanged); watching for changes");
    };
    try {
      service::watch_index(request, watch, cb, [&stop] { return stop.load(); });
    } catch (const service::WatchStopped&) {
    } catch (const std::exception& e) {
      log("watch: stopped, the index is no longer kept current: " + std::string(e.what()));
    }
  });
}

int run_serve(ServeCliOptions& o) {
  server::ServerOptions so = o.server;
  so.db = o.lib.db;
  so.model = o.lib.model;
  so.threads = o.lib.threads;
  so.text_precision = parse_precision(o.lib.text_precision);
  so.window_index = o.lib.window_index;
  so.max_upload_bytes = o.max_upload_mb << 20;
  so.exclude = exclude_rule();  // read at start: the settings file's, or serve --exclude-rule
  // The token: --token (scrubbed from ps once parsed), else --token-file, else $CLAPSEARCH_TOKEN.
  if (so.token.empty() && !o.token_file.empty()) {
    so.token = read_secret_line(o.token_file, "token file", 4096);
    if (so.token.empty()) throw InvalidArgument(empty_secret_message(o.token_file, "token file"));
  }
  if (so.token.empty())
    if (const char* t = std::getenv("CLAPSEARCH_TOKEN")) so.token = t;
  static std::mutex log_mutex;
  const auto log_line = [](const std::string& line) {
    std::lock_guard lock(log_mutex);
    std::fprintf(stderr, "%s\n", terminal_text(line).c_str());  // request paths come from anyone
  };
  if (!o.quiet) so.log = log_line;
  std::string created;  // the index --watch made for this server
  if (!o.watch_dirs.empty()) {  // usage errors before anything starts
    index::parse_duration(o.quiet_period, "--quiet-period");
    index::parse_duration(o.rescan_every, "--rescan-every");
    created = create_index_if_missing(o);
  }
  // Ctrl-C / SIGTERM: a thread waits for the signal and stops the server (no work in a handler).
  install_stop_signals();
  std::signal(SIGPIPE, SIG_IGN);

  std::optional<server::Server> made;
  try {
    made.emplace(so);
    made->bind();
  } catch (...) {
    // A server refused (no token for another address, its port in use) leaves nothing at a new
    // --db path either (hostile pass 12, R12C-1): the index made for it goes.
    made.reset();
    if (!created.empty()) service::remove_new_index(created);
    throw;
  }
  server::Server& srv = *made;
  std::printf("clapsearch serve: listening on %s\n", srv.url().c_str());
  if (!so.token.empty()) std::printf("(every /api/ request needs the token; open %s?token=... in a browser)\n", srv.url().c_str());
  std::fflush(stdout);
  std::thread waiter([&srv] {
    wait_for_stop_signal();
    srv.stop();
  });
  std::atomic<bool> stop_watch{false};
  std::thread watcher;
  if (!o.watch_dirs.empty()) watcher = start_watch(o, log_line, stop_watch);
  try {
    srv.run();
  } catch (...) {  // the waiter and the watch end before the error leaves (a joinable thread would abort)
    wake_stop_waiter();
    waiter.join();
    stop_watch = true;
    if (watcher.joinable()) watcher.join();
    throw;
  }
  wake_stop_waiter();  // when the server stopped on its own
  waiter.join();
  stop_watch = true;  // the watch abandons its current run between two files
  if (watcher.joinable()) watcher.join();
  if (!o.quiet) std::fprintf(stderr, "clapsearch serve: stopped\n");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<ServeCliOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the web page and the REST API for an index (loopback by default)");
  cmd->add_option("--host", o->server.host, "Address to listen on (anything but loopback needs --token)")->default_val("127.0.0.1");
  cmd->add_option("--port", o->server.port, "Port (0 = any free port)")->default_val(8411)->check(CLI::Range(0, 65535));
  auto* token = cmd->add_option("--token", o->server.token,
                                 "Secret every /api/ request must carry (default: $CLAPSEARCH_TOKEN; on a shared machine "
                                 "prefer --token-file or the variable: others can see command lines)");
  cmd->add_option("--token-file", o->token_file, "Read the secret from FILE (its first line)")->excludes(token);
  cmd->add_option("--allow-host", o->server.allowed_hosts,
                  "Without --token, a Host name to answer besides 127.0.0.1, localhost and [::1] (a reverse proxy's "
                  "name; repeatable); other names get 421")
      ->allow_extra_args(false);
  cmd->add_option("--max-upload-mb", o->max_upload_mb, "Largest query upload")->default_val(50)->check(CLI::Range(1, 4096));
  cmd->add_option("--max-query-seconds", o->server.max_query_seconds, "Longest decoded query audio")
      ->default_val(600)
      ->check(CLI::Range(1.0, 86400.0));
  cmd->add_option("--max-model-runs", o->server.max_model_runs, "Model runs at once (each uses --threads cores)")
      ->default_val(1)
      ->check(CLI::Range(1, 64));
  cmd->add_option("--queue", o->server.max_waiting, "Requests that may wait for a model run; more get 429")
      ->default_val(8)
      ->check(CLI::Range(0, 10000));
  cmd->add_option("--max-transcodes", o->server.max_transcodes,
                  "Subsonic streams transcoded at once (stream with format or maxBitRate), half of them (at least 1) per user; more get 429")
      ->default_val(4)
      ->check(CLI::Range(1, 64));
  cmd->add_option("--timeout", o->server.timeout_s, "Seconds a slow client may take to send or receive")
      ->default_val(30)
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--stream-pause", o->server.stream_pause_s,
                  "Seconds a Subsonic app may pause a stream (stop reading it) and resume where it was, beyond --timeout "
                  "(0 = never; at most 2 such paused streams per user, --paused-streams in all)")
      ->default_val(600)
      ->check(CLI::Range(0, 86400));
  cmd->add_option("--login-lockout", o->server.login_lockout_s,
                  "Subsonic sign-ins: after 5 wrong passwords for a user from one address within this many seconds, that "
                  "address is refused for that user until the oldest is this old; the same for 5 wrong --token values "
                  "from one address other than loopback (an IPv6 client: its /64)")
      ->default_val(60)
      ->check(CLI::Range(1, 31536000));
  cmd->add_option("--paused-streams", o->server.paused_streams,
                  "Paused Subsonic streams held at once (each holds a connection thread; fewer than --http-threads)")
      ->default_val(4)
      ->check(CLI::Range(0, 255));
  cmd->add_option("--request-budget", o->server.request_budget_s,
                  "Seconds a request's work may take (duplicate scans, diversity, playlists, paths); past it the "
                  "route answers 503")
      ->default_val(30)
      ->check(CLI::Range(1.0, 3600.0));
  cmd->add_option("--http-threads", o->server.http_threads, "Connections served at once")->default_val(16)->check(CLI::Range(1, 256));
  cmd->add_option("--head-timeout", o->server.head_timeout_s, "Seconds a client may take to send a request's line and headers")
      ->default_val(10)
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--max-connections-per-client", o->server.connections_per_address,
                  "Connections served at once per client address (an IPv6 client: its /64; loopback, e.g. a reverse proxy, is not "
                  "counted)")
      ->default_val(8)
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--quiet,-q", o->quiet, "No request log on stderr");
  cmd->add_flag("--follow-links-out", o->server.follow_links_out,
                "Play files the index reached through links out of its folders (index --follow-links-out), while "
                "each link still leads to the file indexed; --watch indexes such links too");
  cmd->add_option("--watch", o->watch_dirs,
                  "Also index these folders in the background and keep the index current as files come and go (like "
                  "`clapsearch index --watch`, with the index's model and settings); repeatable")
      ->allow_extra_args(false)
      ->type_name("DIR");
  cmd->add_option("--quiet-period", o->quiet_period, "--watch: a changed file is indexed once unchanged and closed for this long")
      ->default_val("2s")
      ->type_name("DURATION");
  cmd->add_option("--rescan-every", o->rescan_every,
                  "--watch: how often folders inotify cannot watch (network/FUSE filesystems) are rescanned instead")
      ->default_val("10min")
      ->type_name("DURATION");
  add_library_options(cmd, o->lib);
  add_text_precision_option(cmd, o->lib.text_precision);
  cmd->footer(
      "Open the printed address in a browser: search, listen from the best-matching moment, more like this, query by\n"
      "example, the library map, For you (each user's taste centres and daily mixes, every song with its reason).\n"
      "The API is JSON under /api/ (GET /api/openapi.json describes it). The index may be updated by\n"
      "`clapsearch index` while serving: new tracks appear within a second, without a restart; with --watch DIR the\n"
      "server does that itself, keeping the index current as files are added, changed or deleted.");
  cmd->callback([o, &action] { action = [o] { return run_serve(*o); }; });
}

}  // namespace clap::cli

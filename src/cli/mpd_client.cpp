#include "cli/mpd_client.h"

#include <mpd/client.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "cli/common.h"

namespace clap::cli {

std::string MpdAddress::text() const {
  if (!host.empty() && (host.front() == '/' || host.front() == '@')) return host;  // a socket
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return shown + ":" + std::to_string(port == 0 ? 6600 : port);
}

MpdAddress parse_mpd_address(const std::string& text) {
  MpdAddress a;
  if (text.empty()) throw InvalidArgument("--mpd: empty address (give HOST:PORT or a socket path)");
  if (text.front() == '/' || text.front() == '@') {  // a local socket (or an abstract one)
    a.host = text;
    return a;
  }
  std::string port;
  if (text.front() == '[') {  // [IPv6]:PORT
    const size_t close = text.find(']');
    if (close == std::string::npos) throw InvalidArgument("--mpd " + text + ": an IPv6 address needs its closing ']'");
    a.host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') throw InvalidArgument("--mpd " + text + ": expected ':PORT' after ']'");
      port = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    a.host = text.substr(0, text.find(':'));
    port = text.substr(text.find(':') + 1);
  } else {
    a.host = text;  // a host name, or a bare IPv6 address
  }
  if (a.host.empty()) throw InvalidArgument("--mpd " + text + ": no host before the port");
  if (!port.empty() || text.back() == ':') {
    const bool digits = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
    const long n = digits ? std::stol(port) : 0;
    if (n < 1 || n > 65535) throw InvalidArgument("--mpd " + text + ": the port must be a number from 1 to 65535");
    a.port = static_cast<unsigned>(n);
  }
  return a;
}

namespace {
// A generous bound for one request: MPD answers in milliseconds; a server that does not answer
// in this time is stuck, and the radio says so instead of hanging.
constexpr unsigned kTimeoutMs = 30000;

// Bounds on one answer (R11C-6). libmpdclient's per-read timeout catches a silent server, not
// one that never stops sending: every answer is read line by line here, counted, and given up
// (MpdError: the radio reconnects, or --once exits 1) past its bounds. A real MPD's status,
// `config`, `add` and `idle` answers are a few dozen lines; its queue is at most
// max_playlist_length songs (16384 by default) of about a dozen lines each.
struct AnswerBounds {
  uint64_t lines;
  uint64_t bytes;
  std::chrono::seconds time;
};
constexpr AnswerBounds kShortAnswer{4096, 1 << 20, std::chrono::seconds(60)};
constexpr AnswerBounds kQueueAnswer{16u << 20, 512u << 20, std::chrono::seconds(300)};

// Reads the pairs ("name: value" lines) of one answer within its bounds.
class BoundedAnswer {
 public:
  BoundedAnswer(mpd_connection* conn, const std::string& what, const std::string& server, AnswerBounds bounds)
      : conn_(conn), what_(what), server_(server), bounds_(bounds),
        deadline_(std::chrono::steady_clock::now() + bounds.time) {}
  // The next pair, or nullptr at the answer's end (or a failure: the caller asks the connection).
  // Throws MpdError past a bound. The pair is returned to libmpdclient at the next call.
  const mpd_pair* next() {
    release();
    pair_ = mpd_recv_pair(conn_);
    if (pair_ == nullptr) return nullptr;
    ++lines_;
    bytes_ += std::strlen(pair_->name) + std::strlen(pair_->value) + 3;
    if (lines_ > bounds_.lines || bytes_ > bounds_.bytes || std::chrono::steady_clock::now() > deadline_) {
      release();
      const std::string bound = lines_ > bounds_.lines   ? std::to_string(bounds_.lines) + " lines"
                                : bytes_ > bounds_.bytes ? std::to_string(bounds_.bytes >> 20) + " MiB"
                                                         : std::to_string(bounds_.time.count()) + " s";
      throw MpdError("MPD at " + server_ + ": its answer to " + what_ + " did not end within " + bound +
                     " (a broken or hostile server; read no further)");
    }
    return pair_;
  }
  ~BoundedAnswer() { release(); }
  BoundedAnswer(const BoundedAnswer&) = delete;
  BoundedAnswer& operator=(const BoundedAnswer&) = delete;

 private:
  void release() {
    if (pair_) mpd_return_pair(conn_, pair_);
    pair_ = nullptr;
  }
  mpd_connection* conn_;
  std::string what_, server_;
  AnswerBounds bounds_;
  std::chrono::steady_clock::time_point deadline_;
  mpd_pair* pair_ = nullptr;
  uint64_t lines_ = 0, bytes_ = 0;
};

// Reads an answer whose pairs are not needed (to `add`, `password`) to its end, within bounds.
void skip_answer(mpd_connection* conn, const std::string& what, const std::string& server) {
  BoundedAnswer answer(conn, what, server, kShortAnswer);
  while (answer.next() != nullptr) {
  }
}
}  // namespace

MpdClient::MpdClient(const MpdAddress& address, const std::string& password) : address_(address) {
  // Checked before connecting: a line break would end the password command and send the rest
  // of it as a command of its own (libmpdclient quotes only '"' and '\\').
  if (!service::line_protocol_safe(password))
    throw InvalidArgument("MPD's password holds " + service::line_protocol_problem(password) + ": it is not sent to MPD at " + address.text() +
                          " (check --password-file or $MPD_PASSWORD)");
  conn_ = mpd_connection_new(address.host.c_str(), address.port, kTimeoutMs);
  if (conn_ == nullptr) throw MpdError("MPD at " + address.text() + ": out of memory");
  if (mpd_connection_get_error(conn_) != MPD_ERROR_SUCCESS) fail("cannot connect");
  if (!password.empty()) {
    if (!mpd_send_password(conn_, password.c_str())) fail("cannot send the password");
    skip_answer(conn_, "`password`", address_.text());
    if (!mpd_response_finish(conn_)) fail("the password was refused");
  }
}

MpdClient::~MpdClient() {
  if (conn_) mpd_connection_free(conn_);
}

void MpdClient::fail(const std::string& what) {
  std::string reason = conn_ ? mpd_connection_get_error_message(conn_) : "no connection";
  if (reason.empty()) reason = "unknown error";
  throw MpdError("MPD at " + address_.text() + ": " + what + ": " + reason);
}

service::QueueView MpdClient::queue() {
  // The status and the queue in one command list, so the current position and the songs
  // around it come from the same moment.
  if (!mpd_command_list_begin(conn_, true) || !mpd_send_status(conn_) || !mpd_send_list_queue_meta(conn_) ||
      !mpd_command_list_end(conn_))
    fail("cannot ask for the queue");
  mpd_status* status = mpd_status_begin();
  std::optional<std::string> state_word;  // as MPD said it, for a state the radio does not know
  if (status == nullptr) throw MpdError("MPD at " + address_.text() + ": out of memory");
  {
    BoundedAnswer answer(conn_, "`status`", address_.text(), kShortAnswer);
    try {
      while (const mpd_pair* pair = answer.next()) {
        if (std::strcmp(pair->name, "state") == 0) state_word = pair->value;
        mpd_status_feed(status, pair);
      }
    } catch (...) {
      mpd_status_free(status);
      throw;
    }
  }
  if (mpd_connection_get_error(conn_) != MPD_ERROR_SUCCESS) {
    mpd_status_free(status);
    fail("cannot read the player's status");
  }
  const mpd_state state = mpd_status_get_state(status);
  const int current = mpd_status_get_song_pos(status);
  const int entry_id = mpd_status_get_song_id(status);
  const double elapsed_s = mpd_status_get_elapsed_ms(status) / 1000.0;
  const double duration_s = mpd_status_get_total_time(status);
  mpd_status_free(status);
  if (!mpd_response_next(conn_)) fail("cannot read the queue");
  // Only the songs' files are needed: each song of the answer begins with its "file" line.
  std::vector<std::string> uris;
  BoundedAnswer answer(conn_, "`playlistinfo` (the queue)", address_.text(), kQueueAnswer);
  while (const mpd_pair* pair = answer.next())
    if (std::strcmp(pair->name, "file") == 0) uris.emplace_back(pair->value);
  if (!mpd_response_finish(conn_)) fail("cannot read the queue");

  service::QueueView view;
  if (state != MPD_STATE_PLAY && state != MPD_STATE_PAUSE && state != MPD_STATE_STOP) {
    // A state word that is not play, pause or stop (or none): the radio cannot tell whether a
    // song plays, so it neither adds nor records; it says what MPD said and waits for the next
    // event (--once: exit 1). It was said as "stopped" (hostile pass 18, H18P-2).
    view.no_current_is_fault = true;
    view.no_current_reason = "MPD at " + address_.text() + ": its status " +
                             (state_word ? "has the state '" + terminal_text(*state_word) + "'"
                                         : std::string("has no state")) +
                             ", not play, pause or stop: the radio cannot tell whether a song plays";
    return view;
  }
  const bool playing = state == MPD_STATE_PLAY || state == MPD_STATE_PAUSE;
  if (playing && current >= 0 && static_cast<size_t>(current) < uris.size()) {
    view.current_uri = uris[static_cast<size_t>(current)];
    view.upcoming_uris.assign(uris.begin() + current + 1, uris.end());
    view.played_uris.assign(uris.begin(), uris.begin() + current);
    view.playing = state == MPD_STATE_PLAY;
    view.current_entry_id = entry_id;
    view.elapsed_s = elapsed_s;
    view.duration_s = duration_s;
  } else if (!playing) {
    view.no_current_reason = "MPD at " + address_.text() + (uris.empty() ? ": the queue is empty" : " is stopped");
  } else {
    // MPD's status names no song of the queue (a song number out of range or missing, or a
    // queue entry without a file): the server is in a state the radio cannot continue from.
    view.no_current_is_fault = true;
    view.no_current_reason = "MPD at " + address_.text() + (state == MPD_STATE_PAUSE ? " is paused" : " plays") +
                             ", but its status names " +
                             (current < 0 ? std::string("no current song") : "song number " + std::to_string(current)) +
                             " of a queue of " + std::to_string(uris.size()) + " song(s) with a file";
  }
  return view;
}

std::optional<std::string> MpdClient::music_directory() {
  // MPD answers `config` only over a local socket (to other clients: a permission error).
  if (!mpd_send_command(conn_, "config", nullptr)) fail("cannot ask for the configuration");
  std::optional<std::string> dir;
  BoundedAnswer answer(conn_, "`config`", address_.text(), kShortAnswer);
  while (const mpd_pair* pair = answer.next())
    if (std::strcmp(pair->name, "music_directory") == 0) dir = pair->value;
  if (!mpd_response_finish(conn_)) {
    if (mpd_connection_get_error(conn_) != MPD_ERROR_SERVER) fail("cannot read the configuration");
    mpd_connection_clear_error(conn_);
    return std::nullopt;
  }
  if (dir && dir->empty()) dir.reset();
  return dir;
}

void MpdClient::add(const std::string& uri) {
  // Every argument is checked before it reaches the wire (issue 53 H1): MPD reads one command per
  // line, so a line break in a file name would run the rest of the name as commands ("kill").
  if (!service::line_protocol_safe(uri))
    throw MpdRefused("not sent to MPD at " + address_.text() + ": '" + terminal_text(uri) + "' holds " +
                     service::line_protocol_problem(uri) + " (shown as '?'), which MPD's protocol cannot carry");
  bool added = mpd_send_add(conn_, uri.c_str());
  if (added) {
    skip_answer(conn_, "`add`", address_.text());
    added = mpd_response_finish(conn_);
  }
  if (!added) {
    // A refusal (no such song in MPD's database) leaves the connection usable: the message says
    // which song; a lost connection throws as every other failure.
    if (mpd_connection_get_error(conn_) == MPD_ERROR_SERVER) {
      const std::string reason = mpd_connection_get_error_message(conn_);
      mpd_connection_clear_error(conn_);
      throw MpdRefused("MPD at " + address_.text() + " refused to add '" + terminal_text(uri) + "': " + reason +
                       " (is MPD's database up to date with the music folder?)");
    }
    fail("cannot add '" + terminal_text(uri) + "'");
  }
}

MpdClient::Wake MpdClient::wait_for_change(int signal_fd) {
  if (!mpd_send_idle_mask(conn_, static_cast<mpd_idle>(MPD_IDLE_QUEUE | MPD_IDLE_PLAYER))) fail("cannot wait for events");
  pollfd fds[2] = {{mpd_connection_get_fd(conn_), POLLIN, 0}, {signal_fd, POLLIN, 0}};
  for (;;) {
    const int n = poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw MpdError(std::string("waiting for MPD: poll: ") + std::strerror(errno));
    break;
  }
  if (fds[1].revents & POLLIN) {
    // Leave idle mode politely (MPD answers the pending idle), so the connection closes clean.
    if (mpd_send_noidle(conn_)) {
      try {
        skip_answer(conn_, "`noidle`", address_.text());
      } catch (const MpdError&) {
        // Stopping anyway: a server that does not end its answer is left as it is.
      }
    }
    return Wake::Signal;
  }
  // The answer names what changed ("changed: playlist"); which of the two does not matter here.
  skip_answer(conn_, "`idle`", address_.text());
  if (!mpd_response_finish(conn_)) fail("the connection was lost while waiting for events");
  return Wake::QueueOrPlayer;
}

}  // namespace clap::cli

#include "cli/mpd_client.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "cli/common.h"

namespace clap::cli {

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
// A generous bound for one read or write: MPD answers in milliseconds; a server silent this long
// is stuck, and the radio says so instead of hanging.
constexpr std::chrono::milliseconds kTimeout{30000};

// A number MPD sent ("song: 3"), or `otherwise` when the value is not one in range.
int64_t integer_or(std::string_view value, int64_t otherwise, int64_t max = INT32_MAX) {
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  return ec == std::errc() && end == value.data() + value.size() && n <= max ? n : otherwise;
}
}  // namespace

MpdClient::MpdClient(const MpdAddress& address, const std::string& password) : address_(address) {
  // Checked before connecting: a line break would end the password command and send the rest
  // of it as a command of its own (arguments are quoted, but a quote does not span lines).
  if (!service::line_protocol_safe(password))
    throw InvalidArgument("MPD's password holds " + service::line_protocol_problem(password) + ": it is not sent to MPD at " + address.text() +
                          " (check --password-file or $MPD_PASSWORD)");
  link_ = std::make_unique<MpdLink>(address, kTimeout);
  if (!password.empty()) {
    link_->send("password", {password});
    const AnswerEnd end = link_->skip_answer("`password`");
    if (end.refused) throw MpdError("MPD at " + address_.text() + ": the password was refused: " + terminal_text(end.message));
  }
}

MpdClient::~MpdClient() = default;

service::QueueView MpdClient::queue() {
  // The status and the queue in one command list, so the current position and the songs
  // around it come from the same moment.
  link_->send_lines({"command_list_ok_begin", "status", "playlistinfo", "command_list_end"});
  std::optional<std::string> state_word;  // as MPD said it, for a state the radio does not know
  int64_t current = -1, entry_id = -1;
  std::optional<double> elapsed;                // "elapsed: 12.345"
  int64_t time_elapsed = 0, time_total = 0;     // "time: 12:240" (whole seconds)
  std::vector<std::string> uris;                // only the songs' files: each song begins with one
  const AnswerEnd end = link_->read_answer(
      {{"`status`", kShortAnswer}, {"`playlistinfo` (the queue)", kQueueAnswer}},
      [&](size_t part, std::string_view name, std::string_view value) {
        if (part == 1) {
          if (name == "file") uris.emplace_back(value);
        } else if (name == "state") {
          state_word = std::string(value);
        } else if (name == "song") {
          current = integer_or(value, -1);
        } else if (name == "songid") {
          entry_id = integer_or(value, -1);
        } else if (name == "elapsed") {
          double x = 0;
          const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), x);
          if (ec == std::errc() && p == value.data() + value.size() && x >= 0 && x < 1e9) elapsed = x;
        } else if (name == "time") {
          const size_t colon = value.find(':');
          time_elapsed = std::max<int64_t>(0, integer_or(value.substr(0, colon), 0));
          time_total = colon == std::string_view::npos ? 0 : std::max<int64_t>(0, integer_or(value.substr(colon + 1), 0));
        }
      });
  if (end.refused)
    throw MpdError("MPD at " + address_.text() + ": cannot read the player's status: " + terminal_text(end.message));
  const bool known = state_word == "play" || state_word == "pause" || state_word == "stop";

  service::QueueView view;
  if (!known) {
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
  const bool playing = state_word != "stop";
  if (playing && current >= 0 && static_cast<size_t>(current) < uris.size()) {
    view.current_uri = uris[static_cast<size_t>(current)];
    view.upcoming_uris.assign(uris.begin() + current + 1, uris.end());
    view.played_uris.assign(uris.begin(), uris.begin() + current);
    view.playing = state_word == "play";
    view.current_entry_id = entry_id;
    // Milliseconds, as MPD's status is read by its clients.
    view.elapsed_s = static_cast<double>(elapsed ? static_cast<int64_t>(*elapsed * 1000) : time_elapsed * 1000) / 1000.0;
    view.duration_s = static_cast<double>(time_total);
  } else if (!playing) {
    view.no_current_reason = "MPD at " + address_.text() + (uris.empty() ? ": the queue is empty" : " is stopped");
  } else {
    // MPD's status names no song of the queue (a song number out of range or missing, or a
    // queue entry without a file): the server is in a state the radio cannot continue from.
    view.no_current_is_fault = true;
    view.no_current_reason = "MPD at " + address_.text() + (state_word == "pause" ? " is paused" : " plays") +
                             ", but its status names " +
                             (current < 0 ? std::string("no current song") : "song number " + std::to_string(current)) +
                             " of a queue of " + std::to_string(uris.size()) + " song(s) with a file";
  }
  return view;
}

std::optional<std::string> MpdClient::music_directory() {
  // MPD answers `config` only over a local socket (to other clients: a permission error).
  link_->send("config");
  std::optional<std::string> dir;
  const AnswerEnd end = link_->read_answer({{"`config`", kShortAnswer}}, [&](size_t, std::string_view name, std::string_view value) {
    if (name == "music_directory") dir = std::string(value);
  });
  if (end.refused || (dir && dir->empty())) return std::nullopt;
  return dir;
}

void MpdClient::add(const std::string& uri) {
  // Every argument is checked before it reaches the wire (issue 53 H1): MPD reads one command per
  // line, so a line break in a file name would run the rest of the name as commands ("kill").
  if (!service::line_protocol_safe(uri))
    throw MpdRefused("not sent to MPD at " + address_.text() + ": '" + terminal_text(uri) + "' holds " +
                     service::line_protocol_problem(uri) + " (shown as '?'), which MPD's protocol cannot carry");
  link_->send("add", {uri});
  // A refusal (no such song in MPD's database) leaves the connection usable: the message says
  // which song; a lost connection throws MpdError as every other failure.
  if (const AnswerEnd end = link_->skip_answer("`add`"); end.refused)
    throw MpdRefused("MPD at " + address_.text() + " refused to add '" + terminal_text(uri) + "': " + terminal_text(end.message) +
                     " (is MPD's database up to date with the music folder?)");
}

MpdClient::Wake MpdClient::wait_for_change(int signal_fd) {
  link_->send("idle", {"playlist", "player"});  // the queue ("playlist" in MPD's words) and the player
  if (!link_->wait_readable(signal_fd)) {
    // Leave idle mode politely (MPD answers the pending idle), so the connection closes clean.
    try {
      link_->send("noidle");
      link_->skip_answer("`noidle`");
    } catch (const MpdError&) {
      // Stopping anyway: a server that does not end its answer is left as it is.
    }
    return Wake::Signal;
  }
  // The answer names what changed ("changed: playlist"); which of the two does not matter here.
  if (const AnswerEnd end = link_->skip_answer("`idle`"); end.refused)
    throw MpdError("MPD at " + address_.text() + ": it refused to wait for events: " + terminal_text(end.message));
  return Wake::QueueOrPlayer;
}

}  // namespace clap::cli

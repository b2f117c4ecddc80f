// A small MPD client: what `clapsearch radio` needs of the protocol (connect, password, the queue
// around the current song, append, wait for queue/player events), over MpdLink (mpd_protocol.h:
// MPD's line protocol read byte by byte). Every failure throws MpdError naming the server and
// MPD's reason.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/mpd_protocol.h"
#include "core/error.h"
#include "service/radio.h"

namespace clap::cli {

// MPD answered with an error (a song not in its database): the connection is still usable.
class MpdRefused : public Error {
 public:
  using Error::Error;
};

// Throws clap::InvalidArgument on a port that is not a number in 1..65535.
MpdAddress parse_mpd_address(const std::string& text);

class MpdClient {
 public:
  // Connects (and sends the password when not empty). Throws MpdError; InvalidArgument, before
  // connecting, when the password holds a line break or NUL (service::line_protocol_safe).
  MpdClient(const MpdAddress& address, const std::string& password);
  ~MpdClient();
  MpdClient(const MpdClient&) = delete;
  MpdClient& operator=(const MpdClient&) = delete;

  // The current song and the songs after it (service/radio.h).
  service::QueueView queue();
  // MPD's music_directory (the `config` command), which MPD tells only over a local socket;
  // nullopt when it does not tell it (TCP) or has none.
  std::optional<std::string> music_directory();
  // Appends a song by URI (`add`). Throws MpdRefused when MPD does not know the URI, and
  // without sending anything when the URI holds a line break or NUL.
  void add(const std::string& uri);

  // Why wait_for_change returned.
  enum class Wake { QueueOrPlayer, Signal };
  // Blocks in MPD's idle mode (queue and player events) until an event or until `signal_fd` is
  // readable (Ctrl-C / SIGTERM arrived). No polling: the process sleeps in poll(2).
  Wake wait_for_change(int signal_fd);

 private:
  MpdAddress address_;
  std::unique_ptr<MpdLink> link_;
};

}  // namespace clap::cli

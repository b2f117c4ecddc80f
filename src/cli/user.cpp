// clapsearch user: the users of the Subsonic API (`serve` answers /rest/ once one exists) - add,
// remove, list, set a password, make an API key. Passwords come from standard input or a file,
// never from the command line (where `ps` and the shell's history would show them).
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/secret_file.h"
#include "core/utc_time.h"
#include "service/accounts.h"

namespace clap::cli {
namespace {

struct UserOptions {
  std::string db, name, password_file, label;
  bool admin = false, json = false, new_key = false;
  int64_t key_id = 0;
};

// One line without its line end (LF or CR LF); false at the end of input before any character.
bool read_line(FILE* in, std::string& line) {
  line.clear();
  int c = 0;
  bool any = false;
  while ((c = std::fgetc(in)) != EOF) {
    any = true;
    if (c == '\n') break;
    line += static_cast<char>(c);
    // A line that long is not a password (service::kMaxPasswordBytes): stop reading, let the check say so.
    if (line.size() > 4 * service::kMaxPasswordBytes) break;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return any;
}

// Echo off on the terminal while the password is typed; restored however this ends.
class NoEcho {
 public:
  explicit NoEcho(int fd) : fd_(fd) {
    if (tcgetattr(fd_, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    active_ = tcsetattr(fd_, TCSAFLUSH, &quiet) == 0;
  }
  ~NoEcho() {
    if (active_) tcsetattr(fd_, TCSAFLUSH, &saved_);
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

// The password: the first line of --password-file, else of standard input (asked for, without
// echo and twice when `confirm`, when standard input is a terminal).
std::string read_password(const UserOptions& o, bool confirm) {
  std::string password;
  if (!o.password_file.empty() && o.password_file != "-") {  // "-": standard input, as every list file takes it
    // A regular file, or a pipe: `--password-file <(pass show music)` (core/secret_file.h).
    password = read_secret_line(o.password_file, "password file", 4 * service::kMaxPasswordBytes);
    if (password.empty()) throw Error(empty_secret_message(o.password_file, "password file"));
    return password;
  }
  if (isatty(STDIN_FILENO) != 1) {
    // A pipe or file: read as a secret's file is, within its deadline (a pipe whose writer never
    // writes was waited for for ever: hostile pass 14, H14C-1).
    password = read_secret_line("-", "password", 4 * service::kMaxPasswordBytes);
    if (password.empty()) throw Error("no password on standard input (give it as one line, or use --password-file FILE)");
    return password;
  }
  NoEcho quiet(STDIN_FILENO);
  std::fprintf(stderr, "Password for %s: ", terminal_text(o.name).c_str());
  std::fflush(stderr);
  if (!read_line(stdin, password) || password.empty()) throw Error("no password given");
  if (confirm) {
    std::string again;
    std::fprintf(stderr, "The same password again: ");
    std::fflush(stderr);
    read_line(stdin, again);
    if (again != password) throw Error("the two passwords differ; nothing was changed");
  }
  return password;
}


void print_new_key_note() {
  std::fprintf(stderr,
               "made a new password key file; every other user's password was cleared: set each again with "
               "`clapsearch user passwd NAME` (their API keys keep working)\n");
}

int run_add(const UserOptions& o) {
  service::check_user_name(o.name);  // before asking for a password that would then be refused
  const std::string password = read_password(o, true);
  service::add_user(o.db, o.name, password, o.admin, o.new_key);
  std::fprintf(stderr, "added user %s%s\n", terminal_text(o.name).c_str(), o.admin ? " (admin)" : "");
  if (o.new_key) print_new_key_note();
  return 0;
}

int run_remove(const UserOptions& o) {
  // The name as stored, not as typed: `user remove CAFE` removes café and says so.
  const std::string removed = service::remove_user(o.db, o.name);
  std::fprintf(stderr, "removed user %s with their API keys, stars, ratings, plays and playlists\n",
               terminal_text(removed).c_str());
  return 0;
}

int run_passwd(const UserOptions& o) {
  const std::string password = read_password(o, true);
  const std::string changed = service::set_user_password(o.db, o.name, password, o.new_key);
  std::fprintf(stderr, "changed the password of %s\n", terminal_text(changed).c_str());
  if (o.new_key) print_new_key_note();
  return 0;
}

int run_key(const UserOptions& o) {
  const service::NewApiKey made = service::new_user_api_key(o.db, o.name, o.label);
  std::printf("%s\n", made.key.c_str());
  std::fprintf(stderr, "a new API key for %s (shown this once; only its hash is kept)\n", terminal_text(made.user).c_str());
  return 0;
}

int run_keys(const UserOptions& o) {
  const service::UserApiKeys listed = service::user_api_keys(o.db, o.name);
  const std::vector<store::ApiKeyRecord>& keys = listed.keys;
  if (o.json) {
    ojson j = ojson::array();
    for (const store::ApiKeyRecord& k : keys) {
      ojson one;
      one["id"] = k.id;
      one["label"] = k.label;
      one["created"] = utc_date_time(k.created_at);
      j.push_back(one);
    }
    print_json(j);
    return 0;
  }
  if (keys.empty()) {
    std::printf("%s has no API key (`clapsearch user key %s` makes one)\n", terminal_text(listed.user).c_str(),
                terminal_text(listed.user).c_str());
    return 0;
  }
  Table table({"id", "label", "created"}, {true, false, false});
  for (const store::ApiKeyRecord& k : keys) table.add({std::to_string(k.id), k.label, utc_date_time(k.created_at)});
  table.print(stdout);
  return 0;
}

int run_revoke(const UserOptions& o) {
  const std::string owner = service::revoke_user_api_key(o.db, o.name, o.key_id);
  std::fprintf(stderr, "revoked API key %lld of %s: apps using it are refused from now on\n",
               static_cast<long long>(o.key_id), terminal_text(owner).c_str());
  return 0;
}

int run_list(const UserOptions& o) {
  const std::vector<service::Account> users = service::list_users(o.db);
  if (o.json) {
    ojson j = ojson::array();
    for (const service::Account& a : users) {
      ojson u;
      u["id"] = a.id;
      u["name"] = a.name;
      u["admin"] = a.admin;
      u["created"] = utc_date_time(a.created_at);
      u["api_keys"] = a.api_keys;
      j.push_back(u);
    }
    print_json(j);
    return 0;
  }
  if (users.empty()) {
    std::printf("no users (`clapsearch user add NAME` adds one; `serve` answers the Subsonic API once one exists)\n");
    return 0;
  }
  Table table({"id", "name", "admin", "created", "API keys"}, {true, false, false, false, true});
  for (const service::Account& a : users)
    table.add({std::to_string(a.id), a.name, a.admin ? "yes" : "", utc_date_time(a.created_at), std::to_string(a.api_keys)});
  table.print(stdout);
  return 0;
}

void add_new_key(CLI::App* cmd, UserOptions& o) {
  cmd->add_flag("--new-key", o.new_key,
                "Make a new password key file when the old one is lost (the old file, if any, is kept as "
                "<key>.replaced-<time>): every other user's password is cleared and must be set again");
}

void add_db(CLI::App* cmd, UserOptions& o) {
  cmd->add_option("--db", o.db, "Index database (default: $CLAPSEARCH_DB, else $XDG_DATA_HOME/clapsearch/library.db)");
}

void add_name(CLI::App* cmd, UserOptions& o) { cmd->add_option("NAME", o.name, "The user's name")->required(); }

void add_password_file(CLI::App* cmd, UserOptions& o) {
  cmd->add_option("--password-file", o.password_file,
                  "Read the password from the first line of FILE (default: standard input, asked for without echo on a "
                  "terminal)");
}

}  // namespace

void add_user_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<UserOptions>();
  CLI::App* cmd = app.add_subcommand("user", "The users of the Subsonic API (/rest/): add, remove, list, passwords, API keys");
  cmd->require_subcommand(1);
  cmd->footer(
      "`clapsearch serve` answers the Subsonic API under /rest/ once the index has a user. Passwords are read\n"
      "from standard input (one line) or --password-file, never from the command line, and stored encrypted\n"
      "(AES-256-GCM) with the key file beside the index (<db>.key, beside the file a linked --db leads to, mode\n"
      "0600, made on first use; a PostgreSQL\n"
      "index's is under $XDG_DATA_HOME/clapsearch/keys/, named after a key id the database records, so every\n"
      "spelling of its URL finds it): keep it with the index's backups. Without it no\n"
      "stored password can be read: add and passwd refuse to make a new key while other users' passwords are\n"
      "sealed with the old one (restore the file, or pass --new-key and set every password again). API keys\n"
      "are stored as hashes and shown once.");

  CLI::App* add = cmd->add_subcommand("add", "Add a user (the password from standard input or --password-file)");
  add_name(add, *o);
  add->add_flag("--admin", o->admin, "The user is an administrator (Subsonic's adminRole)");
  add_password_file(add, *o);
  add_new_key(add, *o);
  add_db(add, *o);
  add->callback([o, &action] { action = [o] { return run_add(*o); }; });

  CLI::App* remove = cmd->add_subcommand("remove", "Remove a user with their API keys, stars, ratings, plays and playlists");
  add_name(remove, *o);
  add_db(remove, *o);
  remove->callback([o, &action] { action = [o] { return run_remove(*o); }; });

  CLI::App* list = cmd->add_subcommand("list", "List the users");
  list->add_flag("--json", o->json, "One JSON array: [{id, name, admin, created, api_keys}]");
  add_db(list, *o);
  list->callback([o, &action] { action = [o] { return run_list(*o); }; });

  CLI::App* passwd = cmd->add_subcommand("passwd", "Set a user's password (from standard input or --password-file)");
  add_name(passwd, *o);
  add_password_file(passwd, *o);
  add_new_key(passwd, *o);
  add_db(passwd, *o);
  passwd->callback([o, &action] { action = [o] { return run_passwd(*o); }; });

  CLI::App* key = cmd->add_subcommand("key", "Make a new API key for a user and print it (apiKey= of the Subsonic API)");
  add_name(key, *o);
  key->add_option("--label", o->label, "A note kept with the key (which app or device it is for)");
  add_db(key, *o);
  key->callback([o, &action] { action = [o] { return run_key(*o); }; });

  CLI::App* keys = cmd->add_subcommand("keys", "List a user's API keys (id, label, created; the keys themselves are not kept)");
  add_name(keys, *o);
  keys->add_flag("--json", o->json, "One JSON array: [{id, label, created}]");
  add_db(keys, *o);
  keys->callback([o, &action] { action = [o] { return run_keys(*o); }; });

  CLI::App* revoke = cmd->add_subcommand("revoke", "Revoke one of a user's API keys (by the id `user keys` lists)");
  add_name(revoke, *o);
  revoke->add_option("KEY_ID", o->key_id, "The key's id")->required()->check(positive());
  add_db(revoke, *o);
  revoke->callback([o, &action] { action = [o] { return run_revoke(*o); }; });
}

}  // namespace clap::cli

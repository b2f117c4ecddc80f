// The users of the Subsonic API (issue 54): adding, removing, listing them, their passwords and
// API keys, and finding who a request's credentials name.
//
// Passwords: the Subsonic token auth sends md5(password + salt), so the server must know each
// password in clear; it is therefore kept encrypted, never hashed and never in plain text:
// AES-256-GCM (core/crypto.h) under a random 32-byte key in a key file of its own, beside the
// index and outside it (a copy of the database alone reveals no password):
//   * a SQLite index: "<db file>.key" (library.db -> library.db.key), beside the file itself: an
//     index reached through a symbolic link keeps its key beside the file the link leads to (a
//     key an older clapsearch put beside the link is adopted: find_key_file);
//   * a PostgreSQL index: $XDG_DATA_HOME/clapsearch/keys/postgres-db-<its database's key id, 32
//     hex>.key on the machine that runs `user add` or `serve` (copy it to every machine that serves
//     the same database). The id is recorded in the database (store/database_id.h), so every
//     spelling of the URL that reaches it finds the same file. Older versions named the file after
//     the URL as written (postgres-<sha256 of the URL without its password, 16 hex>.key): such a
//     file is adopted (find_key_file).
// The key file holds 64 hex digits; it is created on first use (a user added, a password set, while
// no other user has a password sealed with a key) with mode 0600 and never replaced silently (a
// missing or foreign key file while passwords are sealed is refused; `--new-key` replaces it and
// clears the other users' passwords), and refused with a clear error when it is not a regular file of
// this user with mode 0600 or narrower, or does not hold a key. Each encrypted password is bound to
// its user's name (the AEAD's associated data): a value copied to another user's row does not open.
//
// API keys: 32 random bytes as 64 hex digits, shown once; the index keeps their sha256 only.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "store/connection_state.h"
#include "store/store.h"

namespace clap::service {

inline constexpr size_t kMaxUserNameBytes = 64;
inline constexpr size_t kMaxPasswordBytes = 256;
inline constexpr size_t kMaxKeyLabelBytes = 200;

// Throw clap::Error with the reason: a name must be 1..64 bytes of UTF-8 without control
// characters and without spaces at either end; a password 1..256 bytes without NUL, CR or LF.
void check_user_name(const std::string& name);
void check_password(const std::string& password);
// An API key's label: at most 200 bytes of UTF-8 without control characters.
void check_key_label(const std::string& label);

// Where the key file of the index `store` at `location` (store::resolve_location form) is: see
// above; a PostgreSQL database that records no key id yet (made by an older clapsearch, and opened
// only read-only since) has it under the name an older clapsearch gave it, after its URL.
std::string key_file_path(const store::Store& store, const std::string& location);

// The key file to use: key_file_path when it is there. When it is not, a PostgreSQL index's key
// may be in a file of another name: one an older clapsearch named after this URL, or after another
// spelling of it (localhost for 127.0.0.1), or the file of an id the database no longer records.
// The file named after this URL is taken when no password is sealed yet or it opens one; any other
// key file of the folder only when it opens a stored password (AES-GCM authenticates: only the key
// a password was sealed with opens it). What is found is copied to key_file_path (create_key: a
// temporary file, then link(2); the file found is left where it was) and that is returned; without
// a key id, the file found itself. A SQLite index's key may be beside the path given (a link to the
// index, as older versions looked): taken as the URL's file is, copied beside the real file (left
// where it is when that folder cannot be written). Nothing found: key_file_path (load_key then says
// it is missing).
std::string find_key_file(const store::Store& store, const std::string& location);

// The key of an index's key file. `create`: made when absent (mode 0600; created atomically, so
// that two processes creating it at once agree on one key). Throws clap::Error naming the file and
// the reason (absent without `create`, not a regular file, a mode wider than 0600, another owner,
// not a key).
std::string load_key(const std::string& key_file, bool create);

// A password as the index stores it for user `name` ("v1:" + hex of nonce, ciphertext and tag)
// and back; decrypt throws clap::Error when the key or the name does not match.
std::string encrypt_password(const std::string& key, const std::string& name, const std::string& password);
std::string decrypt_password(const std::string& key, const std::string& name, const std::string& stored);

struct Account {
  int64_t id = 0;
  std::string name;
  bool admin = false;
  int64_t created_at = 0;
  int64_t api_keys = 0;
};

class Accounts {
 public:
  // `location`: where `store` is (store::resolve_location of the command's --db): the key file's place.
  Accounts(store::Store& store, std::string location);

  // Throw clap::Error with the reason (a bad name or password, a name taken, no such user).
  // `new_key`: make a new key file (the old one kept beside it as <key>.replaced-<time>) and
  // clear every other user's password, which the new key cannot open; without it, a key file
  // that is missing or does not open the other users' passwords is refused (a lost key is never
  // silently replaced).
  int64_t add(const std::string& name, const std::string& password, bool admin, bool new_key = false);
  void remove(const std::string& name);
  std::vector<Account> list() const;  // by name
  void set_password(const std::string& name, const std::string& password, bool new_key = false);
  // A new API key for `name` (returned once; only its hash is stored).
  std::string new_api_key(const std::string& name, const std::string& label = "");
  // The user's API keys (id, label, created; never the key), and revoking one by id.
  std::vector<store::ApiKeyRecord> api_keys(const std::string& name) const;
  void revoke_api_key(const std::string& name, int64_t key_id);

  // Who a credential names (std::nullopt: nobody). find_by_key refuses nothing: an unknown or
  // malformed key is nullopt.
  std::optional<store::UserRecord> find_by_key(const std::string& api_key) const;
  // By name: the exact name, else the one name that looks alike (user_name_key).
  std::optional<store::UserRecord> find(const std::string& name) const;
  // The name as stored of the user `name` finds (CAFE: "café"); throws clap::Error naming it when
  // no user has it.
  std::string stored_name(const std::string& name) const;
  // The user's password in clear (for token auth); throws clap::Error when it does not decrypt.
  std::string password_of(const store::UserRecord& user) const;

 private:
  const std::string& key(bool create) const;
  std::optional<store::UserRecord> lookup(const std::string& name) const;
  // The key to seal `name`'s new password with (add, set_password; `new_key` as they take it).
  const std::string& sealing_key(const std::string& name, bool new_key);
  std::vector<store::UserRecord> sealed_passwords_except(const std::string& name) const;
  store::UserRecord existing(const std::string& name) const;
  // find_key_file, on first use (listing the users needs no key).
  const std::string& key_file() const;
  store::Store& store_;
  std::string location_;
  mutable std::string key_file_;
  mutable std::string key_;  // loaded on first use
};

// The accounts of a long-running server (the Subsonic API): one store connection for the index at
// `location`, opened on first use (read-write when it can be, else read-only) and used under a
// lock; a call that throws closes it (after a PostgreSQL restart the connection is dead) and the
// next call opens it again. Users added by `clapsearch user` in another process are seen at once.
struct PlaySums;  // service/user_data.cpp

// A user by name as everything names one (sign-in, `clapsearch user`, --user of the history
// commands, ?user= of the API): the exact name, else the one name that looks alike (user_name_key).
std::optional<store::UserRecord> find_user(const store::Store& store, const std::string& name);
// What makes two user names one: case (Latin, Greek, Cyrillic), accents, width and Unicode form
// folded away. `user add` refuses a name whose key an existing user has; the sign-in failure
// limit counts a key's spellings together.
std::string user_name_key(const std::string& name);

// The device and inode of the index file at `location`, or nullopt (a server URL, or no file there).
std::optional<std::pair<uint64_t, uint64_t>> index_file_id(const std::string& location);

class AccountsConnection {
 public:
  explicit AccountsConnection(std::string location) : location_(std::move(location)) {}
  // action(accounts, store) under the lock. A with() inside another's action on the same thread
  // (a route's several reads and writes gathered into one call) runs on the outer call's open
  // connection, without taking the lock again or checking the file: the outer call checks once
  // before and once after, so that what its inner calls read and wrote is all of one file. Made
  // one by one, a copy moved over between a createPlaylist's write and its read-back answered
  // "playlist not found" for a playlist written to the file just replaced (hostile pass 19,
  // R17S-3), and each call stat()ed the index twice (getSong: 18 stats).
  template <class Action>
  auto with(const Action& action) -> decltype(action(std::declval<Accounts&>(), std::declval<store::Store&>())) {
    if (holder_.load() == std::this_thread::get_id()) return action(*accounts_, *store_);
    std::lock_guard lock(mutex_);
    const HeldBy held(holder_);
    try {
      if (store_ && replaced()) close_replaced();
      // A PostgreSQL restart ended the idle session: opened again below, not refused once as lost
      // ("the connection to the PostgreSQL server was lost": hostile pass 21, H21S-2).
      if (store_ && store::connection_closed(*store_)) {
        accounts_.reset();
        store_.reset();
      }
      if (!store_) {
        file_id_ = index_file_id(location_);  // before opening, as Library does
        try {
          store_ = store::open_store(location_, store::OpenMode::ReadWriteOrReadOnly);
        } catch (const std::exception&) {
          rethrow_open_failure();
        }
        accounts_ = std::make_unique<Accounts>(*store_, location_);
      }
      written_before_ = store::rows_written(*store_);
      if constexpr (std::is_void_v<decltype(action(*accounts_, *store_))>) {
        action(*accounts_, *store_);
        throw_if_replaced_during_the_call();
      } else {
        auto result = action(*accounts_, *store_);
        throw_if_replaced_during_the_call();
        return result;
      }
    } catch (...) {
      // An error under a replacement (SQLite's "attempt to write a readonly database", "playlist
      // not found" read back from the other file) is said as that replacement (R17S-3).
      const bool replaced_meanwhile = store_ && replaced();
      const bool wrote = replaced_meanwhile && wrote_during_the_call();
      accounts_.reset();
      store_.reset();
      if (replaced_meanwhile) throw_replaced_during_the_call(wrote);
      throw;
    }
  }
  const std::string& location() const { return location_; }
  // Closes the connection when the index file was replaced (see replaced()), so that the new
  // file can be opened by this process (Library::close_if_replaced); the next call opens it.
  void close_if_replaced() {
    std::lock_guard lock(mutex_);
    if (store_ && replaced()) close_replaced();
  }
  // The library generation song references were last re-attached at (service/user_data.h); used
  // under with()'s lock.
  int64_t attached_generation = -1;
  // Each user's plays summed per track, kept between requests and brought up to date from the
  // newer plays (UserData::play_tally); used under with()'s lock.
  std::shared_ptr<PlaySums> play_sums;

 private:
  // Whether the index file was replaced since the connection opened it (deleted and made again,
  // or another moved over it): the connection still reads and writes the old file, so that the
  // server signed in the old file's users and wrote their stars and plays where nothing reads
  // them again, while /api/ served the new file (H12S-4). Then it is opened again (close_replaced,
  // which forgets what was kept of the old file), as Library::refresh has a reader do.
  bool replaced() const;
  void close_replaced();
  // A call the index file was replaced under (a restore moved over it while the call waited for
  // another writer's lock) read and wrote the replaced file: what it wrote is where nothing reads
  // it again, and it was answered ok (hostile pass 18, H18P-3). It is answered with the
  // replacement instead (IndexReplacedDuringCall), so that the client tries again (on the file
  // now at the name). A call that wrote nothing (its connection's count of rows written did not
  // move: a sign-in, getSong, getStarred2) is ModelChanged instead, which the server's dispatchers
  // answer by reopening the library and making the call again, on the file now at the name: the
  // client was told "try again" for a read (hostile passes 19 to 21, R17S-2).
  void throw_if_replaced_during_the_call();
  bool wrote_during_the_call() const;
  [[noreturn]] static void throw_replaced_during_the_call(bool wrote);
  // In the open's catch block: a file replaced while it was opened, or the old file still open
  // in this process (store::sql::ReplacedWhileOpening), ran nothing of the call; it is thrown as
  // ModelChanged, which the server's dispatchers answer by reopening the library (which closes
  // the old file) and making the call once more: before hostile pass 19 (R17S-2) the client was
  // answered "try again in a moment" (8 of 10,692 calls under a copy moved over every 0.3 s).
  // Any other error is rethrown as it was.
  [[noreturn]] static void rethrow_open_failure();
  // The thread in with() (set while it holds the lock): another with() on it is an inner call.
  struct HeldBy {
    explicit HeldBy(std::atomic<std::thread::id>& holder) : holder_(holder) { holder_.store(std::this_thread::get_id()); }
    ~HeldBy() { holder_.store(std::thread::id()); }
    HeldBy(const HeldBy&) = delete;
    HeldBy& operator=(const HeldBy&) = delete;
    std::atomic<std::thread::id>& holder_;
  };
  std::string location_;
  std::mutex mutex_;
  std::atomic<std::thread::id> holder_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Accounts> accounts_;
  std::optional<std::pair<uint64_t, uint64_t>> file_id_;  // of the file store_ opened
  std::optional<int64_t> written_before_;  // store::rows_written as the outer call began
};

// The process's AccountsConnection of the index at `location` (store::resolve_location form),
// made on first use and kept for the life of the process.
AccountsConnection& accounts_connection(const std::string& location);

// What `clapsearch user` does, on the index at `db` (the command's --db; empty = the default
// library): each opens it (an index must be there; list only reads), does one thing, closes it.
// A name given finds the user as find_user does (CAFE finds café); what acts on an existing user
// returns the name as stored, for the command to say whom it changed (not the spelling typed).
int64_t add_user(const std::string& db, const std::string& name, const std::string& password, bool admin, bool new_key = false);
std::string remove_user(const std::string& db, const std::string& name);
std::vector<Account> list_users(const std::string& db);
std::string set_user_password(const std::string& db, const std::string& name, const std::string& password, bool new_key = false);
struct NewApiKey {
  std::string user;  // the name as stored
  std::string key;   // shown once
};
NewApiKey new_user_api_key(const std::string& db, const std::string& name, const std::string& label = "");
struct UserApiKeys {
  std::string user;  // the name as stored
  std::vector<store::ApiKeyRecord> keys;
};
UserApiKeys user_api_keys(const std::string& db, const std::string& name);
std::string revoke_user_api_key(const std::string& db, const std::string& name, int64_t key_id);

// Re-encrypts the passwords of `data` (read from the index `from_store` at `from`) for the index
// `to_store` at `to` (clapsearch migrate: each index has its own key file, which is made for `to`
// when needed). Reads no key when no password is sealed (all cleared by a new key).
void rekey_passwords(store::UserDataCopy& data, const store::Store& from_store, const std::string& from,
                     const store::Store& to_store, const std::string& to);

}  // namespace clap::service

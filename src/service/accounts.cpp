#include "service/accounts.h"
#include "service/index_replaced.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>

#include "core/utc_time.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/sha256.h"
#include "core/user_dirs.h"
#include "core/utf8.h"
#include "service/library.h"
#include "store/database_id.h"
#include "store/real_file.h"
#include "store/sqlite.h"
#include "service/confusable_names.h"
#include "service/song_resolver.h"

namespace clap::service {

namespace fs = std::filesystem;

namespace {

constexpr size_t kKeyBytes = 32;
constexpr const char* kPasswordFormat = "v1:";

std::string quoted(const std::string& name) {
  std::string out = "'";
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

// The code points of valid UTF-8 (checked before).
std::u32string utf32_of(const std::string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    char32_t v = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < n && i + static_cast<size_t>(k) < s.size(); ++k) v = (v << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(v);
    i += static_cast<size_t>(n);
  }
  return out;
}

std::string hex_code(char32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04X", static_cast<unsigned>(c));
  return buf;
}

bool is_unicode_space(char32_t c) {
  return c == 0x00A0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_invisible(char32_t c) {
  return c == 0x00AD || c == 0x034F || c == 0x061C || c == 0x115F || c == 0x1160 || c == 0x17B4 || c == 0x17B5 ||
         c == 0x180E || (c >= 0x2061 && c <= 0x2064) || c == 0x3164 || c == 0xFFA0;
}

bool from_hex(const std::string& hex, std::string& out) {
  if (hex.size() % 2) return false;
  out.clear();
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
  }
  return true;
}

std::string to_hex(const std::string& bytes) {
  return clap::to_hex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// The key in a key file already open: checked to be a regular file of this user, mode 0600 or
// narrower, holding 64 hex digits (and a newline).
std::string read_key(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) != 0) throw Error(path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(path + ": the password key file is not a regular file; remove it");
  if (st.st_uid != geteuid())
    throw Error(path + ": the password key file belongs to another user (uid " + std::to_string(st.st_uid) +
                "); it must be this user's");
  if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw Error(path + ": the password key file's mode is " + mode +
                ", which lets others read it; it must be 0600 (chmod 600 '" + path + "')");
  }
  char buf[130];
  ssize_t n = 0, got = 0;
  while ((n = read(fd, buf + got, sizeof buf - static_cast<size_t>(got))) > 0) got += n;
  if (n < 0) throw Error(path + ": " + std::strerror(errno));
  std::string text(buf, static_cast<size_t>(got));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::string key;
  if (text.size() != 2 * kKeyBytes || !from_hex(text, key))
    throw Error(path + ": not a password key file (it must hold 64 hex digits); restore it from a backup, or remove it "
                "and set every user's password again");
  return key;
}

// Writes a new key to `path` unless one is there. The key goes to a temporary file first (O_EXCL |
// O_NOFOLLOW, mode 0600) and is published by link(2), which never replaces a file: of two
// processes creating the key at once, one links and the other reads the winner's key.
// `key` (empty: a new random one) is what it writes; a key file of this index found under another
// name is adopted this way (find_key_file): the file it was found under stays where it was, and a
// process killed at any step leaves that file, a temporary one beside, or both names: never no key.
void create_key(const std::string& path, const std::string& key = "") {
  // The temporary name carries random digits, not only the pid: a file left by a process killed
  // with kill -9 whose pid came round again would otherwise stop every later attempt (O_EXCL).
  const std::string tmp = path + ".tmp." + std::to_string(getpid()) + "-" + to_hex(random_bytes(4));
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(tmp + ": cannot create the password key file: " + std::strerror(errno));
  const std::string text = to_hex(key.empty() ? random_bytes(kKeyBytes) : key) + "\n";
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  const int err = errno;
  close(fd);
  if (!written) {
    unlink(tmp.c_str());
    throw Error(tmp + ": cannot write the password key file: " + std::strerror(err));
  }
  const int linked = link(tmp.c_str(), path.c_str());
  const int link_err = errno;
  unlink(tmp.c_str());
  if (linked != 0 && link_err != EEXIST) throw Error(path + ": cannot create the password key file: " + std::strerror(link_err));
}

std::string password_context(const std::string& name) { return "clapsearch user password\n" + name; }

}  // namespace

void check_user_name(const std::string& name) {
  if (name.empty()) throw Error("a user name must not be empty");
  if (name.size() > kMaxUserNameBytes) {
    // Its first 20 bytes or fewer, never part of a character: the message stays UTF-8.
    size_t cut = 20;
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
    throw Error("user name " + quoted(name.substr(0, cut)) + "...: longer than " + std::to_string(kMaxUserNameBytes) +
                " bytes");
  }
  if (!is_valid_utf8(name)) throw Error("user name " + quoted(name) + ": not valid UTF-8");
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    // C0 controls, DEL, and the C1 controls U+0080..U+009F (UTF-8 C2 80..C2 9F).
    const bool c1 = c == 0xC2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7f || c1) throw Error("user name " + quoted(name) + ": holds a control character");
  }
  if (name.front() == ' ' || name.back() == ' ') throw Error("user name " + quoted(name) + ": begins or ends with a space");
  // Other spaces at either end (no-break, ideographic, the typographic ones) hide just as well.
  const std::u32string points = utf32_of(name);
  if (is_unicode_space(points.front()) || is_unicode_space(points.back()))
    throw Error("user name " + quoted(name) + ": begins or ends with a space (U+" + hex_code(is_unicode_space(points.front()) ? points.front() : points.back()) + ")");
  // Characters that show as nothing at all: the soft hyphen, the combining grapheme joiner, the
  // Hangul and Khmer fillers, the Mongolian vowel separator, the invisible operators.
  for (const char32_t c : points)
    if (is_invisible(c))
      throw Error("user name " + quoted(name) + ": holds an invisible character (U+" + hex_code(c) + ")");
  // Invisible characters and direction overrides make one name look like another in `user list`
  // and in an app: zero-width spaces and joiners (U+200B..U+200F), bidirectional embeddings,
  // overrides and isolates (U+202A..U+202E, U+2066..U+2069), the word joiner (U+2060) and the BOM (U+FEFF).
  for (size_t i = 0; i + 2 < name.size(); ++i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(name[i + k]); };
    const bool e2_80 = b(0) == 0xE2 && b(1) == 0x80 && ((b(2) >= 0x8B && b(2) <= 0x8F) || (b(2) >= 0xAA && b(2) <= 0xAE));
    const bool e2_81 = b(0) == 0xE2 && b(1) == 0x81 && (b(2) == 0xA0 || (b(2) >= 0xA6 && b(2) <= 0xA9));
    const bool bom = b(0) == 0xEF && b(1) == 0xBB && b(2) == 0xBF;
    if (e2_80 || e2_81 || bom)
      throw Error("user name " + quoted(name) + ": holds an invisible or direction-changing character (U+200B..U+200F, "
                  "U+202A..U+202E, U+2060, U+2066..U+2069 or U+FEFF)");
  }
}

// A key's label is shown by `user keys` and stored in both stores: bounded, valid UTF-8 (PostgreSQL
// refuses anything else), printable.
void check_key_label(const std::string& label) {
  if (label.size() > kMaxKeyLabelBytes)
    throw Error("the key's label is longer than " + std::to_string(kMaxKeyLabelBytes) + " bytes");
  if (!is_valid_utf8(label)) throw Error("the key's label " + quoted(label) + " is not valid UTF-8");
  for (const char ch : label) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) throw Error("the key's label holds a control character");
  }
}

void check_password(const std::string& password) {
  if (password.empty()) throw Error("the password must not be empty");
  if (password.size() > kMaxPasswordBytes)
    throw Error("the password is longer than " + std::to_string(kMaxPasswordBytes) + " bytes");
  if (password.find_first_of(std::string("\0\r\n", 3)) != std::string::npos)
    throw Error("the password holds a NUL, CR or LF character");
}

namespace {

std::string keys_dir() { return clapsearch_data_dir() + "/keys"; }

// The name older versions gave a PostgreSQL index's key file: after its URL as written.
std::string url_key_file(const std::string& location) {
  return keys_dir() + "/postgres-" + sha256_hex(store::display_location(location)).substr(0, 16) + ".key";
}

bool present(const std::string& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() != fs::file_type::not_found;
}

// The other PostgreSQL key files in `key_file`'s folder (by name), those of other databases too.
std::vector<std::string> other_key_files(const std::string& key_file) {
  const fs::path path(key_file);
  std::vector<std::string> others;
  std::error_code ec;
  for (fs::directory_iterator it(path.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("postgres-", 0) == 0 && it->path().extension() == ".key" && it->path() != path) others.push_back(it->path().string());
  }
  std::sort(others.begin(), others.end());
  return others;
}

// What the message of a missing PostgreSQL key file adds: where this database's key can be, and
// that the other key files there were tried (find_key_file) - before the ways out that give the
// passwords up (hostile pass 11, H11C-7). "" for a SQLite index's key file.
std::string missing_key_hint(const std::string& key_file) {
  const std::string name = fs::path(key_file).filename().string();
  if (name.rfind("postgres-", 0) != 0) return "";
  std::string hint =
      name.rfind("postgres-db-", 0) == 0
          ? " A PostgreSQL index's key file is named after the key id its database records, the same on every machine "
            "and under every spelling of its URL: copy this file from a machine that serves this database (cp -p; mode 0600)."
          : " This database records no key id yet (an older clapsearch made it, and it was opened only read-only since; "
            "the next command that opens it for writing records one), so its key file is looked for under the name an "
            "older clapsearch gave it, after its URL as written: copy it from a machine that serves this database (cp -p; "
            "mode 0600).";
  const std::vector<std::string> others = other_key_files(key_file);
  if (!others.empty()) {
    std::string list;
    for (size_t i = 0; i < others.size() && i < 5; ++i) list += (i ? ", " : "") + others[i];
    if (others.size() > 5) list += ", ...";
    hint += " The " + std::to_string(others.size()) + " other key file(s) there (" + list +
            ") do not open this database's stored passwords.";
  }
  return hint;
}

std::vector<store::UserRecord> sealed_passwords(const store::Store& store) {
  std::vector<store::UserRecord> out;
  for (store::UserRecord& u : store.users())
    if (!u.password_encrypted.empty()) out.push_back(std::move(u));
  return out;
}

// True when the key in `path` opens `sealed`'s password; false for anything that is not a usable
// key file (the reason is load_key's to give, should that file be the one named).
bool opens(const std::string& path, const store::UserRecord& sealed) {
  try {
    decrypt_password(load_key(path, false), sealed.name, sealed.password_encrypted);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

std::string key_file_path(const store::Store& store, const std::string& location) {
  if (!store::is_server_location(location)) return store::real_file(location) + ".key";  // beside the file, not a link to it
  if (const std::optional<std::string> id = store::password_key_id(store)) return keys_dir() + "/postgres-db-" + *id + ".key";
  return url_key_file(location);
}

std::string find_key_file(const store::Store& store, const std::string& location) {
  const std::string file = key_file_path(store, location);
  if (present(file)) return file;
  const std::vector<store::UserRecord> sealed = sealed_passwords(store);
  if (!store::is_server_location(location)) {
    // An older clapsearch put the key beside the path as given, a link's too: the file there is
    // this index's when it opens a stored password (or none is sealed), and is copied beside the
    // real file (create_key: the one beside the link stays). Where that folder cannot be written
    // (a read-only medium), it is used where it is.
    const std::string by_path = location + ".key";
    if (by_path == file || !present(by_path) || (!sealed.empty() && !opens(by_path, sealed.front()))) return file;
    try {
      create_key(file, load_key(by_path, false));
      return file;
    } catch (const Error&) {
      return by_path;
    }
  }
  std::string found;
  if (const std::string by_url = url_key_file(location);
      by_url != file && present(by_url) && (sealed.empty() || opens(by_url, sealed.front())))
    found = by_url;
  // Another spelling's file, or one of an id this database no longer records (a meta row deleted):
  // only a key that opens a password is this database's; with none sealed, a new key loses nothing.
  if (found.empty() && !sealed.empty())
    for (const std::string& other : other_key_files(file))
      if (opens(other, sealed.front())) {
        found = other;
        break;
      }
  if (found.empty()) return file;
  if (file == url_key_file(location)) return found;  // no id to name it after: used where it is
  const std::string key = load_key(found, false);
  try {
    create_key(file, key);
  } catch (const Error&) {
    // A keys folder this process cannot write (a read-only mount, a service's sandbox, a full
    // disk): the copy is left to a later command, and the key is used where it was found (it
    // opened a stored password, or none is sealed). Refusing here stopped every sign-in of an
    // upgraded installation whose key file was there all along (hostile pass 13, H13C-1).
    return present(file) ? file : found;
  }
  return file;
}

std::string load_key(const std::string& key_file, bool create) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int fd = open(key_file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      try {
        std::string key = read_key(fd, key_file);
        close(fd);
        return key;
      } catch (...) {
        close(fd);
        throw;
      }
    }
    if (errno == ELOOP) throw Error(key_file + ": the password key file is a symbolic link; it must be a regular file");
    if (errno != ENOENT) throw Error(key_file + ": " + std::strerror(errno));
    if (!create)
      throw Error(key_file + ": the password key file is missing, so no stored password can be read." + missing_key_hint(key_file) +
                  " Restore it from a backup, or set every user's password again (clapsearch user passwd NAME)");
    if (attempt == 0) {
      std::error_code ec;
      fs::create_directories(fs::path(key_file).parent_path(), ec);
      create_key(key_file);
    }
  }
  throw Error(key_file + ": cannot create the password key file");
}

std::string encrypt_password(const std::string& key, const std::string& name, const std::string& password) {
  return kPasswordFormat + to_hex(aes256gcm_seal(key, password, password_context(name)));
}

std::string decrypt_password(const std::string& key, const std::string& name, const std::string& stored) {
  if (stored.empty())
    throw Error("user " + quoted(name) + " has no password: it was cleared when a new password key was made (clapsearch user " +
                "passwd --new-key); set it again (clapsearch user passwd NAME), or use an API key");
  std::string sealed;
  if (stored.rfind(kPasswordFormat, 0) != 0 || !from_hex(stored.substr(std::strlen(kPasswordFormat)), sealed))
    throw Error("user " + quoted(name) + ": the stored password is not in a form this clapsearch knows");
  try {
    return aes256gcm_open(key, sealed, password_context(name));
  } catch (const Error& e) {
    throw Error("user " + quoted(name) + ": the stored password does not open with the key file (" + e.what() +
                "); was the key file replaced? Restore the original key file from a backup, or make a new key and set every "
                "user's password again (clapsearch user passwd NAME --new-key)");
  }
}

Accounts::Accounts(store::Store& store, std::string location) : store_(store), location_(std::move(location)) {}

const std::string& Accounts::key_file() const {
  if (key_file_.empty()) key_file_ = find_key_file(store_, location_);
  return key_file_;
}

const std::string& Accounts::key(bool create) const {
  if (key_.empty()) key_ = load_key(key_file(), create);
  return key_;
}

// Names that look alike are one name: folded as song names are (song_resolver.h fold_path: case
// in Latin, Greek and Cyrillic, accents, fullwidth forms, and the decomposed (NFD) spelling that
// macOS keyboards and SMB clients send), so "Café", "cafe" and an NFD "café" are one key.
std::string user_name_key(const std::string& name) { return fold_path(name); }

// A user is found by their exact name, else by the one name that looks alike (user_name_key):
// phones capitalise the first letter of a sign-in field ("Alice" for alice), and Navidrome, whose
// users these apps mostly know, matches names ignoring case. `add` refuses a second name of one
// key, so the match is unique; an older index holding both (alice and ALICE, or an NFC and an NFD
// café, which `user add` once let in side by side) matches exactly only.
std::optional<store::UserRecord> find_user(const store::Store& store, const std::string& name) {
  if (auto u = store.user(name)) return u;
  const std::string key = user_name_key(name);
  std::optional<store::UserRecord> found;
  for (const store::UserRecord& u : store.users()) {
    if (user_name_key(u.name) != key) continue;
    if (found) return std::nullopt;
    found = u;
  }
  return found;
}

std::optional<store::UserRecord> Accounts::lookup(const std::string& name) const { return find_user(store_, name); }

store::UserRecord Accounts::existing(const std::string& name) const {
  auto u = lookup(name);
  if (!u) throw Error("no user " + quoted(name) + " (clapsearch user list shows them)");
  return *u;
}

std::string Accounts::stored_name(const std::string& name) const { return existing(name).name; }

int64_t Accounts::add(const std::string& name, const std::string& password, bool admin, bool new_key) {
  check_user_name(name);
  check_password(password);
  if (store_.user(name)) throw Error("user " + quoted(name) + " already exists");
  const std::string key = user_name_key(name);
  const std::string skeleton = confusable_skeleton(key);
  for (const store::UserRecord& u : store_.users()) {
    const std::string other = user_name_key(u.name);
    if (other == key)
      throw Error("user " + quoted(u.name) + " already exists, and " + quoted(name) +
                  " looks like it (names that differ only in case, accents, width or Unicode form are one name: " +
                  "sign-in takes either spelling)");
    // Different letters that look the same (a Cyrillic "а" for a Latin "a", "rn" for "m"): two
    // accounts no app's list could tell apart. Refused when made; sign-in stays exact (R6-10).
    if (confusable_skeleton(other) == skeleton)
      throw Error("user " + quoted(u.name) + " already exists, and " + quoted(name) +
                  " is confusable with it (it looks the same, written with other characters: Unicode's " +
                  "confusables, UTS #39); choose a name that looks different");
  }
  store::UserRecord u;
  u.name = name;
  u.admin = admin;
  u.created_at = now_unix_seconds();
  u.password_encrypted = encrypt_password(sealing_key(name, new_key), name, password);
  return store_.add_user(u);
}

std::vector<store::UserRecord> Accounts::sealed_passwords_except(const std::string& name) const {
  std::vector<store::UserRecord> out;
  for (store::UserRecord& u : store_.users())
    if (u.name != name && !u.password_encrypted.empty()) out.push_back(std::move(u));
  return out;
}

const std::string& Accounts::sealing_key(const std::string& name, bool new_key) {
  const std::vector<store::UserRecord> others = sealed_passwords_except(name);
  std::string names;
  for (size_t i = 0; i < others.size() && i < 5; ++i) names += (i ? ", " : "") + quoted(others[i].name);
  if (others.size() > 5) names += ", ...";
  const std::string recover = "Restore the key file from a backup of the index (it must be the very file their passwords "
                              "were sealed with), or give those passwords up: `clapsearch user passwd " + name +
                              " --new-key` makes a new key, and every other user's password must then be set again "
                              "(clapsearch user passwd NAME; their API keys keep working)";
  const bool present = service::present(key_file());
  if (new_key) {
    // The old key file is kept beside the new one, never deleted: the passwords sealed with it
    // (cleared below) can be recovered from it and a copy of the index made before.
    if (present) {
      const std::string aside = key_file_ + ".replaced-" + std::to_string(now_unix_seconds());
      if (std::rename(key_file_.c_str(), aside.c_str()) != 0)
        throw Error(key_file_ + ": cannot move the old password key file aside to " + aside + ": " + std::strerror(errno));
    }
    key_.clear();
    key_ = load_key(key_file_, true);
    for (const store::UserRecord& u : others) store_.set_password(u.id, "");
    return key_;
  }
  if (key_.empty()) {
    // A missing key file with passwords sealed by it is a lost key, not a first use: making a
    // new one (as first use does) would seal this password with it and leave every other
    // user's unreadable, found only when their app fails to log in.
    if (!present && !others.empty())
      throw Error(key_file_ + ": the password key file is missing, but the passwords of " + std::to_string(others.size()) +
                  " other user(s) (" + names + ") were sealed with it; a new key would leave them unreadable, so nothing " +
                  "was changed." + missing_key_hint(key_file_) + " " + recover);
    key_ = load_key(key_file_, true);
  }
  // A key file that is there but is not the one the others' passwords were sealed with (replaced
  // by another index's, or regenerated by hand): the same loss, refused the same way.
  for (const store::UserRecord& u : others) {
    try {
      decrypt_password(key_, u.name, u.password_encrypted);
    } catch (const Error&) {
      throw Error(key_file_ + ": the password key file does not open the stored password of user " + quoted(u.name) +
                  ": it is not the key the other users' passwords were sealed with, so nothing was changed. " + recover);
    }
  }
  return key_;
}

void Accounts::remove(const std::string& name) {
  const store::UserRecord u = existing(name);
  store_.remove_user(u.id);
}

std::vector<Account> Accounts::list() const {
  std::vector<Account> out;
  for (const store::UserRecord& u : store_.users())
    out.push_back({u.id, u.name, u.admin, u.created_at, static_cast<int64_t>(store_.api_keys(u.id).size())});
  return out;
}

void Accounts::set_password(const std::string& name, const std::string& password, bool new_key) {
  check_password(password);
  const store::UserRecord u = existing(name);
  store_.set_password(u.id, encrypt_password(sealing_key(u.name, new_key), u.name, password));  // sealed to the stored spelling
}

std::string Accounts::new_api_key(const std::string& name, const std::string& label) {
  check_key_label(label);
  const store::UserRecord u = existing(name);
  const std::string api_key = to_hex(random_bytes(32));
  store::ApiKeyRecord k;
  k.user_id = u.id;
  k.key_hash = sha256_hex(api_key);
  k.label = label;
  k.created_at = now_unix_seconds();
  store_.add_api_key(k);
  return api_key;
}

std::vector<store::ApiKeyRecord> Accounts::api_keys(const std::string& name) const { return store_.api_keys(existing(name).id); }

void Accounts::revoke_api_key(const std::string& name, int64_t key_id) {
  if (!store_.remove_api_key(existing(name).id, key_id))
    throw Error("user " + quoted(name) + " has no API key " + std::to_string(key_id) + " (clapsearch user keys " + name +
                " lists them)");
}

std::optional<store::UserRecord> Accounts::find_by_key(const std::string& api_key) const {
  if (api_key.empty() || api_key.size() > 256) return std::nullopt;
  const auto k = store_.api_key(sha256_hex(api_key));
  if (!k) return std::nullopt;
  return store_.user_by_id(k->user_id);
}

std::optional<store::UserRecord> Accounts::find(const std::string& name) const {
  if (name.empty() || name.size() > kMaxUserNameBytes) return std::nullopt;
  return lookup(name);
}

std::string Accounts::password_of(const store::UserRecord& user) const {
  return decrypt_password(key(false), user.name, user.password_encrypted);
}

namespace {

template <class Do>
auto with_accounts(const std::string& db, store::OpenMode mode, const Do& action) {
  const std::string location = store::resolve_location(db);
  const std::unique_ptr<store::Store> s = store::open_store(location, mode);
  Accounts accounts(*s, location);
  return action(accounts);
}

}  // namespace

int64_t add_user(const std::string& db, const std::string& name, const std::string& password, bool admin, bool new_key) {
  return with_accounts(db, store::OpenMode::ReadWriteExisting, [&](Accounts& a) { return a.add(name, password, admin, new_key); });
}

std::string remove_user(const std::string& db, const std::string& name) {
  return with_accounts(db, store::OpenMode::ReadWriteExisting, [&](Accounts& a) {
    const std::string stored = a.stored_name(name);
    a.remove(name);
    return stored;
  });
}

std::vector<Account> list_users(const std::string& db) {
  return with_accounts(db, store::OpenMode::ReadOnly, [&](Accounts& a) { return a.list(); });
}

std::string set_user_password(const std::string& db, const std::string& name, const std::string& password, bool new_key) {
  return with_accounts(db, store::OpenMode::ReadWriteExisting, [&](Accounts& a) {
    a.set_password(name, password, new_key);
    return a.stored_name(name);
  });
}

NewApiKey new_user_api_key(const std::string& db, const std::string& name, const std::string& label) {
  return with_accounts(db, store::OpenMode::ReadWriteExisting, [&](Accounts& a) {
    std::string key = a.new_api_key(name, label);
    return NewApiKey{a.stored_name(name), std::move(key)};
  });
}

std::optional<std::pair<uint64_t, uint64_t>> index_file_id(const std::string& location) {
  struct stat st {};
  if (store::is_server_location(location) || ::stat(location.c_str(), &st) != 0) return std::nullopt;
  return std::make_pair(static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino));
}

// A file gone (deleted; being made again, or a restore by rm and cp) counts as replaced: the
// connection is closed and the next call is refused ("no index here") until a file is there. Kept
// open, it signed users in from the deleted file and wrote their stars and plays into it, answered
// ok and lost (hostile pass 18, R18S-1). The library's reads go on from the old file meanwhile
// (Library::refresh), as before.
bool AccountsConnection::replaced() const {
  if (!file_id_) return false;
  const auto now = index_file_id(location_);
  return !now || *now != *file_id_;
}

void AccountsConnection::throw_if_replaced_during_the_call() {
  if (!store_ || !replaced()) return;
  const bool wrote = wrote_during_the_call();
  close_replaced();
  throw_replaced_during_the_call(wrote);
}

// Unknown (a store that does not count) is taken as written: never made twice.
bool AccountsConnection::wrote_during_the_call() const {
  const std::optional<int64_t> now = store_ ? store::rows_written(*store_) : std::nullopt;
  return !now || !written_before_ || *now != *written_before_;
}

void AccountsConnection::throw_replaced_during_the_call(bool wrote) {
  if (!wrote)
    throw ModelChanged("the index file was replaced while a call that only read ran (a restore or a copy moved over it): "
                       "made again on the file now at the name");
  throw IndexReplacedDuringCall("the index file was replaced while this call ran (a restore or a copy moved over it): the call read and wrote "
              "the file that was replaced, and nothing it wrote is in the index now at the name; try again");
}

void AccountsConnection::rethrow_open_failure() {
  try {
    throw;
  } catch (const store::sql::ReplacedWhileOpening& e) {
    throw ModelChanged(e.what());
  }
}

void AccountsConnection::close_replaced() {
  accounts_.reset();
  store_.reset();
  attached_generation = -1;
  play_sums.reset();
}

AccountsConnection& accounts_connection(const std::string& location) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<AccountsConnection>> connections;
  std::lock_guard lock(mutex);
  auto& c = connections[location];
  if (!c) c = std::make_unique<AccountsConnection>(location);
  return *c;
}

UserApiKeys user_api_keys(const std::string& db, const std::string& name) {
  return with_accounts(db, store::OpenMode::ReadOnly, [&](Accounts& a) {
    auto keys = a.api_keys(name);
    return UserApiKeys{a.stored_name(name), std::move(keys)};
  });
}

std::string revoke_user_api_key(const std::string& db, const std::string& name, int64_t key_id) {
  return with_accounts(db, store::OpenMode::ReadWriteExisting, [&](Accounts& a) {
    a.revoke_api_key(name, key_id);
    return a.stored_name(name);
  });
}

void rekey_passwords(store::UserDataCopy& data, const store::Store& from_store, const std::string& from,
                     const store::Store& to_store, const std::string& to) {
  // No sealed password, no key to read: a lost key file (every password cleared by --new-key
  // since) does not stop the copy of the users.
  if (std::none_of(data.users.begin(), data.users.end(), [](const store::UserRecord& u) { return !u.password_encrypted.empty(); }))
    return;
  const std::string from_key = load_key(find_key_file(from_store, from), false);
  const std::string to_key = load_key(find_key_file(to_store, to), true);
  for (store::UserRecord& u : data.users)
    if (!u.password_encrypted.empty())  // cleared by a new key (user passwd --new-key): stays unset
      u.password_encrypted = encrypt_password(to_key, u.name, decrypt_password(from_key, u.name, u.password_encrypted));
}

}  // namespace clap::service

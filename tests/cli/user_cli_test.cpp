// `clapsearch user` as a real process (issue 54): users added, listed, their passwords set from
// standard input or a file (never the command line), API keys made, users removed; the password
// kept encrypted with the key file beside the index (mode 0600, refused when wider, a link or not
// a file; never in plain text in the database); what users keep surviving `index --rebuild`
// (which numbers the tracks again) attached to the same songs, and `migrate` to PostgreSQL and back.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/sha256.h"
#include "service/accounts.h"
#include "service/user_data.h"
#include "store/postgres.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return test::quoted(s); }

// An index with a model recorded and nothing else: what `user` needs (no audio to embed).
std::string empty_index(const std::string& dir) {
  fs::create_directories(dir);
  const std::string db = dir + "/library.db";
  auto s = store::open_store(db, store::OpenMode::ReadWrite);
  store::ModelIdentity m;
  m.id = "org/model";
  m.revision = "local";
  m.dim = 4;
  s->set_model(m);
  return db;
}

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// " < FILE" with `text` and a line end in FILE: standard input for the command (the tests' shell
// is sh, without here-strings).
std::string stdin_of(const std::string& text) {
  static int n = 0;
  const std::string path = test::temp_dir() + "/stdin" + std::to_string(n++);
  std::ofstream(path) << text << "\n";
  return " < " + q(path);
}

int run(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return test::run_cli(args, out, err);
}

TEST(UserCli, AddListPasswdKeyRemove) {
  const std::string dir = test::temp_dir();
  const std::string db = empty_index(dir);
  std::string out, err;
  // From standard input (one line), and from a file.
  ASSERT_EQ(run("user add alice --admin --db " + q(db) + stdin_of("first secret pw"), &out, &err), 0) << err;
  std::ofstream(dir + "/pw") << "bob's password\nignored second line\n";
  ASSERT_EQ(run("user add bob --password-file " + q(dir + "/pw") + " --db " + q(db), &out, &err), 0) << err;
  EXPECT_EQ(run("user add bob --db " + q(db) + stdin_of("other"), &out, &err), 1);
  EXPECT_NE(err.find("already exists"), std::string::npos) << err;

  ASSERT_EQ(run("user list --json --db " + q(db), &out, &err), 0) << err;
  const json list = json::parse(out);
  ASSERT_EQ(list.size(), 2u) << out;
  EXPECT_EQ(list[0]["name"], "alice");
  EXPECT_EQ(list[0]["admin"], true);
  EXPECT_EQ(list[1]["name"], "bob");
  EXPECT_EQ(list[1]["admin"], false);
  EXPECT_EQ(list[1]["api_keys"], 0);
  ASSERT_EQ(run("user list --db " + q(db), &out, &err), 0) << err;
  EXPECT_NE(out.find("alice"), std::string::npos) << out;

  // The passwords open with the key file, and are nowhere in the database in clear.
  {
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    service::Accounts accounts(*s, db);
    EXPECT_EQ(accounts.password_of(*s->user("alice")), "first secret pw");
    EXPECT_EQ(accounts.password_of(*s->user("bob")), "bob's password");
  }
  for (const char* suffix : {"", "-wal"}) {
    const std::string bytes = file_text(db + suffix);
    EXPECT_EQ(bytes.find("first secret pw"), std::string::npos) << suffix;
    EXPECT_EQ(bytes.find("bob's password"), std::string::npos) << suffix;
  }
  struct stat st {};
  ASSERT_EQ(stat((db + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ASSERT_EQ(run("user passwd alice --db " + q(db) + stdin_of("second pw"), &out, &err), 0) << err;
  {
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    EXPECT_EQ(service::Accounts(*s, db).password_of(*s->user("alice")), "second pw");
  }

  // An API key: printed once, found by the service, stored only as its hash.
  ASSERT_EQ(run("user key bob --label phone --db " + q(db), &out, &err), 0) << err;
  const std::string key = out.substr(0, out.find('\n'));
  ASSERT_EQ(key.size(), 64u) << out;
  {
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    service::Accounts accounts(*s, db);
    ASSERT_TRUE(accounts.find_by_key(key));
    EXPECT_EQ(accounts.find_by_key(key)->name, "bob");
    EXPECT_FALSE(accounts.find_by_key(key.substr(1)));
  }
  EXPECT_EQ(file_text(db).find(key), std::string::npos);
  // Keys are listed (never shown again) and revoked by id (the apiKeyAuthentication extension
  // requires both).
  ASSERT_EQ(run("user keys bob --json --db " + q(db), &out, &err), 0) << err;
  const json keys = json::parse(out);
  ASSERT_EQ(keys.size(), 1u) << out;
  EXPECT_EQ(keys[0]["label"], "phone");
  EXPECT_EQ(out.find(key), std::string::npos);
  EXPECT_EQ(run("user revoke bob 99 --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("no API key 99"), std::string::npos) << err;
  EXPECT_EQ(run("user revoke alice " + keys[0]["id"].dump() + " --db " + q(db), &out, &err), 1);  // not alice's
  ASSERT_EQ(run("user revoke bob " + keys[0]["id"].dump() + " --db " + q(db), &out, &err), 0) << err;
  {
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    EXPECT_FALSE(service::Accounts(*s, db).find_by_key(key));
  }
  ASSERT_EQ(run("user keys bob --db " + q(db), &out, &err), 0) << err;
  EXPECT_NE(out.find("no API key"), std::string::npos) << out;

  ASSERT_EQ(run("user remove bob --db " + q(db), &out, &err), 0) << err;
  ASSERT_EQ(run("user list --json --db " + q(db), &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out).size(), 1u);
  EXPECT_EQ(run("user remove bob --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("no user 'bob'"), std::string::npos) << err;
}

// Hostile pass 4 (R3, R4): "alice" and "ALICE" were two users, and sign-in was case-sensitive
// (phones capitalise a sign-in field's first letter); an API key's label took any length and
// control characters. A second spelling of a name is refused, a name is found in any ASCII case,
// and a label is bounded and printable.
TEST(UserCli, NamesIgnoreCaseAndKeyLabelsAreBounded) {
  const std::string dir = test::temp_dir();
  const std::string db = empty_index(dir);
  std::string out, err;
  ASSERT_EQ(run("user add alice --db " + q(db) + stdin_of("alice's pw"), &out, &err), 0) << err;
  EXPECT_EQ(run("user add ALICE --db " + q(db) + stdin_of("other"), &out, &err), 1);
  EXPECT_NE(err.find("user 'alice' already exists, and 'ALICE' looks like it (names that differ only in case"),
            std::string::npos)
      << err;
  ASSERT_EQ(run("user passwd Alice --db " + q(db) + stdin_of("new pw"), &out, &err), 0) << err;
  {
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    service::Accounts accounts(*s, db);
    ASSERT_TRUE(accounts.find("Alice"));
    EXPECT_EQ(accounts.find("Alice")->name, "alice");
    EXPECT_EQ(accounts.password_of(*accounts.find("ALICE")), "new pw");
    EXPECT_FALSE(accounts.find("alicia"));
  }
  EXPECT_EQ(run("user key alice --label " + q(std::string(201, 'l')) + " --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("longer than 200 bytes"), std::string::npos) << err;
  EXPECT_EQ(run("user key alice --label \"$(printf 'a\\033[2Jb')\" --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("control character"), std::string::npos) << err;
  EXPECT_EQ(run("user key alice --label \"$(printf '\\377')\" --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("not valid UTF-8"), std::string::npos) << err;
  ASSERT_EQ(run("user keys alice --json --db " + q(db), &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out).size(), 0u) << out;
  EXPECT_EQ(run("user revoke alice abc --db " + q(db), &out, &err), 2);
  EXPECT_NE(err.find("abc is not a number"), std::string::npos) << err;
}

// U6-1: beyond ASCII, names that look alike were two users: an NFC and an NFD "café" (a macOS
// keyboard's), "Éve" and "éve", fullwidth "Ａlice" beside "alice", each shown alike by
// `user list`, and sign-in with the other spelling failed. Names with an invisible character
// (U+034F, a Hangul filler) or another space at an end (U+3000) were let in.
TEST(UserCli, NamesThatLookAlikeAreOneName) {
  const std::string dir = test::temp_dir();
  const std::string db = empty_index(dir);
  std::string out, err;
  const std::string nfc = "caf\u00e9", nfd = "cafe\u0301";
  ASSERT_EQ(run("user add " + q(nfc) + " --db " + q(db) + stdin_of("pw one"), &out, &err), 0) << err;
  for (const std::string& alike : {nfd, std::string("CAF\u00c9"), std::string("Cafe")}) {
    EXPECT_EQ(run("user add " + q(alike) + " --db " + q(db) + stdin_of("pw two"), &out, &err), 1) << alike;
    EXPECT_NE(err.find("user '" + nfc + "' already exists, and '" + alike + "' looks like it"), std::string::npos) << err;
  }
  ASSERT_EQ(run("user add \u00c9ve --db " + q(db) + stdin_of("pw"), &out, &err), 0) << err;
  EXPECT_EQ(run("user add \u00e9ve --db " + q(db) + stdin_of("pw"), &out, &err), 1);
  ASSERT_EQ(run("user add alice --db " + q(db) + stdin_of("pw"), &out, &err), 0) << err;
  EXPECT_EQ(run("user add " + q("\uff21lice") + " --db " + q(db) + stdin_of("pw"), &out, &err), 1);  // fullwidth A
  ASSERT_EQ(run("user list --json --db " + q(db), &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out).size(), 3u) << out;
  {
    // Each spelling finds the one user (sign-in, --user, ?user=).
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    service::Accounts accounts(*s, db);
    for (const std::string& spelling : {nfc, nfd, std::string("CAF\u00c9")}) {
      ASSERT_TRUE(accounts.find(spelling)) << spelling;
      EXPECT_EQ(accounts.find(spelling)->name, nfc);
      EXPECT_EQ(accounts.password_of(*accounts.find(spelling)), "pw one");
    }
    EXPECT_EQ(accounts.find("\u00c9VE")->name, "\u00c9ve");
  }
  for (const std::string& name : {std::string("a\u034Fb"), std::string("x\u115F"), std::string("bob\u3000"), std::string("\u00A0bob"),
                                  std::string("so\u00ADft")}) {
    EXPECT_EQ(run("user add " + q(name) + " --db " + q(db) + stdin_of("pw"), &out, &err), 1) << name;
    EXPECT_NE(err.find("user name"), std::string::npos) << name << ": " << err;
  }
  // A name too long is shown cut at a character's start (20 bytes cut a 3-byte euro sign).
  std::string euros;
  for (int i = 0; i < 30; ++i) euros += "\u20ac";
  EXPECT_EQ(run("user add " + q(euros) + " --db " + q(db) + stdin_of("pw"), &out, &err), 1);
  EXPECT_NE(err.find("user name '" + euros.substr(0, 18) + "'...: longer than 64 bytes"), std::string::npos) << err;
}

// R6-8: a command given another spelling of a name acted on the stored user but said the typed
// spelling ("removed user CAFE" for café): each says the name as stored.
TEST(UserCli, CommandsSayTheStoredName) {
  const std::string dir = test::temp_dir();
  const std::string db = empty_index(dir);
  std::string out, err;
  const std::string nfc = "caf\u00e9";
  ASSERT_EQ(run("user add " + q(nfc) + " --db " + q(db) + stdin_of("pw one"), &out, &err), 0) << err;
  ASSERT_EQ(run("user passwd CAFE --db " + q(db) + stdin_of("pw two"), &out, &err), 0) << err;
  EXPECT_NE(err.find("changed the password of " + nfc + "\n"), std::string::npos) << err;
  ASSERT_EQ(run("user keys CAFE --db " + q(db), &out, &err), 0) << err;
  EXPECT_NE(out.find(nfc + " has no API key (`clapsearch user key " + nfc + "` makes one)"), std::string::npos) << out;
  ASSERT_EQ(run("user key CAFE --db " + q(db), &out, &err), 0) << err;
  EXPECT_NE(err.find("a new API key for " + nfc + " "), std::string::npos) << err;
  ASSERT_EQ(run("user revoke CAFE 1 --db " + q(db), &out, &err), 0) << err;
  EXPECT_NE(err.find("revoked API key 1 of " + nfc + ":"), std::string::npos) << err;
  ASSERT_EQ(run("user remove CAFE --db " + q(db), &out, &err), 0) << err;
  EXPECT_NE(err.find("removed user " + nfc + " with"), std::string::npos) << err;
  EXPECT_EQ(err.find("CAFE"), std::string::npos) << err;
  EXPECT_EQ(run("user remove CAFE --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("no user 'CAFE'"), std::string::npos) << err;
}

// R6-10: names in other characters that look the same were two users: a Latin "alice" and one
// with a Cyrillic "а" (U+0430), shown alike by every app. Unicode's confusables (UTS #39, ICU's
// skeleton) refuse the second when it is made.
TEST(UserCli, ConfusableNamesAreRefused) {
  const std::string dir = test::temp_dir();
  const std::string db = empty_index(dir);
  std::string out, err;
  ASSERT_EQ(run("user add alice --db " + q(db) + stdin_of("pw"), &out, &err), 0) << err;
  ASSERT_EQ(run("user add arnie --db " + q(db) + stdin_of("pw"), &out, &err), 0) << err;
  for (const std::string& alike : {std::string("\u0430lice"), std::string("\u0410LICE"), std::string("amie"),
                                   std::string("\u0430l\u0456ce")}) {
    EXPECT_EQ(run("user add " + q(alike) + " --db " + q(db) + stdin_of("pw"), &out, &err), 1) << alike;
    EXPECT_NE(err.find("' already exists, and '" + alike + "' is confusable with it"), std::string::npos) << err;
  }
  // Names that only share letters are fine, and the look-alike test never blocks a sign-in.
  ASSERT_EQ(run("user add alicia --db " + q(db) + stdin_of("pw"), &out, &err), 0) << err;
  ASSERT_EQ(run("user list --json --db " + q(db), &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out).size(), 3u) << out;
  auto s = store::open_store(db, store::OpenMode::ReadOnly);
  service::Accounts accounts(*s, db);
  EXPECT_FALSE(accounts.find("\u0430lice")) << "a Cyrillic spelling signs in as nobody, not as alice";
}

TEST(UserCli, BadInputIsRefusedWithTheReason) {
  const std::string dir = test::temp_dir();
  const std::string db = empty_index(dir);
  std::string out, err;
  // Names: empty, a control character, too long, spaces at an end, a right-to-left override, a
  // zero-width space, a leading BOM (a name that looks like another).
  for (const std::string& name : {std::string("''"), std::string("\"$(printf 'a\\tb')\""), std::string(65, 'n'), std::string("' x'"),
                                  std::string("'bob\u202Eecila'"), std::string("'al\u200Bice'"), std::string("'\uFEFFalice'")}) {
    EXPECT_EQ(run("user add " + name + " --db " + q(db) + stdin_of("pw"), &out, &err), 1) << name;
    EXPECT_NE(err.find("user name"), std::string::npos) << name << ": " << err;
  }
  // Passwords: none on standard input, an empty line, too long, an empty file, no such file.
  EXPECT_EQ(run("user add carol --db " + q(db) + " < /dev/null", &out, &err), 1);
  EXPECT_NE(err.find("no password on standard input"), std::string::npos) << err;
  EXPECT_EQ(run("user add carol --db " + q(db) + stdin_of(""), &out, &err), 1);
  EXPECT_EQ(run("user add carol --db " + q(db) + stdin_of(std::string(257, 'p')), &out, &err), 1);
  EXPECT_NE(err.find("longer than 256"), std::string::npos) << err;
  std::ofstream(dir + "/empty");
  EXPECT_EQ(run("user add carol --password-file " + q(dir + "/empty") + " --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("empty"), std::string::npos) << err;
  // A blank first line is said as such, not "the password file is empty" (hostile pass 14, H14C-2).
  std::ofstream(dir + "/blank-first") << "\nsecret-on-line-2\n";
  EXPECT_EQ(run("user add carol --password-file " + q(dir + "/blank-first") + " --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("blank-first: its first line is empty (password file; the secret is the first line: is the file "
                     "empty, or does it begin with a blank line?)"),
            std::string::npos)
      << err;
  EXPECT_EQ(run("user add carol --password-file " + q(dir + "/nope") + " --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("nope"), std::string::npos) << err;
  // The password is never an argument.
  EXPECT_EQ(run("user add carol secret --db " + q(db) + stdin_of("pw"), &out, &err), 2);
  // No index there: refused, nothing made.
  EXPECT_EQ(run("user add carol --db " + q(dir + "/none.db") + stdin_of("pw"), &out, &err), 1);
  EXPECT_FALSE(fs::exists(dir + "/none.db"));
  EXPECT_FALSE(fs::exists(dir + "/none.db.key"));
  ASSERT_EQ(run("user list --json --db " + q(db), &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out).size(), 0u);
}

// --password-file <(pass show music): a process substitution (/dev/fd/N, a pipe) was refused as
// "not a regular file" (hostile pass 12, R12P-2), where ssh and gpg take one. A pipe and a FIFO in
// the file system give their first line (the FIFO's writer may come later); a device is refused
// with the reason and the ways that work. (A FIFO nobody writes to ends at the deadline:
// SecretFile.* in tests/core, with a short one.)
TEST(UserCli, APasswordFromAProcessSubstitutionOrAFifo) {
  const std::string dir = test::temp_dir();
  const std::string db = empty_index(dir);
  std::string out, err;
  const std::string add = test::cli_command() + " user add ann --db " + q(db) +
                          " --password-file <(printf 'through a pipe\\nsecond line\\n')";
  ASSERT_EQ(test::run_command("bash -c " + q(add), &out, &err), 0) << err;
  const std::string fifo = dir + "/pw.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string passwd = "(sleep 0.3; printf 'through a fifo\\n' > " + q(fifo) + ") & " + test::cli_command() +
                             " user add bob --password-file " + q(fifo) + " --db " + q(db) + "; status=$?; wait; exit $status";
  ASSERT_EQ(test::run_command("bash -c " + q(passwd), &out, &err), 0) << err;
  EXPECT_EQ(run("user add carol --password-file /dev/zero --db " + q(db), &out, &err), 1);
  EXPECT_NE(err.find("/dev/zero: a device, not a file or a pipe (password file); give a file, a pipe such as "
                     "<(pass show NAME), or - for standard input"),
            std::string::npos)
      << err;
  auto s = store::open_store(db, store::OpenMode::ReadOnly);
  service::Accounts accounts(*s, db);
  EXPECT_EQ(accounts.password_of(*s->user("ann")), "through a pipe");
  EXPECT_EQ(accounts.password_of(*s->user("bob")), "through a fifo");
  EXPECT_FALSE(s->user("carol"));
}

TEST(UserCli, KeyFileMustBePrivateAndRegular) {
  const std::string dir = test::temp_dir();
  const std::string db = empty_index(dir);
  const std::string key = db + ".key";
  std::string out, err;
  ASSERT_EQ(run("user add alice --db " + q(db) + stdin_of("pw"), &out, &err), 0) << err;
  const std::string key_text = file_text(key);
  EXPECT_EQ(key_text.size(), 65u);

  fs::permissions(key, fs::perms(0644));
  EXPECT_EQ(run("user add bob --db " + q(db) + stdin_of("pw"), &out, &err), 1);
  EXPECT_NE(err.find("mode is 0644"), std::string::npos) << err;
  EXPECT_NE(err.find("chmod 600"), std::string::npos) << err;
  fs::permissions(key, fs::perms(0600));

  // A symbolic link (to a private file) is not followed.
  fs::rename(key, dir + "/real.key");
  fs::create_symlink(dir + "/real.key", key);
  EXPECT_EQ(run("user passwd alice --db " + q(db) + stdin_of("pw2"), &out, &err), 1);
  EXPECT_NE(err.find("symbolic link"), std::string::npos) << err;
  fs::remove(key);

  // Not a key; a folder; a missing key file is never made again by a reader.
  std::ofstream(key) << "not a key\n";
  fs::permissions(key, fs::perms(0600));
  EXPECT_EQ(run("user passwd alice --db " + q(db) + stdin_of("pw2"), &out, &err), 1);
  EXPECT_NE(err.find("64 hex digits"), std::string::npos) << err;
  fs::remove(key);
  fs::create_directory(key);
  EXPECT_EQ(run("user passwd alice --db " + q(db) + stdin_of("pw2"), &out, &err), 1);
  EXPECT_NE(err.find("not a regular file"), std::string::npos) << err;
  fs::remove(key);
  {
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    service::Accounts accounts(*s, db);
    try {
      accounts.password_of(*s->user("alice"));
      ADD_FAILURE() << "a password read without its key file";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(fs::exists(key));
}

// A deleted key file while a user's password is sealed with it: `user add` and `user passwd` of
// another user used to make a new key silently, and every other password could no longer be read
// (found only when the apps failed to log in). Now both refuse, name the users and say how to
// recover; restoring the file works; --new-key makes a new key, keeps the old file aside and
// clears the passwords it cannot open. A key file that is there but is not the one (replaced)
// is refused the same way.
TEST(UserCli, LostKeyFileIsNeverReplacedSilently) {
  const std::string dir = test::temp_dir();
  const std::string db = empty_index(dir);
  const std::string key = db + ".key";
  std::string out, err;
  ASSERT_EQ(run("user add alice --db " + q(db) + stdin_of("pw of alice"), &out, &err), 0) << err;
  ASSERT_EQ(run("user add bob --db " + q(db) + stdin_of("pw of bob"), &out, &err), 0) << err;
  const std::string key_text = file_text(key);
  fs::rename(key, dir + "/backup.key");

  EXPECT_EQ(run("user add carol --db " + q(db) + stdin_of("pw"), &out, &err), 1);
  EXPECT_NE(err.find("key file is missing"), std::string::npos) << err;
  EXPECT_NE(err.find("'alice', 'bob'"), std::string::npos) << err;
  EXPECT_NE(err.find("backup"), std::string::npos) << err;
  EXPECT_NE(err.find("--new-key"), std::string::npos) << err;
  EXPECT_EQ(run("user passwd bob --db " + q(db) + stdin_of("new pw"), &out, &err), 1);
  EXPECT_NE(err.find("'alice'"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(key)) << "a refused command made a key file";
  EXPECT_EQ(run("user list --db " + q(db) + " --json", &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out).size(), 2u) << "carol was added";

  // Another index's key file in its place: refused the same way, and left as it is.
  {
    const std::string other = empty_index(dir + "/other");
    ASSERT_EQ(run("user add zed --db " + q(other) + stdin_of("pw"), &out, &err), 0) << err;
    fs::copy_file(other + ".key", key);
  }
  EXPECT_EQ(run("user passwd bob --db " + q(db) + stdin_of("new pw"), &out, &err), 1);
  EXPECT_NE(err.find("does not open the stored password of user 'alice'"), std::string::npos) << err;
  fs::remove(key);

  // Restored from the backup: everything works again.
  fs::rename(dir + "/backup.key", key);
  ASSERT_EQ(run("user add carol --db " + q(db) + stdin_of("pw of carol"), &out, &err), 0) << err;
  {
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    service::Accounts accounts(*s, db);
    EXPECT_EQ(accounts.password_of(*s->user("alice")), "pw of alice");
    EXPECT_EQ(accounts.password_of(*s->user("carol")), "pw of carol");
  }

  // Lost for good: --new-key gives up the others' passwords, on purpose.
  fs::remove(key);
  ASSERT_EQ(run("user passwd bob --new-key --db " + q(db) + stdin_of("bob again"), &out, &err), 0) << err;
  EXPECT_NE(err.find("every other user's password was cleared"), std::string::npos) << err;
  EXPECT_NE(file_text(key), key_text);
  {
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    service::Accounts accounts(*s, db);
    EXPECT_EQ(accounts.password_of(*s->user("bob")), "bob again");
    try {
      accounts.password_of(*s->user("alice"));
      ADD_FAILURE() << "a cleared password opened";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("has no password"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("user passwd"), std::string::npos) << e.what();
    }
  }
  // Setting the cleared passwords again needs no flag; a key file present is kept aside by --new-key.
  ASSERT_EQ(run("user passwd alice --db " + q(db) + stdin_of("alice again"), &out, &err), 0) << err;
  const std::string second_key = file_text(key);
  ASSERT_EQ(run("user passwd carol --new-key --db " + q(db) + stdin_of("carol again"), &out, &err), 0) << err;
  bool kept_aside = false;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("library.db.key.replaced-", 0) == 0) kept_aside = file_text(e.path().string()) == second_key;
  EXPECT_TRUE(kept_aside) << "the replaced key file was not kept";
}

// What users keep refers to songs by track id, and `index --rebuild` numbers the tracks again: the
// star, play and playlist entries stay on the same songs (store.h SongRef; the index run
// re-attaches them). `migrate` to PostgreSQL and back keeps them, and the passwords still open.
TEST(UserCli, RebuildAndMigrateKeepUserData) {
  const std::string dir = test::temp_dir();
  const std::string music = dir + "/music", db = dir + "/library.db";
  const std::string model = " --model " + q(test::case_dir("tiny-unfused")) + " --quiet";
  test::ffmpeg(music + "/b.wav", "-f lavfi -i \"sine=f=330:d=3:sample_rate=16000\"");
  test::ffmpeg(music + "/c.wav", "-f lavfi -i \"sine=f=440:d=3:sample_rate=16000\"");
  std::string out, err;
  ASSERT_EQ(run("index " + q(music) + " --db " + q(db) + model, &out, &err), 0) << err;
  test::ffmpeg(music + "/a.wav", "-f lavfi -i \"sine=f=550:d=3:sample_rate=16000\"");
  ASSERT_EQ(run("index " + q(music) + " --db " + q(db) + model, &out, &err), 0) << err;
  ASSERT_EQ(run("user add alice --db " + q(db) + stdin_of("pw of alice"), &out, &err), 0) << err;

  auto path_of = [](store::Store& s, int64_t id) { return s.track(id) ? s.track(id)->path : std::string("(none)"); };
  {
    auto s = store::open_store(db, store::OpenMode::ReadWriteExisting);
    const auto a = s->track_by_path(music + "/a.wav"), c = s->track_by_path(music + "/c.wav");
    ASSERT_TRUE(a && c);
    ASSERT_EQ(a->id, 3);  // indexed last
    const int64_t user = s->user("alice")->id;
    store::FeedbackRecord star;
    star.user_id = user;
    star.kind = "song";
    star.song = {a->id, a->content_hash, a->path};
    star.at = 1;
    s->put_star(star);
    store::PlayRecord play;
    play.user_id = user;
    play.song = {c->id, c->content_hash, c->path};
    play.played_at = 2;
    play.source = "subsonic";
    s->add_play(play);
    store::PlaylistRecord list;
    list.owner = user;
    list.name = "a then c";
    list.entries = {star.song, play.song};
    s->put_playlist(list);
  }
  ASSERT_EQ(run("index " + q(music) + " --db " + q(db) + " --rebuild" + model, &out, &err), 0) << err;
  auto check = [&](const std::string& location, const std::string& where) {
    auto s = store::open_store(location, store::OpenMode::ReadOnly);
    // A rebuild numbers the tracks anew in the index it builds aside, then gives each the id its
    // file had (a song id apps cache): a.wav, indexed last, is still 3.
    ASSERT_EQ(s->track_by_path(music + "/a.wav")->id, 3) << where << ": the rebuild gave a.wav another id";
    const int64_t user = s->user("alice")->id;
    ASSERT_EQ(s->stars(user).size(), 1u) << where;
    EXPECT_EQ(path_of(*s, s->stars(user)[0].song.track_id), music + "/a.wav") << where;
    ASSERT_EQ(s->plays(user, 0, 0).size(), 1u) << where;
    EXPECT_EQ(path_of(*s, s->plays(user, 0, 0)[0].song.track_id), music + "/c.wav") << where;
    const auto lists = s->playlists(user);
    ASSERT_EQ(lists.size(), 1u) << where;
    const auto entries = s->playlist(lists[0].id)->entries;
    ASSERT_EQ(entries.size(), 2u) << where;
    EXPECT_EQ(path_of(*s, entries[0].track_id), music + "/a.wav") << where;
    EXPECT_EQ(path_of(*s, entries[1].track_id), music + "/c.wav") << where;
    EXPECT_EQ(service::Accounts(*s, location).password_of(*s->user("alice")), "pw of alice") << where;
  };
  check(db, "after the rebuild");
  {
    // What the server reads of the plays (getAlbumList2 type=frequent/recent): by the track ids of now.
    service::AccountsConnection connection(db);
    const int64_t user = connection.with([](service::Accounts& a, store::Store&) { return a.find("alice")->id; });
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    const auto stats = service::UserData(connection, user, s->library_generation()).play_stats();
    ASSERT_EQ(stats.size(), 1u);
    EXPECT_EQ(stats.begin()->first, s->track_by_path(music + "/c.wav")->id);
    EXPECT_EQ(stats.begin()->second.count, 1);
    EXPECT_EQ(stats.begin()->second.last, 2);
  }

  // To PostgreSQL and back (each copy gets its own key file; the passwords are sealed again).
  const std::string url = test::PostgresServer::shared().create_database();
  const std::string env = "XDG_DATA_HOME=" + q(dir + "/data");
  ASSERT_EQ(test::run_cli("migrate --quiet --json --to " + q(url) + " --from " + q(db), &out, &err, env), 0) << err;
  EXPECT_EQ(json::parse(out)["users"], 1) << out;
  EXPECT_EQ(json::parse(out)["plays"], 1) << out;
  const std::string back = dir + "/back.db";
  ASSERT_EQ(test::run_cli("migrate --quiet --to " + q(back) + " --from " + q(url), &out, &err, env), 0) << err;
  EXPECT_NE(out.find("1 user"), std::string::npos) << out;
  check(back, "after migrate to PostgreSQL and back");
  EXPECT_NE(file_text(back + ".key"), file_text(db + ".key"));
}

// Users none of whose passwords is sealed (alice's cleared by bob's --new-key, bob removed since)
// need no key file: migrate copies them without one. Fails before: "the password key file is
// missing" (the source's key was read whenever there were users).
TEST(UserCli, MigrateOfUsersWithoutASealedPasswordNeedsNoKeyFile) {
  const std::string dir = test::temp_dir();
  const std::string db = empty_index(dir);
  std::string out, err;
  ASSERT_EQ(run("user add alice --db " + q(db) + stdin_of("pw of alice"), &out, &err), 0) << err;
  ASSERT_EQ(run("user add bob --db " + q(db) + stdin_of("pw of bob"), &out, &err), 0) << err;
  ASSERT_EQ(run("user passwd bob --new-key --db " + q(db) + stdin_of("new pw of bob"), &out, &err), 0) << err;
  ASSERT_EQ(run("user remove bob --db " + q(db), &out, &err), 0) << err;
  fs::remove(db + ".key");
  ASSERT_EQ(run("migrate --quiet --to " + q(dir + "/copy.db") + " --from " + q(db), &out, &err), 0) << err;
  auto s = store::open_store(dir + "/copy.db", store::OpenMode::ReadOnly);
  ASSERT_TRUE(s->user("alice"));
  EXPECT_EQ(s->user("alice")->password_encrypted, "");
}

// `user`'s password as read from a SQLite copy (in `dir`) of the index made through `location` by
// `clapsearch migrate`, which reads the source's key file as every command does.
std::string password_of_copy(const std::string& dir, const std::string& location, const std::string& user,
                             const std::string& env = "") {
  static int n = 0;
  const std::string copy = dir + "/copy" + std::to_string(n++) + ".db";
  std::string out, err;
  if (test::run_cli("migrate --quiet --to " + q(copy) + " --from " + q(location), &out, &err, env) != 0) return "(migrate: " + err + ")";
  auto s = store::open_store(copy, store::OpenMode::ReadOnly);
  return service::Accounts(*s, copy).password_of(*s->user(user));
}

// Issue 53: a SQLite index reached through a symbolic link looked for its key beside the link: an
// index whose users were added through its own path, served through a link from another folder
// (library.db linked to a bigger disk), found no key ("the password key file is missing, but the
// passwords of 1 other user(s) ('alice') were sealed with it"). The key is beside the real file;
// one an older clapsearch put beside the link is still found, and copied beside the real file
// (the one beside the link left as it was), so the file's own path finds it too. Fails before:
// bob could not be added through the link; after the adoption, not through the real path.
TEST(UserCli, ASqliteIndexReachedThroughALinkFindsItsKeyBesideTheRealFile) {
  const std::string dir = test::temp_dir() + "/linked";
  const std::string db = empty_index(dir + "/disk"), link = dir + "/home/library.db";
  fs::create_directories(dir + "/home");
  fs::create_symlink(db, link);
  std::string out, err;
  ASSERT_EQ(run("user add alice --db " + q(db) + stdin_of("alice's pw"), &out, &err), 0) << err;
  ASSERT_EQ(run("user add bob --db " + q(link) + stdin_of("bob's pw"), &out, &err), 0) << err;
  EXPECT_FALSE(fs::exists(link + ".key")) << "one key, beside the real file";
  for (const std::string& location : {db, link}) {
    EXPECT_EQ(password_of_copy(dir, location, "alice"), "alice's pw") << location;
    EXPECT_EQ(password_of_copy(dir, location, "bob"), "bob's pw") << location;
  }

  // An older clapsearch's key beside the link (users added through it): found and adopted.
  const std::string key = file_text(db + ".key");
  fs::rename(db + ".key", link + ".key");
  EXPECT_EQ(password_of_copy(dir, link, "alice"), "alice's pw");
  EXPECT_EQ(file_text(db + ".key"), key);
  EXPECT_EQ(file_text(link + ".key"), key);
  ASSERT_EQ(run("user add carol --db " + q(db) + stdin_of("carol's pw"), &out, &err), 0) << err;
  EXPECT_EQ(password_of_copy(dir, link, "carol"), "carol's pw");
  EXPECT_EQ(password_of_copy(dir, db, "bob"), "bob's pw");

  // A key beside the link that does not open the stored passwords is not taken for the index's.
  fs::remove(db + ".key");
  std::ofstream(link + ".key", std::ios::trunc) << std::string(64, 'a') << "\n";
  EXPECT_EQ(run("user add dave --db " + q(link) + stdin_of("dave's pw"), &out, &err), 1);
  EXPECT_NE(err.find(db + ".key: the password key file is missing"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(db + ".key"));
}

// --- a PostgreSQL index's password key file (hostile pass 11, H11C-7) ----------------------------
// It was named after the database's URL as written: the same database reached as localhost
// instead of 127.0.0.1 (or another spelling of the URL) found no key, and the ways out offered
// gave the passwords up. It is named after an id the database records (store/database_id.h).

// A PostgreSQL database holding alice's password, copied there from a SQLite index by `migrate`
// as a user would; its key files under dir/data (XDG_DATA_HOME: `env`).
struct PostgresUsers {
  std::string dir, url, env;
  std::string keys() const { return dir + "/data/clapsearch/keys"; }
  // The URL with another host name for the same server: localhost for 127.0.0.1.
  std::string by_localhost() const {
    const size_t at = url.find("@127.0.0.1:");
    return url.substr(0, at) + "@localhost:" + url.substr(at + std::string("@127.0.0.1:").size());
  }
  // Another scheme and an option: libpq reaches the same database.
  std::string by_other_spelling() const { return "postgres://" + url.substr(std::string("postgresql://").size()) + "?application_name=clap"; }
  // The key files in keys(), by name.
  std::vector<std::string> key_files() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(keys(), ec)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  // The key id the database at `location` records ("" for none).
  static std::string key_id(const std::string& location) {
    store::pg::Connection c(location);
    auto r = c.query("SELECT value FROM meta WHERE key = 'key_id'");
    return r.rows() ? r.text(0, 0) : "";
  }
  std::string password_through(const std::string& location, const std::string& user) const {
    return password_of_copy(dir, location, user, env);
  }
};

PostgresUsers postgres_users(const std::string& name) {
  PostgresUsers p;
  p.dir = test::temp_dir() + "/" + name;
  const std::string db = empty_index(p.dir);
  std::string out, err;
  EXPECT_EQ(run("user add alice --db " + q(db) + stdin_of("alice's pw"), &out, &err), 0) << err;
  p.url = test::PostgresServer::shared().create_database();
  EXPECT_NE(p.url.find("@127.0.0.1:"), std::string::npos) << p.url;
  p.env = "XDG_DATA_HOME=" + q(p.dir + "/data");
  EXPECT_EQ(test::run_cli("migrate --quiet --to " + q(p.url) + " --from " + q(db), &out, &err, p.env), 0) << err;
  return p;
}

bool is_id_key_file(const std::string& name) {
  return name.size() == std::string("postgres-db-.key").size() + 32 && name.rfind("postgres-db-", 0) == 0 &&
         name.find_first_not_of("0123456789abcdef", 12) == 32 + 12;
}

// Fails before: `user add bob` through localhost said "the password key file is missing, but the
// passwords of 1 other user(s) ('alice') were sealed with it".
TEST(UserCli, APostgresqlIndexFindsItsPasswordKeyUnderEverySpellingOfItsUrl) {
  const PostgresUsers p = postgres_users("spellings");
  ASSERT_EQ(p.key_files().size(), 1u);
  EXPECT_TRUE(is_id_key_file(p.key_files()[0])) << p.key_files()[0];
  std::string out, err;
  ASSERT_EQ(test::run_cli("user add bob --db " + q(p.by_localhost()) + stdin_of("bob's pw"), &out, &err, p.env), 0) << err;
  for (const std::string& location : {p.url, p.by_localhost(), p.by_other_spelling()}) {
    EXPECT_EQ(p.password_through(location, "alice"), "alice's pw") << location;
    EXPECT_EQ(p.password_through(location, "bob"), "bob's pw") << location;
  }
  EXPECT_EQ(p.key_files().size(), 1u) << "one database, one key file, whatever the spelling";
}

// An installation of an older clapsearch: the key file named after the URL (postgres-<16 hex of
// the URL without its password>.key) and no key id in the database. Each step of the adoption
// leaves a state a kill -9 could stop in; every one of them reads the passwords. Fails before:
// the database records no id (key_id row), and localhost found no key.
TEST(UserCli, AnOlderPostgresqlKeyNamedAfterItsUrlIsAdoptedWithoutLoss) {
  const PostgresUsers p = postgres_users("adopted");
  ASSERT_EQ(p.key_files().size(), 1u);
  const std::string id_file = p.keys() + "/" + p.key_files()[0];
  const std::string key = file_text(id_file);
  const std::string old_file = p.keys() + "/postgres-" + sha256_hex(store::display_location(p.url)).substr(0, 16) + ".key";
  auto key_id = [&] { return PostgresUsers::key_id(p.url); };
  const std::string id = key_id();
  ASSERT_EQ(p.key_files()[0], "postgres-db-" + id + ".key");
  fs::rename(id_file, old_file);
  store::pg::Connection(p.url).exec("DELETE FROM meta WHERE key = 'key_id'");

  // Read-only, before any id is recorded: found by the password it opens, under another spelling,
  // and used where it is (nothing written, nothing copied).
  EXPECT_EQ(p.password_through(p.by_localhost(), "alice"), "alice's pw");
  EXPECT_EQ(key_id(), "");
  EXPECT_EQ(p.key_files(), std::vector<std::string>{fs::path(old_file).filename().string()});

  // Killed after the first step: a writable open recorded an id (here `user key`, which needs no
  // password key), and nothing was copied yet.
  std::string out, err;
  ASSERT_EQ(test::run_cli("user key alice --db " + q(p.by_other_spelling()), &out, &err, p.env), 0) << err;
  const std::string new_id = key_id();
  ASSERT_TRUE(is_id_key_file("postgres-db-" + new_id + ".key")) << new_id;
  EXPECT_EQ(p.key_files(), std::vector<std::string>{fs::path(old_file).filename().string()});
  // Killed after the second: the key written to a temporary file, not yet linked (and one cut short).
  const std::string new_file = p.keys() + "/postgres-db-" + new_id + ".key";
  for (const auto& [tmp, text] : {std::pair<std::string, std::string>{new_file + ".tmp.4242-0badf00d", key},
                                  std::pair<std::string, std::string>{new_file + ".tmp.4243-0badf00d", key.substr(0, 10)}}) {
    std::ofstream(tmp) << text;
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
  }
  EXPECT_EQ(p.password_through(p.url, "alice"), "alice's pw");
  // The adoption ran (through 127.0.0.1, whose old-style file this is): the key under the id's
  // name, the old file left where it was.
  EXPECT_EQ(file_text(new_file), key);
  EXPECT_EQ(file_text(old_file), key);
  // A writable command through another spelling seals with the same key; both passwords read.
  ASSERT_EQ(test::run_cli("user add bob --db " + q(p.by_localhost()) + stdin_of("bob's pw"), &out, &err, p.env), 0) << err;
  EXPECT_EQ(p.password_through(p.by_other_spelling(), "alice"), "alice's pw");
  EXPECT_EQ(p.password_through(p.by_other_spelling(), "bob"), "bob's pw");
  // After the third step both names are there (the state above); the old one may go: the id's is read.
  fs::remove(old_file);
  EXPECT_EQ(p.password_through(p.by_localhost(), "bob"), "bob's pw");
}

// An older installation (the key file named after the URL, no id recorded) whose keys folder this
// process cannot write: a read-only mount or a service's sandbox (ProtectHome=read-only), or a full
// disk; here a file-size limit of 0, which any user can set. The key is used where it was found and
// copied to the id's name by a later command that can. Fails before: `user passwd` exits 1
// ("cannot write the password key file: File too large"), as every sign-in of `serve` did.
TEST(UserCli, AnOlderPostgresqlKeyIsUsedWhereItIsWhenItsCopyCannotBeWritten) {
  const PostgresUsers p = postgres_users("unwritable-keys");
  ASSERT_EQ(p.key_files().size(), 1u);
  const std::string old_file = p.keys() + "/postgres-" + sha256_hex(store::display_location(p.url)).substr(0, 16) + ".key";
  fs::rename(p.keys() + "/" + p.key_files()[0], old_file);
  store::pg::Connection(p.url).exec("DELETE FROM meta WHERE key = 'key_id'");
  std::string out, err;
  ASSERT_EQ(test::run_command("ulimit -f 0 && HF_HUB_OFFLINE=1 " + p.env + " " + test::cli_command() + " user passwd alice --db " +
                                  q(p.url) + stdin_of("alice's new pw"),
                              &out, &err),
            0)
      << err;
  EXPECT_EQ(p.key_files(), std::vector<std::string>{fs::path(old_file).filename().string()}) << "nothing half-written left";
  EXPECT_NE(PostgresUsers::key_id(p.url), "");
  // Without the limit: read through another spelling, and the key adopted under the id's name.
  EXPECT_EQ(p.password_through(p.by_localhost(), "alice"), "alice's new pw");
  EXPECT_EQ(p.key_files().size(), 2u);
}

// Two databases never share a key file: each records its own id, a migrate to a third gives it its
// own; a key file of another database is never taken for a missing one (it does not open its
// passwords), and the message says where this one's key can be, before the ways that give the
// passwords up. Fails before: the key files were named by URL (no postgres-db- file).
TEST(UserCli, EachPostgresqlDatabaseHasAKeyFileOfItsOwn) {
  const PostgresUsers one = postgres_users("own-key");
  PostgresUsers two = one;
  two.url = test::PostgresServer::shared().create_database();
  std::string out, err;
  ASSERT_EQ(test::run_cli("migrate --quiet --to " + q(two.url) + " --from " + q(one.url), &out, &err, one.env), 0) << err;
  const std::vector<std::string> files = one.key_files();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(is_id_key_file(files[0]) && is_id_key_file(files[1])) << files[0] << " " << files[1];
  EXPECT_NE(file_text(one.keys() + "/" + files[0]), file_text(one.keys() + "/" + files[1]));
  EXPECT_EQ(one.password_through(two.by_localhost(), "alice"), "alice's pw");

  // The second's key file gone: the first's is there, but is not taken for it.
  const std::string two_file = two.keys() + "/postgres-db-" + PostgresUsers::key_id(two.url) + ".key";
  fs::rename(two_file, one.dir + "/kept.key");
  EXPECT_EQ(test::run_cli("migrate --quiet --to " + q(one.dir + "/lost.db") + " --from " + q(two.by_localhost()), &out, &err, one.env), 1);
  EXPECT_NE(err.find(two_file + ": the password key file is missing"), std::string::npos) << err;
  EXPECT_NE(err.find("named after the key id its database records"), std::string::npos) << err;
  EXPECT_NE(err.find("The 1 other key file(s) there (" + one.keys() + "/"), std::string::npos) << err;
  EXPECT_NE(err.find("do not open this database's stored passwords"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(one.dir + "/lost.db"));
  EXPECT_FALSE(fs::exists(two_file));
  // Put back, as the message says: read again.
  fs::rename(one.dir + "/kept.key", two_file);
  EXPECT_EQ(one.password_through(two.url, "alice"), "alice's pw");
}

}  // namespace
}  // namespace clap

// `clapsearch user` as a real process (issue 54): users added, listed, their passwords set from
// standard input or a file (never the command line), API keys made, users removed; the password
// kept encrypted with the key file beside the index (mode 0600, refused when wider, a link or not
// a file; never in plain text in the database); what users keep surviving `index --rebuild`
// (which numbers the tracks again) attached to the same songs, and `migrate` to PostgreSQL and back.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "service/accounts.h"
#include "service/user_data.h"
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

// Hostile pass 11, H11C-7: a PostgreSQL index's key file is named after its URL as written, so
// the same database reached as localhost instead of 127.0.0.1 found no key, and the message
// offered only the ways out that give passwords up (a backup, or every password set again). It
// names the key files made under other spellings, and how to use one, first.
TEST(UserCli, AMissingPostgresqlKeyNamesTheKeyFilesOfOtherSpellingsOfItsUrl) {
  const std::string dir = test::temp_dir() + "/spellings";
  const std::string db = empty_index(dir);
  std::string out, err;
  ASSERT_EQ(run("user add alice --db " + q(db) + stdin_of("alice's pw"), &out, &err), 0) << err;
  const std::string url = test::PostgresServer::shared().create_database();
  const std::string env = "XDG_DATA_HOME=" + q(dir + "/data");
  ASSERT_EQ(test::run_cli("migrate --quiet --to " + q(url) + " --from " + q(db), &out, &err, env), 0) << err;
  std::vector<std::string> keys;
  for (const auto& e : fs::directory_iterator(dir + "/data/clapsearch/keys")) keys.push_back(e.path().string());
  ASSERT_EQ(keys.size(), 1u);
  const size_t at = url.find("@127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << url;
  const std::string other = url.substr(0, at) + "@localhost:" + url.substr(at + std::string("@127.0.0.1:").size());
  EXPECT_EQ(test::run_cli("migrate --quiet --to " + q(dir + "/copy.db") + " --from " + q(other), &out, &err, env), 1);
  EXPECT_NE(err.find("the password key file is missing"), std::string::npos) << err;
  EXPECT_NE(err.find("1 other key file(s) are there (" + keys[0] + ")"), std::string::npos) << err;
  EXPECT_NE(err.find("copy that file to "), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir + "/copy.db"));
  // Doing as it says opens the passwords under the other spelling.
  const std::string wanted = err.substr(err.find("copy that file to ") + std::string("copy that file to ").size());
  const std::string target = wanted.substr(0, wanted.find(" (cp -p)"));
  fs::copy_file(keys[0], target);
  ASSERT_EQ(test::run_cli("migrate --quiet --to " + q(dir + "/copy.db") + " --from " + q(other), &out, &err, env), 0) << err;
}

}  // namespace
}  // namespace clap

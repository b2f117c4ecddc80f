// Who a /rest/ request is (the spec's "API Reference: Authentication" and the apiKeyAuthentication
// extension): u with p (clear or "enc:" + hex), u with t = md5(password + s) and s, or apiKey
// alone. The users, their encrypted passwords and their API keys' hashes are in the index
// (service/accounts.h); this file reads the parameters, compares in constant time and answers
// with the spec's error codes:
//   10 a parameter missing (u; p, or t and s; s without t or t without s)
//   40 wrong user name or password (an unknown user and a wrong password read the same)
//   43 more than one mechanism (apiKey with u, p, t or s; p with t or s; a credential given twice
//      with different values)
//   44 an API key that names nobody
// Wrong passwords are limited per client address and user name (the u given): after kMaxFailures
// failed attempts within the lockout window (serve --login-lockout, 60 s), every attempt of that
// address for that user is refused with 40 without looking at its credentials, until the oldest
// of those failures is that old. A fixed window, not a growing delay: predictable for a
// person who mistyped, while 5 guesses a minute make guessing a password hopeless. The user name
// is part of the key because behind a reverse proxy every request comes from the proxy's address:
// someone guessing one user's password must not lock every other user out. API keys are not
// limited: 256 random bits are not guessed at any rate, and one bucket for every key behind a proxy
// would let anyone lock every API-key app out.
#include <httplib.h>

#include <cctype>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

#include "core/crypto.h"
#include "core/error.h"
#include "server/subsonic.h"
#include "service/accounts.h"

namespace clap::server::subsonic {

namespace {

constexpr size_t kMaxFailures = 5;
constexpr size_t kMaxTrackedKeys = 10000;       // the table's bound (old entries go first)
constexpr size_t kMaxCredentialBytes = 2048;    // the extension's bound on an API key's length

using Clock = std::chrono::steady_clock;

// Failed attempts per key (address and user name), in the last `window` (the server's one).
class FailureLimit {
 public:
  // How long attempts under `key` must wait (0: they may try).
  std::chrono::seconds wait(const std::string& key, std::chrono::seconds window) {
    std::lock_guard lock(mutex_);
    auto it = failures_.find(key);
    if (it == failures_.end()) return std::chrono::seconds(0);
    prune(it->second, Clock::now(), window);
    if (it->second.size() < kMaxFailures) return std::chrono::seconds(0);
    const auto left = window - (Clock::now() - it->second.front());
    return std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(left));
  }
  void failed(const std::string& key, std::chrono::seconds window) {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    if (failures_.size() >= kMaxTrackedKeys && !failures_.count(key)) {
      // Forget the keys whose failures are all old; if none, the one whose last failure is the
      // oldest among those not locked out. A locked key goes only when every key is locked:
      // else failures under made-up user names (10,000 requests) would erase a lock, and its
      // user's password could be guessed 5 more times.
      for (auto it = failures_.begin(); it != failures_.end();) {
        prune(it->second, now, window);
        it = it->second.empty() ? failures_.erase(it) : std::next(it);
      }
      if (failures_.size() >= kMaxTrackedKeys) {
        auto victim = failures_.end();
        for (auto it = failures_.begin(); it != failures_.end(); ++it) {
          const bool locked = it->second.size() >= kMaxFailures;
          const bool victim_locked = victim != failures_.end() && victim->second.size() >= kMaxFailures;
          if (victim == failures_.end() || (victim_locked && !locked) ||
              (victim_locked == locked && it->second.back() < victim->second.back()))
            victim = it;
        }
        failures_.erase(victim);
      }
    }
    auto& list = failures_[key];
    prune(list, now, window);
    list.push_back(now);
    while (list.size() > kMaxFailures) list.pop_front();
  }

 private:
  static void prune(std::deque<Clock::time_point>& list, Clock::time_point now, std::chrono::seconds window) {
    while (!list.empty() && now - list.front() >= window) list.pop_front();
  }
  std::mutex mutex_;
  std::map<std::string, std::deque<Clock::time_point>> failures_;
};

FailureLimit& failure_limit() {
  static FailureLimit limit;
  return limit;
}

// The one value of a credential parameter; nullopt when absent; Failure 43 when given twice with
// different values (two credentials, which one would be checked is not for us to guess).
std::optional<std::string> credential(const httplib::Request& req, const char* name) {
  const auto range = req.params.equal_range(name);
  if (range.first == range.second) return std::nullopt;
  const std::string& value = range.first->second;
  for (auto it = std::next(range.first); it != range.second; ++it)
    if (it->second != value)
      throw Failure{43, std::string("multiple conflicting authentication mechanisms provided (") + name + " given twice)"};
  return value;
}

bool decode_hex(const std::string& hex, std::string& out) {
  if (hex.size() % 2) return false;
  out.clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int v = 0;
    for (size_t k = 0; k < 2; ++k) {
      const char c = hex[i + k];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + d;
    }
    out += static_cast<char>(v);
  }
  return true;
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The key of the failure limit: the address and the user name the attempt is for.
// Names that look alike match (Accounts::find, service::user_name_key), so the failures of
// "Alice", "alice" and an NFD "alicé" count together: otherwise every spelling of one name would
// get its own allowance.
std::string limit_key(const std::string& address, const std::string& user) {
  return address + '\n' + service::user_name_key(user.substr(0, 256));
}

// A wrong REST API token's key: the address alone (there is one token), never a user's key (those
// hold a line break).
std::string token_key(const std::string& address) { return "token " + address; }

RestUser rest_user(const store::UserRecord& u) { return {u.id, u.name, u.admin}; }

// A stored password that cannot be read (the key file gone or replaced) is the server's
// problem, not a wrong password: code 0 with the reason, and no failure counted.
std::string stored_password(service::Accounts& accounts, const store::UserRecord& user) {
  try {
    return accounts.password_of(user);
  } catch (const Error& e) {
    throw Failure{0, std::string("the server cannot check this user's password: ") + e.what()};
  }
}

}  // namespace

bool rest_enabled(service::Library& lib) {
  return service::accounts_connection(lib.location()).with([](service::Accounts&, store::Store& s) { return s.has_users(); });
}

RestUser authenticate(const httplib::Request& req, const std::string& address, service::Library& lib,
                      std::chrono::seconds lockout) {
  const auto u = credential(req, "u"), p = credential(req, "p"), t = credential(req, "t"), s = credential(req, "s");
  const auto api_key = credential(req, "apiKey");
  if (api_key && (u || p || t || s))
    throw Failure{43, "multiple conflicting authentication mechanisms provided (apiKey goes alone, without u, p, t or s)"};
  if (p && (t || s)) throw Failure{43, "multiple conflicting authentication mechanisms provided (p with t or s)"};
  if (!api_key) {
    if (!u || u->empty()) throw Failure{10, "required parameter is missing: u (or apiKey)"};
    if (!p && !t && !s) throw Failure{10, "required parameter is missing: p, or t and s (or apiKey)"};
    if (t && !s) throw Failure{10, "required parameter is missing: s (the salt of the token t)"};
    if (s && !t) throw Failure{10, "required parameter is missing: t (the token made with the salt s)"};
  }
  service::AccountsConnection& connection = service::accounts_connection(lib.location());
  if (api_key) {
    const auto user = api_key->size() <= kMaxCredentialBytes
                          ? connection.with([&](service::Accounts& a, store::Store&) { return a.find_by_key(*api_key); })
                          : std::nullopt;
    if (!user) throw Failure{44, "invalid API key"};
    return rest_user(*user);
  }
  const std::string key = limit_key(address, *u);
  if (const auto wait = failure_limit().wait(key, lockout); wait.count() > 0)
    throw Failure{40, "wrong username or password: too many failed attempts for this user from this address; try again in " +
                          std::to_string(wait.count()) + " s"};
  struct Found {
    std::optional<store::UserRecord> user;
    std::string password;
  };
  const Found found = connection.with([&](service::Accounts& a, store::Store&) {
    Found f;
    f.user = a.find(*u);
    if (f.user) f.password = stored_password(a, *f.user);
    return f;
  });
  bool ok = false;
  if (p) {
    std::string given = *p;
    if (given.rfind("enc:", 0) == 0 && !decode_hex(given.substr(4), given)) given.clear();  // never equal: a password is not empty
    ok = found.user && !given.empty() && constant_time_equal(given, found.password);
  } else {
    // An unknown user costs the same hash as a known one.
    const std::string expected = md5_hex(found.password + *s);
    ok = found.user && t->size() <= kMaxCredentialBytes && constant_time_equal(lower(*t), expected);
  }
  if (!ok) {
    failure_limit().failed(key, lockout);
    throw Failure{40, "wrong username or password"};
  }
  return rest_user(*found.user);
}

std::chrono::seconds token_lockout_wait(const std::string& address, std::chrono::seconds lockout) {
  return failure_limit().wait(token_key(address), lockout);
}

void wrong_token(const std::string& address, std::chrono::seconds lockout) { failure_limit().failed(token_key(address), lockout); }

}  // namespace clap::server::subsonic

// Who a client is for the limits kept per client (server/client_address.h): the wrong-token and
// wrong-password lockouts and the connections served at once. An IPv6 client is counted by its
// /64, which it can send from whole: counted per address (pass 16), a guesser rotating through its
// /64 got 5 guesses an address without end (H17S-1). The real tests need two addresses of one /64
// and a server address in another. Where this machine does not have them and the test runs as root
// (CI does), the test process moves into a network namespace of its own and adds them to its
// loopback there (the machine's own network is not touched); otherwise they skip, saying so. By
// hand, on the machine itself:
//   ip -6 addr add fd00:17::1/64 dev lo; ip -6 addr add fd00:17::2/64 dev lo; ip -6 addr add fd00:18::1/64 dev lo
#include <arpa/inet.h>
#include <sched.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "server/client_address.h"
#include "server/serve_library.h"

namespace clap::server {
namespace {

using namespace serve_cases;

TEST(ClientKey, AnIpv6ClientIsItsSlash64AndAnIpv4ClientItsAddress) {
  EXPECT_EQ(client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:2:ffff::9"));
  EXPECT_EQ(client_key("2001:DB8:1:2::1"), "2001:db8:1:2::/64");  // one spelling of one /64
  EXPECT_EQ(client_key("[2001:db8:1:2::1]"), "2001:db8:1:2::/64");
  EXPECT_NE(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:3::1"));  // another /64: another client
  EXPECT_EQ(client_key("192.0.2.7"), "192.0.2.7");
  EXPECT_NE(client_key("192.0.2.7"), client_key("192.0.2.8"));
  // A server on "::" names an IPv4 client by its IPv4-mapped address: the same client.
  EXPECT_EQ(client_key("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(client_key("::1"), "::1");
  // Link-local addresses are neighbours on the server's link (all of them share fe80::/64).
  EXPECT_EQ(client_key("fe80::1%eth0"), "fe80::1");
  EXPECT_NE(client_key("fe80::1"), client_key("fe80::2"));
  // A neighbour in the server's own /64 (a home LAN's devices) is one device per address.
  EXPECT_EQ(client_key("2001:db8:1:2::20", "2001:db8:1:2::10"), "2001:db8:1:2::20");
  EXPECT_EQ(client_key("2001:db8:9:9::20", "2001:db8:1:2::10"), "2001:db8:9:9::/64");
  EXPECT_EQ(client_key("2001:db8:9:9::20", "192.0.2.1"), "2001:db8:9:9::/64");
  EXPECT_EQ(client_key(""), "");
  EXPECT_EQ(client_key("not an address"), "not an address");
}

// Addresses that carry an IPv4 address inside them (hostile pass 18, H18S-1): keyed by their /64,
// every IPv4 client a NAT64 gateway (64:ff9b::/96) relays to the server was one client, every
// client of one Teredo relay too (2001:0:RELAY::/64), and every IPv4-compatible address (::a.b.c.d)
// was "::/64": one guesser among them locked all of them out. A 6to4 site (2002:V4::/48, one per
// IPv4 address) keyed by /64 had 65,536 keys to rotate through. Each is now its IPv4 client: the
// embedded address (the one a direct IPv4 connection of that client is keyed by), a 6to4 site its /48.
TEST(ClientKey, AnAddressCarryingAnIpv4AddressIsThatIpv4Client) {
  EXPECT_EQ(client_key("64:ff9b::192.0.2.7"), "192.0.2.7");  // NAT64's well-known prefix (RFC 6052)
  EXPECT_NE(client_key("64:ff9b::192.0.2.7"), client_key("64:ff9b::198.51.100.9"));
  EXPECT_EQ(client_key("64:ff9b::c000:207"), client_key("192.0.2.7"));  // one client, both ways
  EXPECT_EQ(client_key("::192.0.2.7"), "192.0.2.7");  // IPv4-compatible (deprecated, still parsed)
  EXPECT_NE(client_key("::192.0.2.7"), client_key("::192.0.2.8"));
  EXPECT_EQ(client_key("::1"), "::1");  // loopback and the unspecified address are not IPv4 clients
  // Teredo (RFC 4380): 2001:0:RELAY:FLAGS:PORT:CLIENT, port and client address inverted.
  EXPECT_EQ(client_key("2001:0:4136:e378:8000:63bf:3fff:fdd2"), "192.0.2.45");
  EXPECT_NE(client_key("2001:0:4136:e378:8000:63bf:3fff:fdd2"), client_key("2001:0:4136:e378:8000:63bf:3fff:fdd3"));
  // 6to4 (RFC 3056): a site is 2002:V4::/48 whatever its /64.
  EXPECT_EQ(client_key("2002:c000:207:1::1"), "2002:c000:207::/48");
  EXPECT_EQ(client_key("2002:c000:207:1::1"), client_key("2002:c000:207:ffff::9"));
  EXPECT_NE(client_key("2002:c000:207:1::1"), client_key("2002:c000:208:1::1"));
}

// H19S-3 (hostile pass 19): NAT64's local-use prefix 64:ff9b:1::/48 (RFC 8215), where an operator
// puts its own NAT64 prefix (a /96, or a shorter one with the IPv4 address inside), was keyed by
// /64: every IPv4 client of such a gateway was one client (one guesser locked them all out; they
// shared one connection bound). Each address is its client (the prefix is never routed beyond
// the operator's network).
TEST(ClientKey, AnAddressInNat64sLocalUsePrefixIsItsOwnClient) {
  EXPECT_NE(client_key("64:ff9b:1::192.0.2.7"), client_key("64:ff9b:1::192.0.2.8"));  // a /96 in it
  EXPECT_NE(client_key("64:ff9b:1:ab:c0:2:700::"), client_key("64:ff9b:1:ab:c0:2:800::"));  // a /64 (RFC 6052, 2.2)
  EXPECT_EQ(client_key("64:ff9b:1::192.0.2.7"), client_key("64:ff9b:1::c000:207"));  // one address, two spellings
  // Outside it, as before: the well-known prefix is the IPv4 client, another /48 its /64.
  EXPECT_EQ(client_key("64:ff9b::192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(client_key("64:ff9b:2::1"), "64:ff9b:2::/64");
}

// A TCP connection from `from` to `to`:`port` (IPv6), or -1.
int connect6(const std::string& from, const std::string& to, int port) {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 a{}, b{};
  a.sin6_family = b.sin6_family = AF_INET6;
  ::inet_pton(AF_INET6, from.c_str(), &a.sin6_addr);
  ::inet_pton(AF_INET6, to.c_str(), &b.sin6_addr);
  b.sin6_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&b), sizeof b) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string exchange6(const std::string& from, const std::string& to, int port, const std::string& request) {
  const int fd = connect6(from, to, port);
  if (fd < 0) return "";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return got;
}

constexpr const char* kClientA = "fd00:17::1";
constexpr const char* kClientB = "fd00:17::2";  // the same /64 as A
constexpr const char* kServer = "fd00:18::1";   // another /64

// Whether each of the three addresses can be bound here.
bool addresses_bound() {
  for (const char* address : {kClientA, kClientB, kServer}) {
    const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, address, &a.sin6_addr);
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (!bound) return false;
  }
  return true;
}

// Called before a test starts its server: where the addresses are missing and this process may
// make a network namespace (root), it moves into one (unshare: this thread and the threads it
// starts after, the server's among them) with its loopback up and the three addresses on it.
void make_addresses_if_root() {
  static const bool tried = [] {
    if (addresses_bound() || ::geteuid() != 0 || ::unshare(CLONE_NEWNET) != 0) return true;
    const std::string add = " dev lo nodad 2>/dev/null";
    (void)std::system(("ip link set lo up 2>/dev/null && ip -6 addr add " + std::string(kClientA) + "/64" + add +
                       " && ip -6 addr add " + kClientB + "/64" + add + " && ip -6 addr add " + kServer + "/64" + add)
                          .c_str());
    return true;
  }();
  (void)tried;
}

// Whether this machine has the three addresses (a connection from each client to the server's).
bool addresses_here(int port) {
  for (const char* from : {kClientA, kClientB}) {
    const int fd = connect6(from, kServer, port);
    if (fd < 0) return false;
    ::close(fd);
  }
  return true;
}

// An index with user bob (password "bobpw"), a copy of the shared library's.
ServerOptions with_bob(const std::string& name) {
  const std::string dir = library().dir + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(library().db, dir + "/library.db");
  std::ofstream(dir + "/pw") << "bobpw\n";
  std::string out, err;
  if (test::run_cli("user add bob --db " + test::quoted(dir + "/library.db") + " < " + test::quoted(dir + "/pw"), &out, &err) != 0)
    throw std::runtime_error("user add: " + err);
  ServerOptions o;
  o.db = dir + "/library.db";
  o.host = "::";
  o.token = "right-secret";
  return o;
}

std::string first_line(const std::string& got) {
  return got.substr(0, got.find("\r\n")) + (got.find("too many") != std::string::npos ? " (locked)" : "");
}

// H17S-1: wrong tokens from one address of a /64 lock the whole /64 out: the right token from
// another address of it is refused unchecked. Before, the second address was a new client (200).
TEST(ClientKey, WrongTokensFromOneAddressOfASlash64LockItWholeOut) {
  make_addresses_if_root();
  Running s(with_bob("client-key-token"));
  if (!addresses_here(s.port()))
    GTEST_SKIP() << "no " << kClientA << ", " << kClientB << " and " << kServer << " here (see this file's first comment)";
  const auto status = [&](const std::string& token, const char* from) {
    return first_line(exchange6(from, kServer, s.port(),
                                "GET /api/status HTTP/1.1\r\nHost: [" + std::string(kServer) + "]\r\nAuthorization: Bearer " + token +
                                    "\r\nConnection: close\r\n\r\n"));
  };
  ASSERT_EQ(status("right-secret", kClientB), "HTTP/1.1 200 OK");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(status("wrong-" + std::to_string(i), kClientA), "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(status("right-secret", kClientB), "HTTP/1.1 401 Unauthorized (locked)");
}

// The same for Subsonic passwords (the key is the client and the user name).
TEST(ClientKey, WrongPasswordsFromOneAddressOfASlash64LockItWholeOut) {
  make_addresses_if_root();
  Running s(with_bob("client-key-password"));
  if (!addresses_here(s.port()))
    GTEST_SKIP() << "no " << kClientA << ", " << kClientB << " and " << kServer << " here (see this file's first comment)";
  const auto ping = [&](const std::string& password, const char* from) {
    const std::string got = exchange6(from, kServer, s.port(),
                                      "GET /rest/ping?u=bob&p=" + password + "&v=1.16.1&c=t&f=json HTTP/1.1\r\nHost: [" +
                                          std::string(kServer) + "]\r\nConnection: close\r\n\r\n");
    const std::string body = got.substr(got.find("\r\n\r\n") + 4);
    return nlohmann::json::parse(body)["subsonic-response"]["status"].get<std::string>() +
           (got.find("too many") != std::string::npos ? " (locked)" : "");
  };
  ASSERT_EQ(ping("bobpw", kClientB), "ok");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ping("wrong" + std::to_string(i), kClientA), "failed");
  EXPECT_EQ(ping("bobpw", kClientB), "failed (locked)");
}

// The connections served at once are bounded per client too: two from one address of a /64 and
// a third from another address of it is one too many.
TEST(ClientKey, ConnectionsFromOneSlash64AreBoundedTogether) {
  ServerOptions o = with_bob("client-key-connections");
  o.connections_per_address = 2;
  make_addresses_if_root();
  Running s(o);
  if (!addresses_here(s.port()))
    GTEST_SKIP() << "no " << kClientA << ", " << kClientB << " and " << kServer << " here (see this file's first comment)";
  // The page (public: no token, so that the lockout tests' failures in this process do not matter).
  const std::string head = "GET / HTTP/1.1\r\nHost: [" + std::string(kServer) + "]\r\n";
  // Two connections from A, each answered once (so counted) and left open (kept alive).
  auto kept = [&](const char* from) {
    const int fd = connect6(from, kServer, s.port());
    const std::string request = head + "\r\n";
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string got;
    char buf[4096];
    for (ssize_t n; got.find("</html>") == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
    EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
    return fd;
  };
  const int first = kept(kClientA), second = kept(kClientA);
  EXPECT_EQ(first_line(exchange6(kClientB, kServer, s.port(), head + "Connection: close\r\n\r\n")), "") << "a third connection of the /64 was served";
  ::close(first);
  ::close(second);
}

}  // namespace
}  // namespace clap::server

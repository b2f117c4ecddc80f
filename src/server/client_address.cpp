#include "server/client_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>

namespace clap::server {

namespace {

// `text` as an IPv6 address (brackets and a zone "%eth0" left out), IPv4 as its IPv4-mapped form.
std::optional<in6_addr> parse(std::string text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (const size_t zone = text.find('%'); zone != std::string::npos) text.resize(zone);
  in6_addr a{};
  if (::inet_pton(AF_INET6, text.c_str(), &a) == 1) return a;
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) != 1) return std::nullopt;
  a = in6_addr{};
  a.s6_addr[10] = a.s6_addr[11] = 0xff;
  std::memcpy(a.s6_addr + 12, &v4, 4);
  return a;
}

std::string shown(const in6_addr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    ::inet_ntop(AF_INET, a.s6_addr + 12, buf, sizeof buf);
    return buf;
  }
  ::inet_ntop(AF_INET6, &a, buf, sizeof buf);
  return buf;
}

// The IPv4 client an IPv6 address stands for, as its IPv4-mapped form, when the address carries
// one: a NAT64 gateway's 64:ff9b::/96 (RFC 6052, every IPv4 client it relays shares its /64), an
// IPv4-compatible ::a.b.c.d (all of them one "::/64") and Teredo's 2001:0::/32 (RFC 4380: every
// client of one relay shares a /64; the client's own address is the last 32 bits, inverted).
std::optional<in6_addr> carried_ipv4(const in6_addr& a) {
  const uint8_t* b = a.s6_addr;
  static constexpr uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  const bool nat64 = std::equal(b, b + 12, kNat64);
  const bool teredo = b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0;
  if (!nat64 && !teredo && !IN6_IS_ADDR_V4COMPAT(&a)) return std::nullopt;
  in6_addr v4{};
  v4.s6_addr[10] = v4.s6_addr[11] = 0xff;
  for (int i = 12; i < 16; ++i) v4.s6_addr[i] = teredo ? static_cast<uint8_t>(~b[i]) : b[i];
  return v4;
}

}  // namespace

std::string client_key(const std::string& remote, const std::string& local) {
  const auto a = parse(remote);
  if (!a) return remote;
  if (const auto v4 = carried_ipv4(*a)) return shown(*v4);
  // NAT64's local-use prefix 64:ff9b:1::/48 (RFC 8215) holds an operator's own NAT64 prefixes, of
  // any length RFC 6052 allows (/32 to /96), so where the IPv4 client sits in the address is not
  // known; keyed by /64, every IPv4 client of such a gateway was one client (hostile pass 19,
  // H19S-3; H18S-1 fixed the well-known prefix). It is never routed beyond the operator's
  // network (RFC 8215, 4): only its gateway sends from it, so each address is a client.
  static constexpr uint8_t kLocalNat64[6] = {0, 0x64, 0xff, 0x9b, 0, 0x01};
  if (std::equal(a->s6_addr, a->s6_addr + 6, kLocalNat64)) return shown(*a);
  // Link-local addresses are on the server's own link by definition (and all share fe80::/64).
  if (IN6_IS_ADDR_V4MAPPED(&*a) || IN6_IS_ADDR_LOOPBACK(&*a) || IN6_IS_ADDR_LINKLOCAL(&*a)) return shown(*a);
  if (const auto l = parse(local); l && !IN6_IS_ADDR_V4MAPPED(&*l) && std::equal(a->s6_addr, a->s6_addr + 8, l->s6_addr))
    return shown(*a);
  // A 6to4 site (RFC 3056) is the /48 2002:V4::/48 of one IPv4 address: keyed by /64 it had 65,536 keys.
  const bool six_to_four = a->s6_addr[0] == 0x20 && a->s6_addr[1] == 0x02;
  const int kept = six_to_four ? 6 : 8;
  in6_addr prefix = *a;
  std::fill(prefix.s6_addr + kept, prefix.s6_addr + 16, 0);
  return shown(prefix) + (six_to_four ? "/48" : "/64");
}

}  // namespace clap::server

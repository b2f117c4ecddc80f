#include "server/client_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
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

}  // namespace

std::string client_key(const std::string& remote, const std::string& local) {
  const auto a = parse(remote);
  if (!a) return remote;
  // Link-local addresses are on the server's own link by definition (and all share fe80::/64).
  if (IN6_IS_ADDR_V4MAPPED(&*a) || IN6_IS_ADDR_LOOPBACK(&*a) || IN6_IS_ADDR_LINKLOCAL(&*a)) return shown(*a);
  if (const auto l = parse(local); l && !IN6_IS_ADDR_V4MAPPED(&*l) && std::equal(a->s6_addr, a->s6_addr + 8, l->s6_addr))
    return shown(*a);
  in6_addr prefix = *a;
  std::fill(prefix.s6_addr + 8, prefix.s6_addr + 16, 0);
  return shown(prefix) + "/64";
}

}  // namespace clap::server

// Who a client is, for the limits kept per client: the wrong-token and wrong-password lockouts
// (subsonic_auth.cpp) and the connections served at once (connection.cpp).
#pragma once
#include <string>

namespace clap::server {

// The key a client's failures and connections are counted under: an IPv4 address as it is (also
// when a server on "::" names it by its IPv4-mapped form), an IPv6 address by its /64 ("2001:db8:1:2::/64"),
// except a client in the same /64 as `local` (the server's own address the client connected to),
// which is keyed by its whole address. Anything else (no address, not an address) is its own key.
// Why: an IPv6 client is given a /64 (2^64 addresses it can send from); counted per address, a
// guesser rotating through its /64 got 5 guesses per address without end (pass 16). A neighbour
// on the server's own link (a home LAN's devices share its /64, one address each) is one device
// per address, as an IPv4 LAN's are: keyed by /64, one device's mistyped token would lock every
// device of the house out.
// An address that carries an IPv4 client (NAT64's 64:ff9b::/96, IPv4-compatible ::a.b.c.d, Teredo)
// is that IPv4 address, as a direct IPv4 connection of the client is; a 6to4 site (2002:V4::/48,
// one per IPv4 address) is its /48 (hostile pass 18, H18S-1).
std::string client_key(const std::string& remote, const std::string& local = "");

}  // namespace clap::server

#pragma once
// The host's own addresses, for what a node announces: a colony's public
// WireGuard endpoints when none are configured.

#include <string>
#include <vector>

namespace coral::net {

// The addresses of the host's interfaces that are up, IPv4 first: no
// loopback, no IPv6 link-local (it needs a zone), no multicast. Text
// without brackets.
std::vector<std::string> interface_addresses();

}  // namespace coral::net

#pragma once
// Registration addresses (issue 14, DESIGN.md "Registration over the
// tunnel"): before it registers, a member has no mesh address, and the
// colony admits its WireGuard key only as a provisional peer whose one
// allowed source is an address both sides derive from the key alone: an
// IPv6 link-local address (fe80::/64) whose interface identifier is the
// first 8 bytes of BLAKE2s-256("coral registration address v1" || key).
//
// Link-local, so that it is never routed anywhere and can never collide
// with a mesh address (the mesh subnets are IPv4 and ULA IPv6); derived
// from the key, so that the colony needs no state to know which address a
// provisional peer may use, and a peer cannot use another key's.

#include <string>
#include <string_view>

#include "crypto/keys.h"

namespace coral::mesh {

// The registration address of `key`, in canonical text ("fe80::1c2b:...").
std::string registration_address(const crypto::PublicKey& key);

// Whether `text` is an IPv6 address in fe80::/64 (any interface
// identifier; no zone id, no brackets).
bool is_registration_address(std::string_view text);

}  // namespace coral::mesh

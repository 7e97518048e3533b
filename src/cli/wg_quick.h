#pragma once
// The wg-quick file `coral colony peers add` prints for a device added by
// hand: with it, the standard WireGuard tools (wg-quick, kernel WireGuard,
// wireguard-go) join a coral mesh with no coral on that machine.
//
//   [Interface]
//   PrivateKey = ...          or a comment saying where it goes
//   Address = 10.42.0.5/16, fd42::5/64   the device's mesh IPs, the subnets' prefixes
//   [Peer]                    the colony
//   PublicKey = ...
//   Endpoint = HOST:PORT      the first public endpoint (the others as comments)
//   AllowedIPs = 10.42.0.0/16, fd42::/64   the whole mesh, through the colony
//   PersistentKeepalive = 25  the colony cannot reach a device behind NAT first
//
// Pure text: wireguard::parse_conf reads it back (tests check that).

#include <string>
#include <string_view>

#include "coral/colony/v1/admin.pb.h"

namespace coral::cli {

inline constexpr int kDevicePersistentKeepalive = 25;

// The file for the device `added` describes, of colony `colony_id`.
// `private_key`: the device's private key (base64) to embed, or empty for a
// comment line in its place. The result holds the key when one is given:
// the caller wipes it.
std::string render_wg_quick(std::string_view colony_id, const coral::colony::v1::AddPeerResponse& added,
                            std::string_view private_key);

// "10.42.0.5/16": an address with the prefix length of `network` ("10.42.0.0/16").
std::string with_prefix_of(std::string_view address, std::string_view network);

}  // namespace coral::cli

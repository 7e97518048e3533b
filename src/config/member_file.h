#pragma once
// A member file: what a machine needs to join a colony's mesh from
// elsewhere (a developer's laptop, a bastion, CI) — the colony's public
// facts and its colony secret, never its WireGuard private key. `coral
// colony invite` writes one on the colony's machine (member_view of the
// colony file); `coral colony import` stores it as
// <config dir>/members/<colony-id>.yaml (ConfigDir::save_member). The
// proxy, `coral status` and agents read it through
// ConfigDir::load_membership. docs/configuration.md describes every field.
//
//   kind: member
//   colony_id: my-shop-production-a3f2e1
//   app_name: my-shop
//   environment: production
//
//   wireguard:
//       public_key: <base64>             the colony's
//       mesh_ipv4: 10.42.0.1             the colony's own mesh addresses
//       mesh_ipv6: fd5e:1c3a:9b07::1
//       mesh_network_ipv4: 10.42.0.0/16
//       mesh_network_ipv6: fd5e:1c3a:9b07::/64
//       public_endpoints: [203.0.113.7:41820]   (optional; may be empty)
//
//   services:
//       connect_port: 9000
//
//   discovery:
//       endpoint: http://discovery.example:8080
//       mesh_id: my-shop-production-a3f2e1
//
//   colony_secret: <43 characters of base64url>
//
// Every field is required but wireguard.public_endpoints. Errors name the
// file and the field as the colony file's do:
//   <file>: wireguard.public_key: must be 32 bytes in base64 ...
//   <file>: missing field services.connect_port
// A colony file given where a member file is expected (it has
// wireguard.private_key) is refused as such, without showing the key.

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/address.h"
#include "base/cidr.h"
#include "base/file.h"
#include "config/colony_file.h"
#include "crypto/keys.h"

namespace coral::config {

struct MemberConfig {
  std::string colony_id;    // [a-z0-9-_.]{1,63}; also the file's name under members/
  std::string app_name;     // 1-63 bytes, no control characters
  std::string environment;  // 1-63 bytes, no control characters
  std::string discovery_endpoint;  // http://host[:port][/prefix]
  std::string mesh_id;             // what the colony registers as in discovery
  crypto::PublicKey colony_public_key;        // the colony's WireGuard public key
  std::vector<std::string> public_endpoints;  // "host:port" of the colony's WireGuard listener
  base::Cidr mesh_network_ipv4 = base::Cidr::parse("10.42.0.0/16").value();
  base::Cidr mesh_network_ipv6 = base::Cidr::parse("fd42::/64").value();
  base::Ipv4Bytes mesh_ipv4{10, 42, 0, 1};  // the colony's own mesh addresses
  base::Ipv6Bytes mesh_ipv6{0xfd, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  std::uint16_t connect_port = 9000;  // the colony's services, on its mesh addresses
  // What Register takes (crypto::constant_time_equal on the colony's side).
  // The caller wipes it (crypto::wipe) when done.
  std::string colony_secret;

  bool operator==(const MemberConfig&) const = default;
};

// The member's view of a colony: every public fact of `colony` and its
// secret, never its private key; `public_endpoints` as given (the caller
// picks them: flags, the colony file's, the running colony's).
MemberConfig member_view(const ColonyConfig& colony, std::vector<std::string> public_endpoints);

// Checks every field and their relations (the colony's addresses inside
// the subnets, as validate(ColonyConfig) does). The error names the first
// bad field, without a file: "wireguard.public_key: must not be all zeros".
std::expected<void, std::string> validate(const MemberConfig& member);

// Reads, parses and validates a member file. Errors start with the path.
std::expected<MemberConfig, std::string> load_member_file(const std::filesystem::path& path);

// The file's text (the colony file's layout: kind, identity, wireguard,
// services, discovery, colony_secret last). Holds the secret: wipe it.
std::string to_yaml(const MemberConfig& member);

// Validates, then writes atomically with mode 0600 (base::write_file_atomically).
std::expected<void, std::string> save(const std::filesystem::path& path, const MemberConfig& member,
                                      base::Overwrite overwrite = base::Overwrite::yes);

}  // namespace coral::config

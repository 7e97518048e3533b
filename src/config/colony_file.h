#pragma once
// A colony's identity and configuration: the file `coral init` writes to
// <config dir>/colonies/<colony-id>.yaml, in RFD 005's format, plus the
// colony secret. docs/configuration.md describes every field.
//
//   colony_id: my-shop-production-a3f2e1
//   app_name: my-shop
//   environment: production
//
//   wireguard:
//       private_key: <base64>
//       public_key: <base64>
//       mesh_ipv4: 10.42.0.1
//       mesh_ipv6: fd5e:1c3a:9b07::1
//       listen_port: 41820
//       mesh_network_ipv4: 10.42.0.0/16
//       mesh_network_ipv6: fd5e:1c3a:9b07::/64
//       mesh: host                      (optional: host, userspace or tun)
//       public_endpoints: [203.0.113.7:41820]   (optional)
//
//   services:
//       connect_port: 9000
//       dashboard_port: 3000
//
//   discovery:
//       endpoint: http://localhost:8080
//       mesh_id: my-shop-production-a3f2e1
//       register_interval: 60s
//       auto_register: true
//
//   colony_secret: <43 characters of base64url>
//
// Every field is required but wireguard.mesh and wireguard.public_endpoints. Errors name the file and the field, in the form
//   <file>: wireguard.mesh_ipv4: "10.42.0" is not an IPv4 address
//   <file>: missing field services.connect_port
//   <file>: line 4, column 3: YAML syntax error: ...

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/address.h"
#include "base/cidr.h"
#include "base/file.h"
#include "crypto/keys.h"

namespace coral::config {

// Limits of the identity fields (docs/configuration.md).
inline constexpr std::size_t kMaxColonyIdBytes = 63;  // as discovery's mesh_id
inline constexpr std::size_t kMaxNameBytes = 63;      // app_name, environment
inline constexpr std::size_t kMinColonySecretChars = 32;
inline constexpr std::size_t kMaxColonySecretChars = 256;
inline constexpr std::chrono::milliseconds kMinRegisterInterval = std::chrono::seconds(1);
inline constexpr std::chrono::milliseconds kMaxRegisterInterval = std::chrono::hours(24);

// The defaults below are those of RFD 005 and `coral init` (except the IPv6
// network, for which init picks a random ULA /64: see new_colony).
// How a colony carries its mesh (DESIGN.md, "Mesh transports").
enum class MeshTransport {
  host,       // the host's own sockets: the host already reaches the mesh IPs
  userspace,  // coral's WireGuard + a userspace TCP/IP stack: no privilege
  tun,        // coral's WireGuard + a TUN device and the kernel's TCP/IP
};
std::string_view to_string(MeshTransport transport);
// "host", "userspace" or "tun"; nullopt otherwise.
std::optional<MeshTransport> parse_mesh_transport(std::string_view text);

struct WireGuardConfig {
  crypto::SecretKey private_key;  // zero until set
  crypto::PublicKey public_key;   // must be private_key's public key
  base::Ipv4Bytes mesh_ipv4{10, 42, 0, 1};
  base::Ipv6Bytes mesh_ipv6{0xfd, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  std::uint16_t listen_port = 41820;  // UDP
  base::Cidr mesh_network_ipv4 = base::Cidr::parse("10.42.0.0/16").value();
  base::Cidr mesh_network_ipv6 = base::Cidr::parse("fd42::/64").value();
  // Optional in the file (`mesh`, default host; `public_endpoints`, default
  // none: `coral colony start` then announces the host's interface
  // addresses at listen_port).
  MeshTransport mesh = MeshTransport::host;
  std::vector<std::string> public_endpoints;  // "host:port", what discovery hands out

  bool operator==(const WireGuardConfig&) const = default;
};

struct ServicesConfig {
  std::uint16_t connect_port = 9000;  // Connect/gRPC (HTTP/1.1 + h2c), on the mesh IPs
  std::uint16_t dashboard_port = 3000;

  bool operator==(const ServicesConfig&) const = default;
};

struct DiscoveryConfig {
  std::string endpoint = "http://localhost:8080";  // http://host[:port][/prefix]
  std::string mesh_id;                             // what the colony registers as
  std::chrono::milliseconds register_interval = std::chrono::seconds(60);
  bool auto_register = true;

  bool operator==(const DiscoveryConfig&) const = default;
};

struct ColonyConfig {
  std::string colony_id;    // [a-z0-9-_.]{1,63}; also the file's name
  std::string app_name;     // 1-63 bytes, no control characters
  std::string environment;  // 1-63 bytes, no control characters
  WireGuardConfig wireguard;
  ServicesConfig services;
  DiscoveryConfig discovery;
  // What agents and proxies present to MeshService.Register (compare with
  // crypto::constant_time_equal). 32-256 characters of base64url; init
  // makes 43 (32 random bytes).
  std::string colony_secret;

  bool operator==(const ColonyConfig&) const = default;
};

// Checks every field and the relations between them (the public key is the
// private key's; each mesh IP lies in its network and is neither its network
// address nor, for IPv4, its broadcast address). The error names the first
// bad field in file order, without a file: "wireguard.listen_port: must be
// 1-65535, got 0". Secrets never appear in errors.
std::expected<void, std::string> validate(const ColonyConfig& config);

// The field rules on their own, for flags that set them (`coral init
// --colony-id`): errors read "must be ...; got ...", without a field name.
std::expected<void, std::string> validate_colony_id(std::string_view id);
std::expected<void, std::string> validate_name(std::string_view name);
std::expected<void, std::string> validate_discovery_endpoint(std::string_view endpoint);
std::expected<void, std::string> validate_colony_secret(std::string_view secret);

// Reads, parses and validates a colony file. Errors start with the path as
// given ("<path>: ..."); fields that are missing, duplicated, unknown, of the
// wrong YAML kind or invalid are named.
std::expected<ColonyConfig, std::string> load(const std::filesystem::path& path);

// The file's text: RFD 005's key order, 4-space indentation, a blank line
// between sections, colony_secret last. The config must be valid. The text
// holds secrets: wipe it (crypto::wipe) when done.
std::string to_yaml(const ColonyConfig& config);

// Validates, then writes the file atomically (base::write_file_atomically,
// mode 0600). With Overwrite::no, an existing file gives an error that
// contains "already exists". The directory must exist.
std::expected<void, std::string> save(const std::filesystem::path& path, const ColonyConfig& config,
                                      base::Overwrite overwrite = base::Overwrite::yes);

// Gives the colony file at `path` a fresh colony secret
// (crypto::generate_colony_secret, as new_colony), keeping every other field
// as the file has it, and writes it back atomically (mode 0600). With
// `expected_key`, the file must still hold the colony of that WireGuard
// public key (a running colony rotating its own secret), else nothing is
// written. Returns the config as written: the caller prints the secret once
// and wipes it (crypto::wipe). Errors name the file; on any error the file is
// as it was.
std::expected<ColonyConfig, std::string> rotate_secret(const std::filesystem::path& path,
                                                       const std::optional<crypto::PublicKey>& expected_key = {});

// A warning for a colony file that others can read ("<path> holds secrets but
// is accessible to group and others (mode 0644): run chmod 600 <path>"),
// nullopt when the mode is 0600 or stricter or the file cannot be stat-ed.
// For the CLI to print.
std::optional<std::string> permission_warning(const std::filesystem::path& path);

// What `coral init` takes. Unset identity fields are derived; the rest have
// RFD 005's defaults.
struct NewColonyOptions {
  std::optional<std::string> colony_id;  // default: "<app>-<env>-<6 random hex digits>"
  std::optional<std::string> mesh_id;    // default: the colony id
  std::string discovery_endpoint = "http://localhost:8080";
  base::Cidr mesh_ipv4_net = base::Cidr::parse("10.42.0.0/16").value();
  std::optional<base::Cidr> mesh_ipv6_net;  // default: random_ula_prefix()
  std::uint16_t connect_port = 9000;
  std::uint16_t listen_port = 41820;
  std::uint16_t dashboard_port = 3000;
  std::chrono::milliseconds register_interval = std::chrono::seconds(60);
  bool auto_register = true;
  MeshTransport mesh = MeshTransport::userspace;  // wireguard.mesh
};

// A new colony: fresh WireGuard keys and colony secret, the colony's mesh
// IPs the first address after each network address (10.42.0.1, <ula>::1).
// The derived colony id lowercases app and environment and turns every
// character outside [a-z0-9-_.] into '-', cutting the "<app>-<env>" part to
// 56 bytes so that the id fits in 63. Errors are validate()'s ("app_name:
// must be ...").
std::expected<ColonyConfig, std::string> new_colony(std::string_view app_name, std::string_view environment,
                                                    const NewColonyOptions& options = {});

// "<app>-<env>" as new_colony derives it, before the random suffix.
std::string colony_id_prefix(std::string_view app_name, std::string_view environment);

// A random RFC 4193 unique local /64 (section 3.2): fd00::/8, a 40-bit random
// global id, subnet id 0.
base::Cidr random_ula_prefix();

}  // namespace coral::config

#pragma once
// The field rules and YAML reading the colony file (colony_file.h) and the
// member file (member_file.h) share: strict mappings (known keys, each
// once, scalar where one value is expected), errors that name the field
// ("wireguard.mesh_ipv4: ...", "missing field services.connect_port") and
// never show a value that may hold a secret. Internal to config/.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/address.h"
#include "base/cidr.h"
#include "base/file.h"
#include "crypto/keys.h"

namespace coral::config::fields {

using Error = std::unexpected<std::string>;

// Largest config file read: a real one is under 1 KiB.
inline constexpr std::size_t kMaxFileBytes = 64 * 1024;

// Whether a value ran on through the lines after it (a stray quote, a
// broken indentation), and so may hold a secret field's line.
bool runs_on(std::string_view text);
// A value as errors show it: quoted, or described when it runs on.
std::string quote(std::string_view text);
// "<field>: <why>".
std::expected<void, std::string> field_error(std::string_view field, std::string_view why);

std::expected<void, std::string> check_port(std::string_view field, std::uint16_t port);
// The mesh subnets (wireguard.mesh_network_ipv4/6): the right family, room
// for the colony and a peer.
std::expected<void, std::string> check_networks(const base::Cidr& net4, const base::Cidr& net6);
// The colony's own addresses (wireguard.mesh_ipv4/6) inside the subnets,
// neither network nor (IPv4) broadcast address.
std::expected<void, std::string> check_mesh_ips(const base::Cidr& net4, const base::Ipv4Bytes& mesh_ipv4,
                                                const base::Cidr& net6, const base::Ipv6Bytes& mesh_ipv6);

// " (line N)", or "" when the node has no position.
std::string line_of(const YAML::Node& node);
// "a, b, c".
std::string join(std::initializer_list<std::string_view> names);
// "section.key", or "key" at the top level.
std::string dotted(std::string_view section, std::string_view key);

// The keys of a mapping must be known, scalar, and each there once.
std::expected<void, std::string> check_keys(const YAML::Node& map, std::string_view section,
                                            std::initializer_list<std::string_view> known);
// map[key] as a mapping with only the `known` keys.
std::expected<YAML::Node, std::string> section(const YAML::Node& map, std::string_view key,
                                               std::initializer_list<std::string_view> known);
// map[key] as a non-null scalar; its text.
std::expected<std::string, std::string> scalar(const YAML::Node& map, std::string_view section, std::string_view key);

std::expected<std::uint16_t, std::string> parse_port(std::string_view field, std::string_view text);
// map[key] as a port number (scalar, then parse_port).
std::expected<std::uint16_t, std::string> port(const YAML::Node& map, std::string_view section, std::string_view key);
std::expected<bool, std::string> parse_bool(std::string_view field, std::string_view text);
std::expected<base::Cidr, std::string> parse_cidr(std::string_view field, std::string_view text);

// The whole file (at most kMaxFileBytes; larger: "... not a <what>"), or an
// error without the path ("no such file", ...). The caller wipes it.
std::expected<std::string, std::string> read_file(const std::filesystem::path& path, std::string_view what);
// `content` as YAML; wiped either way. Errors start with `name`; an empty
// document is "<name>: the file is empty (expected a <what>)".
std::expected<YAML::Node, std::string> parse(std::string& content, const std::string& name, std::string_view what);
// read_file then parse: the file's document, or an error that starts with
// the path ("<path>: cannot read: no such file").
std::expected<YAML::Node, std::string> load_yaml(const std::filesystem::path& path, std::string_view what);

// The load and save of both files (the config types' validate and to_yaml,
// found by ADL). load_config reads `path` as YAML (load_yaml), fills a
// Config with read(root, config), then validates it; errors start with the
// path, and the colony secret of a config that fails is wiped.
template <class Config, class Read>
std::expected<Config, std::string> load_config(const std::filesystem::path& path, std::string_view what, Read read) {
  const std::string name = path.string();
  auto parsed = load_yaml(path, what);
  if (!parsed) return Error(parsed.error());
  const YAML::Node root = std::move(*parsed);

  Config config;
  const auto fail = [&](const std::string& why) {
    crypto::wipe(config.colony_secret);
    return Error(name + ": " + why);
  };
  try {
    if (auto done = read(root, config); !done) return fail(done.error());
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws only on misuse of its API; report it rather than crash.
    return fail(std::string("invalid YAML: ") + e.what());
  }
  if (auto valid = validate(config); !valid) return fail(valid.error());
  return config;
}
// Validates ("refusing to write an invalid <what> to <path>: ..."), then
// writes to_yaml(config) atomically with mode 0600 and wipes the text.
template <class Config>
std::expected<void, std::string> save_config(const std::filesystem::path& path, const Config& config,
                                             base::Overwrite overwrite, std::string_view what) {
  if (auto valid = validate(config); !valid) {
    return Error("refusing to write an invalid " + std::string(what) + " to " + path.string() + ": " + valid.error());
  }
  std::string text = to_yaml(config);
  auto written = base::write_file_atomically(path, text, 0600, overwrite);
  crypto::wipe(text);
  return written;
}

// The top-level colony_id, app_name and environment, each checked
// (validate_colony_id, validate_name) as it is read.
std::expected<void, std::string> read_identity(const YAML::Node& root, std::string& colony_id, std::string& app_name,
                                               std::string& environment);
// discovery.endpoint and discovery.mesh_id, each checked as it is read.
std::expected<void, std::string> read_discovery_target(const YAML::Node& discovery, std::string& endpoint,
                                                       std::string& mesh_id);

// The `wireguard:` fields the colony file and the member file both hold:
// the colony's public WireGuard facts. Each reader reads its fields from
// the section `wg` in file order; the colony file reads its own fields
// (private_key, listen_port, mesh) in between.
// wireguard.public_key.
std::expected<crypto::PublicKey, std::string> read_public_key(const YAML::Node& wg);
// wireguard.mesh_ipv4 and wireguard.mesh_ipv6: the colony's own mesh addresses.
std::expected<void, std::string> read_mesh_ips(const YAML::Node& wg, base::Ipv4Bytes& ipv4, base::Ipv6Bytes& ipv6);
// wireguard.mesh_network_ipv4 and wireguard.mesh_network_ipv6.
std::expected<void, std::string> read_mesh_networks(const YAML::Node& wg, base::Cidr& net4, base::Cidr& net6);
// wireguard.public_endpoints (optional: absent or null leaves `endpoints` as it is).
std::expected<void, std::string> read_public_endpoints(const YAML::Node& wg, std::vector<std::string>& endpoints);

// The checks of validate() the two files share, each in file order: the
// identity fields; discovery.endpoint and discovery.mesh_id; the mesh
// subnets then the colony's addresses in them (check_networks,
// check_mesh_ips); each public endpoint a "host:port".
std::expected<void, std::string> check_identity(std::string_view colony_id, std::string_view app_name,
                                                std::string_view environment);
std::expected<void, std::string> check_discovery_target(std::string_view endpoint, std::string_view mesh_id);
// colony_secret (validate_colony_secret).
std::expected<void, std::string> check_secret(std::string_view secret);
std::expected<void, std::string> check_mesh(const base::Cidr& net4, const base::Ipv4Bytes& mesh_ipv4,
                                            const base::Cidr& net6, const base::Ipv6Bytes& mesh_ipv6);
std::expected<void, std::string> check_public_endpoints(const std::vector<std::string>& endpoints);

// The lines of to_yaml the two files share: colony_id, app_name and
// environment at the top level; under `wireguard:` (4-space indentation)
// public_key, mesh_ipv4, mesh_ipv6; mesh_network_ipv4, mesh_network_ipv6;
// the items of a non-empty public_endpoints list; under `discovery:`
// endpoint and mesh_id.
std::string identity_lines(std::string_view colony_id, std::string_view app_name, std::string_view environment);
std::string key_and_ip_lines(const crypto::PublicKey& key, const base::Ipv4Bytes& ipv4, const base::Ipv6Bytes& ipv6);
std::string mesh_network_lines(const base::Cidr& net4, const base::Cidr& net6);
std::string public_endpoint_items(const std::vector<std::string>& endpoints);
std::string discovery_target_lines(std::string_view endpoint, std::string_view mesh_id);

// Whether a plain YAML scalar with this text would read back as something
// other than a string (a number, a bool, null).
bool looks_typed(std::string_view text);
// `text` as a YAML scalar that reads back as this string.
std::string yaml_string(std::string_view text);

}  // namespace coral::config::fields

#include "config/member_file.h"

#include <yaml-cpp/yaml.h>

#include <utility>

#include "config/fields.h"

namespace coral::config {
namespace {

using namespace fields;

constexpr std::string_view kKind = "member";

// Fills `member` from the document, field by field in file order; validate()
// then checks the relations.
std::expected<void, std::string> read_document(const YAML::Node& root, MemberConfig& member) {
  if (!root.IsMap()) return Error("expected a mapping of fields (kind: member, colony_id: ...)" + line_of(root));
  // A colony file where a member file belongs: say so, never show its key.
  if (const YAML::Node wg = root["wireguard"]; wg.IsMap() && wg["private_key"].IsDefined()) {
    return Error(
        "this is a colony file (it holds wireguard.private_key), not a member file: on the colony's machine, "
        "write a member file with coral colony invite, and never copy the colony file elsewhere");
  }
  if (auto keys = check_keys(root, "", {"kind", "colony_id", "app_name", "environment", "wireguard", "services",
                                        "discovery", "colony_secret"});
      !keys) {
    return keys;
  }

  auto kind = scalar(root, "", "kind");
  if (!kind) return Error(kind.error());
  if (*kind != kKind) {
    return field_error("kind", "must be \"member\" (a file written by coral colony invite), got " + quote(*kind));
  }

  if (auto read = read_identity(root, member.colony_id, member.app_name, member.environment); !read) return read;

  {
    auto wg = section(root, "wireguard",
                      {"public_key", "mesh_ipv4", "mesh_ipv6", "mesh_network_ipv4", "mesh_network_ipv6",
                       "public_endpoints"});
    if (!wg) return Error(wg.error());
    auto public_key = read_public_key(*wg);
    if (!public_key) return Error(public_key.error());
    member.colony_public_key = *public_key;
    if (auto read = read_mesh_ips(*wg, member.mesh_ipv4, member.mesh_ipv6); !read) return read;
    if (auto read = read_mesh_networks(*wg, member.mesh_network_ipv4, member.mesh_network_ipv6); !read) return read;
    if (auto read = read_public_endpoints(*wg, member.public_endpoints); !read) return read;
  }

  {
    auto services = section(root, "services", {"connect_port"});
    if (!services) return Error(services.error());
    auto connect_port = port(*services, "services", "connect_port");
    if (!connect_port) return Error(connect_port.error());
    member.connect_port = *connect_port;
  }

  {
    auto discovery = section(root, "discovery", {"endpoint", "mesh_id"});
    if (!discovery) return Error(discovery.error());
    if (auto read = read_discovery_target(*discovery, member.discovery_endpoint, member.mesh_id); !read) return read;
  }

  auto secret = scalar(root, "", "colony_secret");
  if (!secret) return Error(secret.error());
  member.colony_secret = std::move(*secret);
  return {};
}

}  // namespace

MemberConfig member_view(const ColonyConfig& colony, std::vector<std::string> public_endpoints) {
  const WireGuardConfig& wg = colony.wireguard;
  return MemberConfig{
      .colony_id = colony.colony_id,
      .app_name = colony.app_name,
      .environment = colony.environment,
      .discovery_endpoint = colony.discovery.endpoint,
      .mesh_id = colony.discovery.mesh_id,
      .colony_public_key = wg.public_key,
      .public_endpoints = std::move(public_endpoints),
      .mesh_network_ipv4 = wg.mesh_network_ipv4,
      .mesh_network_ipv6 = wg.mesh_network_ipv6,
      .mesh_ipv4 = wg.mesh_ipv4,
      .mesh_ipv6 = wg.mesh_ipv6,
      .connect_port = colony.services.connect_port,
      .colony_secret = colony.colony_secret,
  };
}

std::expected<void, std::string> validate(const MemberConfig& member) {
  if (auto valid = check_identity(member.colony_id, member.app_name, member.environment); !valid) return valid;
  if (member.colony_public_key.is_zero()) return field_error("wireguard.public_key", "must not be all zeros");
  if (auto valid = check_mesh(member.mesh_network_ipv4, member.mesh_ipv4, member.mesh_network_ipv6, member.mesh_ipv6);
      !valid) {
    return valid;
  }
  if (auto valid = check_public_endpoints(member.public_endpoints); !valid) return valid;
  if (auto valid = check_port("services.connect_port", member.connect_port); !valid) return valid;
  if (auto valid = check_discovery_target(member.discovery_endpoint, member.mesh_id); !valid) return valid;
  return check_secret(member.colony_secret);
}

std::expected<MemberConfig, std::string> load_member_file(const std::filesystem::path& path) {
  return load_config<MemberConfig>(path, "member file", read_document);
}

std::string to_yaml(const MemberConfig& member) {
  std::string out;
  out += "# coral member file: how to join colony " + member.colony_id + "'s mesh from another machine\n";
  out += "# (coral colony import FILE). Holds the colony secret: keep it mode 0600.\n";
  out += "# It never holds the colony's private key. See docs/configuration.md.\n";
  out += "kind: " + std::string(kKind) + "\n";
  out += identity_lines(member.colony_id, member.app_name, member.environment);
  out += "\n";
  out += "wireguard:\n";
  out += key_and_ip_lines(member.colony_public_key, member.mesh_ipv4, member.mesh_ipv6);
  out += mesh_network_lines(member.mesh_network_ipv4, member.mesh_network_ipv6);
  if (member.public_endpoints.empty()) {
    out += "    public_endpoints: []\n";
  } else {
    out += "    public_endpoints:\n" + public_endpoint_items(member.public_endpoints);
  }
  out += "\n";
  out += "services:\n";
  out += "    connect_port: " + std::to_string(member.connect_port) + "\n";
  out += "\n";
  out += "discovery:\n";
  out += discovery_target_lines(member.discovery_endpoint, member.mesh_id);
  out += "\n";
  out += "colony_secret: " + yaml_string(member.colony_secret) + "\n";
  return out;
}

std::expected<void, std::string> save(const std::filesystem::path& path, const MemberConfig& member,
                                      base::Overwrite overwrite) {
  return save_config(path, member, overwrite, "member file");
}

}  // namespace coral::config

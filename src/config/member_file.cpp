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

  auto colony_id = scalar(root, "", "colony_id");
  if (!colony_id) return Error(colony_id.error());
  if (auto valid = validate_colony_id(*colony_id); !valid) return field_error("colony_id", valid.error());
  member.colony_id = *colony_id;

  auto app_name = scalar(root, "", "app_name");
  if (!app_name) return Error(app_name.error());
  if (auto valid = validate_name(*app_name); !valid) return field_error("app_name", valid.error());
  member.app_name = *app_name;

  auto environment = scalar(root, "", "environment");
  if (!environment) return Error(environment.error());
  if (auto valid = validate_name(*environment); !valid) return field_error("environment", valid.error());
  member.environment = *environment;

  {
    auto wg = section(root, "wireguard",
                      {"public_key", "mesh_ipv4", "mesh_ipv6", "mesh_network_ipv4", "mesh_network_ipv6",
                       "public_endpoints"});
    if (!wg) return Error(wg.error());

    auto public_text = scalar(*wg, "wireguard", "public_key");
    if (!public_text) return Error(public_text.error());
    auto public_key = crypto::PublicKey::from_base64(*public_text);
    if (!public_key) return field_error("wireguard.public_key", public_key.error() + "; got " + quote(*public_text));
    member.colony_public_key = *public_key;

    auto ipv4_text = scalar(*wg, "wireguard", "mesh_ipv4");
    if (!ipv4_text) return Error(ipv4_text.error());
    auto ipv4 = base::parse_ipv4(*ipv4_text);
    if (!ipv4) return field_error("wireguard.mesh_ipv4", quote(*ipv4_text) + " is not an IPv4 address");
    member.mesh_ipv4 = *ipv4;

    auto ipv6_text = scalar(*wg, "wireguard", "mesh_ipv6");
    if (!ipv6_text) return Error(ipv6_text.error());
    auto ipv6 = base::parse_ipv6(*ipv6_text);
    if (!ipv6) return field_error("wireguard.mesh_ipv6", quote(*ipv6_text) + " is not an IPv6 address");
    member.mesh_ipv6 = *ipv6;

    auto net4_text = scalar(*wg, "wireguard", "mesh_network_ipv4");
    if (!net4_text) return Error(net4_text.error());
    auto net4 = parse_cidr("wireguard.mesh_network_ipv4", *net4_text);
    if (!net4) return Error(net4.error());
    member.mesh_network_ipv4 = *net4;

    auto net6_text = scalar(*wg, "wireguard", "mesh_network_ipv6");
    if (!net6_text) return Error(net6_text.error());
    auto net6 = parse_cidr("wireguard.mesh_network_ipv6", *net6_text);
    if (!net6) return Error(net6.error());
    member.mesh_network_ipv6 = *net6;

    if (const YAML::Node endpoints = (*wg)["public_endpoints"]; endpoints.IsDefined() && !endpoints.IsNull()) {
      if (!endpoints.IsSequence())
        return field_error("wireguard.public_endpoints", "expected a list of \"host:port\"" + line_of(endpoints));
      for (const YAML::Node& endpoint : endpoints) {
        if (!endpoint.IsScalar())
          return field_error("wireguard.public_endpoints", "expected a list of \"host:port\"" + line_of(endpoint));
        member.public_endpoints.push_back(endpoint.Scalar());
      }
    }
  }

  {
    auto services = section(root, "services", {"connect_port"});
    if (!services) return Error(services.error());
    auto connect_text = scalar(*services, "services", "connect_port");
    if (!connect_text) return Error(connect_text.error());
    auto connect_port = parse_port("services.connect_port", *connect_text);
    if (!connect_port) return Error(connect_port.error());
    member.connect_port = *connect_port;
  }

  {
    auto discovery = section(root, "discovery", {"endpoint", "mesh_id"});
    if (!discovery) return Error(discovery.error());
    auto endpoint = scalar(*discovery, "discovery", "endpoint");
    if (!endpoint) return Error(endpoint.error());
    if (auto valid = validate_discovery_endpoint(*endpoint); !valid) {
      return field_error("discovery.endpoint", valid.error());
    }
    member.discovery_endpoint = *endpoint;

    auto mesh_id = scalar(*discovery, "discovery", "mesh_id");
    if (!mesh_id) return Error(mesh_id.error());
    if (auto valid = validate_colony_id(*mesh_id); !valid) return field_error("discovery.mesh_id", valid.error());
    member.mesh_id = *mesh_id;
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
  if (auto valid = validate_colony_id(member.colony_id); !valid) return field_error("colony_id", valid.error());
  if (auto valid = validate_name(member.app_name); !valid) return field_error("app_name", valid.error());
  if (auto valid = validate_name(member.environment); !valid) return field_error("environment", valid.error());
  if (member.colony_public_key.is_zero()) return field_error("wireguard.public_key", "must not be all zeros");
  if (auto valid = check_networks(member.mesh_network_ipv4, member.mesh_network_ipv6); !valid) return valid;
  if (auto valid =
          check_mesh_ips(member.mesh_network_ipv4, member.mesh_ipv4, member.mesh_network_ipv6, member.mesh_ipv6);
      !valid) {
    return valid;
  }
  for (const std::string& endpoint : member.public_endpoints) {
    if (auto parsed = base::parse_host_port(endpoint); !parsed)
      return field_error("wireguard.public_endpoints", quote(endpoint) + ": " + parsed.error());
  }
  if (auto valid = check_port("services.connect_port", member.connect_port); !valid) return valid;
  if (auto valid = validate_discovery_endpoint(member.discovery_endpoint); !valid) {
    return field_error("discovery.endpoint", valid.error());
  }
  if (auto valid = validate_colony_id(member.mesh_id); !valid) return field_error("discovery.mesh_id", valid.error());
  if (auto valid = validate_colony_secret(member.colony_secret); !valid) {
    return field_error("colony_secret", valid.error());
  }
  return {};
}

std::expected<MemberConfig, std::string> load_member_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  auto content = read_file(path, "member file");
  if (!content) return Error(name + ": cannot read: " + content.error());
  auto parsed = parse(*content, name, "member file");
  if (!parsed) return Error(parsed.error());
  const YAML::Node root = std::move(*parsed);

  MemberConfig member;
  try {
    if (auto read = read_document(root, member); !read) {
      crypto::wipe(member.colony_secret);
      return Error(name + ": " + read.error());
    }
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws only on misuse of its API; report it rather than crash.
    crypto::wipe(member.colony_secret);
    return Error(name + ": invalid YAML: " + e.what());
  }
  if (auto valid = validate(member); !valid) {
    crypto::wipe(member.colony_secret);
    return Error(name + ": " + valid.error());
  }
  return member;
}

std::string to_yaml(const MemberConfig& member) {
  std::string out;
  out += "# coral member file: how to join colony " + member.colony_id + "'s mesh from another machine\n";
  out += "# (coral colony import FILE). Holds the colony secret: keep it mode 0600.\n";
  out += "# It never holds the colony's private key. See docs/configuration.md.\n";
  out += "kind: " + std::string(kKind) + "\n";
  out += "colony_id: " + yaml_string(member.colony_id) + "\n";
  out += "app_name: " + yaml_string(member.app_name) + "\n";
  out += "environment: " + yaml_string(member.environment) + "\n";
  out += "\n";
  out += "wireguard:\n";
  out += "    public_key: " + yaml_string(member.colony_public_key.to_base64()) + "\n";
  out += "    mesh_ipv4: " + base::format_ipv4(member.mesh_ipv4) + "\n";
  out += "    mesh_ipv6: " + yaml_string(base::format_ipv6(member.mesh_ipv6)) + "\n";
  out += "    mesh_network_ipv4: " + member.mesh_network_ipv4.to_string() + "\n";
  out += "    mesh_network_ipv6: " + yaml_string(member.mesh_network_ipv6.to_string()) + "\n";
  if (member.public_endpoints.empty()) {
    out += "    public_endpoints: []\n";
  } else {
    out += "    public_endpoints:\n";
    for (const std::string& endpoint : member.public_endpoints) out += "        - " + yaml_string(endpoint) + "\n";
  }
  out += "\n";
  out += "services:\n";
  out += "    connect_port: " + std::to_string(member.connect_port) + "\n";
  out += "\n";
  out += "discovery:\n";
  out += "    endpoint: " + yaml_string(member.discovery_endpoint) + "\n";
  out += "    mesh_id: " + yaml_string(member.mesh_id) + "\n";
  out += "\n";
  out += "colony_secret: " + yaml_string(member.colony_secret) + "\n";
  return out;
}

std::expected<void, std::string> save(const std::filesystem::path& path, const MemberConfig& member,
                                      base::Overwrite overwrite) {
  if (auto valid = validate(member); !valid) {
    return Error("refusing to write an invalid member file to " + path.string() + ": " + valid.error());
  }
  std::string text = to_yaml(member);
  auto written = base::write_file_atomically(path, text, 0600, overwrite);
  crypto::wipe(text);
  return written;
}

}  // namespace coral::config

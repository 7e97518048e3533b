#include "config/fields.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <system_error>
#include <utility>
#include <vector>

#include "base/text.h"
#include "config/colony_file.h"
#include "crypto/keys.h"

namespace coral::config::fields {
namespace {

std::string system_error(int error) { return std::generic_category().message(error); }

}  // namespace

// A value as errors show it. A value that ran on through the lines after
// it (a stray quote, a broken indentation) may hold a secret field's line:
// such a value is described, never shown.
bool runs_on(std::string_view text) {
  return text.find('\n') != std::string_view::npos || text.find("colony_secret") != std::string_view::npos ||
         text.find("private_key") != std::string_view::npos;
}

std::string quote(std::string_view text) {
  if (runs_on(text)) return "(a value that runs into the lines after it: check its quotes and indentation)";
  return base::quote(text, base::QuoteOptions{.max_bytes = std::string_view::npos, .cut_names_size = false,
                                              .keep_utf8 = true});
}

// "<field>: <why>" for the field checks of validate().
std::expected<void, std::string> field_error(std::string_view field, std::string_view why) {
  return Error(std::string(field) + ": " + std::string(why));
}

std::expected<void, std::string> check_port(std::string_view field, std::uint16_t port) {
  if (port == 0) return field_error(field, "must be a port number 1-65535, got 0");
  return {};
}

std::expected<void, std::string> check_networks(const base::Cidr& net4, const base::Cidr& net6) {
  if (!net4.is_ipv4())
    return field_error("wireguard.mesh_network_ipv4", quote(net4.to_string()) + " is not an IPv4 prefix");
  // The colony's own address plus at least one peer, besides the network
  // and broadcast addresses.
  if (net4.prefix_length() > 30) {
    return field_error(
        "wireguard.mesh_network_ipv4",
        "the prefix must be /30 or shorter (room for the colony and its peers), got " + net4.to_string());
  }
  if (!net6.is_ipv6())
    return field_error("wireguard.mesh_network_ipv6", quote(net6.to_string()) + " is not an IPv6 prefix");
  if (net6.prefix_length() > 126) {
    return field_error(
        "wireguard.mesh_network_ipv6",
        "the prefix must be /126 or shorter (room for the colony and its peers), got " + net6.to_string());
  }
  return {};
}

std::expected<void, std::string> check_mesh_ips(const base::Cidr& net4, const base::Ipv4Bytes& mesh_ipv4,
                                                const base::Cidr& net6, const base::Ipv6Bytes& mesh_ipv6) {
  const std::string ip4 = base::format_ipv4(mesh_ipv4);
  const auto index4 = net4.index_of(mesh_ipv4);
  if (!index4) {
    return field_error("wireguard.mesh_ipv4", ip4 + " is not inside wireguard.mesh_network_ipv4 " + net4.to_string());
  }
  if (*index4 == 0) {
    return field_error("wireguard.mesh_ipv4", ip4 + " is the network address of " + net4.to_string() +
                                                  " (the colony usually takes " + *net4.address_at(1) + ")");
  }
  if (*index4 == net4.max_index()) {
    return field_error("wireguard.mesh_ipv4", ip4 + " is the broadcast address of " + net4.to_string());
  }
  const std::string ip6 = base::format_ipv6(mesh_ipv6);
  if (!net6.contains(mesh_ipv6)) {
    return field_error("wireguard.mesh_ipv6", ip6 + " is not inside wireguard.mesh_network_ipv6 " + net6.to_string());
  }
  if (net6.index_of(mesh_ipv6) == std::optional<std::uint64_t>(0)) {
    return field_error("wireguard.mesh_ipv6", ip6 + " is the network address of " + net6.to_string() +
                                                  " (the colony usually takes " + *net6.address_at(1) + ")");
  }
  return {};
}

std::string line_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? std::string() : " (line " + std::to_string(mark.line + 1) + ")";
}

std::string join(std::initializer_list<std::string_view> names) {
  std::string out;
  for (const std::string_view name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string dotted(std::string_view section, std::string_view key) {
  return section.empty() ? std::string(key) : std::string(section) + "." + std::string(key);
}

// The keys of a mapping must be known, scalar, and each there once.
std::expected<void, std::string> check_keys(const YAML::Node& map, std::string_view section,
                                            std::initializer_list<std::string_view> known) {
  std::vector<std::pair<std::string, YAML::Mark>> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: it-> points into a temporary
    if (!key.IsScalar()) {
      return Error((section.empty() ? std::string("top level") : std::string(section)) +
                   ": field names must be plain words" + line_of(key));
    }
    const std::string name = key.Scalar();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      // "colony_secret:<secret>" (no space after the colon) reads as one
      // unknown key that holds the value: name the field, never the rest.
      for (const std::string_view field_name : known) {
        if (name.size() > field_name.size() && name.starts_with(field_name) && name[field_name.size()] == ':') {
          return Error(dotted(section, field_name) + line_of(key) +
                       ": put a space after the colon (\"" + std::string(field_name) +
                       ": value\"); the value is not shown");
        }
      }
      // Other unknown names are shown only when they look like a field name:
      // a mistyped line may hold a key or a secret.
      const bool printable = name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
      });
      const std::string field = printable ? dotted(section, name)
                                          : (section.empty() ? std::string("(not shown)")
                                                             : std::string(section) + ".(not shown)");
      return Error("unknown field " + field + line_of(key) + "; " +
                   (section.empty() ? std::string("top-level fields") : std::string(section) + " has") + ": " +
                   join(known));
    }
    for (const auto& [other, mark] : seen) {
      if (other == name) {
        return Error("duplicate field " + dotted(section, name) + " (lines " + std::to_string(mark.line + 1) + " and " +
                     std::to_string(key.Mark().line + 1) + ")");
      }
    }
    seen.emplace_back(name, key.Mark());
  }
  return {};
}

// map[key] as a mapping with only the `known` keys.
std::expected<YAML::Node, std::string> section(const YAML::Node& map, std::string_view key,
                                               std::initializer_list<std::string_view> known) {
  const YAML::Node node = map[std::string(key)];
  if (!node.IsDefined() || node.IsNull()) return Error("missing field " + std::string(key));
  if (!node.IsMap()) {
    return Error(std::string(key) + ": expected a mapping of fields (" + join(known) + ")" + line_of(node));
  }
  if (auto keys = check_keys(node, key, known); !keys) return Error(keys.error());
  return node;
}

// map[key] as a non-null scalar; its text.
std::expected<std::string, std::string> scalar(const YAML::Node& map, std::string_view section, std::string_view key) {
  const std::string field = dotted(section, key);
  const YAML::Node node = map[std::string(key)];
  if (!node.IsDefined()) return Error("missing field " + field);
  if (node.IsNull()) return Error(field + ": no value" + line_of(node));
  if (!node.IsScalar()) {
    return Error(field + ": expected a single value, got a " + (node.IsMap() ? "mapping" : "list") + line_of(node));
  }
  return node.Scalar();
}

std::expected<std::uint16_t, std::string> parse_port(std::string_view field, std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return Error(std::string(field) + ": must be a port number 1-65535, got " + quote(text));
  }
  return static_cast<std::uint16_t>(value);
}

std::expected<std::uint16_t, std::string> port(const YAML::Node& map, std::string_view section, std::string_view key) {
  auto text = scalar(map, section, key);
  if (!text) return Error(text.error());
  return parse_port(dotted(section, key), *text);
}

std::expected<bool, std::string> parse_bool(std::string_view field, std::string_view text) {
  // YAML 1.2's core schema; not 1.1's yes/no/on/off.
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return Error(std::string(field) + ": must be true or false, got " + quote(text));
}

std::expected<base::Cidr, std::string> parse_cidr(std::string_view field, std::string_view text) {
  auto cidr = base::Cidr::parse(text);
  if (!cidr && runs_on(text)) return Error(std::string(field) + ": not a CIDR prefix: " + quote(text));
  if (!cidr) return Error(std::string(field) + ": " + cidr.error());
  return *cidr;
}

// The whole file, or an error without the path ("no such file", ...).
std::expected<std::string, std::string> read_file(const std::filesystem::path& path, std::string_view what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error(system_error(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return Error(system_error(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return Error("not a regular file");
  }
  std::string content;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      crypto::wipe(content);
      return Error(system_error(error));
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
    if (content.size() > kMaxFileBytes) {
      ::close(fd);
      crypto::wipe(content);
      return Error("larger than " + std::to_string(kMaxFileBytes / 1024) + " KiB: not a " + std::string(what));
    }
  }
  ::close(fd);
  return content;
}

std::expected<void, std::string> read_identity(const YAML::Node& root, std::string& colony_id, std::string& app_name,
                                               std::string& environment) {
  auto id = scalar(root, "", "colony_id");
  if (!id) return Error(id.error());
  if (auto valid = validate_colony_id(*id); !valid) return field_error("colony_id", valid.error());
  colony_id = *id;

  auto app = scalar(root, "", "app_name");
  if (!app) return Error(app.error());
  if (auto valid = validate_name(*app); !valid) return field_error("app_name", valid.error());
  app_name = *app;

  auto env = scalar(root, "", "environment");
  if (!env) return Error(env.error());
  if (auto valid = validate_name(*env); !valid) return field_error("environment", valid.error());
  environment = *env;
  return {};
}

std::expected<void, std::string> read_discovery_target(const YAML::Node& discovery, std::string& endpoint,
                                                       std::string& mesh_id) {
  auto url = scalar(discovery, "discovery", "endpoint");
  if (!url) return Error(url.error());
  if (auto valid = validate_discovery_endpoint(*url); !valid) return field_error("discovery.endpoint", valid.error());
  endpoint = *url;

  auto id = scalar(discovery, "discovery", "mesh_id");
  if (!id) return Error(id.error());
  if (auto valid = validate_colony_id(*id); !valid) return field_error("discovery.mesh_id", valid.error());
  mesh_id = *id;
  return {};
}

std::expected<crypto::PublicKey, std::string> read_public_key(const YAML::Node& wg) {
  auto text = scalar(wg, "wireguard", "public_key");
  if (!text) return Error(text.error());
  auto key = crypto::PublicKey::from_base64(*text);
  if (!key) return Error("wireguard.public_key: " + key.error() + "; got " + quote(*text));
  return *key;
}

std::expected<void, std::string> read_mesh_ips(const YAML::Node& wg, base::Ipv4Bytes& ipv4, base::Ipv6Bytes& ipv6) {
  auto ipv4_text = scalar(wg, "wireguard", "mesh_ipv4");
  if (!ipv4_text) return Error(ipv4_text.error());
  auto parsed4 = base::parse_ipv4(*ipv4_text);
  if (!parsed4) return field_error("wireguard.mesh_ipv4", quote(*ipv4_text) + " is not an IPv4 address");
  ipv4 = *parsed4;

  auto ipv6_text = scalar(wg, "wireguard", "mesh_ipv6");
  if (!ipv6_text) return Error(ipv6_text.error());
  auto parsed6 = base::parse_ipv6(*ipv6_text);
  if (!parsed6) return field_error("wireguard.mesh_ipv6", quote(*ipv6_text) + " is not an IPv6 address");
  ipv6 = *parsed6;
  return {};
}

std::expected<void, std::string> read_mesh_networks(const YAML::Node& wg, base::Cidr& net4, base::Cidr& net6) {
  auto net4_text = scalar(wg, "wireguard", "mesh_network_ipv4");
  if (!net4_text) return Error(net4_text.error());
  auto parsed4 = parse_cidr("wireguard.mesh_network_ipv4", *net4_text);
  if (!parsed4) return Error(parsed4.error());
  net4 = *parsed4;

  auto net6_text = scalar(wg, "wireguard", "mesh_network_ipv6");
  if (!net6_text) return Error(net6_text.error());
  auto parsed6 = parse_cidr("wireguard.mesh_network_ipv6", *net6_text);
  if (!parsed6) return Error(parsed6.error());
  net6 = *parsed6;
  return {};
}

std::expected<void, std::string> read_public_endpoints(const YAML::Node& wg, std::vector<std::string>& endpoints) {
  const YAML::Node list = wg["public_endpoints"];
  if (!list.IsDefined() || list.IsNull()) return {};
  if (!list.IsSequence())
    return field_error("wireguard.public_endpoints", "expected a list of \"host:port\"" + line_of(list));
  for (const YAML::Node& endpoint : list) {
    if (!endpoint.IsScalar())
      return field_error("wireguard.public_endpoints", "expected a list of \"host:port\"" + line_of(endpoint));
    endpoints.push_back(endpoint.Scalar());
  }
  return {};
}

std::expected<void, std::string> check_identity(std::string_view colony_id, std::string_view app_name,
                                                std::string_view environment) {
  if (auto valid = validate_colony_id(colony_id); !valid) return field_error("colony_id", valid.error());
  if (auto valid = validate_name(app_name); !valid) return field_error("app_name", valid.error());
  if (auto valid = validate_name(environment); !valid) return field_error("environment", valid.error());
  return {};
}

std::expected<void, std::string> check_discovery_target(std::string_view endpoint, std::string_view mesh_id) {
  if (auto valid = validate_discovery_endpoint(endpoint); !valid) return field_error("discovery.endpoint", valid.error());
  if (auto valid = validate_colony_id(mesh_id); !valid) return field_error("discovery.mesh_id", valid.error());
  return {};
}

std::expected<void, std::string> check_secret(std::string_view secret) {
  if (auto valid = validate_colony_secret(secret); !valid) return field_error("colony_secret", valid.error());
  return {};
}

std::expected<void, std::string> check_mesh(const base::Cidr& net4, const base::Ipv4Bytes& mesh_ipv4,
                                            const base::Cidr& net6, const base::Ipv6Bytes& mesh_ipv6) {
  // The networks first: the addresses are checked against them.
  if (auto valid = check_networks(net4, net6); !valid) return valid;
  return check_mesh_ips(net4, mesh_ipv4, net6, mesh_ipv6);
}

std::expected<void, std::string> check_public_endpoints(const std::vector<std::string>& endpoints) {
  for (const std::string& endpoint : endpoints) {
    if (auto parsed = base::parse_host_port(endpoint); !parsed)
      return field_error("wireguard.public_endpoints", quote(endpoint) + ": " + parsed.error());
  }
  return {};
}

std::string identity_lines(std::string_view colony_id, std::string_view app_name, std::string_view environment) {
  return "colony_id: " + yaml_string(colony_id) + "\n" +  //
         "app_name: " + yaml_string(app_name) + "\n" +    //
         "environment: " + yaml_string(environment) + "\n";
}

std::string key_and_ip_lines(const crypto::PublicKey& key, const base::Ipv4Bytes& ipv4, const base::Ipv6Bytes& ipv6) {
  return "    public_key: " + yaml_string(key.to_base64()) + "\n" +  //
         "    mesh_ipv4: " + base::format_ipv4(ipv4) + "\n" +        //
         "    mesh_ipv6: " + yaml_string(base::format_ipv6(ipv6)) + "\n";
}

std::string mesh_network_lines(const base::Cidr& net4, const base::Cidr& net6) {
  return "    mesh_network_ipv4: " + net4.to_string() + "\n" +  //
         "    mesh_network_ipv6: " + yaml_string(net6.to_string()) + "\n";
}

std::string public_endpoint_items(const std::vector<std::string>& endpoints) {
  std::string out;
  for (const std::string& endpoint : endpoints) out += "        - " + yaml_string(endpoint) + "\n";
  return out;
}

std::string discovery_target_lines(std::string_view endpoint, std::string_view mesh_id) {
  return "    endpoint: " + yaml_string(endpoint) + "\n" +  //
         "    mesh_id: " + yaml_string(mesh_id) + "\n";
}

// Whether a plain YAML scalar with this text would read back as something
// other than a string under YAML 1.1 or 1.2 (a number, a bool, null).
bool looks_typed(std::string_view text) {
  static constexpr std::string_view kWords[] = {"true", "false", "yes",  "no", "on",   "off",
                                                "y",    "n",     "null", "~",  ".inf", ".nan"};
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (std::find(std::begin(kWords), std::end(kWords), lower) != std::end(kWords)) return true;
  // Numbers: digits with at most signs, dots, exponents, '_' and 0x/0o.
  return !text.empty() && text.find_first_not_of("0123456789+-._eExXoO") == std::string_view::npos &&
         text.find_first_of("0123456789") != std::string_view::npos;
}

std::string yaml_string(std::string_view text) {
  YAML::Emitter emitter;
  if (looks_typed(text)) emitter << YAML::DoubleQuoted;
  emitter << std::string(text);
  return emitter.c_str();
}

std::expected<YAML::Node, std::string> parse(std::string& content, const std::string& name, std::string_view what) {
  YAML::Node root;
  try {
    root = YAML::Load(content);
  } catch (const YAML::ParserException& e) {
    crypto::wipe(content);
    return Error(name + ": line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) +
                 ": invalid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {
    crypto::wipe(content);
    return Error(name + ": invalid YAML: " + e.what());
  }
  crypto::wipe(content);
  if (root.IsNull()) return Error(name + ": the file is empty (expected a " + std::string(what) + ")");
  return root;
}

std::expected<YAML::Node, std::string> load_yaml(const std::filesystem::path& path, std::string_view what) {
  const std::string name = path.string();
  auto content = read_file(path, what);
  if (!content) return Error(name + ": cannot read: " + content.error());
  return parse(*content, name, what);
}

}  // namespace coral::config::fields

#include "config/colony_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <initializer_list>
#include <system_error>
#include <utility>
#include <vector>

#include "base/duration.h"
#include "base/json_text.h"
#include "base/text.h"
#include "config/fields.h"

namespace coral::config {
namespace {

using namespace fields;

bool is_id_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'; }

bool is_secret_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

std::string_view to_string(MeshTransport transport) {
  switch (transport) {
    case MeshTransport::userspace:
      return "userspace";
    case MeshTransport::tun:
      return "tun";
    case MeshTransport::host:
      break;
  }
  return "host";
}

std::optional<MeshTransport> parse_mesh_transport(std::string_view text) {
  if (text == "host") return MeshTransport::host;
  if (text == "userspace") return MeshTransport::userspace;
  if (text == "tun") return MeshTransport::tun;
  return std::nullopt;
}

namespace {

// ---- Reading ---------------------------------------------------------------

// Fills `config` from the document, field by field in file order; validate()
// then checks the relations.
std::expected<void, std::string> read_document(const YAML::Node& root, ColonyConfig& config) {
  if (!root.IsMap()) return Error("expected a mapping of fields (colony_id: ..., wireguard: ...)" + line_of(root));
  if (auto keys = check_keys(
          root, "", {"colony_id", "app_name", "environment", "wireguard", "services", "discovery", "colony_secret"});
      !keys) {
    return keys;
  }

  if (auto read = read_identity(root, config.colony_id, config.app_name, config.environment); !read) return read;

  {
    auto wg = section(root, "wireguard",
                      {"private_key", "public_key", "mesh_ipv4", "mesh_ipv6", "listen_port", "mesh_network_ipv4",
                       "mesh_network_ipv6", "mesh", "public_endpoints"});
    if (!wg) return Error(wg.error());
    WireGuardConfig& out = config.wireguard;

    auto private_text = scalar(*wg, "wireguard", "private_key");
    if (!private_text) return Error(private_text.error());
    auto private_key = crypto::SecretKey::from_base64(*private_text);
    crypto::wipe(*private_text);
    if (!private_key) return field_error("wireguard.private_key", private_key.error());
    out.private_key = std::move(*private_key);

    auto public_key = read_public_key(*wg);
    if (!public_key) return Error(public_key.error());
    out.public_key = *public_key;
    if (auto read = read_mesh_ips(*wg, out.mesh_ipv4, out.mesh_ipv6); !read) return read;

    auto listen_port = port(*wg, "wireguard", "listen_port");
    if (!listen_port) return Error(listen_port.error());
    out.listen_port = *listen_port;

    if (auto read = read_mesh_networks(*wg, out.mesh_network_ipv4, out.mesh_network_ipv6); !read) return read;

    if ((*wg)["mesh"].IsDefined()) {
      auto mesh_text = scalar(*wg, "wireguard", "mesh");
      if (!mesh_text) return Error(mesh_text.error());
      auto mesh = parse_mesh_transport(*mesh_text);
      if (!mesh) return field_error("wireguard.mesh", quote(*mesh_text) + " is not a mesh transport (host, userspace, tun)");
      out.mesh = *mesh;
    }
    if (auto read = read_public_endpoints(*wg, out.public_endpoints); !read) return read;
  }

  {
    auto services = section(root, "services", {"connect_port", "dashboard_port"});
    if (!services) return Error(services.error());
    auto connect_port = port(*services, "services", "connect_port");
    if (!connect_port) return Error(connect_port.error());
    config.services.connect_port = *connect_port;

    auto dashboard_port = port(*services, "services", "dashboard_port");
    if (!dashboard_port) return Error(dashboard_port.error());
    config.services.dashboard_port = *dashboard_port;
  }

  {
    auto discovery = section(root, "discovery", {"endpoint", "mesh_id", "register_interval", "auto_register"});
    if (!discovery) return Error(discovery.error());
    DiscoveryConfig& out = config.discovery;
    if (auto read = read_discovery_target(*discovery, out.endpoint, out.mesh_id); !read) return read;

    auto interval_text = scalar(*discovery, "discovery", "register_interval");
    if (!interval_text) return Error(interval_text.error());
    auto interval = base::parse_duration(*interval_text);
    if (!interval && runs_on(*interval_text)) {
      return field_error("discovery.register_interval", "not a duration: " + quote(*interval_text));
    }
    if (!interval) return field_error("discovery.register_interval", interval.error());
    out.register_interval = *interval;

    auto auto_register_text = scalar(*discovery, "discovery", "auto_register");
    if (!auto_register_text) return Error(auto_register_text.error());
    auto auto_register = parse_bool("discovery.auto_register", *auto_register_text);
    if (!auto_register) return Error(auto_register.error());
    out.auto_register = *auto_register;
  }

  auto secret = scalar(root, "", "colony_secret");
  if (!secret) return Error(secret.error());
  config.colony_secret = std::move(*secret);
  return {};
}

// ---- Writing ---------------------------------------------------------------

std::string format_interval(std::chrono::milliseconds interval) {
  // "60s" as in RFD 005 rather than format_duration's "1m".
  if (interval.count() % 1000 == 0) return std::to_string(interval.count() / 1000) + "s";
  return base::format_duration(interval);
}

bool is_colony_name_char(char c) { return is_id_char(c); }

std::string sanitize(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out += is_colony_name_char(lower) ? lower : '-';
  }
  return out;
}

}  // namespace

// ---- Validation --------------------------------------------------------------

std::expected<void, std::string> validate_colony_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxColonyIdBytes || !std::all_of(id.begin(), id.end(), is_id_char)) {
    return Error("must be 1-63 characters of a-z, 0-9, '-', '_' and '.'; got " + quote(id));
  }
  return {};
}

std::expected<void, std::string> validate_name(std::string_view name) {
  if (name.empty()) return Error("must not be empty");
  if (name.size() > kMaxNameBytes) {
    return Error("must be at most 63 bytes, got " + std::to_string(name.size()) + ": " + quote(name));
  }
  const bool control = std::any_of(name.begin(), name.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
  if (control) return Error("must not contain control characters, got " + quote(name));
  // Sent to discovery as a protobuf string, which must be UTF-8.
  for (std::string_view rest = name; !rest.empty();) {
    const std::size_t length = base::utf8_sequence(rest);
    if (length == 0) return Error("must be UTF-8 text; byte " + std::to_string(name.size() - rest.size() + 1) + " is not");
    rest.remove_prefix(length);
  }
  if (name.front() == ' ' || name.back() == ' ') return Error("must not start or end with a space, got " + quote(name));
  return {};
}

std::expected<void, std::string> validate_discovery_endpoint(std::string_view endpoint) {
  const auto invalid = [&](std::string_view why) {
    return Error("invalid URL " + quote(endpoint) + ": " + std::string(why));
  };
  constexpr std::string_view kScheme = "http://";
  if (!endpoint.starts_with(kScheme)) {
    return invalid("must start with http:// (coral-discovery speaks cleartext HTTP/1.1 and h2c)");
  }
  const std::string_view rest = endpoint.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) return invalid("a query or fragment is not allowed");
  if (rest.find_first_of(" \t\r\n") != std::string_view::npos) return invalid("spaces are not allowed");
  const bool unprintable = std::any_of(rest.begin(), rest.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte >= 0x7f;
  });
  if (unprintable) return invalid("only printable ASCII is allowed (a host name, an IP address)");
  const std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.empty()) return invalid("no host");
  if (authority.find('@') != std::string_view::npos) return invalid("user info is not supported");
  // parse_host_port wants a port; "http://host" means port 80.
  std::string host_port(authority);
  const bool bracketed = authority.starts_with('[');
  if ((bracketed && authority.ends_with(']')) || (!bracketed && authority.find(':') == std::string_view::npos)) {
    host_port += ":80";
  }
  if (auto parsed = base::parse_host_port(host_port); !parsed) return invalid(parsed.error());
  return {};
}

std::expected<void, std::string> validate_colony_secret(std::string_view secret) {
  constexpr std::string_view kRule = "must be 32-256 characters of A-Z, a-z, 0-9, '-' and '_' (coral init makes 43)";
  if (secret.size() < kMinColonySecretChars || secret.size() > kMaxColonySecretChars) {
    return Error(std::string(kRule) + ", got " + std::to_string(secret.size()) + " characters");
  }
  const auto bad = std::find_if_not(secret.begin(), secret.end(), is_secret_char);
  if (bad != secret.end()) {
    return Error(std::string(kRule) + ", got another character at position " +
                 std::to_string(bad - secret.begin() + 1));
  }
  return {};
}

std::expected<void, std::string> validate(const ColonyConfig& config) {
  if (auto valid = check_identity(config.colony_id, config.app_name, config.environment); !valid) return valid;

  const WireGuardConfig& wg = config.wireguard;
  if (wg.private_key.is_zero()) return field_error("wireguard.private_key", "is not set (all zeros)");
  const crypto::PublicKey expected_public = wg.private_key.public_key();
  if (wg.public_key != expected_public) {
    return field_error("wireguard.public_key", "does not match wireguard.private_key (whose public key is " +
                                                   expected_public.to_base64() + ")");
  }
  if (auto valid = check_mesh(wg.mesh_network_ipv4, wg.mesh_ipv4, wg.mesh_network_ipv6, wg.mesh_ipv6); !valid)
    return valid;
  if (auto valid = check_port("wireguard.listen_port", wg.listen_port); !valid) return valid;
  if (auto valid = check_public_endpoints(wg.public_endpoints); !valid) return valid;

  if (auto valid = check_port("services.connect_port", config.services.connect_port); !valid) return valid;
  if (auto valid = check_port("services.dashboard_port", config.services.dashboard_port); !valid) return valid;

  const DiscoveryConfig& discovery = config.discovery;
  if (auto valid = check_discovery_target(discovery.endpoint, discovery.mesh_id); !valid) return valid;
  if (discovery.register_interval < kMinRegisterInterval || discovery.register_interval > kMaxRegisterInterval) {
    return field_error("discovery.register_interval",
                       "must be between 1s and 24h (and well under discovery's TTL, 300s by default), got " +
                           base::format_duration(discovery.register_interval));
  }

  return check_secret(config.colony_secret);
}

// ---- Files -------------------------------------------------------------------

std::expected<ColonyConfig, std::string> load(const std::filesystem::path& path) {
  return load_config<ColonyConfig>(path, "colony config", read_document);
}

std::string to_yaml(const ColonyConfig& config) {
  const WireGuardConfig& wg = config.wireguard;
  std::string out;
  out += "# coral colony config (RFD 005). Holds secrets (wireguard.private_key,\n";
  out += "# colony_secret): keep it mode 0600. See docs/configuration.md.\n";
  out += identity_lines(config.colony_id, config.app_name, config.environment);
  out += "\n";
  out += "wireguard:\n";
  std::string private_key = wg.private_key.to_base64();
  std::string private_line = "    private_key: " + yaml_string(private_key) + "\n";
  out += private_line;
  crypto::wipe(private_line);
  crypto::wipe(private_key);
  out += key_and_ip_lines(wg.public_key, wg.mesh_ipv4, wg.mesh_ipv6);
  out += "    listen_port: " + std::to_string(wg.listen_port) + "\n";
  out += mesh_network_lines(wg.mesh_network_ipv4, wg.mesh_network_ipv6);
  out += "    mesh: " + std::string(to_string(wg.mesh)) + "\n";
  if (!wg.public_endpoints.empty()) out += "    public_endpoints:\n" + public_endpoint_items(wg.public_endpoints);
  out += "\n";
  out += "services:\n";
  out += "    connect_port: " + std::to_string(config.services.connect_port) + "\n";
  out += "    dashboard_port: " + std::to_string(config.services.dashboard_port) + "\n";
  out += "\n";
  out += "discovery:\n";
  out += discovery_target_lines(config.discovery.endpoint, config.discovery.mesh_id);
  out += "    register_interval: " + format_interval(config.discovery.register_interval) + "\n";
  out += std::string("    auto_register: ") + (config.discovery.auto_register ? "true" : "false") + "\n";
  out += "\n";
  out += "colony_secret: " + yaml_string(config.colony_secret) + "\n";
  return out;
}

std::expected<void, std::string> save(const std::filesystem::path& path, const ColonyConfig& config,
                                      base::Overwrite overwrite) {
  return save_config(path, config, overwrite, "colony config");
}

std::expected<ColonyConfig, std::string> rotate_secret(const std::filesystem::path& path,
                                                       const std::optional<crypto::PublicKey>& expected_key) {
  auto config = load(path);
  if (!config) return config;
  if (expected_key && config->wireguard.public_key != *expected_key) {
    return Error(path.string() + ": wireguard.public_key: the file now holds another colony (key " +
                 config->wireguard.public_key.to_base64() + ", not " + expected_key->to_base64() +
                 "); the secret is unchanged");
  }
  crypto::wipe(config->colony_secret);
  config->colony_secret = crypto::generate_colony_secret();
  if (auto saved = save(path, *config, base::Overwrite::yes); !saved) {
    crypto::wipe(config->colony_secret);
    return Error(saved.error() + "; the secret is unchanged");
  }
  return config;
}

std::optional<std::string> permission_warning(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::nullopt;
  const mode_t others = info.st_mode & 077;
  if (others == 0) return std::nullopt;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
  const char* who = (others & 070) && (others & 007) ? "group and others" : (others & 070) ? "group" : "others";
  return path.string() + " holds secrets but is accessible to " + who + " (mode " + mode + "): run chmod 600 " +
         path.string();
}

// ---- New colonies ------------------------------------------------------------

std::string colony_id_prefix(std::string_view app_name, std::string_view environment) {
  std::string prefix = sanitize(app_name) + "-" + sanitize(environment);
  // "-" and 6 hex digits follow.
  constexpr std::size_t kMaxPrefix = kMaxColonyIdBytes - 7;
  if (prefix.size() > kMaxPrefix) prefix.resize(kMaxPrefix);
  return prefix;
}

base::Cidr random_ula_prefix() {
  // RFC 4193 3.1: FC00::/7 with L = 1, then the 40-bit global id (3.2: from
  // a random source), then the 16-bit subnet id, here 0.
  base::Ipv6Bytes network{};
  network[0] = 0xfd;
  crypto::random_bytes(std::span(network).subspan(1, 5));
  return base::Cidr::ipv6(network, 64).value();
}

std::expected<ColonyConfig, std::string> new_colony(std::string_view app_name, std::string_view environment,
                                                    const NewColonyOptions& options) {
  ColonyConfig config;
  config.app_name = std::string(app_name);
  config.environment = std::string(environment);
  if (options.colony_id) {
    config.colony_id = *options.colony_id;
  } else {
    std::array<std::uint8_t, 3> suffix{};
    crypto::random_bytes(suffix);
    config.colony_id = colony_id_prefix(app_name, environment) + "-" + base::hex(suffix);
  }

  WireGuardConfig& wg = config.wireguard;
  wg.private_key = crypto::SecretKey::generate();
  wg.public_key = wg.private_key.public_key();
  wg.listen_port = options.listen_port;
  wg.mesh = options.mesh;
  wg.mesh_network_ipv4 = options.mesh_ipv4_net;
  wg.mesh_network_ipv6 = options.mesh_ipv6_net ? *options.mesh_ipv6_net : random_ula_prefix();
  // A network of the wrong family or size keeps the default address;
  // validate() reports the network.
  if (auto first = wg.mesh_network_ipv4.ipv4_at(1)) wg.mesh_ipv4 = *first;
  if (auto first = wg.mesh_network_ipv6.ipv6_at(1)) wg.mesh_ipv6 = *first;

  config.services.connect_port = options.connect_port;
  config.services.dashboard_port = options.dashboard_port;

  config.discovery.endpoint = options.discovery_endpoint;
  config.discovery.mesh_id = options.mesh_id ? *options.mesh_id : config.colony_id;
  config.discovery.register_interval = options.register_interval;
  config.discovery.auto_register = options.auto_register;

  config.colony_secret = crypto::generate_colony_secret();

  if (auto valid = validate(config); !valid) return Error(valid.error());
  return config;
}

}  // namespace coral::config

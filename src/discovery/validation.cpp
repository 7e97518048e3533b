#include "discovery/validation.h"

#include <algorithm>
#include <string>
#include <vector>

#include "base/address.h"
#include "base/base64.h"
#include "base/text.h"
#include "coral/discovery/v1/discovery.pb.h"

namespace coral::discovery {
namespace {

constexpr std::size_t kQuotedBytes = 64;

rpc::Status invalid(std::string message) { return rpc::fail(rpc::Code::invalid_argument, std::move(message)); }

bool is_mesh_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

rpc::Status validate_mesh_ipv4(std::string_view address) {
  if (address.empty()) return {};
  if (!base::parse_ipv4(address)) {
    return invalid("mesh_ipv4: must be an IPv4 address (a.b.c.d), got " + quote(address));
  }
  return {};
}

rpc::Status validate_mesh_ipv6(std::string_view address) {
  if (address.empty()) return {};
  if (address.find('%') != std::string_view::npos) {
    return invalid("mesh_ipv6: must be an IPv6 address without a zone id, got " + quote(address));
  }
  const auto parsed = base::parse_ipv6(address);
  if (!parsed) return invalid("mesh_ipv6: must be an IPv6 address (e.g. fd42::1), got " + quote(address));
  if (base::is_ipv4_mapped(*parsed)) {
    return invalid("mesh_ipv6: must be an IPv6 address, not an IPv4-mapped one (::ffff:a.b.c.d), got " + quote(address) +
                   "; put the IPv4 address in mesh_ipv4");
  }
  return {};
}

rpc::Status validate_connect_port(const v1::RegisterColonyRequest& request) {
  if (request.connect_port() > 65535) {
    return invalid("connect_port: must be 1-65535, got " + std::to_string(request.connect_port()));
  }
  if (request.connect_port() == 0 && (!request.mesh_ipv4().empty() || !request.mesh_ipv6().empty())) {
    return invalid("connect_port: must be 1-65535 when mesh_ipv4 or mesh_ipv6 is given, got 0");
  }
  return {};
}

rpc::Status validate_endpoints(const v1::RegisterColonyRequest& request) {
  const auto& endpoints = request.public_endpoints();
  if (static_cast<std::size_t>(endpoints.size()) > kMaxEndpoints) {
    return invalid("public_endpoints: at most " + std::to_string(kMaxEndpoints) + " endpoints, got " +
                   std::to_string(endpoints.size()));
  }
  for (int i = 0; i < endpoints.size(); ++i) {
    const std::string& endpoint = endpoints[i];
    const std::string field = "public_endpoints[" + std::to_string(i) + "]: ";
    if (endpoint.size() > kMaxEndpointBytes) {
      return invalid(field + "at most " + std::to_string(kMaxEndpointBytes) + " bytes, got " +
                     std::to_string(endpoint.size()));
    }
    const auto parsed = base::parse_host_port(endpoint);
    if (!parsed) return invalid(field + "must be host:port (" + parsed.error() + "), got " + quote(endpoint));
    if (parsed->kind == base::HostKind::ipv6) {
      const auto address = base::parse_ipv6(parsed->host);
      if (address && base::is_ipv4_mapped(*address)) {
        return invalid(field + "must not be an IPv4-mapped IPv6 address; write a.b.c.d:port, got " + quote(endpoint));
      }
    }
  }
  return {};
}

rpc::Status validate_metadata(const v1::RegisterColonyRequest& request) {
  const auto& metadata = request.metadata();
  if (metadata.size() > kMaxMetadataEntries) {
    return invalid("metadata: at most " + std::to_string(kMaxMetadataEntries) + " entries, got " +
                   std::to_string(metadata.size()));
  }
  // Map order is unspecified: report the smallest offending key, so that the
  // same request always gets the same message.
  std::vector<const std::string*> keys;
  keys.reserve(metadata.size());
  for (const auto& [key, value] : metadata) keys.push_back(&key);
  std::sort(keys.begin(), keys.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
  for (const std::string* key : keys) {
    if (key->empty() || key->size() > kMaxMetadataKeyBytes) {
      return invalid("metadata: keys must be 1-" + std::to_string(kMaxMetadataKeyBytes) + " bytes, got " + quote(*key) +
                     " (" + std::to_string(key->size()) + " bytes)");
    }
    const std::string& value = metadata.at(*key);
    if (value.size() > kMaxMetadataValueBytes) {
      return invalid("metadata[" + quote(*key) + "]: values must be at most " + std::to_string(kMaxMetadataValueBytes) +
                     " bytes, got " + std::to_string(value.size()));
    }
  }
  return {};
}

}  // namespace

// Quotes what a client sent, for an error message: escapes quotes, '\' and
// anything unprintable, and shortens long values (bounding the message).
std::string quote(std::string_view text) {
  return base::quote(text, base::QuoteOptions{.max_bytes = kQuotedBytes, .cut_names_size = true, .keep_utf8 = false});
}

rpc::Status validate_pubkey(std::string_view pubkey) {
  static constexpr std::string_view kRule = "wireguard_pubkey: must be 32 bytes in base64 (44 characters)";
  if (pubkey.empty()) return invalid(std::string(kRule) + ", got an empty string");
  if (pubkey.size() > 2 * 44) return invalid(std::string(kRule) + ", got " + std::to_string(pubkey.size()) + " characters");
  const auto key = base::base64_decode(pubkey);
  if (!key) return invalid(std::string(kRule) + ", got " + quote(pubkey) + ", which is not base64");
  if (key->size() != 32) return invalid(std::string(kRule) + ", got " + std::to_string(key->size()) + " bytes");
  // One spelling per key: the takeover rule compares keys as text.
  const std::string canonical = base::base64_encode(*key);
  if (canonical != pubkey) {
    return invalid(std::string(kRule) + " in canonical form (with '=' padding): \"" + canonical + "\", got " +
                   quote(pubkey));
  }
  return {};
}

rpc::Status validate_mesh_id(std::string_view mesh_id) {
  if (mesh_id.empty() || mesh_id.size() > kMaxMeshIdBytes ||
      !std::all_of(mesh_id.begin(), mesh_id.end(), is_mesh_id_char)) {
    return invalid("mesh_id: must be 1-63 characters of a-z, 0-9, '-', '_' and '.'; got " + quote(mesh_id));
  }
  return {};
}

rpc::Status validate_registration(const v1::RegisterColonyRequest& request) {
  // In field order, so that the first problem reported is the first field's.
  if (rpc::Status status = validate_mesh_id(request.mesh_id()); !status) return status;
  if (rpc::Status status = validate_pubkey(request.wireguard_pubkey()); !status) return status;
  if (rpc::Status status = validate_endpoints(request); !status) return status;
  if (rpc::Status status = validate_mesh_ipv4(request.mesh_ipv4()); !status) return status;
  if (rpc::Status status = validate_mesh_ipv6(request.mesh_ipv6()); !status) return status;
  if (rpc::Status status = validate_connect_port(request); !status) return status;
  return validate_metadata(request);
}

}  // namespace coral::discovery

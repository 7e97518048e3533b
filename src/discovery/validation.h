#pragma once
// What RegisterColony and LookupColony accept. Each failure is
// invalid_argument naming the field and what is wrong with it.

#include <cstddef>
#include <string>
#include <string_view>

#include "rpc/error.h"

namespace coral::discovery::v1 {
class RegisterColonyRequest;
}

namespace coral::discovery {

// Documented limits (docs/discovery.md).
inline constexpr std::size_t kMaxMeshIdBytes = 63;
inline constexpr std::size_t kMaxEndpoints = 16;
inline constexpr std::size_t kMaxEndpointBytes = 261;  // "[" 45-char IPv6 "]:" 5 digits, or a 253-byte name
inline constexpr std::size_t kMaxMetadataEntries = 32;
inline constexpr std::size_t kMaxMetadataKeyBytes = 63;
inline constexpr std::size_t kMaxMetadataValueBytes = 256;

// Quotes what a client (or a discovery service) sent, for an error message:
// escapes quotes, '\' and anything unprintable, and shortens values over 64
// bytes (bounding the message).
std::string quote(std::string_view text);

// wireguard_pubkey: 32 bytes in canonical, padded base64.
rpc::Status validate_pubkey(std::string_view pubkey);
// mesh_id: 1-63 bytes of [a-z0-9-_.].
rpc::Status validate_mesh_id(std::string_view mesh_id);
// Every field of a registration. The RFD 005 fields are optional (older
// clients send none of them); but once mesh_ipv4 or mesh_ipv6 is given,
// connect_port must be 1-65535 too.
rpc::Status validate_registration(const coral::discovery::v1::RegisterColonyRequest& request);

}  // namespace coral::discovery

#include "discovery/store.h"

namespace coral::discovery {

std::size_t footprint(const ColonyRecord& record) {
  std::size_t bytes = kRecordOverhead + record.mesh_id.size() + record.wireguard_pubkey.size() +
                      record.mesh_ipv4.size() + record.mesh_ipv6.size();
  for (const std::string& endpoint : record.public_endpoints) bytes += endpoint.size();
  for (const auto& [key, value] : record.metadata) bytes += key.size() + value.size();
  return bytes;
}

}  // namespace coral::discovery

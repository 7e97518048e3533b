#pragma once
// AdminService: the colony's peers for its operator (ListPeers), peers added
// by hand (AddPeer: a device on the standard WireGuard tools), revocation
// (RevokePeer) and a new colony secret (RotateSecret). Served only on the admin socket (admin_server.h),
// never on the mesh: whoever reaches it is the colony's own user.
//
// The WireGuard facts of ListPeers (endpoint, latest handshake, bytes) come
// from a provider the transport supplies; without one (the host transport)
// they are absent.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coral/colony/v1/admin.coral.h"
#include "colony/peer_registry.h"

namespace coral::colony {

// What the colony's WireGuard device knows of one peer (wireguard/uapi.h's
// PeerSnapshot, reduced to what the operator is shown).
struct PeerWireGuardInfo {
  std::string endpoint;  // "203.0.113.7:51820"; empty: none known
  std::optional<std::chrono::system_clock::time_point> latest_handshake;  // nullopt: never
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
};

// Every peer of the device, by its public key in base64 (the registry's
// spelling). Called on the io thread for each ListPeers; it must not block.
using WireGuardInfoProvider = std::function<std::map<std::string, PeerWireGuardInfo>()>;

struct AdminServiceOptions {
  // The colony's public WireGuard endpoints ("host:port"), for AddPeer's
  // answer (the wg-quick file's Endpoint).
  std::vector<std::string> public_endpoints;
  // Empty: the transport has no WireGuard device.
  WireGuardInfoProvider wireguard_info;
  // The colony file RotateSecret writes the new secret to; empty:
  // RotateSecret is failed_precondition.
  std::filesystem::path colony_file;
};

class AdminService final : public coral::colony::v1::AdminServiceHandler {
 public:
  AdminService(PeerRegistry& registry, AdminServiceOptions options);

  rpc::Awaitable<rpc::Result<v1::ListPeersResponse>> ListPeers(rpc::Context& context,
                                                               const v1::ListPeersRequest& request) override;
  rpc::Awaitable<rpc::Result<v1::AddPeerResponse>> AddPeer(rpc::Context& context,
                                                           const v1::AddPeerRequest& request) override;
  rpc::Awaitable<rpc::Result<v1::RevokePeerResponse>> RevokePeer(rpc::Context& context,
                                                                 const v1::RevokePeerRequest& request) override;
  rpc::Awaitable<rpc::Result<v1::RotateSecretResponse>> RotateSecret(rpc::Context& context,
                                                                     const v1::RotateSecretRequest& request) override;

 private:
  PeerRegistry& registry_;
  AdminServiceOptions options_;
};

// `peer` as the admin service reports it (without WireGuard facts).
void fill_mesh_peer(v1::MeshPeer& out, const Peer& peer, std::string_view health);

}  // namespace coral::colony

#include "colony/admin_service.h"

#include <utility>

#include <google/protobuf/util/time_util.h>

#include "base/log.h"
#include "crypto/keys.h"

namespace coral::colony {
namespace {

void set_timestamp(google::protobuf::Timestamp& out, std::chrono::system_clock::time_point time) {
  out = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count());
}

void fill_wireguard(v1::PeerWireGuard& out, const PeerWireGuardInfo& info) {
  out.set_endpoint(info.endpoint);
  if (info.latest_handshake) set_timestamp(*out.mutable_latest_handshake(), *info.latest_handshake);
  out.set_rx_bytes(info.rx_bytes);
  out.set_tx_bytes(info.tx_bytes);
}

void audit(std::string_view message, const Peer& peer) {
  log::info(message, {{"peer_id", peer.peer_id},
                      {"kind", std::string(to_string(peer.kind))},
                      {"component", peer.component_name},
                      {"mesh_ipv4", peer.mesh_ipv4},
                      {"mesh_ipv6", peer.mesh_ipv6},
                      {"peer_pubkey", peer.wireguard_pubkey}});
}

}  // namespace

void fill_mesh_peer(v1::MeshPeer& out, const Peer& peer, std::string_view health) {
  out.set_peer_id(peer.peer_id);
  out.set_name(peer.component_name);
  out.set_kind(std::string(to_string(peer.kind)));
  out.set_mesh_ipv4(peer.mesh_ipv4);
  out.set_mesh_ipv6(peer.mesh_ipv6);
  out.set_wireguard_pubkey(peer.wireguard_pubkey);
  set_timestamp(*out.mutable_registered_at(), peer.registered_at);
  set_timestamp(*out.mutable_last_seen(), peer.last_seen);
  out.set_health(std::string(health));
}

AdminService::AdminService(PeerRegistry& registry, AdminServiceOptions options)
    : registry_(registry), options_(std::move(options)) {}

rpc::Awaitable<rpc::Result<v1::ListPeersResponse>> AdminService::ListPeers(rpc::Context&,
                                                                           const v1::ListPeersRequest& request) {
  auto peers = registry_.peers();
  if (!peers) co_return std::unexpected(std::move(peers.error()));
  std::map<std::string, PeerWireGuardInfo> facts;
  if (options_.wireguard_info) facts = options_.wireguard_info();
  v1::ListPeersResponse response;
  response.set_colony_id(registry_.config().colony_id);
  response.set_wireguard_device(static_cast<bool>(options_.wireguard_info));
  for (const Peer& peer : *peers) {
    v1::MeshPeer& out = *response.add_peers();
    fill_mesh_peer(out, peer, registry_.health(peer));
    if (auto it = facts.find(peer.wireguard_pubkey); it != facts.end()) {
      fill_wireguard(*out.mutable_wireguard(), it->second);
    }
  }
  for (const std::string& endpoint : options_.public_endpoints) response.add_colony_endpoints(endpoint);
  if (request.include_revoked()) {
    auto revoked = registry_.revoked_keys();
    if (!revoked) co_return std::unexpected(std::move(revoked.error()));
    for (const RevokedKey& key : *revoked) {
      v1::RevokedKey& out = *response.add_revoked();
      out.set_wireguard_pubkey(key.wireguard_pubkey);
      out.set_peer_id(key.peer_id);
      out.set_name(key.name);
      out.set_kind(std::string(to_string(key.kind)));
      set_timestamp(*out.mutable_revoked_at(), key.revoked_at);
    }
  }
  co_return response;
}

rpc::Awaitable<rpc::Result<v1::AddPeerResponse>> AdminService::AddPeer(rpc::Context&,
                                                                       const v1::AddPeerRequest& request) {
  auto added = registry_.add_device(request.name(), request.wireguard_pubkey());
  if (!added) co_return std::unexpected(std::move(added.error()));
  audit("audit: peer added by hand", *added);
  const config::ColonyConfig& config = registry_.config();
  v1::AddPeerResponse response;
  fill_mesh_peer(*response.mutable_peer(), *added, registry_.health(*added));
  response.set_colony_wireguard_pubkey(config.wireguard.public_key.to_base64());
  for (const std::string& endpoint : options_.public_endpoints) response.add_colony_endpoints(endpoint);
  response.set_mesh_network_ipv4(config.wireguard.mesh_network_ipv4.to_string());
  response.set_mesh_network_ipv6(config.wireguard.mesh_network_ipv6.to_string());
  response.set_colony_mesh_ipv4(registry_.colony_ipv4());
  response.set_colony_mesh_ipv6(registry_.colony_ipv6());
  response.set_colony_connect_port(config.services.connect_port);
  co_return response;
}

rpc::Awaitable<rpc::Result<v1::RevokePeerResponse>> AdminService::RevokePeer(rpc::Context&,
                                                                             const v1::RevokePeerRequest& request) {
  auto revoked = registry_.revoke(request.selector());
  if (!revoked) co_return std::unexpected(std::move(revoked.error()));
  audit("audit: peer revoked", *revoked);
  v1::RevokePeerResponse response;
  fill_mesh_peer(*response.mutable_peer(), *revoked, registry_.health(*revoked));
  co_return response;
}

}  // namespace coral::colony

namespace coral::colony {

rpc::Awaitable<rpc::Result<v1::RotateSecretResponse>> AdminService::RotateSecret(rpc::Context&,
                                                                                 const v1::RotateSecretRequest&) {
  if (options_.colony_file.empty()) {
    co_return rpc::fail(rpc::Code::failed_precondition, "this colony has no colony file to write a new secret to");
  }
  const config::ColonyConfig& running = registry_.config();
  // No co_await between writing the file and switching: one step on the io thread.
  auto rotated = config::rotate_secret(options_.colony_file, running.wireguard.public_key);
  if (!rotated) co_return rpc::fail(rpc::Code::failed_precondition, rotated.error());
  if (rotated->colony_id != running.colony_id) {
    // The file is named after the id and holds the same key: only a hand edit gets here.
    crypto::wipe(rotated->colony_secret);
    co_return rpc::fail(rpc::Code::failed_precondition, options_.colony_file.string() + ": colony_id is now " +
                                                            rotated->colony_id + ", not " + running.colony_id +
                                                            "; the file was written, the running secret is unchanged");
  }
  registry_.set_colony_secret(rotated->colony_secret);
  auto peers = registry_.peers();
  const std::uint32_t kept = peers ? static_cast<std::uint32_t>(peers->size()) : 0;
  log::info("audit: colony secret rotated", {{"colony_id", running.colony_id},
                                            {"colony_file", options_.colony_file.string()},
                                            {"peers_kept", std::to_string(kept)}});
  v1::RotateSecretResponse response;
  response.set_colony_id(running.colony_id);
  response.set_colony_secret(rotated->colony_secret);
  response.set_colony_file(options_.colony_file.string());
  response.set_peers_kept(kept);
  crypto::wipe(rotated->colony_secret);
  co_return response;
}

}  // namespace coral::colony

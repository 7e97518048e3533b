#pragma once
// MeshService: peers (agents, CLI proxies) join the colony's mesh, keep
// their place with heartbeats and leave. Checks the colony id and secret
// (constant time), validates the request, and leaves allocation and
// persistence to the PeerRegistry. Audit log lines for registration and
// unregistration; a wrong secret is logged without the secret.
//
// Wrong secrets are limited per source address (SecretGuard): past a burst,
// Register from that address is refused with resource_exhausted ("too many
// wrong colony secrets from A; try again in N s") before the secret is
// compared. The first refusal (wrong secret or another colony's id) of a
// 10 s window is logged in full, the rest as one summary line per source and
// window (sweep(), on a timer).

#include <mutex>

#include "coral/mesh/v1/mesh.coral.h"
#include "colony/peer_registry.h"
#include "colony/secret_guard.h"

namespace coral::colony {

class MeshService final : public coral::mesh::v1::MeshServiceHandler {
 public:
  explicit MeshService(PeerRegistry& registry);

  rpc::Awaitable<rpc::Result<coral::mesh::v1::RegisterResponse>> Register(
      rpc::Context& context, const coral::mesh::v1::RegisterRequest& request) override;
  rpc::Awaitable<rpc::Result<coral::mesh::v1::HeartbeatResponse>> Heartbeat(
      rpc::Context& context, const coral::mesh::v1::HeartbeatRequest& request) override;
  rpc::Awaitable<rpc::Result<coral::mesh::v1::UnregisterResponse>> Unregister(
      rpc::Context& context, const coral::mesh::v1::UnregisterRequest& request) override;

  // Logs the refusal summaries of the windows that ended (all of them with
  // `final`, at shutdown), and forgets idle sources. Call about once a
  // second.
  void sweep(bool final = false);

 private:
  PeerRegistry& registry_;
  std::mutex guard_mutex_;
  SecretGuard guard_;  // guarded by guard_mutex_
};

}  // namespace coral::colony

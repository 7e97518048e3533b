#pragma once
// MeshService: peers (agents, CLI proxies) join the colony's mesh, keep
// their place with heartbeats and leave. Checks the colony id and secret
// (constant time), validates the request, and leaves allocation and
// persistence to the PeerRegistry. Audit log lines for registration and
// unregistration; a wrong secret is logged without the secret.

#include "coral/mesh/v1/mesh.coral.h"
#include "colony/peer_registry.h"

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

 private:
  PeerRegistry& registry_;
};

}  // namespace coral::colony

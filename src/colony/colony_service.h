#pragma once
// ColonyService: the colony's status, its agents and their topology, from
// the PeerRegistry. Agents only: CLI proxies are peers too, but neither
// counted nor listed as agents. Ask is not served yet (unimplemented).

#include "coral/colony/v1/colony.coral.h"
#include "colony/peer_registry.h"

namespace coral::colony {

class ColonyService final : public coral::colony::v1::ColonyServiceHandler {
 public:
  explicit ColonyService(PeerRegistry& registry);

  rpc::Awaitable<rpc::Result<v1::GetStatusResponse>> GetStatus(rpc::Context& context,
                                                               const v1::GetStatusRequest& request) override;
  rpc::Awaitable<rpc::Result<v1::ListAgentsResponse>> ListAgents(rpc::Context& context,
                                                                 const v1::ListAgentsRequest& request) override;
  rpc::Awaitable<rpc::Result<v1::GetTopologyResponse>> GetTopology(rpc::Context& context,
                                                                   const v1::GetTopologyRequest& request) override;

 private:
  PeerRegistry& registry_;
};

}  // namespace coral::colony

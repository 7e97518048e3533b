#include "colony/colony_service.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include <google/protobuf/util/time_util.h>

namespace coral::colony {
namespace {

using TimePoint = base::Clock::time_point;

void set_timestamp(google::protobuf::Timestamp& out, TimePoint time) {
  out = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count());
}

void fill_agent(v1::Agent& agent, const Peer& peer, std::string_view health) {
  agent.set_agent_id(peer.peer_id);
  agent.set_component_name(peer.component_name);
  agent.set_mesh_ipv4(peer.mesh_ipv4);
  agent.set_mesh_ipv6(peer.mesh_ipv6);
  set_timestamp(*agent.mutable_last_seen(), peer.last_seen);
  agent.set_status(std::string(health));
}

}  // namespace

ColonyService::ColonyService(PeerRegistry& registry) : registry_(registry) {}

rpc::Awaitable<rpc::Result<v1::GetStatusResponse>> ColonyService::GetStatus(rpc::Context&,
                                                                            const v1::GetStatusRequest&) {
  const config::ColonyConfig& config = registry_.config();
  auto peers = registry_.peers();
  if (!peers) co_return std::unexpected(std::move(peers.error()));
  auto storage = registry_.storage_bytes();
  if (!storage) co_return std::unexpected(std::move(storage.error()));

  // The colony's health is its agents': CLI proxies come and go.
  std::size_t agents = 0;
  std::size_t healthy = 0;
  std::size_t unhealthy = 0;
  for (const Peer& peer : *peers) {
    if (peer.kind != Peer::Kind::agent) continue;
    ++agents;
    const std::string_view health = registry_.health(peer);
    if (health == "healthy") ++healthy;
    if (health == "unhealthy") ++unhealthy;
  }
  std::string status = "running";
  if (agents > 0 && unhealthy == agents) {
    status = "unhealthy";
  } else if (healthy < agents) {
    status = "degraded";
  }

  const TimePoint now = registry_.clock().now();
  v1::GetStatusResponse response;
  response.set_colony_id(config.colony_id);
  response.set_app_name(config.app_name);
  response.set_environment(config.environment);
  response.set_status(status);
  set_timestamp(*response.mutable_started_at(), registry_.started_at());
  response.set_uptime_seconds(
      std::max<std::int64_t>(std::chrono::floor<std::chrono::seconds>(now - registry_.started_at()).count(), 0));
  response.set_agent_count(static_cast<std::int32_t>(std::min<std::size_t>(agents, std::numeric_limits<std::int32_t>::max())));
  // dashboard_url stays empty: nothing serves a dashboard yet
  // (services.dashboard_port is reserved for it), and a URL that answers
  // nothing would send users to it. The CLI shows "none".
  response.set_storage_bytes(static_cast<std::int64_t>(
      std::min<std::uint64_t>(*storage, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))));
  response.set_mesh_ipv4(registry_.colony_ipv4());
  response.set_mesh_ipv6(registry_.colony_ipv6());
  co_return response;
}

rpc::Awaitable<rpc::Result<v1::ListAgentsResponse>> ColonyService::ListAgents(rpc::Context&,
                                                                              const v1::ListAgentsRequest&) {
  auto peers = registry_.peers();
  if (!peers) co_return std::unexpected(std::move(peers.error()));
  v1::ListAgentsResponse response;
  for (const Peer& peer : *peers) {
    if (peer.kind == Peer::Kind::agent) fill_agent(*response.add_agents(), peer, registry_.health(peer));
  }
  co_return response;
}

rpc::Awaitable<rpc::Result<v1::GetTopologyResponse>> ColonyService::GetTopology(rpc::Context&,
                                                                                const v1::GetTopologyRequest&) {
  auto peers = registry_.peers();
  if (!peers) co_return std::unexpected(std::move(peers.error()));
  v1::GetTopologyResponse response;
  response.set_colony_id(registry_.config().colony_id);
  for (const Peer& peer : *peers) {
    if (peer.kind == Peer::Kind::agent) fill_agent(*response.add_agents(), peer, registry_.health(peer));
  }
  // Connections are reported by agents (a later issue): none yet.
  co_return response;
}

}  // namespace coral::colony

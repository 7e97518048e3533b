#include "colony/mesh_service.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include <google/protobuf/util/time_util.h>

#include "base/address.h"
#include "base/log.h"
#include "base/text.h"
#include "crypto/keys.h"
#include "mesh/refusal.h"

namespace coral::colony {
namespace {

namespace v1 = coral::mesh::v1;
using TimePoint = base::Clock::time_point;

void set_timestamp(google::protobuf::Timestamp& out, TimePoint time) {
  out = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count());
}

// Untrusted text in a log field: at most 64 bytes (the log escapes it).
std::string clipped(std::string_view text) {
  if (text.size() <= 64) return std::string(text);
  return std::string(text.substr(0, 64)) + "...";
}

// What a peer sent, quoted for an error message: escaped, cut after 64 bytes.
std::string shown(std::string_view text) {
  return base::quote(text, base::QuoteOptions{.max_bytes = 64, .cut_names_size = false, .keep_utf8 = false});
}

// (Not a ?: expression: its type would be a temporary std::string.)
std::string_view remote(const rpc::Context& context) {
  if (context.peer.empty()) return "unknown";
  return context.peer;
}

// The caller's address without its port: what wrong secrets are limited by.
std::string source_address(const rpc::Context& context) {
  if (context.peer.empty()) return "unknown";
  if (auto parsed = base::parse_host_port(context.peer)) return parsed->host;
  return clipped(context.peer);
}

// A refused registration, with the reason members decide on (mesh/refusal.h).
std::unexpected<rpc::Error> refusal(rpc::Code code, std::string message, std::string_view reason) {
  return std::unexpected(rpc::Error{code, std::move(message), {{std::string(mesh::kRefusalField), std::string(reason)}}});
}

bool is_reported_status(std::string_view status) {
  return status == "healthy" || status == "degraded" || status == "unhealthy";
}

}  // namespace

MeshService::MeshService(PeerRegistry& registry) : registry_(registry) {}

rpc::Awaitable<rpc::Result<v1::RegisterResponse>> MeshService::Register(rpc::Context& context,
                                                                        const v1::RegisterRequest& request) {
  const config::ColonyConfig& config = registry_.config();
  const std::string source = source_address(context);
  if (request.colony_id() != config.colony_id) {
    bool first = false;
    {
      std::lock_guard lock(guard_mutex_);
      first = guard_.record_wrong_colony(source, registry_.clock().now());
    }
    if (first) {
      log::warn("register refused: wrong colony", {{"colony_id", clipped(request.colony_id())},
                                                   {"peer_pubkey", clipped(request.wireguard_pubkey())},
                                                   {"remote", std::string(remote(context))}});
    }
    co_return rpc::fail(rpc::Code::not_found,
                        "this is colony " + base::quote(config.colony_id) + ", not " + shown(request.colony_id()));
  }
  {
    std::lock_guard lock(guard_mutex_);
    if (const auto wait = guard_.check(source, registry_.clock().now())) {
      const auto seconds = std::chrono::ceil<std::chrono::seconds>(*wait).count();
      co_return rpc::fail(rpc::Code::resource_exhausted, "too many wrong colony secrets from " + source +
                                                             "; try again in " + std::to_string(seconds) + " s");
    }
  }
  std::string secret = registry_.colony_secret();
  const bool secret_matches = crypto::constant_time_equal(request.colony_secret(), secret);
  crypto::wipe(secret);
  if (!secret_matches) {
    bool first = false;
    {
      std::lock_guard lock(guard_mutex_);
      first = guard_.record_wrong_secret(source, registry_.clock().now());
    }
    if (first) {
      log::warn("register refused: wrong colony secret", {{"peer_pubkey", clipped(request.wireguard_pubkey())},
                                                          {"component", clipped(request.component_name())},
                                                          {"remote", std::string(remote(context))}});
    }
    co_return refusal(rpc::Code::permission_denied, "wrong colony secret", mesh::kRefusalWrongSecret);
  }

  auto pubkey = crypto::PublicKey::from_base64(request.wireguard_pubkey());
  if (!pubkey) co_return rpc::fail(rpc::Code::invalid_argument, "wireguard_pubkey: " + pubkey.error());
  if (pubkey->is_zero()) co_return rpc::fail(rpc::Code::invalid_argument, "wireguard_pubkey: must not be all zeros");
  if (registry_.is_revoked(*pubkey)) {
    log::warn("register refused: revoked key", {{"peer_pubkey", pubkey->to_base64()},
                                                {"remote", std::string(remote(context))}});
    co_return refusal(rpc::Code::permission_denied,
                      "revoked: this WireGuard key was revoked by the colony's operator and cannot join again",
                      mesh::kRefusalRevoked);
  }

  Peer::Kind kind = Peer::Kind::agent;  // PEER_KIND_UNSPECIFIED: an agent, as the proto says
  switch (request.kind()) {
    case v1::PEER_KIND_UNSPECIFIED:
    case v1::PEER_KIND_AGENT: kind = Peer::Kind::agent; break;
    case v1::PEER_KIND_PROXY: kind = Peer::Kind::proxy; break;
    default:
      co_return rpc::fail(rpc::Code::invalid_argument,
                          "kind: must be PEER_KIND_AGENT or PEER_KIND_PROXY, got " + std::to_string(request.kind()));
  }
  std::string component = request.component_name();
  if (component.empty() && kind == Peer::Kind::proxy) component = "proxy";
  if (auto valid = config::validate_name(component); !valid) {
    co_return rpc::fail(rpc::Code::invalid_argument, "component_name: " + valid.error());
  }

  auto registered = registry_.register_peer(request.wireguard_pubkey(), kind, component);
  if (!registered) {
    log::error("register failed", {{"peer_pubkey", request.wireguard_pubkey()},
                                   {"component", component},
                                   {"remote", std::string(remote(context))},
                                   {"error", registered.error().message}});
    co_return std::unexpected(std::move(registered.error()));
  }
  const Peer& peer = registered->peer;
  log::info(registered->is_new ? "peer registered" : "peer re-registered",
            {{"peer_id", peer.peer_id},
             {"kind", std::string(to_string(peer.kind))},
             {"component", peer.component_name},
             {"mesh_ipv4", peer.mesh_ipv4},
             {"mesh_ipv6", peer.mesh_ipv6},
             {"remote", std::string(remote(context))}});

  v1::RegisterResponse response;
  response.set_mesh_ipv4(peer.mesh_ipv4);
  response.set_mesh_ipv6(peer.mesh_ipv6);
  response.set_colony_mesh_ipv4(registry_.colony_ipv4());
  response.set_colony_mesh_ipv6(registry_.colony_ipv6());
  response.set_mesh_network_ipv4(config.wireguard.mesh_network_ipv4.to_string());
  response.set_mesh_network_ipv6(config.wireguard.mesh_network_ipv6.to_string());
  response.set_colony_wireguard_pubkey(config.wireguard.public_key.to_base64());
  response.set_colony_connect_port(config.services.connect_port);
  response.set_peer_id(peer.peer_id);
  co_return response;
}

rpc::Awaitable<rpc::Result<v1::HeartbeatResponse>> MeshService::Heartbeat(rpc::Context& context,
                                                                          const v1::HeartbeatRequest& request) {
  std::string status = request.status().empty() ? "healthy" : request.status();
  if (!is_reported_status(status)) {
    co_return rpc::fail(rpc::Code::invalid_argument,
                        "status: must be healthy, degraded or unhealthy, got " + shown(status));
  }
  auto peer = registry_.heartbeat(request.peer_id(), request.wireguard_pubkey(), status);
  if (!peer) {
    if (peer.error().code != rpc::Code::not_found) {
      bool first = false;
      {
        std::lock_guard lock(guard_mutex_);
        first = guard_.record_refused_heartbeat(source_address(context), registry_.clock().now());
      }
      if (first) {
        log::warn("heartbeat refused", {{"peer_id", clipped(request.peer_id())},
                                        {"remote", std::string(remote(context))},
                                        {"error", peer.error().message}});
      }
    }
    co_return std::unexpected(std::move(peer.error()));
  }
  const auto interval = registry_.heartbeat_interval();
  v1::HeartbeatResponse response;
  // Past 4 intervals without a heartbeat a peer counts as unhealthy (gone).
  set_timestamp(*response.mutable_next_heartbeat_before(), peer->last_seen + 4 * interval);
  response.set_heartbeat_interval_seconds(static_cast<std::uint32_t>(interval.count()));
  co_return response;
}

rpc::Awaitable<rpc::Result<v1::UnregisterResponse>> MeshService::Unregister(rpc::Context& context,
                                                                            const v1::UnregisterRequest& request) {
  auto peer = registry_.unregister(request.peer_id(), request.wireguard_pubkey());
  if (!peer) co_return std::unexpected(std::move(peer.error()));
  log::info("peer unregistered", {{"peer_id", peer->peer_id},
                                  {"kind", std::string(to_string(peer->kind))},
                                  {"component", peer->component_name},
                                  {"mesh_ipv4", peer->mesh_ipv4},
                                  {"mesh_ipv6", peer->mesh_ipv6},
                                  {"remote", std::string(remote(context))}});
  co_return v1::UnregisterResponse{};
}

void MeshService::sweep(bool final) {
  std::vector<SecretGuard::Summary> summaries;
  {
    std::lock_guard lock(guard_mutex_);
    summaries = guard_.sweep(registry_.clock().now(), final);
  }
  for (const auto& summary : summaries) {
    if (summary.refused_heartbeats > 0) {
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(summary.heartbeat_window).count();
      log::warn("heartbeat refused " + std::to_string(summary.refused_heartbeats) + " more times from " +
                    summary.source + " in the last " + std::to_string(seconds) + " s",
                {{"remote", summary.source}});
    }
    if (summary.total() == 0) continue;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(summary.window).count();
    log::warn("register refused " + std::to_string(summary.total()) + " more times from " + summary.source +
                  " in the last " + std::to_string(seconds) + " s",
              {{"remote", summary.source},
               {"wrong_secret", std::to_string(summary.wrong)},
               {"wrong_colony", std::to_string(summary.wrong_colony)},
               {"rate_limited", std::to_string(summary.limited)}});
  }
}

}  // namespace coral::colony

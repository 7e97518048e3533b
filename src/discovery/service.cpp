#include "discovery/service.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <utility>

#include <google/protobuf/util/time_util.h>

#include "discovery/proof.h"
#include "discovery/validation.h"

namespace coral::discovery {
namespace {

using TimePoint = base::Clock::time_point;

void set_timestamp(google::protobuf::Timestamp& out, TimePoint time) {
  out = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count());
}

// RFC 3339 in UTC, whole seconds, rounded up: "2026-11-24T21:40:00Z". Up,
// because it tells a client when it may take over, which must not be early.
std::string rfc3339_utc(TimePoint time) {
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(time.time_since_epoch()).count();
  const time_t t = static_cast<time_t>(seconds);
  tm parts{};
  std::array<char, 64> text{};
  if (gmtime_r(&t, &parts) == nullptr || strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &parts) == 0) {
    return std::to_string(seconds) + " seconds after the Unix epoch";
  }
  return text.data();
}

template <class To, class From>
To clamp_to(From value) {
  if (value < From{0}) return To{0};
  if (static_cast<std::uint64_t>(value) > static_cast<std::uint64_t>(std::numeric_limits<To>::max())) {
    return std::numeric_limits<To>::max();
  }
  return static_cast<To>(value);
}


}  // namespace

DiscoveryService::DiscoveryService(Store& store, const base::Clock& clock, ServiceOptions options)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      started_(clock.now()),
      limiter_(options_.source_limits) {}

rpc::Awaitable<rpc::Result<const crypto::SecretKey*>> DiscoveryService::key() {
  if (!options_.key) {
    rpc::Result<crypto::SecretKey> shared = co_await store_.shared_key(crypto::SecretKey::generate());
    if (!shared) co_return std::unexpected(std::move(shared.error()));
    // Another call may have set it meanwhile: the store returns the same key.
    if (!options_.key) options_.key = std::move(*shared);
  }
  co_return &*options_.key;
}

rpc::Status DiscoveryService::limit(const rpc::Context& context, std::string_view procedure) {
  if (limiter_.allow(context.peer, clock_.now())) return {};
  const SourceLimits& limits = options_.source_limits;
  std::string rate = std::to_string(limits.per_second);
  rate.erase(rate.find_last_not_of('0') + 1);
  if (rate.ends_with('.')) rate.pop_back();
  return rpc::fail(rpc::Code::resource_exhausted,
                   std::string(procedure) + ": too many calls from this source (at most " + rate +
                       " per second, bursts of " + std::to_string(limits.burst) +
                       "; --register-rate, --register-burst); try again later");
}

rpc::Awaitable<rpc::Result<v1::GetRegistrationChallengeResponse>> DiscoveryService::GetRegistrationChallenge(
    rpc::Context& context, const v1::GetRegistrationChallengeRequest& request) {
  if (rpc::Status allowed = limit(context, "GetRegistrationChallenge"); !allowed) {
    co_return std::unexpected(std::move(allowed.error()));
  }
  if (rpc::Status valid = validate_mesh_id(request.mesh_id()); !valid) co_return std::unexpected(std::move(valid.error()));
  if (rpc::Status valid = validate_pubkey(request.wireguard_pubkey()); !valid) {
    co_return std::unexpected(std::move(valid.error()));
  }
  const auto pubkey = crypto::PublicKey::from_base64(request.wireguard_pubkey());
  if (!pubkey) co_return rpc::fail(rpc::Code::invalid_argument, "wireguard_pubkey: " + pubkey.error());
  rpc::Result<const crypto::SecretKey*> server_key = co_await key();
  if (!server_key) co_return std::unexpected(std::move(server_key.error()));

  v1::GetRegistrationChallengeResponse response;
  response.set_challenge(issue_challenge(**server_key, clock_.now(), request.mesh_id(), *pubkey));
  response.set_discovery_pubkey((*server_key)->public_key().to_base64());
  response.set_expires_in(static_cast<std::int32_t>(kChallengeLifetime.count()));
  co_return response;
}

rpc::Awaitable<rpc::Result<v1::RegisterColonyResponse>> DiscoveryService::RegisterColony(
    rpc::Context& context, const v1::RegisterColonyRequest& request) {
  if (rpc::Status allowed = limit(context, "RegisterColony"); !allowed) {
    co_return std::unexpected(std::move(allowed.error()));
  }
  if (rpc::Status valid = validate_registration(request); !valid) co_return std::unexpected(std::move(valid.error()));
  if (const auto reserved = options_.reserved.find(request.mesh_id());
      reserved != options_.reserved.end() && reserved->second != request.wireguard_pubkey()) {
    co_return rpc::fail(rpc::Code::permission_denied,
                        "mesh_id " + quote(request.mesh_id()) + " is reserved for WireGuard key " + reserved->second +
                            " by this discovery service (--reserve)");
  }

  bool proven = false;
  if (!options_.accept_unproven || !request.challenge().empty() || !request.proof().empty()) {
    rpc::Result<const crypto::SecretKey*> server_key = co_await key();
    if (!server_key) co_return std::unexpected(std::move(server_key.error()));
    if (auto verified = verify_registration(**server_key, clock_.now(), request); !verified) {
      std::string message = "registration of mesh_id " + quote(request.mesh_id()) + " refused: " +
                            std::string(to_string(verified.error()));
      if (verified.error() == ProofError::missing) {
        message += "; this discovery service requires proof of possession of the WireGuard private key "
                   "(GetRegistrationChallenge, then RegisterColony with challenge and proof): upgrade the colony";
      } else if (verified.error() == ProofError::expired_challenge) {
        message += "; get a new one with GetRegistrationChallenge";
      }
      co_return rpc::fail(rpc::Code::unauthenticated, std::move(message));
    }
    proven = true;
  }

  const TimePoint now = clock_.now();
  ColonyRecord record{
      .mesh_id = request.mesh_id(),
      .wireguard_pubkey = request.wireguard_pubkey(),
      .public_endpoints = {request.public_endpoints().begin(), request.public_endpoints().end()},
      .mesh_ipv4 = request.mesh_ipv4(),
      .mesh_ipv6 = request.mesh_ipv6(),
      .connect_port = request.connect_port(),
      .metadata = {request.metadata().begin(), request.metadata().end()},
      .last_seen = now,
      .expires_at = now + options_.ttl,
      .proven = proven,
  };
  std::sort(record.metadata.begin(), record.metadata.end());

  rpc::Result<PutResult> put = co_await store_.put(std::move(record));
  if (!put) co_return std::unexpected(std::move(put.error()));
  if (!put->stored && put->full) {
    co_return rpc::fail(rpc::Code::resource_exhausted,
                        "discovery is full: storing mesh_id " + quote(request.mesh_id()) +
                            " would exceed its limits on colonies or bytes (--max-colonies, --max-store-bytes); "
                            "try again when leases expire");
  }
  if (!put->stored) {
    const TimePoint lease_end = put->holder ? put->holder->expires_at : now + options_.ttl;
    co_return rpc::fail(rpc::Code::already_exists,
                        "mesh_id " + quote(request.mesh_id()) + " is registered by another WireGuard key until " +
                            rfc3339_utc(lease_end) + "; it can be taken over after that lease expires");
  }

  v1::RegisterColonyResponse response;
  response.set_success(true);
  response.set_ttl(clamp_to<std::int32_t>(options_.ttl.count()));
  set_timestamp(*response.mutable_expires_at(), now + options_.ttl);
  co_return response;
}

rpc::Awaitable<rpc::Result<v1::LookupColonyResponse>> DiscoveryService::LookupColony(
    rpc::Context&, const v1::LookupColonyRequest& request) {
  if (rpc::Status valid = validate_mesh_id(request.mesh_id()); !valid) co_return std::unexpected(std::move(valid.error()));

  std::string mesh_id = request.mesh_id();
  rpc::Result<std::optional<ColonyRecord>> found = co_await store_.get(std::move(mesh_id));
  if (!found) co_return std::unexpected(std::move(found.error()));
  if (!found->has_value()) {
    co_return rpc::fail(rpc::Code::not_found,
                        "colony " + quote(request.mesh_id()) + " is not registered (or its lease expired)");
  }

  ColonyRecord& record = **found;
  v1::LookupColonyResponse response;
  response.set_wireguard_pubkey(std::move(record.wireguard_pubkey));
  for (std::string& endpoint : record.public_endpoints) response.add_public_endpoints(std::move(endpoint));
  response.set_mesh_ipv4(std::move(record.mesh_ipv4));
  response.set_mesh_ipv6(std::move(record.mesh_ipv6));
  response.set_connect_port(record.connect_port);
  auto& metadata = *response.mutable_metadata();
  for (auto& [key, value] : record.metadata) metadata[key] = std::move(value);
  set_timestamp(*response.mutable_last_seen(), record.last_seen);
  response.set_proven(record.proven);
  co_return response;
}

rpc::Awaitable<rpc::Result<v1::HealthResponse>> DiscoveryService::Health(rpc::Context&, const v1::HealthRequest&) {
  v1::HealthResponse response;
  response.set_version(options_.version);
  const auto uptime = std::chrono::floor<std::chrono::seconds>(clock_.now() - started_).count();
  response.set_uptime_seconds(std::max<std::int64_t>(uptime, 0));

  rpc::Result<std::size_t> live = co_await store_.count_live();
  if (live) {
    response.set_status("ok");
    response.set_registered_colonies(clamp_to<std::int32_t>(*live));
  } else {
    // Still an answer: Health reports on the store, it does not fail with it.
    response.set_status("degraded: " + live.error().message);
    response.set_registered_colonies(0);
  }
  co_return response;
}

}  // namespace coral::discovery

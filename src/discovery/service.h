#pragma once
// DiscoveryService: colonies register leases, proxies and agents look them
// up. Validation, the takeover rule's error, TTLs and Health live here; the
// store keeps the leases.

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "base/clock.h"
#include "coral/discovery/v1/discovery.coral.h"
#include "crypto/keys.h"
#include "discovery/source_limiter.h"
#include "discovery/store.h"

namespace coral::discovery {

struct ServiceOptions {
  std::chrono::seconds ttl{300};
  std::string version = "0.1.0";
  // Registrations without a proof of possession (older colonies) are
  // stored, as unproven; a proven registration takes over their mesh id.
  // Off by default: then they are refused (unauthenticated).
  bool accept_unproven = false;
  // The static X25519 key that challenges and proofs are bound to (proof.h);
  // unset: the store's shared key (Store::shared_key), made on first use.
  std::optional<crypto::SecretKey> key;
  // Per-source limit of RegisterColony and GetRegistrationChallenge calls.
  SourceLimits source_limits{};
  // Mesh ids the operator reserved for one WireGuard key (base64), e.g.
  // from `--reserve my-app-prod=KEY`: registering them with any other key is
  // refused (permission_denied), even when no lease holds them.
  std::map<std::string, std::string> reserved{};
};

class DiscoveryService final : public coral::discovery::v1::DiscoveryServiceHandler {
 public:
  DiscoveryService(Store& store, const base::Clock& clock, ServiceOptions options);

  rpc::Awaitable<rpc::Result<v1::RegisterColonyResponse>> RegisterColony(
      rpc::Context& context, const v1::RegisterColonyRequest& request) override;
  rpc::Awaitable<rpc::Result<v1::GetRegistrationChallengeResponse>> GetRegistrationChallenge(
      rpc::Context& context, const v1::GetRegistrationChallengeRequest& request) override;
  rpc::Awaitable<rpc::Result<v1::LookupColonyResponse>> LookupColony(
      rpc::Context& context, const v1::LookupColonyRequest& request) override;
  rpc::Awaitable<rpc::Result<v1::HealthResponse>> Health(rpc::Context& context,
                                                         const v1::HealthRequest& request) override;

 private:
  // The static key: options_.key, else the store's shared key (fetched once).
  rpc::Awaitable<rpc::Result<const crypto::SecretKey*>> key();
  // resource_exhausted when `context`'s source is over its rate.
  rpc::Status limit(const rpc::Context& context, std::string_view procedure);

  Store& store_;
  const base::Clock& clock_;
  ServiceOptions options_;
  base::Clock::time_point started_;
  SourceLimiter limiter_;
};

}  // namespace coral::discovery

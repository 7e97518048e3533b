#pragma once
// DiscoveryService: colonies register leases, proxies and agents look them
// up. Validation, the takeover rule's error, TTLs and Health live here; the
// store keeps the leases.

#include <chrono>
#include <string>

#include "base/clock.h"
#include "coral/discovery/v1/discovery.coral.h"
#include "discovery/store.h"

namespace coral::discovery {

struct ServiceOptions {
  std::chrono::seconds ttl{300};
  std::string version = "0.1.0";
};

class DiscoveryService final : public coral::discovery::v1::DiscoveryServiceHandler {
 public:
  DiscoveryService(Store& store, const base::Clock& clock, ServiceOptions options);

  rpc::Awaitable<rpc::Result<v1::RegisterColonyResponse>> RegisterColony(
      rpc::Context& context, const v1::RegisterColonyRequest& request) override;
  rpc::Awaitable<rpc::Result<v1::LookupColonyResponse>> LookupColony(
      rpc::Context& context, const v1::LookupColonyRequest& request) override;
  rpc::Awaitable<rpc::Result<v1::HealthResponse>> Health(rpc::Context& context,
                                                         const v1::HealthRequest& request) override;

 private:
  Store& store_;
  const base::Clock& clock_;
  ServiceOptions options_;
  base::Clock::time_point started_;
};

}  // namespace coral::discovery

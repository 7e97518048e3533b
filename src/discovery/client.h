#pragma once
// The discovery client of colonies (register loop) and proxies (lookup):
// retries transient failures (unavailable) with exponential backoff, and
// reports errors a CLI can print as they are:
//   discovery service at http://localhost:8080 is not reachable: connection refused

#include <chrono>
#include <expected>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "coral/discovery/v1/discovery.pb.h"
#include "rpc/error.h"
#include "rpc/service.h"

namespace coral::discovery {

struct ClientOptions {
  int attempts = 3;                              // tries per call, the first included
  std::chrono::milliseconds first_backoff{200};  // doubles after each failure
  std::chrono::milliseconds max_backoff{2000};
  std::chrono::milliseconds timeout{5000};       // per attempt
};

class DiscoveryClient {
 public:
  // `endpoint` is the base URL, e.g. "http://localhost:8080".
  static std::expected<std::unique_ptr<DiscoveryClient>, std::string> create(boost::asio::any_io_executor executor,
                                                                            const std::string& endpoint,
                                                                            ClientOptions options = {});
  ~DiscoveryClient();

  rpc::Awaitable<rpc::Result<v1::RegisterColonyResponse>> register_colony(const v1::RegisterColonyRequest& request);
  // GetRegistrationChallenge: `unimplemented` from discovery services that
  // predate proofs of possession.
  rpc::Awaitable<rpc::Result<v1::GetRegistrationChallengeResponse>> challenge(const std::string& mesh_id,
                                                                            const std::string& wireguard_pubkey);
  rpc::Awaitable<rpc::Result<v1::LookupColonyResponse>> lookup(const std::string& mesh_id);
  rpc::Awaitable<rpc::Result<v1::HealthResponse>> health();

  const std::string& endpoint() const { return endpoint_; }

 private:
  struct Impl;
  DiscoveryClient(std::string endpoint, std::unique_ptr<Impl> impl);

  std::string endpoint_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace coral::discovery

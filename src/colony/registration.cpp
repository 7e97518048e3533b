#include "colony/registration.h"

#include <algorithm>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/address.h"
#include "base/duration.h"
#include "base/log.h"

namespace coral::colony {

discovery::v1::RegisterColonyRequest registration_request(const ColonyConfig& config,
                                                          const std::vector<std::string>& public_endpoints) {
  discovery::v1::RegisterColonyRequest request;
  request.set_mesh_id(config.discovery.mesh_id);
  request.set_wireguard_pubkey(config.wireguard.public_key.to_base64());
  for (const auto& endpoint : public_endpoints) request.add_public_endpoints(endpoint);
  request.set_mesh_ipv4(base::format_ipv4(config.wireguard.mesh_ipv4));
  request.set_mesh_ipv6(base::format_ipv6(config.wireguard.mesh_ipv6));
  request.set_connect_port(config.services.connect_port);
  auto& metadata = *request.mutable_metadata();
  metadata["app"] = config.app_name;
  metadata["environment"] = config.environment;
  metadata["colony_id"] = config.colony_id;
  return request;
}

std::chrono::milliseconds retry_delay(int failures, std::chrono::milliseconds interval) {
  std::chrono::milliseconds delay{1000};
  for (int i = 1; i < failures && delay < interval; ++i) delay *= 2;
  return std::min(delay, interval);
}

RegistrationLoop::RegistrationLoop(boost::asio::any_io_executor executor, discovery::DiscoveryClient& client,
                                   discovery::v1::RegisterColonyRequest request, std::chrono::milliseconds interval)
    : client_(client), request_(std::move(request)), interval_(interval), timer_(std::move(executor)) {}

boost::asio::awaitable<void> RegistrationLoop::run() {
  while (!stopping_) {
    auto reply = co_await client_.register_colony(request_);
    if (stopping_) break;
    if (reply) {
      if (!registered_ || failures_ > 0) {
        log::info(failures_ > 0 ? "registered with discovery again" : "registered with discovery",
                  {{"discovery", client_.endpoint()},
                   {"mesh_id", request_.mesh_id()},
                   {"ttl", std::to_string(reply->ttl()) + "s"},
                   {"next", base::format_duration(interval_)}});
      }
      registered_ = true;
      failures_ = 0;
      last_error_.clear();
    } else {
      if (failures_ == 0) {
        log::warn("discovery registration failed; retrying",
                  {{"discovery", client_.endpoint()}, {"mesh_id", request_.mesh_id()}, {"error", reply.error().message}});
      } else {
        log::debug("discovery registration failed again", {{"error", reply.error().message}});
      }
      ++failures_;
      last_error_ = reply.error().message;
    }
    timer_.expires_after(failures_ == 0 ? interval_ : retry_delay(failures_, interval_));
    boost::system::error_code ec;
    co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
}

void RegistrationLoop::stop() {
  stopping_ = true;
  timer_.cancel();
}

}  // namespace coral::colony

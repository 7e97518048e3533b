#include "discovery/client.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "coral/discovery/v1/discovery.coral.h"
#include "rpc/http_channel.h"

namespace coral::discovery {

namespace asio = boost::asio;

struct DiscoveryClient::Impl {
  Impl(asio::any_io_executor executor, rpc::ChannelOptions channel_options, ClientOptions client_options)
      : channel(executor, std::move(channel_options)), client(channel), options(client_options) {}

  // Runs `call` until it succeeds, fails for good, or runs out of attempts.
  template <class Call>
  auto with_retries(Call call) -> decltype(call(rpc::CallOptions{})) {
    rpc::CallOptions call_options;
    call_options.timeout = options.timeout;
    auto backoff = options.first_backoff;
    for (int attempt = 1;; ++attempt) {
      auto result = co_await call(call_options);
      if (result || result.error().code != rpc::Code::unavailable || attempt >= options.attempts) co_return result;
      asio::steady_timer timer(co_await asio::this_coro::executor, backoff);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      backoff = std::min(backoff * 2, options.max_backoff);
    }
  }

  rpc::HttpChannel channel;
  v1::DiscoveryServiceClient client;
  ClientOptions options;
};

std::expected<std::unique_ptr<DiscoveryClient>, std::string> DiscoveryClient::create(asio::any_io_executor executor,
                                                                                    const std::string& endpoint,
                                                                                    ClientOptions options) {
  auto url = http::parse_url(endpoint);
  if (!url) return std::unexpected("discovery endpoint: " + url.error());
  auto channel_options = rpc::h2c_proto_options(*url, {}, options.timeout);
  // The transport failed: say which service we were trying to reach.
  channel_options.unreachable_name = "discovery service at " + endpoint;
  auto impl = std::make_unique<Impl>(executor, std::move(channel_options), options);
  return std::unique_ptr<DiscoveryClient>(new DiscoveryClient(endpoint, std::move(impl)));
}

DiscoveryClient::DiscoveryClient(std::string endpoint, std::unique_ptr<Impl> impl)
    : endpoint_(std::move(endpoint)), impl_(std::move(impl)) {}

DiscoveryClient::~DiscoveryClient() = default;

rpc::Awaitable<rpc::Result<v1::RegisterColonyResponse>> DiscoveryClient::register_colony(
    const v1::RegisterColonyRequest& request) {
  co_return co_await impl_->with_retries(
      [&](const rpc::CallOptions& options) { return impl_->client.RegisterColony(request, options); });
}

rpc::Awaitable<rpc::Result<v1::GetRegistrationChallengeResponse>> DiscoveryClient::challenge(
    const std::string& mesh_id, const std::string& wireguard_pubkey) {
  v1::GetRegistrationChallengeRequest request;
  request.set_mesh_id(mesh_id);
  request.set_wireguard_pubkey(wireguard_pubkey);
  co_return co_await impl_->with_retries([&](const rpc::CallOptions& options) {
    return impl_->client.GetRegistrationChallenge(request, options);
  });
}

rpc::Awaitable<rpc::Result<v1::LookupColonyResponse>> DiscoveryClient::lookup(const std::string& mesh_id) {
  v1::LookupColonyRequest request;
  request.set_mesh_id(mesh_id);
  co_return co_await impl_->with_retries(
      [&](const rpc::CallOptions& options) { return impl_->client.LookupColony(request, options); });
}

rpc::Awaitable<rpc::Result<v1::HealthResponse>> DiscoveryClient::health() {
  const v1::HealthRequest request;
  co_return co_await impl_->with_retries(
      [&](const rpc::CallOptions& options) { return impl_->client.Health(request, options); });
}

}  // namespace coral::discovery

#include "cli/colony_reach.h"

#include <filesystem>
#include <vector>

#include "base/address.h"
#include "base/pid_file.h"
#include "cli/proxy_probe.h"
#include "mesh/host_transport.h"
#include "net/unix.h"
#include "proxy/router.h"
#include "proxy/state.h"

namespace coral::cli {

namespace asio = boost::asio;
namespace cv1 = coral::colony::v1;

std::expected<http::Url, std::string> parse_proxy_address(std::string_view text) {
  const std::string expected = "\"" + std::string(text) + "\": expected http://HOST:PORT or HOST:PORT";
  if (text.find("://") != std::string_view::npos) {
    auto url = http::parse_url(text);
    if (!url) return std::unexpected(expected + " (" + url.error() + ")");
    return url;
  }
  auto address = base::parse_host_port(text);
  if (!address) return std::unexpected(expected + " (" + address.error() + ")");
  http::Url url;
  url.host = address->host;
  url.port = address->port;
  return url;
}

namespace {

// One way to try: where, and how to say it.
struct Way {
  ReachedColony::Kind kind;
  http::Url url;
  std::string address;
  std::string description;
  bool name_colony;
  std::filesystem::path socket;  // non-empty: dial this Unix socket
};

}  // namespace

asio::awaitable<std::expected<ReachedColony, Unreached>> reach_colony(const ColonyTarget& target,
                                                                      std::optional<http::Url> proxy,
                                                                      bool name_colony) {
  std::vector<Way> ways;
  if (proxy) {
    const std::string address = proxy->host.find(':') != std::string::npos
                                    ? "[" + proxy->host + "]:" + std::to_string(proxy->port)
                                    : proxy->host + ":" + std::to_string(proxy->port);
    ways.push_back({ReachedColony::Kind::proxy, *proxy, address, "via proxy at " + address, name_colony, {}});
  } else {
    const auto state_file = target.dir.proxies_dir() / (target.id + ".yaml");
    if (std::filesystem::exists(state_file)) {
      auto state = proxy::load_state(state_file);
      if (state) {
        auto health = co_await fetch_proxy_health(state->listen);
        auto address = base::parse_host_port(state->listen);
        if (health && health->serves(target.id) && address) {
          http::Url url;
          url.host = address->host;
          url.port = address->port;
          ways.push_back({ReachedColony::Kind::proxy, url, state->listen, "via proxy at " + state->listen, true, {}});
        }
      }
    }
    if (target.config && base::read_pid_file(target.dir.colony_pid_file(target.id)).held()) {
      const auto socket = target.dir.admin_socket(target.id);
      std::error_code ignored;
      if (std::filesystem::is_socket(socket, ignored)) {
        http::Url url;
        url.host = "localhost";
        url.port = 80;
        ways.push_back({ReachedColony::Kind::direct, url, socket.string(), "through its admin socket", false, socket});
      } else if (target.config->wireguard.mesh == config::MeshTransport::host) {
        const auto& wg = target.config->wireguard;
        const std::uint16_t port = target.config->services.connect_port;
        for (const std::string& host : {base::format_ipv4(wg.mesh_ipv4), base::format_ipv6(wg.mesh_ipv6)}) {
          http::Url url;
          url.host = host;
          url.port = port;
          const std::string address = net::Target{host, port}.authority();
          ways.push_back({ReachedColony::Kind::direct, url, address, "directly", false, {}});
        }
      }
    }
  }
  if (ways.empty()) co_return std::unexpected(Unreached{Unreached::Kind::no_route, "no proxy running for " + target.id, false});

  std::optional<Unreached> first_failure;
  auto executor = co_await asio::this_coro::executor;
  for (const Way& way : ways) {
    ReachedColony reached;
    reached.kind = way.kind;
    reached.address = way.address;
    reached.description = way.description;
    net::Dialer dialer;
    if (!way.socket.empty()) {
      dialer = net::unix_dialer(executor, way.socket);
    } else if (way.kind == ReachedColony::Kind::direct) {
      reached.transport = mesh::make_host_transport(
          executor, {.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kCallTimeout)});
      dialer = reached.transport->dialer();
    }
    reached.channel = std::make_unique<rpc::HttpChannel>(executor, rpc::h2c_proto_options(way.url, dialer, kCallTimeout));
    reached.call = rpc::CallOptions{.timeout = kCallTimeout, .headers = {}};
    if (way.name_colony) reached.call.headers.push_back({std::string(proxy::kColonyIdHeader), target.id});
    cv1::ColonyServiceClient client(*reached.channel);
    const cv1::GetStatusRequest request;
    auto status = co_await client.GetStatus(request, reached.call);
    if (status) {
      reached.status = std::move(*status);
      co_return reached;
    }
    if (!first_failure) {
      first_failure = Unreached{Unreached::Kind::no_answer,
                                "colony " + target.id + " did not answer " + way.description +
                                    (way.kind == ReachedColony::Kind::direct ? " at " + way.address : std::string()) +
                                    ": " + status.error().message,
                                way.kind == ReachedColony::Kind::proxy};
    }
  }
  co_return std::unexpected(*first_failure);
}

}  // namespace coral::cli

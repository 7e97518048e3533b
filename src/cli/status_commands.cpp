#include "cli/status_commands.h"

#include <cstdlib>
#include <iostream>
#include <memory>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "base/address.h"
#include "base/pid_file.h"
#include "cli/proxy_probe.h"
#include "cli/render.h"
#include "coral/colony/v1/colony.coral.h"
#include "discovery/client.h"
#include "http/url.h"
#include "mesh/host_transport.h"
#include "proxy/router.h"
#include "proxy/runtime.h"
#include "proxy/state.h"
#include "rpc/http_channel.h"

namespace coral::cli {

namespace asio = boost::asio;
namespace cv1 = coral::colony::v1;

namespace {

constexpr std::chrono::seconds kCallTimeout{5};

struct Flags {
  std::string colony;
  std::string proxy;
  bool json = false;
  bool verbose = false;
};

// How the colony is reached.
struct Route {
  enum class Kind { proxy, direct } kind = Kind::proxy;
  http::Url url;
  std::string description;  // "via proxy at localhost:8000"
  bool name_colony = false;  // send Colony-ID
  std::unique_ptr<mesh::Transport> transport;  // direct: the host transport
};

struct Target {
  std::string id;
  std::optional<colony::ColonyConfig> config;
  colony::ConfigDir dir{""};
};

std::string discovery_endpoint(const Target& target) {
  return target.config ? target.config->discovery.endpoint : std::string(proxy::kDefaultDiscovery);
}

asio::awaitable<std::string> discovery_line(const std::string& endpoint) {
  auto client = discovery::DiscoveryClient::create(
      co_await asio::this_coro::executor, endpoint,
      discovery::ClientOptions{.attempts = 1, .first_backoff = {}, .max_backoff = {}, .timeout = std::chrono::seconds(2)});
  if (!client) co_return "✗ " + client.error();
  auto health = co_await (*client)->health();
  if (!health) co_return "✗ Offline (" + health.error().message + ")";
  co_return "✓ Online (" + std::to_string(health->registered_colonies()) + " colonies)";
}

// The first way that works: an explicit proxy, a live proxy of this colony,
// the colony itself on this host.
asio::awaitable<std::expected<Route, std::string>> find_route(const Flags& flags, const Target& target) {
  std::string explicit_proxy = flags.proxy;
  if (explicit_proxy.empty()) {
    if (const char* env = std::getenv("CORAL_PROXY"); env && *env) explicit_proxy = env;
  }
  if (!explicit_proxy.empty()) {
    auto url = http::parse_url(explicit_proxy);
    if (!url) co_return std::unexpected("proxy " + url.error());
    Route route;
    route.url = *url;
    route.description = "via proxy at " + explicit_proxy;
    route.name_colony = !flags.colony.empty();
    co_return route;
  }
  const auto state_file = target.dir.proxies_dir() / (target.id + ".yaml");
  if (std::filesystem::exists(state_file)) {
    auto state = proxy::load_state(state_file);
    if (state) {
      auto health = co_await fetch_proxy_health(state->listen);
      if (health && health->serves(target.id)) {
        auto address = base::parse_host_port(state->listen);
        if (address) {
          Route route;
          route.url.host = address->host;
          route.url.port = address->port;
          route.description = "via proxy at " + state->listen;
          route.name_colony = true;
          co_return route;
        }
      }
    }
  }
  if (target.config &&
      base::read_pid_file(target.dir.colony_pid_file(target.id)).held()) {
    // Named steps: g++ 12 mishandles temporaries around co_await.
    auto executor = co_await asio::this_coro::executor;
    Route route;
    route.kind = Route::Kind::direct;
    route.url.host = base::format_ipv4(target.config->wireguard.mesh_ipv4);
    route.url.port = target.config->services.connect_port;
    route.description = "direct: the colony runs on this host";
    route.transport = mesh::make_host_transport(executor);
    co_return route;
  }
  co_return std::unexpected("no proxy running for " + target.id);
}

struct Channel {
  std::unique_ptr<rpc::HttpChannel> channel;
  rpc::CallOptions call;
};

Channel open_channel(asio::any_io_executor executor, const Route& route, const std::string& colony_id) {
  auto options = rpc::h2c_proto_options(route.url, route.transport ? route.transport->dialer() : net::Dialer{},
                                        kCallTimeout);
  Channel channel{std::make_unique<rpc::HttpChannel>(executor, std::move(options)),
                  rpc::CallOptions{.timeout = kCallTimeout, .headers = {}}};
  if (route.name_colony) channel.call.headers.push_back({std::string(proxy::kColonyIdHeader), colony_id});
  return channel;
}

std::optional<Target> resolve_target(Context& context, const Flags& flags) {
  auto dir = context.config_dir();
  if (!dir) {
    context.fail(dir.error());
    return std::nullopt;
  }
  Target target;
  target.dir = *dir;
  target.id = flags.colony;
  if (target.id.empty()) {
    auto current = dir->require_current();
    if (!current) {
      context.fail(current.error(), "or name one: --colony <colony-id>");
      return std::nullopt;
    }
    target.id = *current;
  }
  if (auto valid = colony::validate_colony_id(target.id); !valid) {
    context.fail("colony id \"" + target.id + "\": " + valid.error());
    return std::nullopt;
  }
  if (std::filesystem::exists(dir->colony_file(target.id))) {
    auto config = dir->load_colony(target.id);
    if (!config) {
      context.fail(config.error());
      return std::nullopt;
    }
    target.config = std::move(*config);
  }
  return target;
}

// No way to the colony: what the config says, and what to do.
void print_offline(Context& context, const Target& target, const std::string& why, const std::string& discovery) {
  std::cout << "Discovery Service: " << discovery << "\n\n";
  std::cout << "Colony: " << target.id << " [OFFLINE]\n";
  if (target.config) {
    const auto& config = *target.config;
    std::cout << "  ├─ App: " << config.app_name << "\n  ├─ Environment: " << config.environment << "\n"
              << "  └─ Mesh IPs: " << base::format_ipv4(config.wireguard.mesh_ipv4) << " / "
              << base::format_ipv6(config.wireguard.mesh_ipv6) << " (from " << target.dir.colony_file(target.id).string()
              << ")\n";
  } else {
    std::cout << "  └─ No local config for it (" << target.dir.colony_file(target.id).string() << ")\n";
  }
  std::cout << "\n";
  context.fail(why + " — start one with: coral proxy start " + target.id);
}

enum class What { status, agents, topology };

asio::awaitable<void> run(Context& context, const Flags& flags, What what) {
  auto target = resolve_target(context, flags);
  if (!target) co_return;
  auto route = co_await find_route(flags, *target);
  if (!route) {
    const std::string discovery = co_await discovery_line(discovery_endpoint(*target));
    if (flags.json) {
      context.fail(route.error(), "start one with: coral proxy start " + target->id);
    } else {
      print_offline(context, *target, route.error(), discovery);
    }
    co_return;
  }
  auto executor = co_await asio::this_coro::executor;
  Channel channel = open_channel(executor, *route, target->id);
  cv1::ColonyServiceClient client(*channel.channel);
  const std::string where = route->kind == Route::Kind::proxy ? "via proxy" : "direct";
  auto unreachable = [&](const rpc::Error& error) {
    context.fail("colony " + target->id + " did not answer " + route->description + ": " + error.message,
                 route->kind == Route::Kind::proxy ? "check the proxy: coral proxy status"
                                                   : "check the colony: coral colony status " + target->id);
  };

  if (what == What::agents) {
    const cv1::ListAgentsRequest request;
    auto agents = co_await client.ListAgents(request, channel.call);
    if (!agents) co_return unreachable(agents.error());
    if (flags.json) {
      std::cout << proto_json(*agents) << "\n";
    } else {
      print_agents(*agents);
    }
    co_return;
  }
  if (what == What::topology) {
    const cv1::GetTopologyRequest request;
    auto topology = co_await client.GetTopology(request, channel.call);
    if (!topology) co_return unreachable(topology.error());
    if (flags.json) {
      std::cout << proto_json(*topology) << "\n";
      co_return;
    }
    std::cout << "Colony: " << topology->colony_id() << "\n";
    for (const auto& agent : topology->agents()) {
      std::cout << "  ├─ " << agent.component_name() << " (" << agent.agent_id() << ", " << agent.mesh_ipv4() << ", "
                << agent.status() << ")\n";
    }
    for (const auto& connection : topology->connections()) {
      std::cout << "  │  " << connection.source_id() << " → " << connection.target_id() << " ("
                << connection.connection_type() << ")\n";
    }
    std::cout << "  └─ " << topology->agents_size() << " agents, " << topology->connections_size() << " connections\n";
    co_return;
  }

  const cv1::GetStatusRequest request;
  auto status = co_await client.GetStatus(request, channel.call);
  if (!status) co_return unreachable(status.error());
  if (flags.json) {
    std::cout << proto_json(*status) << "\n";
    co_return;
  }
  const cv1::ListAgentsRequest agents_request;
  auto agents = co_await client.ListAgents(agents_request, channel.call);
  std::cout << "Discovery Service: " << co_await discovery_line(discovery_endpoint(*target)) << "\n\n";
  std::cout << "Colony: " << status->colony_id() << " [ONLINE " << where << "]\n"
            << "  ├─ App: " << status->app_name() << "\n"
            << "  ├─ Environment: " << status->environment() << "\n"
            << "  ├─ Status: " << status->status() << "\n"
            << "  ├─ Agents: " << status->agent_count() << " connected\n"
            << "  ├─ Uptime: " << format_uptime(status->uptime_seconds()) << "\n"
            << "  ├─ Storage: " << format_bytes(static_cast<unsigned long long>(status->storage_bytes())) << "\n"
            << "  ├─ Mesh IPs: " << status->mesh_ipv4() << " / " << status->mesh_ipv6() << "\n"
            << "  └─ Dashboard: " << (status->dashboard_url().empty() ? "none" : status->dashboard_url()) << "\n";
  if (flags.verbose) std::cout << "\nReached " << route->description << " (" << route->url.host << ":" << route->url.port << ")\n";
  if (agents && agents->agents_size() > 0) {
    std::cout << "\n";
    print_agents(*agents);
  }
}

void add(CLI::App& app, Context& context, const char* name, const char* help, What what) {
  auto flags = std::make_shared<Flags>();
  CLI::App* command = app.add_subcommand(name, help);
  command->add_option("--colony", flags->colony, "the colony (default: the current one)");
  command->add_option("--proxy", flags->proxy, "the proxy to use, http://HOST:PORT (also: $CORAL_PROXY)");
  command->add_flag("--json", flags->json, "print the colony's answer as proto3 JSON");
  if (what == What::status) command->add_flag("--verbose", flags->verbose, "say how the colony was reached");
  command->callback([&context, flags, what] {
    asio::io_context io(1);
    run_to_completion(io, [&]() -> asio::awaitable<bool> {
      co_await run(context, *flags, what);
      co_return true;
    }());
  });
}

}  // namespace

void add_status_commands(CLI::App& app, Context& context) {
  add(app, context, "status", "Show the colony's status through its proxy (or directly when it runs here)", What::status);
  add(app, context, "agents", "List the colony's agents", What::agents);
  add(app, context, "topology", "Show the colony's agents and the connections between them", What::topology);
}

}  // namespace coral::cli

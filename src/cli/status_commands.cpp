#include "cli/status_commands.h"

#include <cstdlib>
#include <iostream>
#include <memory>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "base/address.h"
#include "base/pid_file.h"
#include "cli/app.h"
#include "cli/colony_reach.h"
#include "cli/render.h"
#include "coral/colony/v1/colony.coral.h"
#include "discovery/client.h"
#include "http/url.h"
#include "proxy/router.h"
#include "proxy/runtime.h"
#include "proxy/state.h"
#include "rpc/http_channel.h"

namespace coral::cli {

namespace asio = boost::asio;
namespace cv1 = coral::colony::v1;

namespace {

struct Flags {
  std::string colony;
  std::string proxy;
  bool json = false;
  bool verbose = false;
};

std::string discovery_endpoint(const ColonyTarget& target) {
  if (target.config) return target.config->discovery.endpoint;
  if (target.member) return target.member->discovery_endpoint;
  return std::string(proxy::kDefaultDiscovery);
}

asio::awaitable<std::string> discovery_line(const std::string& endpoint) {
  auto client = discovery::DiscoveryClient::create(
      co_await asio::this_coro::executor, endpoint,
      discovery::ClientOptions{.attempts = 1, .first_backoff = {}, .max_backoff = {}, .timeout = kCallTimeout});
  if (!client) co_return "✗ " + client.error();
  auto health = co_await (*client)->health();
  if (!health) co_return "✗ Offline (" + health.error().message + ")";
  co_return "✓ Online (" + count(health->registered_colonies(), "colony", "colonies") + ")";
}

// No way to the colony: what the config says, and what to do.
void print_offline(Context& context, const ColonyTarget& target, const std::string& why, const std::string& discovery) {
  std::cout << "Discovery Service: " << discovery << "\n\n";
  std::cout << "Colony: " << target.id << " [OFFLINE]\n";
  if (target.config) {
    const auto& config = *target.config;
    std::cout << "  ├─ App: " << config.app_name << "\n  ├─ Environment: " << config.environment << "\n"
              << "  └─ Mesh IPs: " << base::format_ipv4(config.wireguard.mesh_ipv4) << " / "
              << base::format_ipv6(config.wireguard.mesh_ipv6) << " (from " << target.dir.colony_file(target.id).string()
              << ")\n";
  } else if (target.member) {
    const auto& member = *target.member;
    std::cout << "  ├─ App: " << member.app_name << "\n  ├─ Environment: " << member.environment << "\n"
              << "  └─ Mesh IPs: " << base::format_ipv4(member.mesh_ipv4) << " / "
              << base::format_ipv6(member.mesh_ipv6)
              << " (from the member file " << target.dir.member_file(target.id).string() << ")\n";
  } else {
    std::cout << "  └─ No local config for it (" << target.dir.colony_file(target.id).string() << ")\n";
  }
  std::cout << "\n";
  context.fail(why + " — start one with: coral proxy start " + target.id);
}

enum class What { status, agents, topology };

asio::awaitable<void> run(Context& context, const Flags& flags, What what) {
  std::optional<http::Url> explicit_proxy;
  std::string proxy_text = flags.proxy;
  std::string proxy_source = "--proxy";
  if (proxy_text.empty()) {
    if (const char* env = std::getenv("CORAL_PROXY"); env && *env) {
      proxy_text = env;
      proxy_source = "$CORAL_PROXY";
    }
  }
  if (!proxy_text.empty()) {
    auto url = parse_proxy_address(proxy_text);
    if (!url) co_return context.fail(proxy_source + " " + url.error(), "", kExitUsage);
    explicit_proxy = *url;
  }
  auto target = resolve_colony(context, flags.colony, ConfigUse::optional, "--colony <colony-id>");
  if (!target) co_return;
  auto reached = co_await reach_colony(*target, explicit_proxy, !flags.colony.empty());
  if (!reached && reached.error().kind == Unreached::Kind::no_route) {
    const std::string discovery = co_await discovery_line(discovery_endpoint(*target));
    if (flags.json) {
      context.fail(reached.error().message, "start one with: coral proxy start " + target->id);
    } else {
      print_offline(context, *target, reached.error().message, discovery);
    }
    co_return;
  }
  if (!reached) {
    co_return context.fail(reached.error().message, reached.error().via_proxy
                                                        ? "check the proxy: coral proxy status"
                                                        : "check the colony: coral colony status " + target->id);
  }
  auto& route = *reached;
  cv1::ColonyServiceClient client(*route.channel);
  const std::string where = route.kind == ReachedColony::Kind::proxy ? "via proxy" : "direct";
  auto unreachable = [&](const rpc::Error& error) {
    context.fail("colony " + target->id + " did not answer " + route.description + ": " + error.message,
                 route.kind == ReachedColony::Kind::proxy ? "check the proxy: coral proxy status"
                                                          : "check the colony: coral colony status " + target->id);
  };

  if (what == What::agents) {
    const cv1::ListAgentsRequest request;
    auto agents = co_await client.ListAgents(request, route.call);
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
    auto topology = co_await client.GetTopology(request, route.call);
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
    std::cout << "  └─ " << count(topology->agents_size(), "agent", "agents") << ", "
              << count(topology->connections_size(), "connection", "connections") << "\n";
    co_return;
  }

  const auto* status = &route.status;
  if (flags.json) {
    std::cout << proto_json(*status) << "\n";
    co_return;
  }
  const cv1::ListAgentsRequest agents_request;
  auto agents = co_await client.ListAgents(agents_request, route.call);
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
  if (flags.verbose) std::cout << "\nReached " << route.description << " (" << route.address << ")\n";
  if (agents && agents->agents_size() > 0) {
    std::cout << "\n";
    print_agents(*agents);
  }
}

void add(CLI::App& app, Context& context, const char* name, const char* help, What what) {
  auto flags = std::make_shared<Flags>();
  CLI::App* command = app.add_subcommand(name, help);
  command->add_option("--colony", flags->colony, "the colony (default: the current one)");
  command->add_option("--proxy", flags->proxy, "the proxy to use, http://HOST:PORT or HOST:PORT (also: $CORAL_PROXY)");
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

// `coral colony status`: the colony's process, what it says about itself
// (GetStatus, ListAgents over its mesh address) and what discovery knows.

#include <iostream>
#include <memory>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "base/address.h"
#include "base/json_text.h"
#include "base/pid_file.h"
#include "cli/render.h"
#include "cli/colony_commands.h"
#include "cli/colony_reach.h"
#include "colony/registration.h"
#include "coral/colony/v1/colony.coral.h"
#include "discovery/client.h"
#include "rpc/http_channel.h"

namespace coral::cli {

namespace asio = boost::asio;
namespace cv1 = coral::colony::v1;

namespace {

struct StatusReport {
  base::PidFileState process;
  std::string reached_at;  // "127.42.0.1:9000" (or the proxy's "localhost:8000") when GetStatus answered
  std::string reached_via;  // "direct" or "proxy"
  std::optional<cv1::GetStatusResponse> status;
  std::optional<cv1::ListAgentsResponse> agents;
  std::string colony_error;  // why GetStatus failed
  std::optional<discovery::v1::LookupColonyResponse> discovery;
  std::string discovery_error;
  // What the running colony's registration loop last heard from discovery.
  std::optional<colony::RegistrationStatus> registration;
};

// Whether discovery's record is this colony's: the key of the local config.
bool record_is_ours(const config::ColonyConfig& config, const discovery::v1::LookupColonyResponse& record) {
  const auto key = crypto::PublicKey::from_base64(record.wireguard_pubkey());
  return key && *key == config.wireguard.public_key;
}

// The key discovery holds, printable (it is untrusted text).
std::string shown_key(const discovery::v1::LookupColonyResponse& record) {
  const auto key = crypto::PublicKey::from_base64(record.wireguard_pubkey());
  return key ? key->to_base64() : "an invalid key";
}

// GetStatus and ListAgents, reached the way every command reaches a colony.
asio::awaitable<void> ask_colony(const ColonyTarget& target, StatusReport& report) {
  auto reached = co_await reach_colony(target, std::nullopt, false);
  if (!reached) {
    if (reached.error().kind == Unreached::Kind::no_answer) report.colony_error = reached.error().message;
    co_return;
  }
  report.reached_at = reached->address;
  report.reached_via = reached->kind == ReachedColony::Kind::proxy ? "proxy" : "direct";
  report.status = std::move(reached->status);
  cv1::ColonyServiceClient client(*reached->channel);
  const cv1::ListAgentsRequest agents_request;
  auto agents = co_await client.ListAgents(agents_request, reached->call);
  if (agents) report.agents = std::move(*agents);
}

asio::awaitable<void> ask_discovery(const config::ColonyConfig& config, StatusReport& report) {
  auto client = discovery::DiscoveryClient::create(
      co_await asio::this_coro::executor, config.discovery.endpoint,
      discovery::ClientOptions{.attempts = 1, .first_backoff = {}, .max_backoff = {}, .timeout = kCallTimeout});
  if (!client) {
    report.discovery_error = client.error();
    co_return;
  }
  auto found = co_await (*client)->lookup(config.discovery.mesh_id);
  if (found) {
    report.discovery = std::move(*found);
  } else {
    report.discovery_error = found.error().message;
  }
}

asio::awaitable<bool> gather(const ColonyTarget& target, StatusReport& report) {
  co_await ask_colony(target, report);
  co_await ask_discovery(*target.config, report);
  co_return true;
}

void print_json(const ColonyTarget& target, const StatusReport& report) {
  std::string out = "{\"colony_id\":";
  base::append_json_string(out, target.id);
  out += ",\"process\":";
  base::append_json_string(out, describe_process(target.dir, target.id));
  out += ",\"running\":";
  out += report.process.held() ? "true" : "false";
  if (report.process.kind == base::PidFileState::Kind::running) out += ",\"pid\":" + std::to_string(report.process.pid);
  if (report.status) {
    out += ",\"reached_at\":";
    base::append_json_string(out, report.reached_at);
    out += ",\"reached_via\":";
    base::append_json_string(out, report.reached_via);
    out += ",\"status\":" + proto_json(*report.status);
  }
  if (report.agents) out += ",\"agents\":" + proto_json(*report.agents);
  if (!report.colony_error.empty()) {
    out += ",\"colony_error\":";
    base::append_json_string(out, report.colony_error);
  }
  out += ",\"discovery_endpoint\":";
  base::append_json_string(out, target.config->discovery.endpoint);
  if (report.registration) {
    const auto& registration = *report.registration;
    out += ",\"registration\":{\"state\":";
    base::append_json_string(out, colony::to_string(registration.state));
    if (!registration.code.empty()) {
      out += ",\"code\":";
      base::append_json_string(out, registration.code);
    }
    if (!registration.reason.empty()) {
      out += ",\"reason\":";
      base::append_json_string(out, registration.reason);
    }
    out += std::string(",\"proven\":") + (registration.proven ? "true" : "false") + ",\"since\":";
    base::append_json_string(out, registration.since);
    out += "}";
  }
  if (report.discovery) {
    out += ",\"discovery\":" + proto_json(*report.discovery);
    out += std::string(",\"discovery_key_matches\":") +
           (record_is_ours(*target.config, *report.discovery) ? "true" : "false");
  }
  if (!report.discovery_error.empty()) {
    out += ",\"discovery_error\":";
    base::append_json_string(out, report.discovery_error);
  }
  std::cout << out << "}\n";
}

void print_text(const ColonyTarget& target, const StatusReport& report) {
  const auto& config = *target.config;
  const auto& wg = config.wireguard;
  const std::string port = std::to_string(config.services.connect_port);
  const std::string mesh =
      base::format_ipv4(wg.mesh_ipv4) + ":" + port + " / [" + base::format_ipv6(wg.mesh_ipv6) + "]:" + port;
  std::string state = "STOPPED";
  if (report.process.kind == base::PidFileState::Kind::stale) {
    state = "STOPPED, stale PID file of pid " + std::to_string(report.process.pid);
  } else if (report.process.kind == base::PidFileState::Kind::corrupt) {
    state = report.status ? "RUNNING, PID file corrupt" : "NOT RESPONDING, PID file corrupt";
  } else if (report.status && !report.process.held()) {
    state = "NOT RUNNING HERE, answering via proxy at " + report.reached_at;
  } else if (report.status) {
    state = "RUNNING, pid " + std::to_string(report.process.pid);
  } else if (report.process.held()) {
    state = "NOT RESPONDING, pid " + std::to_string(report.process.pid);
  }
  std::cout << "Colony: " << target.id << " [" << state << "]\n";
  std::cout << "  ├─ App: " << config.app_name << "\n  ├─ Environment: " << config.environment << "\n";
  if (report.status) {
    const auto& status = *report.status;
    std::cout << "  ├─ Status: " << status.status() << "\n"
              << "  ├─ Uptime: " << format_uptime(status.uptime_seconds()) << "\n"
              << "  ├─ Agents: " << status.agent_count() << "\n"
              << "  ├─ Storage: " << format_bytes(static_cast<unsigned long long>(status.storage_bytes())) << "\n"
              << "  ├─ Dashboard: " << (status.dashboard_url().empty() ? "none" : status.dashboard_url()) << "\n";
  } else if (!report.colony_error.empty()) {
    std::cout << "  ├─ Unreachable: " << report.colony_error << "\n";
  }
  std::cout << "  ├─ Mesh: " << mesh << "\n";
  std::cout << "  └─ Discovery: ";
  const bool ours = report.discovery && record_is_ours(config, *report.discovery);
  const auto& registration = report.registration;
  if (registration && registration->state == colony::RegistrationState::refused) {
    std::cout << "REFUSED by " << config.discovery.endpoint << " (" << registration->code
              << "): " << registration->reason << "\n";
  } else if (report.discovery && !ours) {
    std::cout << "NOT REGISTERED: " << config.discovery.endpoint << " holds mesh id " << config.discovery.mesh_id
              << " for another WireGuard key (" << shown_key(*report.discovery) << ", not this colony's "
              << config.wireguard.public_key.to_base64() << ")\n";
  } else if (ours) {
    const auto age = google::protobuf::util::TimeUtil::GetCurrentTime() - report.discovery->last_seen();
    std::cout << "registered at " << config.discovery.endpoint << " as " << config.discovery.mesh_id
              << " (renewed " << format_uptime(google::protobuf::util::TimeUtil::DurationToSeconds(age)) << " ago"
              << (report.discovery->proven() ? "" : ", unproven") << ")\n";
  } else if (registration && registration->state == colony::RegistrationState::unreachable) {
    std::cout << "not registered: " << registration->reason << "\n";
  } else {
    std::cout << report.discovery_error << "\n";
  }
  if (report.agents && report.agents->agents_size() > 0) {
    std::cout << "\n";
    print_agents(*report.agents);
  }
  if (!report.process.held()) {
    std::cout << "\nStart it with: coral colony start " << target.id << "\n";
  }
}

void run_status(Context& context, const std::string& colony_id, bool json) {
  auto target = resolve_colony(context, colony_id, ConfigUse::required, "coral colony status <colony-id>");
  if (!target) return;
  StatusReport report;
  report.process = base::read_pid_file(target->dir.colony_pid_file(target->id));
  if (report.process.kind == base::PidFileState::Kind::running) {
    // Only the running colony's own state: an old file says nothing.
    auto registration = colony::read_registration_status(colony::registration_status_file(target->dir, target->id));
    if (registration && registration->pid == static_cast<long>(report.process.pid)) report.registration = std::move(registration);
  }
  asio::io_context io(1);
  run_to_completion(io, gather(*target, report));
  if (json) {
    print_json(*target, report);
  } else {
    print_text(*target, report);
  }
  // As `systemctl status`: 3 when the colony is not running, 1 when it runs
  // but does not answer.
  if (!report.process.held()) {
    context.exit_code = 3;
  } else if (!report.status) {
    context.exit_code = 1;
  }
}

}  // namespace

void add_colony_status_command(CLI::App& colony, Context& context) {
  auto colony_id = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* status = colony.add_subcommand("status", "Show a colony's process, its own status and its discovery record");
  status->add_option("colony-id", *colony_id, "the colony (default: the current one)");
  status->add_flag("--json", *json, "print JSON (the colony's answers as proto3 JSON)");
  status->callback([&context, colony_id, json] { run_status(context, *colony_id, *json); });
}

}  // namespace coral::cli

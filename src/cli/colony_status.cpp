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
#include "coral/cli/v1/documents.pb.h"
#include "coral/colony/v1/colony.coral.h"
#include "discovery/client.h"
#include "rpc/http_channel.h"

namespace coral::cli {

namespace asio = boost::asio;
namespace clv1 = coral::cli::v1;
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

// The --json document (proto/coral/cli/v1/documents.proto). Text that may
// not be UTF-8 (errors, what files and discovery said) gets U+FFFD for the
// broken bytes: the JSON mapping would drop them.
clv1::ColonyStatus status_document(const ColonyTarget& target, const StatusReport& report) {
  using base::replace_invalid_utf8;
  clv1::ColonyStatus document;
  document.set_colony_id(replace_invalid_utf8(target.id));
  document.set_process(describe_process(target.dir, target.id));
  document.set_running(report.process.held());
  if (report.process.kind == base::PidFileState::Kind::running) document.set_pid(report.process.pid);
  if (report.status) {
    document.set_reached_at(replace_invalid_utf8(report.reached_at));
    document.set_reached_via(report.reached_via);
    *document.mutable_status() = *report.status;
  }
  if (report.agents) *document.mutable_agents() = *report.agents;
  if (!report.colony_error.empty()) document.set_colony_error(replace_invalid_utf8(report.colony_error));
  document.set_discovery_endpoint(replace_invalid_utf8(target.config->discovery.endpoint));
  if (report.registration) {
    const auto& registration = *report.registration;
    clv1::Registration& shown = *document.mutable_registration();
    shown.set_state(std::string(colony::to_string(registration.state)));
    if (!registration.code.empty()) shown.set_code(replace_invalid_utf8(registration.code));
    if (!registration.reason.empty()) shown.set_reason(replace_invalid_utf8(registration.reason));
    shown.set_proven(registration.proven);
    shown.set_since(replace_invalid_utf8(registration.since));
  }
  if (report.discovery) {
    *document.mutable_discovery() = *report.discovery;
    document.set_discovery_key_matches(record_is_ours(*target.config, *report.discovery));
  }
  if (!report.discovery_error.empty()) document.set_discovery_error(replace_invalid_utf8(report.discovery_error));
  return document;
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
    std::cout << proto_json(status_document(*target, report)) << "\n";
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

#include "cli/proxy_commands.h"

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <set>

#include <google/protobuf/util/time_util.h>

#include "base/address.h"
#include "base/duration.h"
#include "base/json_text.h"
#include "base/log.h"
#include "base/pid_file.h"
#include "cli/app.h"
#include "cli/daemon.h"
#include "cli/suggest.h"
#include "cli/proxy_probe.h"
#include "cli/render.h"
#include "coral/cli/v1/documents.pb.h"
#include "member/membership.h"
#include "proxy/runtime.h"
#include "proxy/state.h"

namespace coral::cli {

namespace asio = boost::asio;
namespace clv1 = coral::cli::v1;

void add_proxy_start_options(CLI::App& command, ProxyStartFlags& flags) {
  command.add_option("colony-id", flags.colonies,
                     "colonies to serve; the first is the default route, the others are reached by path "
                     "prefix (/<colony-id>/...) or a Colony-ID header")
      ->required();
  command.add_option("--listen", flags.listen, "address to serve on, HOST:PORT (default localhost:8000)");
  command.add_option("--port", flags.port, "serve on localhost:PORT")->check(CLI::Range(0, 65535));
  command.add_option("--discovery", flags.discovery, "discovery service URL (default: the colony config's, else "
                                                     "http://localhost:8080)");
  command.add_flag("--daemon", flags.daemon, "run in the background (log: <config dir>/proxies/<colony-id>.log)");
  command.add_flag("--verbose", flags.verbose,
                   "print every step with its time (key, endpoints, handshake, registration); with --daemon, the "
                   "steps too");
  command.add_option("--mesh", flags.mesh,
                     "how to reach the colony's mesh: userspace (coral's own WireGuard tunnel and TCP/IP, no "
                     "privileges) or host (this host already reaches the mesh IPs); default: userspace when the "
                     "colony announces WireGuard endpoints, else host");
  command.add_flag("--ipv6", flags.ipv6, "forward to the colony's IPv6 mesh address");
  command.add_flag("--allow-remote", flags.allow_remote, "allow a non-loopback --listen address");
  command.add_option("--log-level", flags.log_level, "debug, info, warn or error")->capture_default_str();
  command.add_option("--grace", flags.grace, "on SIGTERM, how long in-flight requests may finish")->capture_default_str();
}

namespace {

std::string running_message(const proxy::ProxyRuntime& runtime, bool daemon) {
  std::string text = daemon ? "✓ Proxy started (PID: " + std::to_string(getpid()) + ")\n  Listening on http://" +
                                  runtime.listen_address() + "\n"
                            : "✓ Proxy running on http://" + runtime.listen_address() + "\n";
  const auto colonies = runtime.colonies();
  for (std::size_t i = 0; i < colonies.size(); ++i) {
    const auto& colony = colonies[i];
    text += "  Forwarding to " + (colonies.size() > 1 ? "colony " + colony.colony_id + " at " : std::string("colony at ")) +
            colony.forwarding_to + " (over mesh)" +
            (colonies.size() > 1 && i == 0 ? ", the default" : "") + "\n";
  }
  return text;
}

}  // namespace

void run_proxy_start(const ProxyStartFlags& flags, Context& context) {
  proxy::ProxyOptions options;
  options.colonies = flags.colonies;
  options.discovery = flags.discovery;
  options.prefer_ipv6 = flags.ipv6;
  options.allow_remote = flags.allow_remote;
  if (!flags.mesh.empty()) {
    options.mesh = config::parse_mesh_transport(flags.mesh);
    if (!options.mesh || *options.mesh == config::MeshTransport::tun) {
      return context.usage("--mesh " + flags.mesh + ": a proxy joins over userspace or host",
                           "userspace needs no privilege");
    }
  }
  if (!flags.listen.empty() && flags.port >= 0) return context.usage("give --listen or --port, not both");
  if (!flags.listen.empty()) {
    auto listen = base::parse_host_port(flags.listen, {.allow_port_zero = true});
    if (!listen) return context.usage("--listen \"" + flags.listen + "\": " + listen.error());
    options.listen_host = listen->host;
    options.listen_port = listen->port;
  } else if (flags.port >= 0) {
    options.listen_port = static_cast<std::uint16_t>(flags.port);
  }
  if (!flags.allow_remote && !proxy::is_loopback_host(options.listen_host)) {
    return context.usage("--listen " + flags.listen + " is not a loopback address",
                        "anyone who reaches it reaches the colony; add --allow-remote if that is what you want");
  }
  if (flags.allow_remote && !proxy::is_loopback_host(options.listen_host)) {
    std::cerr << "warning: serving on " << flags.listen
              << ": anyone who can reach this address can call the colony through the proxy\n";
  }
  const auto level = log::parse_level(flags.log_level);
  if (!level) return context.usage("--log-level: " + level.error());
  const auto grace = base::parse_duration(flags.grace);
  if (!grace) return context.usage("--grace: " + grace.error());
  auto dir = context.config_dir();
  if (!dir) return context.fail(dir.error());
  if (auto created = dir->create(); !created) return context.fail(created.error());

  DaemonReady ready;
  if (flags.daemon) {
    auto child = daemonize(dir->proxies_dir() / (flags.colonies.front() + ".log"));
    if (!child) return context.fail("cannot start the daemon: " + child.error());
    ready = std::move(*child);
  }
  log::setup(*level, log::Format::text);
  asio::io_context io(1);
  std::string progress_text;
  // The steps (RFD 005's `coral proxy start` output) always in the
  // foreground, with --verbose in the background; appendix E's timed
  // lines with --verbose.
  auto print = [&](const std::string& line) {
    if (ready.is_daemon()) {
      progress_text += line + "\n";
    } else {
      std::cout << line << "\n" << std::flush;
    }
  };
  auto progress = [&](const std::string& line) {
    if (flags.verbose || !ready.is_daemon()) print(line);
  };
  if (flags.verbose) options.detail = [&](const std::string& line) { print("[" + local_time_now() + "] " + line); };
  auto started = run_to_completion(io, proxy::ProxyRuntime::start(io, *dir, options, progress));
  if (!started) {
    ready.failed(progress_text + "error: " + started.error() + "\n");
    log::error("proxy did not start", {{"error", started.error()}});
    return context.fail(started.error());
  }
  auto& runtime = **started;
  report_started(ready, progress_text + running_message(runtime, ready.is_daemon()), runtime.warnings());
  serve_until_signalled(io, [&] { return runtime.shutdown(*grace); }, base::format_duration(*grace));
  log::info("proxy stopped");
}

namespace {

// The colonies whose proxy PID file `pid` holds: what stopping it stops.
std::vector<std::string> colonies_served_by(const std::filesystem::path& proxies_dir, pid_t pid) {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(proxies_dir, ec)) {
    if (entry.path().extension() != ".pid") continue;
    const auto state = base::read_pid_file(entry.path());
    if (state.kind == base::PidFileState::Kind::running && state.pid == pid) ids.push_back(entry.path().stem().string());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// What the stopped proxy (pid) said about leaving each colony, as a line
// of the stop output; warnings for those it could not leave. A report is
// read once, then removed.
void report_unregistering(const std::filesystem::path& proxies_dir, const std::vector<std::string>& ids, pid_t pid,
                          const std::filesystem::path& log_file) {
  std::vector<std::string> unregistered, not_registered, unknown;
  std::vector<std::string> warnings;
  bool tunnel = false;
  for (const auto& id : ids) {
    const auto file = proxy::stop_report_file(proxies_dir, id);
    auto report = proxy::load_stop_report(file);
    std::error_code ec;
    std::filesystem::remove(file, ec);
    if (!report || report->pid != pid) {
      unknown.push_back(id);
      continue;
    }
    tunnel = tunnel || report->closed_tunnel;
    switch (report->unregister) {
      case proxy::StopReport::Unregister::unregistered:
        unregistered.push_back(id);
        break;
      case proxy::StopReport::Unregister::not_registered:
        not_registered.push_back(id);
        break;
      case proxy::StopReport::Unregister::failed:
        warnings.push_back("the proxy could not unregister from colony " + id + ": " + report->error +
                           " (the colony drops it after 4 missed heartbeats)");
        break;
    }
  }
  const bool one = ids.size() == 1;
  const std::string pid_text = "(pid " + std::to_string(pid) + ")";
  // RFD 005's lines, for a proxy that had a WireGuard tunnel.
  if (tunnel) std::cout << " ↳ Closing WireGuard tunnel...\n";
  if (tunnel && !unregistered.empty()) std::cout << " ↳ Unregistering from colony...\n";
  if (one && unregistered.size() == 1) {
    std::cout << " ↳ Unregistered from colony, listener closed " << pid_text << "\n";
  } else {
    std::cout << " ↳ Listener closed " << pid_text << "\n";
    if (!unregistered.empty()) std::cout << " ↳ Unregistered from " << (one ? "colony" : "colonies " + join(unregistered)) << "\n";
  }
  if (!not_registered.empty()) {
    std::cout << " ↳ Was not registered with " << (one ? "the colony" : join(not_registered)) << "; nothing to unregister\n";
  }
  if (!unknown.empty()) {
    std::cout << " ↳ Whether it unregistered from " << (one ? "the colony" : join(unknown))
              << " is not known: it left no report (see " << log_file.string() << ")\n";
  }
  for (const auto& warning : warnings) std::cerr << "warning: " << warning << "\n";
}

void run_proxy_stop(Context& context, const std::vector<std::string>& colony_ids, const std::string& timeout_text) {
  const auto timeout = base::parse_duration(timeout_text);
  if (!timeout) return context.usage("--timeout: " + timeout.error());
  for (const auto& colony_id : colony_ids) {
    if (auto valid = config::validate_colony_id(colony_id); !valid) {
      return context.fail("colony id \"" + colony_id + "\": " + valid.error());
    }
  }
  auto dir = context.config_dir();
  if (!dir) return context.fail(dir.error());
  const auto proxies = dir->proxies_dir();
  const std::set<std::string> named(colony_ids.begin(), colony_ids.end());
  // One process may serve several colonies: stopping it stops them all, so
  // every one of them must be named. Checked for all before signalling any.
  std::set<std::string> done;
  for (const auto& colony_id : colony_ids) {
    const auto state = base::read_pid_file(proxies / (colony_id + ".pid"));
    if (state.kind != base::PidFileState::Kind::running) continue;
    std::vector<std::string> others;
    for (const auto& served : colonies_served_by(proxies, state.pid)) {
      if (!named.contains(served)) others.push_back(served);
    }
    if (!others.empty()) {
      std::vector<std::string> all = colonies_served_by(proxies, state.pid);
      std::string command = "coral proxy stop";
      for (const auto& id : all) command += " " + id;
      return context.fail("the proxy for " + colony_id + " (pid " + std::to_string(state.pid) + ") also serves " +
                              join(others) + ": stopping it would stop " + (others.size() == 1 ? "that one" : "those") +
                              " too; nothing was stopped",
                          "stop them together: " + command);
    }
  }
  for (const auto& colony_id : colony_ids) {
    if (done.contains(colony_id)) continue;
    const auto pid_file = proxies / (colony_id + ".pid");
    const auto before = base::read_pid_file(pid_file);
    std::vector<std::string> ids{colony_id};
    if (before.kind == base::PidFileState::Kind::running) ids = colonies_served_by(proxies, before.pid);
    if (ids.empty()) ids = {colony_id};
    done.insert(ids.begin(), ids.end());
    std::cout << "Stopping proxy for: " << join(ids) << "\n";
    const auto outcome = stop_by_pid_file(pid_file, *timeout);
    if (fail_stop(context, outcome, "the proxy", base::format_duration(*timeout),
                  "force it: kill -9 " + std::to_string(outcome.pid))) {
      continue;
    }
    switch (outcome.kind) {
      case StopOutcome::Kind::not_running: {
        std::vector<std::string> running;
        for (const auto& entry : proxy::list_proxies(proxies)) {
          if (entry.liveness == proxy::ProxyEntry::Liveness::running) running.push_back(entry.state.colony_id);
        }
        context.fail("no proxy is running for " + colony_id + did_you_mean(colony_id, running), "see: coral proxy list");
        continue;
      }
      case StopOutcome::Kind::stale_removed: {
        std::error_code ec;
        std::filesystem::remove(proxies / (colony_id + ".yaml"), ec);
        std::filesystem::remove(proxy::stop_report_file(proxies, colony_id), ec);
        std::cout << " ↳ Its proxy (pid " << outcome.pid << ") had died; removed its stale state\n";
        continue;
      }
      default:
        break;
    }
    report_unregistering(proxies, ids, outcome.pid, proxies / (ids.front() + ".log"));
    std::cout << "✓ Proxy stopped\n";
  }
}

// A proxy as `status` and `list` show it: its state file plus what its
// health endpoint says right now.
struct ShownProxy {
  proxy::ProxyEntry entry;
  std::optional<ProxyHealth> health;
};

std::vector<ShownProxy> gather_proxies(Context& context) {
  std::vector<ShownProxy> shown;
  auto dir = context.config_dir();
  if (!dir) {
    context.fail(dir.error());
    return shown;
  }
  asio::io_context io(1);
  for (auto& entry : proxy::list_proxies(dir->proxies_dir())) {
    ShownProxy item{std::move(entry), std::nullopt};
    if (item.entry.liveness == proxy::ProxyEntry::Liveness::running && item.entry.error.empty()) {
      auto health = run_to_completion(io, fetch_proxy_health(item.entry.state.listen));
      if (health) item.health = std::move(*health);
    }
    shown.push_back(std::move(item));
  }
  return shown;
}

std::string proxy_status_word(const ShownProxy& proxy) {
  if (proxy.entry.liveness == proxy::ProxyEntry::Liveness::stale) return "stale";
  if (!proxy.health) return "offline";
  const auto status = proxy.health->colony_status(proxy.entry.state.colony_id);
  return status == "connected" ? "connected" : "unreachable";
}

// "12s ago", "never" for an empty RFC 3339 time.
std::string handshake_age(const std::string& rfc3339) {
  if (rfc3339.empty()) return "never";
  google::protobuf::Timestamp then;
  if (!google::protobuf::util::TimeUtil::FromString(rfc3339, &then)) return rfc3339;
  const auto now = google::protobuf::util::TimeUtil::GetCurrentTime();
  const auto seconds = std::max<std::int64_t>(0, (now - then).seconds());
  return format_uptime(seconds) + " ago";
}

void run_proxy_status(Context& context) {
  const auto proxies = gather_proxies(context);
  if (context.exit_code != 0) return;
  if (proxies.empty()) {
    std::cout << "No proxies. Start one with: coral proxy start <colony-id>\n";
    return;
  }
  std::cout << "Active Proxies:\n";
  for (const auto& proxy : proxies) {
    const auto& state = proxy.entry.state;
    std::cout << "  " << state.colony_id << "\n";
    if (!proxy.entry.error.empty()) {
      std::cout << "    └─ Invalid state: " << proxy.entry.error << "\n";
      continue;
    }
    const std::string port = std::to_string(state.colony_connect_port);
    std::cout << "    ├─ Listening: " << state.listen << "\n"
              << "    ├─ Colony: " << state.colony_mesh_ipv4 << ":" << port << " / [" << state.colony_mesh_ipv6
              << "]:" << port << " (forwarding to " << state.forwarding_to << ")\n"
              << "    ├─ Mesh IPs: "
              << (state.mesh_ipv4.empty() ? std::string("not registered") : state.mesh_ipv4 + " / " + state.mesh_ipv6)
              << "\n";
    if (proxy.entry.liveness == proxy::ProxyEntry::Liveness::stale) {
      std::cout << "    └─ Status: Stale (pid " << state.pid << " is gone; its state was removed)\n";
      continue;
    }
    if (!proxy.health) {
      std::cout << "    └─ Status: Offline (pid " << state.pid << " does not answer on " << state.listen << ")\n";
      continue;
    }
    const auto colony_status = proxy.health->colony_status(state.colony_id);
    const auto* colony = proxy.health->find(state.colony_id);
    if (colony != nullptr && colony->transport() == "userspace") {
      const auto& doc = *colony;
      std::cout << "    ├─ Tunnel: WireGuard (userspace, UDP port " << doc.tunnel_listen_port() << ") to "
                << (doc.tunnel_endpoint().empty() ? std::string("no endpoint yet") : doc.tunnel_endpoint())
                << ", latest handshake " << handshake_age(doc.latest_handshake()) << ", "
                << format_bytes(static_cast<unsigned long long>(doc.tunnel_rx_bytes())) << " received, "
                << format_bytes(static_cast<unsigned long long>(doc.tunnel_tx_bytes())) << " sent\n";
    }
    std::string shown_status = "Connected";
    if (colony != nullptr && colony->registration() == member::to_string(member::Standing::revoked)) {
      shown_status = "Revoked — " + colony->problem();
    } else if (colony_status != "connected") {
      shown_status = "Colony " + colony_status;
    }
    std::cout << "    ├─ Status: " << shown_status << "\n"
              << "    ├─ Requests: " << proxy.health->requests << " (" << proxy.health->failed << " failed)\n"
              << "    └─ Uptime: " << format_uptime(proxy.health->uptime_seconds) << " (pid " << state.pid << ")\n";
  }
}

void run_proxy_list(Context& context, bool json) {
  const auto proxies = gather_proxies(context);
  if (context.exit_code != 0) return;
  if (json) {
    // The document is proto/coral/cli/v1/documents.proto's ProxyList.
    clv1::ProxyList list;
    for (const auto& proxy : proxies) {
      clv1::ProxyListEntry& entry = *list.add_proxies();
      entry.set_colony_id(base::replace_invalid_utf8(proxy.entry.state.colony_id));
      entry.set_listen(base::replace_invalid_utf8(proxy.entry.state.listen));
      entry.set_status(proxy_status_word(proxy));
      entry.set_pid(proxy.entry.state.pid);
      if (proxy.health) entry.set_uptime_seconds(static_cast<std::uint32_t>(proxy.health->uptime_seconds));
    }
    std::cout << proto_json_array(list.proxies()) << "\n";
    return;
  }
  for (const auto& proxy : proxies) {
    std::cout << std::left << std::setw(30) << proxy.entry.state.colony_id << "  " << std::setw(22)
              << proxy.entry.state.listen << std::setw(13) << proxy_status_word(proxy)
              << (proxy.health ? format_uptime(proxy.health->uptime_seconds) : "-") << "\n";
  }
}

}  // namespace

void add_proxy_commands(CLI::App& app, Context& context) {
  CLI::App* proxy = app.add_subcommand("proxy", "Run local proxies into colonies' meshes: start, stop, status, list");
  proxy->require_subcommand(1);

  auto start_flags = std::make_shared<ProxyStartFlags>();
  CLI::App* start = proxy->add_subcommand("start", "Start a local proxy for one or more colonies");
  add_proxy_start_options(*start, *start_flags);
  start->callback([&context, start_flags] { run_proxy_start(*start_flags, context); });

  auto stop_id = std::make_shared<std::vector<std::string>>();
  auto stop_timeout = std::make_shared<std::string>("15s");
  CLI::App* stop = proxy->add_subcommand("stop", "Stop the proxy of a colony (it drains, unregisters, exits)");
  stop->add_option("colony-id", *stop_id,
                   "the colonies; a proxy serving several stops only when all of them are named")
      ->required();
  stop->add_option("--timeout", *stop_timeout, "how long to wait for it to exit")->capture_default_str();
  stop->callback([&context, stop_id, stop_timeout] { run_proxy_stop(context, *stop_id, *stop_timeout); });

  proxy->add_subcommand("status", "Show the running proxies in detail")->callback([&context] { run_proxy_status(context); });

  auto list_json = std::make_shared<bool>(false);
  CLI::App* list = proxy->add_subcommand("list", "List proxies: colony, listen address, status, uptime");
  list->add_flag("--json", *list_json, "print a JSON array");
  list->callback([&context, list_json] { run_proxy_list(context, *list_json); });
}

}  // namespace coral::cli

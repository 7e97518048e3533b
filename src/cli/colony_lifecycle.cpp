// `coral colony start` and `coral colony stop`.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <iostream>
#include <memory>
#include <thread>


#include "base/address.h"
#include "base/duration.h"
#include "base/file.h"
#include "base/log.h"
#include "base/pid_file.h"
#include "cli/colony_commands.h"
#include "cli/daemon.h"
#include "colony/runtime.h"
#include "mesh/host_transport.h"
#include "mesh/wireguard_transport.h"
#include "wireguard/device/tun_linux.h"
#include "net/interfaces.h"
#include "net/stream.h"

namespace coral::cli {

namespace asio = boost::asio;

namespace {

struct StartFlags {
  std::string colony_id;
  bool daemon = false;
  std::string mesh;       // "": the colony file's wireguard.mesh
  std::string transport;  // --transport, the old name of --mesh
  std::string interface;  // the TUN device / UAPI socket name; "": coral-<id>0
  std::vector<std::string> public_endpoints;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string grace = "10s";
  std::string heartbeat_interval = "15s";
};

struct StopFlags {
  std::string colony_id;
  std::string timeout = "15s";
};

// How the colony carries its mesh, for the started message: "host
// transport", "userspace transport, WireGuard on UDP 41820".
std::string describe_transport(const mesh::Transport& transport) {
  std::string text = std::string(transport.name()) + " transport";
  if (const auto* wg = dynamic_cast<const mesh::WireGuardTransport*>(&transport))
    text += ", WireGuard on UDP " + std::to_string(wg->listen_port());
  return text;
}

std::string started_message(const ColonyTarget& target, const colony::ColonyRuntime& runtime,
                            const mesh::Transport& transport, const std::vector<std::string>& public_endpoints,
                            bool daemon) {
  std::string served;
  for (const auto& address : runtime.addresses()) served += (served.empty() ? "" : ", ") + address;
  const auto& discovery = target.config->discovery;
  std::string text = "✓ Colony " + target.id + " running (pid " + std::to_string(getpid()) + ")\n";
  text += "  ├─ Serving: " + served + " (" + describe_transport(transport) + ")\n";
  if (dynamic_cast<const mesh::WireGuardTransport*>(&transport) != nullptr) {
    std::string endpoints;
    for (const auto& endpoint : public_endpoints) endpoints += (endpoints.empty() ? "" : ", ") + endpoint;
    text += "  ├─ Public endpoints: " + (endpoints.empty() ? std::string("none") : endpoints) + "\n";
    const auto& device = dynamic_cast<const mesh::WireGuardTransport&>(transport);
    text += "  ├─ wg show: " +
            (device.uapi_path().empty() ? "unavailable (" + device.uapi_unavailable() + ")" : device.uapi_path()) +
            "\n";
  }
  text += "  ├─ Discovery: " +
          (discovery.auto_register ? "registering with " + discovery.endpoint + " as " + discovery.mesh_id + " every " +
                                         base::format_duration(discovery.register_interval)
                                   : std::string("not registering (discovery.auto_register is false)")) +
          "\n";
  if (!runtime.admin_socket().empty()) text += "  ├─ Admin: " + runtime.admin_socket().string() + " (coral colony peers)\n";
  text += "  └─ State: " + target.dir.colony_state(target.id).string() + "\n";
  if (daemon) text += "Log: " + target.dir.colony_log_file(target.id).string() + "\n";
  return text;
}

// Whether this host has `ip` on an interface: what the host transport needs
// to serve on it. Asked of the kernel (bind a UDP socket to it), never read
// from an error's text.
bool address_is_local(const std::string& ip) {
  sockaddr_storage address{};
  socklen_t length = 0;
  if (const auto v4 = base::parse_ipv4(ip)) {
    auto* in = reinterpret_cast<sockaddr_in*>(&address);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, v4->data(), 4);
    length = sizeof *in;
  } else if (const auto v6 = base::parse_ipv6(ip)) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_addr, v6->data(), 16);
    length = sizeof *in6;
  } else {
    return false;
  }
  const int fd = socket(address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0;
  close(fd);
  return bound;
}

// What to do when the host transport cannot serve on any mesh address
// because none is on this host ("" when one is: the cause is elsewhere).
std::string mesh_address_hint(const ColonyTarget& target) {
  const auto& wg = target.config->wireguard;
  const std::string v4 = base::format_ipv4(wg.mesh_ipv4);
  const std::string v6 = base::format_ipv6(wg.mesh_ipv6);
  if (address_is_local(v4) || address_is_local(v6)) return "";
  return "the host transport serves on mesh addresses this host has, and it has neither " + v4 + " nor " + v6 +
         ": give the colony a loopback subnet (coral init --force --colony-id " + target.id +
         " --mesh-ipv4-net 127.42.0.0/16 ...), or add the address to an interface (ip addr add " + v4 + "/" +
         std::to_string(wg.mesh_network_ipv4.prefix_length()) + " dev <interface>)";
}

void run_start(const StartFlags& flags, Context& context) {
  const auto level = log::parse_level(flags.log_level);
  if (!level) return context.usage("--log-level: " + level.error());
  const auto format = log::parse_format(flags.log_format);
  if (!format) return context.usage("--log-format: " + format.error());
  const auto grace = base::parse_duration(flags.grace);
  if (!grace) return context.usage("--grace: " + grace.error());
  const auto heartbeat = base::parse_duration(flags.heartbeat_interval);
  if (!heartbeat) return context.usage("--heartbeat-interval: " + heartbeat.error());
  if (*heartbeat < std::chrono::seconds(1) || *heartbeat > std::chrono::hours(1) ||
      *heartbeat % std::chrono::seconds(1) != std::chrono::milliseconds(0)) {
    return context.usage("--heartbeat-interval: must be whole seconds between 1s and 1h, got " + flags.heartbeat_interval);
  }
  for (const auto& endpoint : flags.public_endpoints) {
    if (auto parsed = base::parse_host_port(endpoint); !parsed) {
      return context.usage("--public-endpoint \"" + endpoint + "\": " + parsed.error());
    }
  }
  if (!flags.mesh.empty() && !flags.transport.empty() && flags.mesh != flags.transport)
    return context.usage("--mesh " + flags.mesh + " and --transport " + flags.transport + " disagree",
                         "--transport is the old name of --mesh: give one");
  const std::string& mesh_flag = flags.mesh.empty() ? flags.transport : flags.mesh;
  std::optional<config::MeshTransport> mesh_choice;
  if (!mesh_flag.empty()) {
    mesh_choice = config::parse_mesh_transport(mesh_flag);
    if (!mesh_choice) return context.usage("--mesh " + mesh_flag + ": unknown mesh transport", "use host, userspace or tun");
  }
  auto target = resolve_colony(context, flags.colony_id, ConfigUse::required, "coral colony start <colony-id>");
  if (!target) return;
  const config::MeshTransport mesh = mesh_choice.value_or(target->config->wireguard.mesh);
  const std::string interface_name =
      flags.interface.empty() ? mesh::default_interface_name(target->id) : flags.interface;
  if (auto valid = wireguard::device::check_interface_name(interface_name); !valid)
    return context.usage("--interface: interface name \"" + interface_name + "\": " + valid.error());
  if (auto created = target->dir.create(); !created) return context.fail(created.error());
  const auto pid_path = target->dir.colony_pid_file(target->id);
  if (const auto state = base::read_pid_file(pid_path); state.held()) {
    return context.fail("colony " + target->id + " is already running (" + state.holder_text() + ")",
                        "stop it with: coral colony stop " + target->id);
  }

  DaemonReady ready;
  if (flags.daemon) {
    auto child = daemonize(target->dir.colony_log_file(target->id));
    if (!child) return context.fail("cannot start the daemon: " + child.error());
    ready = std::move(*child);  // from here on, this is the daemon
  }
  auto report_failure = [&](const std::string& message, const std::string& hint = {}) {
    ready.failed("error: " + message + "\n" + (hint.empty() ? "" : "  " + hint + "\n"));
    log::error("colony did not start", {{"error", message}});
    context.fail(message, hint);
  };
  log::setup(*level, *format);

  auto pid_file = base::PidFile::acquire(pid_path);
  if (!pid_file) {
    // Held by a colony, or not writable at all (full, read-only): the hint
    // follows what is the case, not the error's text.
    const bool held = base::read_pid_file(pid_path).held();
    const auto colonies = target->dir.colonies_dir();
    return report_failure("colony " + target->id + ": " + pid_file.error(),
                          held ? "stop it with: coral colony stop " + target->id
                               : config::storage_hint(base::probe_writable(colonies), colonies));
  }
  auto storage_failure = [&](const std::string& message) {
    const auto colonies = target->dir.colonies_dir();
    report_failure(message, config::storage_hint(base::probe_writable(colonies), colonies));
  };
  asio::io_context io(1);
  const auto& wg = target->config->wireguard;
  std::unique_ptr<mesh::Transport> transport;
  mesh::WireGuardTransportOptions wg_options;
  wg_options.private_key = wg.private_key;
  wg_options.listen_port = wg.listen_port;
  wg_options.ipv4 = base::format_ipv4(wg.mesh_ipv4);
  wg_options.ipv6 = base::format_ipv6(wg.mesh_ipv6);
  wg_options.ipv4_prefix_length = wg.mesh_network_ipv4.prefix_length();
  wg_options.ipv6_prefix_length = wg.mesh_network_ipv6.prefix_length();
  wg_options.interface_name = interface_name;
  if (mesh == config::MeshTransport::tun) {
    auto tun = mesh::make_tun_transport(io, std::move(wg_options));
    if (!tun) {
      switch (tun.error().code) {
        case mesh::TunTransportError::no_capability:
          return report_failure(tun.error().message,
                                "the tun transport needs CAP_NET_ADMIN (run as root, or: sudo setcap "
                                "cap_net_admin+ep $(command -v coral)); --mesh userspace needs no privilege");
        case mesh::TunTransportError::interface_in_use:
          return report_failure(tun.error().message, "choose another name with --interface NAME");
        default:
          return report_failure(tun.error().message);
      }
    }
    transport = std::move(*tun);
  } else if (mesh == config::MeshTransport::userspace) {
    auto userspace = mesh::make_userspace_transport(io, std::move(wg_options));
    if (!userspace) {
      return report_failure("cannot start the colony's WireGuard device: " + userspace.error(),
                            "another process may hold UDP port " + std::to_string(wg.listen_port) +
                                " (wireguard.listen_port in " + target->dir.colony_file(target->id).string() + ")");
    }
    transport = std::move(*userspace);
  } else {
    transport = mesh::make_host_transport(io.get_executor());
  }
  colony::RuntimeOptions options;
  // What discovery hands out as the colony's WireGuard endpoints: the
  // flags, else the colony file, else (with a WireGuard transport) this
  // host's addresses at the device's port.
  options.public_endpoints = !flags.public_endpoints.empty() ? flags.public_endpoints : wg.public_endpoints;
  if (options.public_endpoints.empty()) {
    if (const auto* device = dynamic_cast<const mesh::WireGuardTransport*>(transport.get())) {
      options.public_endpoints = host_endpoints(wg, device->listen_port());
    }
  }
  options.heartbeat_interval = std::chrono::duration_cast<std::chrono::seconds>(*heartbeat);
  auto runtime = colony::ColonyRuntime::start(io, target->dir, *target->config, *transport, options);
  if (!runtime) {
    if (mesh == config::MeshTransport::host) {
      if (const auto hint = mesh_address_hint(*target); !hint.empty()) return report_failure(runtime.error(), hint);
    }
    return storage_failure(runtime.error());
  }

  report_started(ready, started_message(*target, **runtime, *transport, options.public_endpoints, flags.daemon),
                 (*runtime)->warnings());
  serve_until_signalled(io, [&] { return (*runtime)->shutdown(*grace); }, base::format_duration(*grace));
  log::info("colony stopped", {{"colony_id", target->id}});
}

void run_stop(const StopFlags& flags, Context& context) {
  const auto timeout = base::parse_duration(flags.timeout);
  if (!timeout) return context.usage("--timeout: " + timeout.error());
  auto target = resolve_colony(context, flags.colony_id, ConfigUse::unloaded, "coral colony stop <colony-id>");
  if (!target) return;
  const auto& id = target->id;
  const auto outcome = stop_by_pid_file(target->dir.colony_pid_file(id), *timeout);
  if (fail_stop(context, outcome, "colony " + id, base::format_duration(*timeout),
                "see " + target->dir.colony_log_file(id).string() + ", or force it: kill -9 " +
                    std::to_string(outcome.pid))) {
    return;
  }
  switch (outcome.kind) {
    case StopOutcome::Kind::stale_removed:
      std::cout << "Colony " << id << " is not running (removed the stale PID file of pid " << outcome.pid << ").\n";
      return;
    case StopOutcome::Kind::stopped:
      std::cout << "✓ Colony " << id << " stopped (pid " << outcome.pid << ")\n";
      return;
    default:
      std::cout << "Colony " << id << " is not running.\n";
      return;
  }
}

}  // namespace

std::vector<std::string> host_endpoints(const config::WireGuardConfig& wg, std::uint16_t port) {
  std::vector<std::string> endpoints;
  for (const auto& address : net::interface_addresses()) {
    // Not the mesh's own addresses (the tun transport's device has them).
    if (wg.mesh_network_ipv4.contains(address) || wg.mesh_network_ipv6.contains(address)) continue;
    endpoints.push_back(net::format_authority(address, port));
  }
  return endpoints;
}

void add_colony_lifecycle_commands(CLI::App& colony, Context& context) {
  auto start_flags = std::make_shared<StartFlags>();
  CLI::App* start = colony.add_subcommand("start", "Run a colony: serve its services on its mesh IPs, register with discovery");
  start->add_option("colony-id", start_flags->colony_id, "the colony (default: the current one)");
  start->add_flag("--daemon", start_flags->daemon, "run in the background (log: <config dir>/colonies/<id>.log)");
  start->add_option("--mesh", start_flags->mesh,
                    "how the mesh is carried: host (the host reaches the mesh IPs), userspace (coral's WireGuard "
                    "and TCP/IP, no privileges), tun (coral's WireGuard on a TUN device, the kernel's TCP/IP; "
                    "needs CAP_NET_ADMIN); default: the colony file's wireguard.mesh, else host");
  start->add_option("--interface", start_flags->interface,
                    "with --mesh tun, the TUN device's name; with tun or userspace, the UAPI socket's, for wg show "
                    "(default: coral-<first 8 characters of the colony id>0)");
  // The old name, kept for scripts; not shown in --help.
  start->add_option("--transport", start_flags->transport)->group("");
  start->add_option("--public-endpoint", start_flags->public_endpoints,
                    "HOST:PORT of the WireGuard listener to announce to discovery (repeatable; default: the "
                    "colony file's wireguard.public_endpoints, else this host's addresses at the listen port)");
  start->add_option("--log-level", start_flags->log_level, "debug, info, warn or error")->capture_default_str();
  start->add_option("--log-format", start_flags->log_format, "text (key=value) or json")->capture_default_str();
  start->add_option("--grace", start_flags->grace, "on SIGTERM, how long in-flight requests may finish")
      ->capture_default_str();
  start->add_option("--heartbeat-interval", start_flags->heartbeat_interval,
                    "how often peers heartbeat; a proxy silent for 4 intervals is expired")
      ->capture_default_str();
  start->callback([start_flags, &context] { run_start(*start_flags, context); });

  auto stop_flags = std::make_shared<StopFlags>();
  CLI::App* stop = colony.add_subcommand("stop", "Stop a running colony (SIGTERM: it drains in-flight requests)");
  stop->add_option("colony-id", stop_flags->colony_id, "the colony (default: the current one)");
  stop->add_option("--timeout", stop_flags->timeout, "how long to wait for it to exit")->capture_default_str();
  stop->callback([stop_flags, &context] { run_stop(*stop_flags, context); });
}

}  // namespace coral::cli

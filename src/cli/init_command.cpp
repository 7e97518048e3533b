#include "cli/init_command.h"

#include <iostream>
#include <memory>
#include <optional>

#include "base/address.h"
#include "base/duration.h"
#include "base/file.h"
#include "base/pid_file.h"
#include "cli/terminal.h"
#include "config/colony_file.h"
#include "config/config_dir.h"
#include "colony/registration.h"

namespace coral::cli {

namespace {

struct InitFlags {
  std::string app;
  std::string env;
  std::string colony_id;
  std::string discovery = "http://localhost:8080";
  std::string mesh_ipv4_net = "10.42.0.0/16";
  std::string mesh_ipv6_net;
  std::uint16_t connect_port = 9000;
  std::uint16_t listen_port = 41820;
  std::uint16_t dashboard_port = 3000;
  std::string register_interval = "60s";
  std::string mesh;  // --mesh; "": userspace, or host for loopback mesh networks
  bool force = false;
};

// A missing identity flag is asked for on a terminal, else an error naming
// the flag. Answers go through the same checks as flags.
std::expected<std::string, std::string> ask_if_missing(const std::string& value, std::string_view flag,
                                                       std::string_view question, std::string_view default_value) {
  if (!value.empty()) return value;
  if (!stdin_is_terminal()) return std::unexpected("missing " + std::string(flag) + " (no terminal to ask on)");
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto answer = prompt(question, default_value);
    if (!answer) return std::unexpected("missing " + std::string(flag) + " (no answer)");
    auto valid = config::validate_name(*answer);
    if (valid) return *answer;
    std::cerr << "  " << valid.error() << "\n";
  }
  return std::unexpected("missing " + std::string(flag));
}

std::expected<config::NewColonyOptions, std::string> new_colony_options(const InitFlags& flags) {
  config::NewColonyOptions options;
  if (!flags.colony_id.empty()) {
    if (auto valid = config::validate_colony_id(flags.colony_id); !valid) return std::unexpected("--colony-id: " + valid.error());
    options.colony_id = flags.colony_id;
  }
  if (auto valid = config::validate_discovery_endpoint(flags.discovery); !valid) {
    return std::unexpected("--discovery: " + valid.error());
  }
  options.discovery_endpoint = flags.discovery;
  auto ipv4 = base::Cidr::parse(flags.mesh_ipv4_net);
  if (!ipv4 || !ipv4->is_ipv4()) {
    return std::unexpected("--mesh-ipv4-net: \"" + flags.mesh_ipv4_net + "\" is not an IPv4 network (e.g. 10.42.0.0/16)");
  }
  options.mesh_ipv4_net = *ipv4;
  if (!flags.mesh_ipv6_net.empty()) {
    auto ipv6 = base::Cidr::parse(flags.mesh_ipv6_net);
    if (!ipv6 || ipv6->is_ipv4()) {
      return std::unexpected("--mesh-ipv6-net: \"" + flags.mesh_ipv6_net + "\" is not an IPv6 network (e.g. fd42::/64)");
    }
    options.mesh_ipv6_net = *ipv6;
  }
  if (!flags.mesh.empty()) {
    auto mesh = config::parse_mesh_transport(flags.mesh);
    if (!mesh) return std::unexpected("--mesh " + flags.mesh + ": unknown mesh transport (host, userspace or tun)");
    options.mesh = *mesh;
  } else {
    // A loopback mesh network (127.42.0.0/16: tests and demos on one
    // host) is one this host already reaches: the host transport.
    const auto network = options.mesh_ipv4_net.ipv4_at(0);
    const bool loopback = network && (*network)[0] == 127 && options.mesh_ipv4_net.prefix_length() >= 8;
    options.mesh = loopback ? config::MeshTransport::host : config::MeshTransport::userspace;
  }
  options.connect_port = flags.connect_port;
  options.listen_port = flags.listen_port;
  options.dashboard_port = flags.dashboard_port;
  auto interval = base::parse_duration(flags.register_interval);
  if (!interval) return std::unexpected("--register-interval: " + interval.error());
  options.register_interval = *interval;
  return options;
}

std::string mesh_note(config::MeshTransport mesh) {
  switch (mesh) {
    case config::MeshTransport::userspace: return " (coral's own WireGuard on UDP, no privileges)";
    case config::MeshTransport::host: return " (this host reaches the mesh IPs)";
    case config::MeshTransport::tun: return " (a TUN device: needs CAP_NET_ADMIN)";
  }
  return "";
}

void run_init(const InitFlags& given, Context& context) {
  InitFlags flags = given;
  auto app = ask_if_missing(flags.app, "--app", "Application name", "");
  if (!app) return context.usage(app.error(), "e.g. coral init --app my-shop --env production");
  auto env = ask_if_missing(flags.env, "--env", "Environment", "development");
  if (!env) return context.usage(env.error(), "e.g. coral init --app my-shop --env production");
  auto options = new_colony_options(flags);
  if (!options) return context.usage(options.error());
  auto config = config::new_colony(*app, *env, *options);
  if (!config) return context.fail(config.error());

  auto dir = context.config_dir();
  if (!dir) return context.fail(dir.error());
  // Replacing a colony deletes its state: never under a running colony (it
  // would keep serving peers that a restart has lost). Holding the colony's
  // PID-file lock while replacing also keeps one from starting meanwhile.
  std::optional<base::PidFile> colony_lock;
  if (flags.force) {
    if (auto created = dir->create(); !created) return context.fail(created.error());
    const auto pid_path = dir->colony_pid_file(config->colony_id);
    auto lock = base::PidFile::acquire(pid_path);
    if (!lock) {
      const auto state = base::read_pid_file(pid_path);
      if (state.held()) {
        return context.fail("colony " + config->colony_id + " is running (" + state.holder_text() +
                                "): --force would replace its keys and secret and delete its peers underneath it",
                            "stop it first: coral colony stop " + config->colony_id);
      }
      return context.fail("cannot lock colony " + config->colony_id + " to replace it: " + lock.error());
    }
    colony_lock.emplace(std::move(*lock));
  }
  auto saved = dir->save_colony(*config, flags.force);
  if (!saved) {
    return context.fail(saved.error(), config::storage_hint(base::probe_writable(dir->colonies_dir()),
                                                            dir->colonies_dir()));
  }
  // A replaced colony has new keys and a new secret: its peers' assignments
  // belong to the old one, and so does what discovery last answered the old
  // key (`coral colony status` would show it as this colony's).
  bool state_removed = false;
  if (flags.force) {
    const auto state = dir->colony_state(config->colony_id);
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ec;
      state_removed |= std::filesystem::remove(state.string() + suffix, ec);
    }
    std::error_code ec;
    state_removed |= std::filesystem::remove(colony::registration_status_file(*dir, config->colony_id), ec);
  }
  if (auto used = dir->use(config->colony_id); !used) return context.fail(used.error());

  const auto& wg = config->wireguard;
  std::cout << "✓ Colony created: " << config->colony_id << "\n"
            << "  ├─ App: " << config->app_name << " (" << config->environment << ")\n"
            << "  ├─ Config: " << saved->string() << " (mode 0600: it holds the private key and colony secret)\n"
            << "  ├─ Mesh IPs: " << base::format_ipv4(wg.mesh_ipv4) << " / " << base::format_ipv6(wg.mesh_ipv6)
            << " (networks " << wg.mesh_network_ipv4.to_string() << ", " << wg.mesh_network_ipv6.to_string() << ")\n"
            << "  ├─ Connect port: " << config->services.connect_port << "\n"
            << "  ├─ Mesh transport: " << config::to_string(wg.mesh) << mesh_note(wg.mesh) << "\n"
            << "  ├─ Discovery: " << config->discovery.endpoint << " (as " << config->discovery.mesh_id << ")\n"
            << "  └─ Current colony: " << config->colony_id << "\n";
  if (state_removed) std::cout << "The replaced colony's state (peers and their addresses) was removed.\n";
  std::cout << "Start it with: coral colony start\n";
}

}  // namespace

void add_init_command(CLI::App& app, Context& context) {
  auto flags = std::make_shared<InitFlags>();
  CLI::App* init = app.add_subcommand("init", "Create a colony: keys, colony secret, mesh subnets; make it current");
  init->add_option("--app", flags->app, "application name (asked for on a terminal when missing)");
  init->add_option("--env", flags->env, "environment, e.g. production (asked for on a terminal when missing)");
  init->add_option("--colony-id", flags->colony_id, "colony id (default: <app>-<env>-<6 random hex digits>)");
  init->add_option("--discovery", flags->discovery, "discovery service URL")->capture_default_str();
  init->add_option("--mesh-ipv4-net", flags->mesh_ipv4_net, "IPv4 mesh network; the colony takes its first address")
      ->capture_default_str();
  init->add_option("--mesh-ipv6-net", flags->mesh_ipv6_net, "IPv6 mesh network (default: a random RFC 4193 ULA /64)");
  init->add_option("--connect-port", flags->connect_port, "port of the colony's Connect server on its mesh IPs")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  init->add_option("--listen-port", flags->listen_port, "WireGuard UDP port")->capture_default_str()->check(CLI::Range(1, 65535));
  init->add_option("--dashboard-port", flags->dashboard_port, "dashboard port")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  init->add_option("--register-interval", flags->register_interval, "how often the colony renews its discovery lease")
      ->capture_default_str();
  init->add_option("--mesh", flags->mesh,
                   "how the colony carries its mesh (wireguard.mesh): userspace (coral's own WireGuard and TCP/IP, "
                   "no privileges), tun (a TUN device, CAP_NET_ADMIN) or host (the host reaches the mesh IPs); "
                   "default: userspace, host for a loopback --mesh-ipv4-net");
  init->add_flag("--force", flags->force, "replace an existing colony of the same id (its keys, secret and state are lost)");
  init->callback([flags, &context] { run_init(*flags, context); });
}

}  // namespace coral::cli

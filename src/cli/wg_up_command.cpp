#include "cli/wg_up_command.h"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "base/log.h"
#include "wireguard/conf_file.h"
#include "wireguard/device/device.h"
#include "wireguard/device/tun_linux.h"
#include "wireguard/device/uapi_server.h"

namespace coral::cli {

namespace {

namespace asio = boost::asio;
using namespace wireguard;

struct UpFlags {
  std::string file;
  std::string interface;
  std::string log_level = "info";
};

// coral-<file stem>0, as DESIGN.md names coral's interfaces.
std::string default_interface_name(const std::string& file) {
  return "coral-" + std::filesystem::path(file).stem().string() + "0";
}

// Test-only: CORAL_WG_REKEY_AFTER_SECONDS=N makes sessions rekey after N
// seconds instead of 120, and expire after 1.5 N (the protocol's 180/120),
// so that interop tests can watch a rekey happen.
std::expected<Timings, std::string> timings_from_environment() {
  Timings timings;
  const char* text = std::getenv("CORAL_WG_REKEY_AFTER_SECONDS");
  if (text == nullptr) return timings;
  char* end = nullptr;
  const long seconds = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || seconds < 1 || seconds > 120) {
    return std::unexpected("CORAL_WG_REKEY_AFTER_SECONDS must be a number of seconds 1-120");
  }
  timings.rekey_after_time = std::chrono::seconds(seconds);
  timings.reject_after_time = std::chrono::milliseconds(seconds * 1500);
  return timings;
}

std::string describe(const DeviceSettings& settings, const std::string& name, std::uint16_t port) {
  std::string text = "✓ " + name + " up:";
  for (std::size_t i = 0; i < settings.interface.addresses.size(); ++i) {
    text += (i == 0 ? " " : ", ") + settings.interface.addresses[i].to_string();
  }
  const std::size_t peers = settings.peers.size();
  text += "; UDP port " + std::to_string(port) + "; MTU " + std::to_string(settings.interface.mtu) + "; " +
          std::to_string(peers) + (peers == 1 ? " peer" : " peers") + "\n";
  text += "  wg show " + name + " — Ctrl-C or SIGTERM takes it down\n";
  return text;
}

void run_wg_up(Context& context, const UpFlags& flags) {
  const auto level = log::parse_level(flags.log_level);
  if (!level) return context.usage("--log-level: " + level.error());
  log::setup(*level, log::Format::text);
  const auto timings = timings_from_environment();
  if (!timings) return context.fail(timings.error());

  auto conf = read_conf_file(flags.file);
  if (!conf) return context.fail(conf.error().to_string());
  for (const ConfDiagnostic& warning : conf->warnings) std::cerr << "warning: " << warning.to_string() << "\n";
  const DeviceSettings& settings = conf->settings;
  const std::string name = flags.interface.empty() ? default_interface_name(flags.file) : flags.interface;
  if (auto valid = device::check_interface_name(name); !valid) {
    return context.fail("interface name \"" + name + "\": " + valid.error(), "choose one with --interface NAME");
  }

  asio::io_context io(1);
  device::TunOptions tun_options;
  tun_options.name = name;
  tun_options.mtu = settings.interface.mtu;
  tun_options.addresses = settings.interface.addresses;
  auto tun = device::TunDevice::open(io, tun_options);
  if (!tun) return context.fail(tun.error().message);

  device::DeviceOptions options;
  options.engine.timings = *timings;
  auto wg_device = device::Device::open(io, settings, std::move(*tun), options);
  if (!wg_device) return context.fail(wg_device.error());
  auto uapi = device::UapiServer::open(io, **wg_device, name);
  if (!uapi) return context.fail(uapi.error());

  std::cout << describe(settings, name, (*wg_device)->listen_port()) << std::flush;
  log::info("device up", {{"interface", name}, {"port", std::to_string((*wg_device)->listen_port())}});

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    log::info("taking the device down", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    (*uapi)->close();
    (*wg_device)->close();
    io.stop();
  });
  io.run();
}

}  // namespace

void add_wg_up_command(CLI::App& wg, Context& context) {
  auto flags = std::make_shared<UpFlags>();
  CLI::App* up = wg.add_subcommand(
      "up", "Bring up a WireGuard interface from a wg-quick style FILE.conf and run it until SIGTERM/SIGINT "
            "(needs CAP_NET_ADMIN for the TUN device)");
  up->add_option("file", flags->file, "the configuration ([Interface] PrivateKey, ListenPort, Address, MTU; "
                                       "[Peer] PublicKey, PresharedKey, Endpoint, AllowedIPs, PersistentKeepalive)")
      ->required();
  up->add_option("--interface", flags->interface, "TUN device name (default: coral-<file stem>0, at most 15 bytes)");
  up->add_option("--log-level", flags->log_level, "debug, info, warn or error")->capture_default_str();
  up->callback([&context, flags] { run_wg_up(context, *flags); });
}

}  // namespace coral::cli

// coral-discovery: the registry where colonies announce themselves and
// proxies find them (RFD 001, extended by RFD 005). See docs/discovery.md.

#include <cctype>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <vector>

#include <CLI/CLI.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/clock.h"
#include "cli/app.h"
#include "cli/version.h"
#include "base/duration.h"
#include "base/log.h"
#include "base/memory.h"
#include "crypto/keys.h"
#include "discovery/memory_store.h"
#include "discovery/redis_store.h"
#include "discovery/service.h"
#include "discovery/validation.h"
#include "http/server.h"
#include "rpc/server.h"

namespace asio = boost::asio;
using namespace coral;

namespace {

struct Listen {
  std::string host;
  std::uint16_t port = 0;
};

// "127.0.0.1:8080", "[::1]:8080", "localhost:8080", ":8080" (all interfaces).
std::expected<Listen, std::string> parse_listen(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return std::unexpected("invalid --listen \"" + text + "\": expected HOST:PORT");
  Listen listen;
  listen.host = text.substr(0, colon);
  if (listen.host.starts_with('[') && listen.host.ends_with(']')) listen.host = listen.host.substr(1, listen.host.size() - 2);
  if (listen.host.empty()) listen.host = "::";
  try {
    const int port = std::stoi(text.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    listen.port = std::uint16_t(port);
  } catch (const std::exception&) {
    return std::unexpected("invalid --listen \"" + text + "\": port must be 0-65535");
  }
  return listen;
}

// "1048576", "512K", "128M", "1G" (powers of 1024; "KiB", "MiB", "GiB" too).
std::expected<std::size_t, std::string> parse_byte_size(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return std::unexpected("\"" + text + "\" is not a size (e.g. 134217728, 512K, 128M, 1G)");
  std::size_t value = std::stoull(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  int shift = 0;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "K" || unit == "KiB") {
    shift = 10;
  } else if (unit == "M" || unit == "MiB") {
    shift = 20;
  } else if (unit == "G" || unit == "GiB") {
    shift = 30;
  } else {
    return std::unexpected("\"" + text + "\": unknown unit \"" + unit + "\" (use K, M or G)");
  }
  return value << shift;
}

asio::awaitable<void> cleanup_loop(discovery::Store& store, std::chrono::milliseconds interval, const bool& stopping) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!stopping) {
    timer.expires_after(interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping) break;
    auto purged = co_await store.purge_expired();
    if (!purged) {
      // A store outage is already logged, once, by the store itself.
      const auto level = purged.error().code == rpc::Code::unavailable ? log::Level::debug : log::Level::warn;
      log::write(level, "cleanup failed", {{"error", purged.error().message}});
    } else if (*purged > 0) {
      log::info("expired leases purged", {{"count", std::to_string(*purged)}});
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"coral-discovery: the registry where colonies announce themselves and proxies find them",
               "coral-discovery"};
  cli::setup_app(app, "coral-discovery");
  std::string listen_text = "127.0.0.1:8080";
  std::string ttl_text = "300s";
  std::string cleanup_text = "60s";
  std::string store_text = "memory";
  std::string level_text = "info";
  std::string format_text = "text";
  std::string port_file;
  std::string key_file;
  bool accept_unproven = false;
  std::size_t max_colonies = discovery::StoreLimits{}.max_records;
  std::string max_bytes_text = "128M";
  double register_rate = discovery::SourceLimits{}.per_second;
  std::uint32_t register_burst = discovery::SourceLimits{}.burst;
  std::vector<std::string> reserve_texts;
  app.add_option("--listen", listen_text, "address to serve on, HOST:PORT ([::1]:8080 for IPv6; port 0: any free port)")
      ->capture_default_str();
  app.add_option("--ttl", ttl_text, "how long a registration lasts unless renewed (e.g. 300s, 5m)")->capture_default_str();
  app.add_option("--cleanup-interval", cleanup_text, "how often expired leases are purged")->capture_default_str();
  app.add_option("--store", store_text, "where leases live: memory, or redis://HOST:PORT/DB to share them between replicas")
      ->capture_default_str();
  app.add_option("--log-level", level_text, "debug, info, warn or error")->capture_default_str();
  app.add_option("--log-format", format_text, "text (key=value) or json")->capture_default_str();
  app.add_option("--port-file", port_file, "write the port actually bound to this file (useful with port 0)");
  http::ServerOptions server_options;
  std::string head_timeout_text = "10s";
  std::string idle_timeout_text = "60s";
  std::string body_grace_text = "10s";
  app.add_option("--max-connections", server_options.max_connections,
                 "connections served at once; over it the longest-waiting (idle or slow) one is closed, or the new one")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t(1), std::size_t(1) << 30));
  app.add_option("--request-head-timeout", head_timeout_text,
                 "time a client has to send a whole request head (HTTP/2: preface and SETTINGS, each HEADERS block)")
      ->capture_default_str();
  app.add_option("--idle-timeout", idle_timeout_text,
                 "close a connection that sends nothing for this long while idle or mid-request")
      ->capture_default_str();
  app.add_option("--min-body-rate", server_options.connection.min_body_rate,
                 "bytes per second a request body must average once --body-rate-grace has passed (0: no minimum); "
                 "a client trickling a body byte by byte is closed")
      ->capture_default_str();
  app.add_option("--body-rate-grace", body_grace_text, "time a request body may take before --min-body-rate applies")
      ->capture_default_str();
  app.add_option("--key-file", key_file,
                 "file with this service's static X25519 private key (base64, as `wg genkey` writes; mode 0600) that "
                 "registration proofs are bound to; default: a key made at start (memory store) or shared through "
                 "Redis (redis store)");
  app.add_flag("--accept-unproven", accept_unproven,
               "store registrations without a proof of possession of the WireGuard key (older colonies), as "
               "unproven; a proven registration takes their mesh id over");
  app.add_option("--max-colonies", max_colonies, "at most this many colonies are held (live or not yet purged)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-store-bytes", max_bytes_text,
                 "at most this many bytes of records are held (each counts its strings plus 256 bytes)")
      ->capture_default_str();
  app.add_option("--register-rate", register_rate,
                 "RegisterColony + GetRegistrationChallenge calls per second per source (IPv4 address or IPv6 /64); "
                 "0: no limit")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--reserve", reserve_texts,
                 "MESH_ID=PUBKEY: only this WireGuard public key may register MESH_ID (repeatable); stops anyone "
                 "from holding a known colony's mesh id first");
  app.add_option("--register-burst", register_burst, "calls a source may make at once before --register-rate applies")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  if (auto code = cli::parse_args(app, argc, argv)) return *code;

  // A flag's value that does not parse is bad usage, as an unknown flag.
  auto fail = [](const std::string& message) {
    std::cerr << "error: " << message << "\n";
    return cli::kExitUsage;
  };
  const auto level = log::parse_level(level_text);
  if (!level) return fail(level.error());
  const auto format = log::parse_format(format_text);
  if (!format) return fail(format.error());
  const auto listen = parse_listen(listen_text);
  if (!listen) return fail(listen.error());
  const auto ttl = base::parse_duration(ttl_text);
  if (!ttl) return fail("--ttl: " + ttl.error());
  if (*ttl < std::chrono::seconds(1)) return fail("--ttl must be at least 1s");
  const auto cleanup = base::parse_duration(cleanup_text);
  if (!cleanup) return fail("--cleanup-interval: " + cleanup.error());
  if (cleanup->count() <= 0) return fail("--cleanup-interval must be positive");
  const auto head_timeout = base::parse_duration(head_timeout_text);
  if (!head_timeout || head_timeout->count() <= 0) return fail("--request-head-timeout: must be a positive duration");
  const auto idle_timeout = base::parse_duration(idle_timeout_text);
  if (!idle_timeout || idle_timeout->count() <= 0) return fail("--idle-timeout: must be a positive duration");
  server_options.connection.head_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*head_timeout);
  server_options.connection.idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*idle_timeout);
  const auto body_grace = base::parse_duration(body_grace_text);
  if (!body_grace || body_grace->count() < 0) return fail("--body-rate-grace: must be a duration");
  server_options.connection.body_rate_grace = std::chrono::duration_cast<std::chrono::milliseconds>(*body_grace);
  const auto max_bytes = parse_byte_size(max_bytes_text);
  if (!max_bytes) return fail("--max-store-bytes: " + max_bytes.error());
  const discovery::StoreLimits limits{.max_records = max_colonies, .max_bytes = *max_bytes};
  std::map<std::string, std::string> reserved;
  for (const std::string& text : reserve_texts) {
    const auto equals = text.find('=');
    if (equals == std::string::npos) return fail("--reserve \"" + text + "\": expected MESH_ID=PUBKEY");
    std::string mesh_id = text.substr(0, equals);
    std::string pubkey = text.substr(equals + 1);
    if (auto valid = discovery::validate_mesh_id(mesh_id); !valid) return fail("--reserve: " + valid.error().message);
    if (auto valid = discovery::validate_pubkey(pubkey); !valid) return fail("--reserve: " + valid.error().message);
    reserved[std::move(mesh_id)] = std::move(pubkey);
  }
  std::optional<crypto::SecretKey> key;
  if (!key_file.empty()) {
    std::ifstream in(key_file);
    std::string text;
    if (!in || !std::getline(in, text)) return fail("--key-file " + key_file + ": cannot read it");
    auto parsed = crypto::SecretKey::from_base64(text);
    crypto::wipe(text);
    if (!parsed) return fail("--key-file " + key_file + ": " + parsed.error());
    key = std::move(*parsed);
  }
  log::setup(*level, *format);
  base::raise_open_files_limit();

  asio::io_context io(1);
  base::SystemClock clock;
  std::unique_ptr<discovery::Store> store;
  if (store_text == "memory") {
    store = discovery::make_memory_store(clock, limits);
  } else if (store_text.starts_with("redis://")) {
    auto address = discovery::parse_redis_url(store_text);
    if (!address) return fail(address.error());
    store = discovery::make_redis_store(io.get_executor(), *address, clock, limits);
  } else {
    return fail("invalid --store \"" + store_text + "\": use memory or redis://HOST:PORT/DB");
  }

  discovery::DiscoveryService service(
      *store, clock,
      discovery::ServiceOptions{.ttl = std::chrono::duration_cast<std::chrono::seconds>(*ttl),
                                .version = cli::kVersion,
                                .accept_unproven = accept_unproven,
                                .key = std::move(key),
                                .source_limits = {.per_second = register_rate, .burst = register_burst},
                                .reserved = std::move(reserved)});
  rpc::Server rpc(io.get_executor());
  rpc.add(service);
  rpc.on_call([](const rpc::CallRecord& call) {
    log::debug("call", {{"procedure", std::string(call.procedure)},
                        {"protocol", std::string(rpc::to_string(call.protocol))},
                        {"code", std::string(rpc::to_string(call.code))},
                        {"peer", std::string(call.peer)},
                        {"duration_us", std::to_string(call.duration.count())}});
  });
  http::Server server(io, rpc, server_options);
  if (auto listening = server.listen(listen->host, listen->port); !listening) {
    log::error("cannot listen", {{"error", listening.error().message()}});
    std::cerr << "error: cannot listen on " << listening.error().message() << "\n";
    return cli::kExitFailed;
  }
  server.start();
  const std::string host = listen->host.find(':') != std::string::npos ? "[" + listen->host + "]" : listen->host;
  log::info("coral-discovery listening", {{"address", "http://" + host + ":" + std::to_string(server.port())},
                                          {"store", store->describe()},
                                          {"ttl", base::format_duration(*ttl)},
                                          {"max_connections", std::to_string(server_options.max_connections)},
                                          {"max_colonies", std::to_string(limits.max_records)},
                                          {"max_store_bytes", std::to_string(limits.max_bytes)},
                                          {"accept_unproven", accept_unproven ? "true" : "false"},
                                          {"cleanup_interval", base::format_duration(*cleanup)}});
  if (!port_file.empty()) {
    const std::string temp = port_file + ".tmp";
    std::ofstream(temp) << server.port() << "\n";
    std::rename(temp.c_str(), port_file.c_str());
  }

  bool stopping = false;
  asio::co_spawn(io, cleanup_loop(*store, *cleanup, stopping), asio::detached);
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    log::info("shutting down", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    stopping = true;
    asio::co_spawn(io, server.shutdown(std::chrono::seconds(5)), [&](std::exception_ptr) { io.stop(); });
  });
  io.run();
  log::info("stopped");
  return 0;
}

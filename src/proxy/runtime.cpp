#include "proxy/runtime.h"

#include <unistd.h>

#include <algorithm>
#include <array>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <google/protobuf/util/time_util.h>

#include "base/address.h"
#include "base/json_text.h"
#include "base/log.h"
#include "base/memory.h"
#include "base/pid_file.h"
#include "colony/config.h"
#include "coral/mesh/v1/mesh.coral.h"
#include "crypto/keys.h"
#include "discovery/client.h"
#include "discovery/validation.h"
#include "http/server.h"
#include "mesh/host_transport.h"
#include "net/dialer.h"
#include "proxy/address_choice.h"
#include "proxy/forwarder.h"
#include "proxy/state.h"
#include "rpc/http_channel.h"

namespace coral::proxy {

namespace asio = boost::asio;
namespace mv1 = coral::mesh::v1;

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  if (const auto v4 = base::parse_ipv4(host)) return (*v4)[0] == 127;
  if (const auto v6 = base::parse_ipv6(host)) return *v6 == base::Ipv6Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return false;
}

namespace {

std::string now_rfc3339() {
  return google::protobuf::util::TimeUtil::ToString(google::protobuf::util::TimeUtil::GetCurrentTime());
}

// A colony being served: its transport, and what it takes to leave it.
struct Link {
  ServedColony served;
  std::unique_ptr<mesh::Transport> transport;
  net::Target target;
  std::string peer_id;    // set when registered
  std::string pubkey;
  std::unique_ptr<base::PidFile> pid_file;
  std::filesystem::path state_file;
  mv1::RegisterRequest registration;  // holds the colony secret: memory only
  bool retry_registration = false;    // the colony was not reachable at start
  // MeshService.Heartbeat while registered: the colony expires proxies that
  // stop (e.g. killed with -9) after 4 of its intervals.
  std::unique_ptr<asio::steady_timer> heartbeat_timer;
};

// The key discovery returned must be the one of the local config. The
// error names both keys (public keys: what `wg show` prints).
std::expected<void, std::string> check_pinned(const colony::ColonyConfig& config,
                                              const discovery::v1::LookupColonyResponse& found,
                                              const std::string& endpoint, const std::filesystem::path& file) {
  const std::string pinned = config.wireguard.public_key.to_base64();
  const auto announced = crypto::PublicKey::from_base64(found.wireguard_pubkey());
  if (announced && *announced == config.wireguard.public_key) return {};
  const std::string shown = announced ? announced->to_base64()
                                      : "an invalid key (" + std::to_string(found.wireguard_pubkey().size()) + " bytes)";
  return std::unexpected("discovery at " + endpoint + " answered for colony " + config.colony_id + " (mesh id " +
                         config.discovery.mesh_id + ") with WireGuard key " + shown + ", but its local config " +
                         file.string() + " pins key " + pinned +
                         ": refusing to connect or to send it the colony secret. Someone else holds this mesh id in "
                         "discovery (see: coral colony status " + config.colony_id + ")");
}

// How long connecting to a colony's mesh address may take: the transport's
// dials and the channels' (dial errors name it: "timed out after 5000 ms").
constexpr std::chrono::milliseconds kConnectTimeout{5000};

rpc::ChannelOptions colony_channel(const net::Target& target, net::Dialer dialer) {
  return rpc::h2c_proto_options(http::Url{target.host, target.port, {}}, std::move(dialer), kConnectTimeout);
}

}  // namespace

struct ProxyRuntime::Impl {
  asio::io_context& io;
  colony::ConfigDir dir;
  ProxyOptions options;
  std::vector<std::unique_ptr<Link>> links;
  std::unique_ptr<Forwarder> forwarder;
  std::unique_ptr<http::Server> server;
  std::vector<std::string> warnings;
  std::string started_at = now_rfc3339();
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::string listen;

  Impl(asio::io_context& io_, colony::ConfigDir dir_, ProxyOptions options_)
      : io(io_), dir(std::move(dir_)), options(std::move(options_)) {}

  bool stopping = false;
  std::unique_ptr<asio::steady_timer> retry_timer;

  // Resolve, open the transport, register: one colony.
  asio::awaitable<std::expected<std::unique_ptr<Link>, std::string>> join(const std::string& id,
                                                                          const Progress& progress);
  // MeshService.Register with link.registration; on success the link's
  // transport sends from the assigned addresses.
  asio::awaitable<rpc::Result<bool>> register_link(Link& link);
  // Registers once the colony answers (1 s, 2 s, ... 30 s apart).
  asio::awaitable<void> keep_registering(Link& link);
  // Heartbeats every interval the colony asks for (the first after 1 s);
  // registers again when the colony no longer knows the peer.
  asio::awaitable<void> keep_heartbeating(Link& link);
  void write_state(Link& link);
  asio::awaitable<void> leave(Link& link);
  std::string health() const;
};

asio::awaitable<std::expected<std::unique_ptr<Link>, std::string>> ProxyRuntime::Impl::join(
    const std::string& id, const Progress& progress) {
  using Failure = std::unexpected<std::string>;
  progress("Resolving colony: " + id);
  auto link = std::make_unique<Link>();
  link->served.colony_id = id;

  // The local config, when this machine has the colony: its discovery
  // endpoint and mesh id, and the secret to register with.
  std::optional<colony::ColonyConfig> config;
  if (std::filesystem::exists(dir.colony_file(id))) {
    auto loaded = dir.load_colony(id);
    if (!loaded) co_return Failure(loaded.error());
    config = std::move(*loaded);
  }
  const std::string mesh_id = config ? config->discovery.mesh_id : id;
  std::string endpoint = !options.discovery.empty() ? options.discovery
                         : config                   ? config->discovery.endpoint
                                                    : std::string(kDefaultDiscovery);
  link->served.discovery = endpoint;
  progress(" ↳ Querying discovery service at " + endpoint + "...");
  auto discovery = discovery::DiscoveryClient::create(io.get_executor(), endpoint);
  if (!discovery) co_return Failure(discovery.error());
  auto found = co_await (*discovery)->lookup(mesh_id);
  if (!found) {
    co_return Failure("cannot resolve colony " + id + ": " + found.error().message +
                      (found.error().code == rpc::Code::not_found
                           ? " (is it running, and registered with " + endpoint + "?)"
                           : ""));
  }
  link->served.mesh_ipv4 = found->mesh_ipv4();
  link->served.mesh_ipv6 = found->mesh_ipv6();
  link->served.connect_port = static_cast<std::uint16_t>(found->connect_port());
  if (config) {
    // Discovery is untrusted (RFD 005, "Layer 1"): the local config pins
    // the colony's key and its mesh addresses, and the colony secret only
    // ever goes there.
    if (auto pinned = check_pinned(*config, *found, endpoint, dir.colony_file(id)); !pinned) {
      co_return Failure(pinned.error());
    }
    const std::string port = std::to_string(config->services.connect_port);
    std::string pinned_ipv4 = base::format_ipv4(config->wireguard.mesh_ipv4);
    std::string pinned_ipv6 = base::format_ipv6(config->wireguard.mesh_ipv6);
    if (link->served.mesh_ipv4 != pinned_ipv4 || link->served.mesh_ipv6 != pinned_ipv6 ||
        link->served.connect_port != config->services.connect_port) {
      warnings.push_back("discovery at " + endpoint + " announced other mesh addresses for colony " + id + " (" +
                         discovery::quote(found->mesh_ipv4()) + " / " +
                         discovery::quote(found->mesh_ipv6()) + " port " +
                         std::to_string(found->connect_port()) + ") than its local config; using the local config's (" +
                         pinned_ipv4 + " / " + pinned_ipv6 + " port " + port + ")");
    }
    link->served.mesh_ipv4 = std::move(pinned_ipv4);
    link->served.mesh_ipv6 = std::move(pinned_ipv6);
    link->served.connect_port = config->services.connect_port;
  }
  if (link->served.connect_port == 0 || (link->served.mesh_ipv4.empty() && link->served.mesh_ipv6.empty())) {
    co_return Failure("colony " + id + " registered no mesh address and Connect port with " + endpoint +
                      " (an older colony?)");
  }
  std::string endpoints;
  for (const auto& public_endpoint : found->public_endpoints()) endpoints += (endpoints.empty() ? "" : ", ") + public_endpoint;
  progress(" ↳ Colony endpoint: " + (endpoints.empty() ? std::string("none announced") : endpoints) +
           " (mesh IPs: " + link->served.mesh_ipv4 + " / " + link->served.mesh_ipv6 + ")");

  link->transport = mesh::make_host_transport(io.get_executor(), {.connect_timeout = kConnectTimeout});
  progress(" ↳ Mesh transport: host (this host reaches the colony's mesh addresses)");
  // IPv4 first (or IPv6 with --ipv6); the other family when the first
  // cannot be reached and the other can.
  std::vector<std::string> candidates;
  const bool ipv6_first = link->served.mesh_ipv4.empty() || options.prefer_ipv6;
  for (const std::string* address : ipv6_first ? std::array{&link->served.mesh_ipv6, &link->served.mesh_ipv4}
                                               : std::array{&link->served.mesh_ipv4, &link->served.mesh_ipv6}) {
    if (!address->empty()) candidates.push_back(*address);
  }
  // Named: g++ 12 mishandles temporaries around co_await.
  const net::Dialer dial = link->transport->dialer();
  const AddressChoice choice =
      co_await choose_address(dial, candidates, link->served.connect_port, kConnectTimeout, progress);
  link->target = choice.target;
  const std::string& unreachable = choice.unreachable;
  if (!unreachable.empty()) {
    warnings.push_back("colony " + id + " is not reachable yet (" + unreachable +
                       "); calls fail until it is, then the proxy connects by itself");
  }
  link->served.forwarding_to = link->target.authority();

  if (!config) {
    warnings.push_back("not registered with colony " + id + " as a mesh peer: no local config with its colony secret (" +
                       dir.colony_file(id).string() + ")");
  } else {
    progress(" ↳ Registering as proxy peer...");
    link->pubkey = crypto::SecretKey::generate().public_key().to_base64();
    link->registration.set_colony_id(config->colony_id);
    link->registration.set_colony_secret(config->colony_secret);
    link->registration.set_wireguard_pubkey(link->pubkey);
    link->registration.set_component_name("proxy");
    link->registration.set_kind(mv1::PEER_KIND_PROXY);
    auto registered = co_await register_link(*link);
    if (registered) {
      progress(" ↳ Assigned mesh IPs: " + link->served.proxy_mesh_ipv4 + " / " + link->served.proxy_mesh_ipv6);
    } else {
      warnings.push_back("not registered with colony " + id + " as a mesh peer yet: " + registered.error().message);
      link->retry_registration = registered.error().code == rpc::Code::unavailable ||
                                 registered.error().code == rpc::Code::deadline_exceeded;
    }
  }
  co_return link;
}

asio::awaitable<rpc::Result<bool>> ProxyRuntime::Impl::register_link(Link& link) {
  rpc::HttpChannel channel(io.get_executor(), colony_channel(link.target, link.transport->dialer()));
  mv1::MeshServiceClient client(channel);
  const rpc::CallOptions call{.timeout = std::chrono::seconds(5), .headers = {}};
  auto registered = co_await client.Register(link.registration, call);
  if (!registered) co_return std::unexpected(std::move(registered.error()));
  link.peer_id = registered->peer_id();
  link.served.proxy_mesh_ipv4 = registered->mesh_ipv4();
  link.served.proxy_mesh_ipv6 = registered->mesh_ipv6();
  link.transport->set_mesh_addresses(registered->mesh_ipv4(), registered->mesh_ipv6());
  co_return true;
}

asio::awaitable<void> ProxyRuntime::Impl::keep_registering(Link& link) {
  std::chrono::seconds delay{1};
  while (!stopping) {
    retry_timer->expires_after(delay);
    boost::system::error_code ec;
    co_await retry_timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping) co_return;
    auto registered = co_await register_link(link);
    if (stopping) co_return;
    if (registered) {
      log::info("registered with colony as a proxy peer", {{"colony_id", link.served.colony_id},
                                                           {"peer_id", link.peer_id},
                                                           {"mesh_ipv4", link.served.proxy_mesh_ipv4},
                                                           {"mesh_ipv6", link.served.proxy_mesh_ipv6}});
      write_state(link);
      co_return;
    }
    if (registered.error().code != rpc::Code::unavailable && registered.error().code != rpc::Code::deadline_exceeded) {
      log::warn("registration refused; not retrying", {{"colony_id", link.served.colony_id},
                                                      {"error", registered.error().message}});
      co_return;
    }
    delay = std::min<std::chrono::seconds>(delay * 2, std::chrono::seconds(30));
  }
}

asio::awaitable<void> ProxyRuntime::Impl::keep_heartbeating(Link& link) {
  std::chrono::seconds interval{1};
  while (!stopping) {
    link.heartbeat_timer->expires_after(interval);
    boost::system::error_code ec;
    co_await link.heartbeat_timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping) co_return;
    if (link.peer_id.empty()) continue;  // not registered (yet)
    rpc::HttpChannel channel(io.get_executor(), colony_channel(link.target, link.transport->dialer()));
    mv1::MeshServiceClient client(channel);
    mv1::HeartbeatRequest request;
    request.set_peer_id(link.peer_id);
    request.set_wireguard_pubkey(link.pubkey);
    request.set_status("healthy");
    const rpc::CallOptions call{.timeout = std::chrono::seconds(5), .headers = {}};
    auto beat = co_await client.Heartbeat(request, call);
    if (stopping) co_return;
    if (beat) {
      interval = std::clamp<std::chrono::seconds>(std::chrono::seconds(beat->heartbeat_interval_seconds()),
                                                  std::chrono::seconds(1), std::chrono::hours(1));
      continue;
    }
    if (beat.error().code == rpc::Code::not_found) {
      // Expired (the colony heard nothing for too long) or its state reset.
      auto registered = co_await register_link(link);
      if (stopping) co_return;
      if (registered) {
        log::info("registered with colony again as a proxy peer", {{"colony_id", link.served.colony_id},
                                                                   {"peer_id", link.peer_id},
                                                                   {"mesh_ipv4", link.served.proxy_mesh_ipv4},
                                                                   {"mesh_ipv6", link.served.proxy_mesh_ipv6}});
        write_state(link);
      }
    }
  }
}

void ProxyRuntime::Impl::write_state(Link& link) {
  ProxyState state{.colony_id = link.served.colony_id,
                   .listen = listen,
                   .colony_mesh_ipv4 = link.served.mesh_ipv4,
                   .colony_mesh_ipv6 = link.served.mesh_ipv6,
                   .colony_connect_port = link.served.connect_port,
                   .forwarding_to = link.served.forwarding_to,
                   .mesh_ipv4 = link.served.proxy_mesh_ipv4,
                   .mesh_ipv6 = link.served.proxy_mesh_ipv6,
                   .transport = std::string(link.transport->name()),
                   .status = "connected",
                   .pid = getpid(),
                   .started_at = started_at};
  link.state_file = dir.proxies_dir() / (link.served.colony_id + ".yaml");
  if (auto written = colony::write_file_atomically(link.state_file, to_yaml(state)); !written) {
    log::warn("cannot record the proxy's state", {{"error", written.error()}});
  }
}

asio::awaitable<void> ProxyRuntime::Impl::leave(Link& link) {
  if (link.peer_id.empty()) co_return;
  rpc::HttpChannel channel(io.get_executor(), colony_channel(link.target, link.transport->dialer()));
  mv1::MeshServiceClient client(channel);
  mv1::UnregisterRequest request;
  request.set_peer_id(link.peer_id);
  request.set_wireguard_pubkey(link.pubkey);
  const rpc::CallOptions call{.timeout = std::chrono::seconds(3), .headers = {}};
  auto done = co_await client.Unregister(request, call);
  if (!done) log::warn("unregister failed", {{"colony_id", link.served.colony_id}, {"error", done.error().message}});
}

std::string ProxyRuntime::Impl::health() const {
  const auto& stats = forwarder->stats();
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
  std::string out = "{\"status\":\"ok\",\"pid\":" + std::to_string(getpid()) + ",\"listen\":";
  base::append_json_string(out, listen);
  out += ",\"started_at\":";
  base::append_json_string(out, started_at);
  out += ",\"uptime_seconds\":" + std::to_string(uptime) + ",\"requests\":" + std::to_string(stats.requests) +
         ",\"failed\":" + std::to_string(stats.failed) + ",\"active\":" + std::to_string(stats.active) +
         ",\"canceled\":" + std::to_string(stats.canceled) + ",\"colonies\":[";
  for (std::size_t i = 0; i < links.size(); ++i) {
    const ServedColony& served = links[i]->served;
    const std::string& error = forwarder->upstream_error(i);
    if (i > 0) out += ",";
    out += "{";
    for (const auto& [key, value] : {std::pair<std::string_view, const std::string&>{"colony_id", served.colony_id},
                                     {"forwarding_to", served.forwarding_to},
                                     {"colony_mesh_ipv4", served.mesh_ipv4},
                                     {"colony_mesh_ipv6", served.mesh_ipv6},
                                     {"mesh_ipv4", served.proxy_mesh_ipv4},
                                     {"mesh_ipv6", served.proxy_mesh_ipv6},
                                     {"discovery", served.discovery}}) {
      out += "\"" + std::string(key) + "\":";
      base::append_json_string(out, value);
      out += ",";
    }
    out += "\"colony_connect_port\":" + std::to_string(served.connect_port) + ",\"status\":";
    base::append_json_string(out, error.empty() ? "connected" : "unreachable: " + error);
    out += "}";
  }
  return out + "]}";
}

ProxyRuntime::ProxyRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProxyRuntime::~ProxyRuntime() = default;

asio::awaitable<std::expected<std::unique_ptr<ProxyRuntime>, std::string>> ProxyRuntime::start(
    asio::io_context& io, colony::ConfigDir dir, ProxyOptions options, Progress progress) {
  using Failure = std::unexpected<std::string>;
  if (options.colonies.empty()) co_return Failure("no colony to serve");
  if (!options.allow_remote && !is_loopback_host(options.listen_host)) {
    co_return Failure("--listen " + options.listen_host +
                      " is not a loopback address: anyone who reaches it reaches the colony; add --allow-remote "
                      "if that is what you want");
  }
  if (auto created = dir.create(); !created) co_return Failure(created.error());
  auto impl = std::make_unique<Impl>(io, std::move(dir), std::move(options));

  // One proxy per colony: its PID file is the lock.
  for (const auto& id : impl->options.colonies) {
    if (auto valid = colony::validate_colony_id(id); !valid) co_return Failure("colony id \"" + id + "\": " + valid.error());
  }
  std::vector<std::unique_ptr<base::PidFile>> locks;
  for (const auto& id : impl->options.colonies) {
    const auto pid_path = impl->dir.proxies_dir() / (id + ".pid");
    auto lock = base::PidFile::acquire(pid_path);
    if (!lock) {
      // Held by a proxy, or not writable (full, read-only): the hint follows
      // what is the case.
      if (base::read_pid_file(pid_path).held()) {
        co_return Failure("a proxy for " + id + " is " + lock.error() + "; stop it with: coral proxy stop " + id);
      }
      const std::string hint = colony::storage_hint(colony::probe_writable(impl->dir.proxies_dir()),
                                                    impl->dir.proxies_dir());
      co_return Failure("cannot lock " + pid_path.string() + ": " + lock.error() + (hint.empty() ? "" : "; " + hint));
    }
    locks.push_back(std::make_unique<base::PidFile>(std::move(*lock)));
  }

  for (std::size_t i = 0; i < impl->options.colonies.size(); ++i) {
    auto link = co_await impl->join(impl->options.colonies[i], progress);
    if (!link) {
      for (auto& joined : impl->links) co_await impl->leave(*joined);
      co_return Failure(link.error());
    }
    (*link)->pid_file = std::move(locks[i]);
    impl->links.push_back(std::move(*link));
  }

  std::vector<Upstream> upstreams;
  for (const auto& link : impl->links) {
    upstreams.push_back(Upstream{link->served.colony_id, link->target, link->transport->dialer()});
  }
  Impl* raw = impl.get();
  impl->forwarder = std::make_unique<Forwarder>(io.get_executor(), std::move(upstreams), [raw] { return raw->health(); });
  base::raise_open_files_limit();  // the connection cap is then the server's (http::ServerOptions)
  impl->server = std::make_unique<http::Server>(io, *impl->forwarder);
  if (auto listening = impl->server->listen(impl->options.listen_host, impl->options.listen_port); !listening) {
    for (auto& link : impl->links) co_await impl->leave(*link);
    co_return Failure("cannot listen on " + listening.error().message() +
                      (listening.error().code == std::errc::address_in_use
                           ? " (another proxy? see: coral proxy list; or choose another port with --port)"
                           : ""));
  }
  impl->server->start();
  const std::string host = impl->options.listen_host.find(':') != std::string::npos
                               ? "[" + impl->options.listen_host + "]"
                               : impl->options.listen_host;
  impl->listen = host + ":" + std::to_string(impl->server->port());

  impl->retry_timer = std::make_unique<asio::steady_timer>(io);
  for (auto& link : impl->links) {
    impl->write_state(*link);
    log::info("proxy serving colony", {{"colony_id", link->served.colony_id},
                                       {"listen", impl->listen},
                                       {"forwarding_to", link->served.forwarding_to},
                                       {"mesh_ipv4", link->served.proxy_mesh_ipv4},
                                       {"mesh_ipv6", link->served.proxy_mesh_ipv6}});
    if (link->retry_registration) asio::co_spawn(io, impl->keep_registering(*link), asio::detached);
    if (!link->registration.colony_secret().empty()) {
      link->heartbeat_timer = std::make_unique<asio::steady_timer>(io);
      asio::co_spawn(io, impl->keep_heartbeating(*link), asio::detached);
    }
  }
  for (const auto& warning : impl->warnings) log::warn("proxy", {{"warning", warning}});
  co_return std::unique_ptr<ProxyRuntime>(new ProxyRuntime(std::move(impl)));
}

std::string ProxyRuntime::listen_address() const { return impl_->listen; }

std::vector<ServedColony> ProxyRuntime::colonies() const {
  std::vector<ServedColony> served;
  for (const auto& link : impl_->links) served.push_back(link->served);
  return served;
}

const std::vector<std::string>& ProxyRuntime::warnings() const { return impl_->warnings; }

std::string ProxyRuntime::health_json() const { return impl_->health(); }

asio::awaitable<void> ProxyRuntime::shutdown(std::chrono::milliseconds grace) {
  impl_->stopping = true;
  if (impl_->retry_timer) impl_->retry_timer->cancel();
  for (auto& link : impl_->links) {
    if (link->heartbeat_timer) link->heartbeat_timer->cancel();
  }
  co_await impl_->server->shutdown(grace);
  impl_->forwarder->close();
  for (auto& link : impl_->links) {
    std::error_code ec;
    std::filesystem::remove(link->state_file, ec);
    co_await impl_->leave(*link);
  }
  for (auto& link : impl_->links) link->pid_file.reset();
}

}  // namespace coral::proxy

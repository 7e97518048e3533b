#include "colony/runtime.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>

#include "base/address.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/memory.h"
#include "colony/admin_server.h"
#include "colony/colony_service.h"
#include "colony/mesh_service.h"
#include "colony/peer_registry.h"
#include "colony/peer_store.h"
#include "colony/provisional_peers.h"
#include "colony/registration.h"
#include "discovery/client.h"
#include "http/server.h"
#include "mesh/registration_address.h"
#include "mesh/wireguard_transport.h"
#include "net/stream.h"
#include "rpc/server.h"

namespace coral::colony {

namespace asio = boost::asio;

struct ColonyRuntime::Impl {
  base::SystemClock clock;
  PeerStore store;
  std::unique_ptr<PeerRegistry> registry;
  std::unique_ptr<ColonyService> colony_service;
  std::unique_ptr<MeshService> mesh_service;
  std::unique_ptr<rpc::Server> rpc;
  std::unique_ptr<http::Server> http;
  std::unique_ptr<AdminServer> admin;  // null when the admin socket could not be served
  // Shared with the registration coroutine: shutdown() only asks it to
  // stop, and a register call in flight then still needs both, after the
  // runtime itself may be gone.
  std::shared_ptr<discovery::DiscoveryClient> discovery;
  std::shared_ptr<RegistrationLoop> registration;
  std::vector<std::string> warnings;

  explicit Impl(PeerStore opened) : store(std::move(opened)) {}

  // With a WireGuard transport, the colony is its mesh's hub: the device's
  // peers are exactly the registry's, each with AllowedIPs of its two mesh
  // addresses. No other key gets an answer.
  mesh::WireGuardTransport* hub = nullptr;
  // On the userspace transport, keys the registry does not know may
  // handshake as provisional peers and call Register over the tunnel
  // (colony/provisional_peers.h). Empty otherwise.
  std::optional<ProvisionalPeers> provisional;
  // Peers the registry let go (unregistered, expired) stay on the device
  // for kDepartureGrace, so that the answer to their Unregister still
  // reaches them; revoked ones go at once. By key: the settings, and when
  // the registry let go of them.
  static constexpr std::chrono::seconds kDepartureGrace{2};
  std::map<crypto::KeyBytes, wireguard::PeerSettings> on_device;
  std::map<crypto::KeyBytes, std::pair<wireguard::PeerSettings, std::chrono::steady_clock::time_point>> departing;

  // Forgets departures past their grace; true when the device must be set again.
  bool sweep_departures(std::chrono::steady_clock::time_point now) {
    return std::erase_if(departing, [now](const auto& entry) { return now - entry.second.second >= kDepartureGrace; }) > 0;
  }

  // Admits an unknown key as a provisional peer, or not (the WireGuard
  // device's unknown-peer handler; runs on the io thread, must not call the
  // device). A revoked key is admitted like any other (capped, limited,
  // forgotten): Register then tells it it was revoked, so that it stops
  // trying and says so, rather than meeting a silence it cannot tell from
  // an outage. It can reach nothing else, and Register never takes it back.
  std::optional<wireguard::PeerSettings> admit_provisional(const crypto::PublicKey& key,
                                                           const wireguard::Endpoint& from) {
    const bool revoked = registry->is_revoked(key);
    if (const auto refused = provisional->admit(key, std::chrono::steady_clock::now())) {
      log::debug("provisional peer refused",
                 {{"peer_pubkey", key.to_base64()},
                  {"remote", from.to_string()},
                  {"reason", *refused == ProvisionalRefusal::full ? "too many provisional peers" : "rate limited"}});
      return std::nullopt;
    }
    const ProvisionalPeers::Entry* entry = provisional->find(key);
    log::info(revoked ? "provisional peer admitted (a revoked key: Register will tell it)" : "provisional peer admitted",
              {{"peer_pubkey", key.to_base64()},
               {"remote", from.to_string()},
               {"registration_address", entry->registration_address}});
    auto settings = mesh::hub_peer(key.to_base64(), "", entry->registration_address);
    if (!settings) return std::nullopt;
    return std::move(*settings);
  }

  void sync_hub_peers() {
    if (hub == nullptr) return;
    auto peers = registry->peers();
    if (!peers) {
      log::error("cannot read the peers for the WireGuard device", {{"error", peers.error().message}});
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    std::vector<wireguard::PeerSettings> settings;
    settings.reserve(peers->size() + (provisional ? provisional->size() : 0));
    for (const Peer& peer : *peers) {
      auto wg_peer = mesh::hub_peer(peer.wireguard_pubkey, peer.mesh_ipv4, peer.mesh_ipv6);
      if (!wg_peer) {
        log::warn("peer left out of the WireGuard device", {{"peer_id", peer.peer_id}, {"error", wg_peer.error()}});
        continue;
      }
      if (provisional) {
        // Registered: no longer provisional. Its registration address
        // stays routed for the grace period (the Register answer is on its way).
        provisional->promote(wg_peer->public_key, now);
        if (const auto* entry = provisional->find(wg_peer->public_key)) {
          if (auto grace = base::Cidr::parse(entry->registration_address + "/128")) {
            wg_peer->allowed_ips.push_back(*grace);
          }
        }
      }
      settings.push_back(std::move(*wg_peer));
    }
    if (provisional) {
      for (const ProvisionalPeers::Entry* entry : provisional->waiting()) {
        if (auto wg_peer = mesh::hub_peer(entry->key.to_base64(), "", entry->registration_address)) {
          settings.push_back(std::move(*wg_peer));
        }
      }
    }
    std::map<crypto::KeyBytes, wireguard::PeerSettings> now_on_device;
    for (const auto& peer : settings) now_on_device.emplace(peer.public_key.bytes(), peer);
    for (auto& [key, peer] : on_device) {
      if (now_on_device.contains(key) || departing.contains(key)) continue;
      if (registry->is_revoked(peer.public_key)) continue;  // cut off at once
      departing.emplace(key, std::pair{std::move(peer), now});
    }
    for (const auto& [key, entry] : departing) {
      if (now_on_device.contains(key)) continue;
      settings.push_back(entry.first);
    }
    std::erase_if(departing, [&](const auto& entry) { return now_on_device.contains(entry.first); });
    on_device = std::move(now_on_device);
    if (auto applied = hub->set_peers(std::move(settings)); !applied) {
      log::error("cannot configure the WireGuard device's peers", {{"error", applied.error()}});
    }
  }

  // Requests from proxy peers are audited: who (peer id), what (procedure)
  // and the outcome, one line each at debug; at info, one summary line per
  // proxy and kAuditPeriod in which it made calls (flush_audit). Only
  // source addresses inside the mesh subnets cost a look-up.
  struct AuditCounts {
    std::uint64_t requests = 0;
    std::uint64_t failed = 0;
  };
  std::map<std::string, AuditCounts> audit_counts;  // by peer id; on the io thread
  std::chrono::steady_clock::time_point audit_since = std::chrono::steady_clock::now();

  // Which source addresses are proxies (their peer id), learnt from the
  // registry once per address and forgotten whenever the registry changes
  // (on_change): the audit then costs no store read per call. Bounded: the
  // sources are peers' addresses (cryptokey routing) or, on the host
  // transport, whatever connects.
  static constexpr std::size_t kAuditCacheMax = 4096;
  std::unordered_map<std::string, std::optional<std::string>> proxy_by_source;

  void audit(const rpc::CallRecord& call) {
    const auto source = base::parse_host_port(call.peer);
    if (!source) return;
    auto cached = proxy_by_source.find(source->host);
    if (cached == proxy_by_source.end()) {
      auto peer = registry->find_by_address(source->host);
      if (!peer) return;  // a store error: try again on the next call
      if (proxy_by_source.size() >= kAuditCacheMax) proxy_by_source.clear();
      std::optional<std::string> proxy;
      if (peer->has_value() && (*peer)->kind == Peer::Kind::proxy) proxy = (*peer)->peer_id;
      cached = proxy_by_source.emplace(source->host, std::move(proxy)).first;
    }
    if (!cached->second) return;
    AuditCounts& counts = audit_counts[*cached->second];
    ++counts.requests;
    if (call.code != rpc::Code::ok) ++counts.failed;
    log::debug("audit: proxy request", {{"peer_id", *cached->second},
                                        {"source", std::string(call.peer)},
                                        {"procedure", std::string(call.procedure)},
                                        {"code", std::string(rpc::to_string(call.code))}});
  }

  void flush_audit() {
    const auto now = std::chrono::steady_clock::now();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - audit_since).count();
    for (const auto& [peer_id, counts] : audit_counts) {
      log::info("audit: proxy requests", {{"peer_id", peer_id},
                                          {"requests", std::to_string(counts.requests)},
                                          {"failed", std::to_string(counts.failed)},
                                          {"seconds", std::to_string(seconds)}});
    }
    audit_counts.clear();
    audit_since = now;
  }

  void expire_peers() {
    auto expired = registry->expire_stale();
    if (!expired) {
      log::error("cannot expire stale peers", {{"error", expired.error().message}});
      return;
    }
    for (const Peer& peer : *expired) {
      log::info("audit: peer expired", {{"peer_id", peer.peer_id},
                                        {"kind", std::string(to_string(peer.kind))},
                                        {"component", peer.component_name},
                                        {"mesh_ipv4", peer.mesh_ipv4},
                                        {"mesh_ipv6", peer.mesh_ipv6},
                                        {"missed_heartbeats", std::to_string(kExpiryHeartbeats)}});
    }
  }

  // Housekeeping on one timer, once a second: wrong-secret summaries, peer
  // expiry (every quarter heartbeat interval), the audit summary (every
  // kAuditPeriod). `stopped` outlives the Impl: the loop checks it before
  // touching anything else.
  static constexpr std::chrono::seconds kAuditPeriod{60};
  std::shared_ptr<asio::steady_timer> housekeeping_timer;
  std::shared_ptr<bool> stopped = std::make_shared<bool>(false);

  static asio::awaitable<void> housekeeping(Impl* impl, std::shared_ptr<asio::steady_timer> timer,
                                            std::shared_ptr<bool> stopped, std::chrono::seconds heartbeat_interval);

  ~Impl() {
    *stopped = true;
    if (housekeeping_timer) housekeeping_timer->cancel();
  }
};

namespace {

// Keeps the loop and its client alive until the loop returns.
asio::awaitable<void> run_registration(std::shared_ptr<discovery::DiscoveryClient> client,
                                       std::shared_ptr<RegistrationLoop> loop) {
  co_await loop->run();
  (void)client;
}

// A caller from a registration address is a provisional peer: Register is
// all it may call. Installed only where provisional peers exist (the
// userspace transport): elsewhere no such caller reaches the server, and
// the check would cost a parse per call for nothing.
rpc::Status provisional_access(std::string_view peer, std::string_view procedure) {
  if (procedure == mesh::v1::kMeshServiceRegisterPath) return {};
  const auto source = base::parse_host_port(peer);
  if (!source || !mesh::is_registration_address(source->host)) return {};
  return rpc::fail(rpc::Code::permission_denied,
                   "not registered: a provisional peer may call MeshService/Register only");
}

}  // namespace

asio::awaitable<void> ColonyRuntime::Impl::housekeeping(Impl* impl, std::shared_ptr<asio::steady_timer> timer,
                                                       std::shared_ptr<bool> stopped,
                                                       std::chrono::seconds heartbeat_interval) {
  const auto expiry_period = std::max<std::chrono::milliseconds>(std::chrono::seconds(1), heartbeat_interval / 4);
  auto next_expiry = std::chrono::steady_clock::now() + expiry_period;
  auto next_audit = std::chrono::steady_clock::now() + kAuditPeriod;
  while (!*stopped) {
    timer->expires_after(std::chrono::seconds(1));
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (*stopped) co_return;
    impl->mesh_service->sweep();
    const auto now = std::chrono::steady_clock::now();
    const bool provisional_changed = impl->provisional && impl->provisional->sweep(now);
    if (impl->sweep_departures(now) || provisional_changed) impl->sync_hub_peers();
    if (now >= next_expiry) {
      impl->expire_peers();
      next_expiry = now + expiry_period;
    }
    if (now >= next_audit) {
      impl->flush_audit();
      next_audit = now + kAuditPeriod;
    }
  }
}

ColonyRuntime::ColonyRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ColonyRuntime::~ColonyRuntime() = default;

std::expected<std::unique_ptr<ColonyRuntime>, std::string> ColonyRuntime::start(asio::io_context& io,
                                                                               const config::ConfigDir& dir,
                                                                               config::ColonyConfig config,
                                                                               mesh::Transport& transport,
                                                                               RuntimeOptions options) {
  if (auto created = dir.create(); !created) return std::unexpected(created.error());
  auto store = PeerStore::open(dir.colony_state(config.colony_id));
  if (!store) return std::unexpected(store.error());
  auto impl = std::make_unique<Impl>(std::move(*store));
  auto registry = PeerRegistry::open(impl->store, config, impl->clock,
                                     RegistryOptions{.heartbeat_interval = options.heartbeat_interval});
  if (!registry) return std::unexpected(registry.error());
  impl->registry = std::move(*registry);
  impl->hub = dynamic_cast<mesh::WireGuardTransport*>(&transport);
  if (impl->hub != nullptr && transport.name() == "userspace") {
    // Registration over the tunnel: the stack takes nothing from link-local
    // sources but TCP to the Connect port (the transport's options), the
    // RPC server serves them Register only (below).
    impl->provisional.emplace(options.provisional);
    impl->hub->set_unknown_peer_handler(
        [raw = impl.get()](const crypto::PublicKey& key, const wireguard::Endpoint& from, wireguard::Time) {
          return raw->admit_provisional(key, from);
        });
  }
  impl->sync_hub_peers();
  // The device's peers follow the registry: registrations, unregistrations,
  // expiries, devices added and revocations (the admin socket) alike.
  impl->registry->on_change([raw = impl.get()] {
    raw->proxy_by_source.clear();
    raw->sync_hub_peers();
  });
  impl->colony_service = std::make_unique<ColonyService>(*impl->registry);
  impl->mesh_service = std::make_unique<MeshService>(*impl->registry);
  impl->rpc = std::make_unique<rpc::Server>(io.get_executor());
  impl->rpc->add(*impl->colony_service);
  impl->rpc->add(*impl->mesh_service);
  if (impl->provisional) impl->rpc->check_access(provisional_access);
  impl->rpc->on_call([raw = impl.get()](const rpc::CallRecord& call) {
    log::debug("call", {{"procedure", std::string(call.procedure)},
                        {"code", std::string(rpc::to_string(call.code))},
                        {"peer", std::string(call.peer)},
                        {"duration_us", std::to_string(call.duration.count())}});
    raw->audit(call);
  });
  // Connections are capped below the open-files limit (http::ServerOptions);
  // raise it first so that the cap is the server's, not the shell's default.
  base::raise_open_files_limit();
  impl->http = std::make_unique<http::Server>(io, *impl->rpc);

  std::vector<std::string> failures;
  for (const std::string& address :
       {base::format_ipv4(config.wireguard.mesh_ipv4), base::format_ipv6(config.wireguard.mesh_ipv6)}) {
    auto listener = transport.listen(address, config.services.connect_port);
    if (listener) {
      impl->http->add_listener(std::move(*listener));
    } else {
      failures.push_back(net::describe_listen_error(address, config.services.connect_port, listener.error()));
    }
  }
  if (impl->http->addresses().empty()) {
    std::string joined;
    for (const auto& failure : failures) joined += (joined.empty() ? "" : "; ") + failure;
    return std::unexpected("cannot serve on the colony's mesh addresses (" + std::string(transport.name()) +
                           " transport): " + joined);
  }
  for (const auto& failure : failures) {
    impl->warnings.push_back("not serving on " + failure);
    log::warn("mesh address not served", {{"transport", std::string(transport.name())}, {"error", failure}});
  }
  impl->http->start();

  // The local admin socket (coral colony peers, revoke): a colony without it still runs.
  AdminServiceOptions admin_options{.public_endpoints = options.public_endpoints,
                                    .wireguard_info = options.wireguard_info,
                                    .colony_file = dir.colony_file(config.colony_id)};
  if (impl->hub != nullptr && !admin_options.wireguard_info) {
    admin_options.wireguard_info = [hub = impl->hub] {
      std::map<std::string, PeerWireGuardInfo> facts;
      for (const auto& peer : hub->snapshot().peers) {
        facts[peer.public_key.to_base64()] = PeerWireGuardInfo{
            .endpoint = peer.endpoint ? peer.endpoint->to_string() : std::string(),
            .latest_handshake = peer.last_handshake,
            .rx_bytes = peer.rx_bytes,
            .tx_bytes = peer.tx_bytes,
        };
      }
      return facts;
    };
  }
  // ColonyService too: the CLI on this host reaches the colony there
  // whatever carries its mesh (cli/colony_reach.h).
  auto admin = AdminServer::start(io, dir.admin_socket(config.colony_id), *impl->registry, std::move(admin_options),
                                  {impl->colony_service.get()});
  if (admin) {
    impl->admin = std::move(*admin);
  } else {
    impl->warnings.push_back("no admin socket (coral colony peers and revoke will not work): " + admin.error());
    log::warn("admin socket not served", {{"error", admin.error()}});
  }

  if (config.discovery.auto_register) {
    auto client = discovery::DiscoveryClient::create(io.get_executor(), config.discovery.endpoint);
    if (!client) return std::unexpected("discovery.endpoint: " + client.error());
    impl->discovery = std::move(*client);
    impl->registration = std::make_shared<RegistrationLoop>(
        io.get_executor(), *impl->discovery, registration_request(config, options.public_endpoints),
        config.discovery.register_interval, config.wireguard.private_key,
        registration_status_file(dir, config.colony_id));
    asio::co_spawn(io, run_registration(impl->discovery, impl->registration), asio::detached);
  }

  impl->housekeeping_timer = std::make_shared<asio::steady_timer>(io);
  asio::co_spawn(io,
                 Impl::housekeeping(impl.get(), impl->housekeeping_timer, impl->stopped, options.heartbeat_interval),
                 asio::detached);

  std::string served;
  for (const auto& address : impl->http->addresses()) served += (served.empty() ? "" : " ") + address;
  log::info("colony running", {{"colony_id", config.colony_id},
                               {"transport", std::string(transport.name())},
                               {"addresses", served},
                               {"state", impl->store.path().string()},
                               {"peers", std::to_string(impl->registry->addresses_in_use())}});
  return std::unique_ptr<ColonyRuntime>(new ColonyRuntime(std::move(impl)));
}

std::vector<std::string> ColonyRuntime::addresses() const { return impl_->http->addresses(); }

const std::vector<std::string>& ColonyRuntime::warnings() const { return impl_->warnings; }

std::filesystem::path ColonyRuntime::admin_socket() const {
  return impl_->admin ? impl_->admin->socket_path() : std::filesystem::path();
}

asio::awaitable<void> ColonyRuntime::shutdown(std::chrono::milliseconds grace) {
  if (impl_->registration) impl_->registration->stop();
  *impl_->stopped = true;
  if (impl_->housekeeping_timer) impl_->housekeeping_timer->cancel();
  if (impl_->admin) co_await impl_->admin->shutdown(grace);
  co_await impl_->http->shutdown(grace);
  // After the calls that were in flight: they count too.
  impl_->mesh_service->sweep(/*final=*/true);
  impl_->flush_audit();
}

}  // namespace coral::colony

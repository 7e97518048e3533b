#include "colony/runtime.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "base/address.h"
#include "base/clock.h"
#include "base/log.h"
#include "colony/colony_service.h"
#include "colony/mesh_service.h"
#include "colony/peer_registry.h"
#include "colony/peer_store.h"
#include "colony/registration.h"
#include "discovery/client.h"
#include "http/server.h"
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
  // Shared with the registration coroutine: shutdown() only asks it to
  // stop, and a register call in flight then still needs both, after the
  // runtime itself may be gone.
  std::shared_ptr<discovery::DiscoveryClient> discovery;
  std::shared_ptr<RegistrationLoop> registration;
  std::vector<std::string> warnings;

  explicit Impl(PeerStore opened) : store(std::move(opened)) {}

  // Requests from proxy peers are audited: who (peer id), what (procedure)
  // and the outcome. Only source addresses inside the mesh subnets cost a
  // look-up.
  void audit(const rpc::CallRecord& call) {
    const auto source = base::parse_host_port(call.peer);
    if (!source) return;
    auto peer = registry->find_by_address(source->host);
    if (!peer || !peer->has_value() || (*peer)->kind != Peer::Kind::proxy) return;
    log::info("audit: proxy request", {{"peer_id", (*peer)->peer_id},
                                       {"source", std::string(call.peer)},
                                       {"procedure", std::string(call.procedure)},
                                       {"code", std::string(rpc::to_string(call.code))}});
  }
};

namespace {

// Keeps the loop and its client alive until the loop returns.
asio::awaitable<void> run_registration(std::shared_ptr<discovery::DiscoveryClient> client,
                                       std::shared_ptr<RegistrationLoop> loop) {
  co_await loop->run();
  (void)client;
}

}  // namespace

ColonyRuntime::ColonyRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ColonyRuntime::~ColonyRuntime() = default;

std::expected<std::unique_ptr<ColonyRuntime>, std::string> ColonyRuntime::start(asio::io_context& io,
                                                                               const ConfigDir& dir,
                                                                               ColonyConfig config,
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
  impl->colony_service = std::make_unique<ColonyService>(*impl->registry);
  impl->mesh_service = std::make_unique<MeshService>(*impl->registry);
  impl->rpc = std::make_unique<rpc::Server>(io.get_executor());
  impl->rpc->add(*impl->colony_service);
  impl->rpc->add(*impl->mesh_service);
  impl->rpc->on_call([raw = impl.get()](const rpc::CallRecord& call) {
    log::debug("call", {{"procedure", std::string(call.procedure)},
                        {"code", std::string(rpc::to_string(call.code))},
                        {"peer", std::string(call.peer)},
                        {"duration_us", std::to_string(call.duration.count())}});
    raw->audit(call);
  });
  impl->http = std::make_unique<http::Server>(io, *impl->rpc);

  std::vector<std::string> failures;
  for (const std::string& address :
       {base::format_ipv4(config.wireguard.mesh_ipv4), base::format_ipv6(config.wireguard.mesh_ipv6)}) {
    auto listener = transport.listen(address, config.services.connect_port);
    if (listener) {
      impl->http->add_listener(std::move(*listener));
    } else {
      failures.push_back(listener.error());
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

asio::awaitable<void> ColonyRuntime::shutdown(std::chrono::milliseconds grace) {
  if (impl_->registration) impl_->registration->stop();
  co_await impl_->http->shutdown(grace);
}

}  // namespace coral::colony

#include "member/membership.h"

#include <algorithm>
#include <array>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/address.h"
#include "base/log.h"
#include "coral/mesh/v1/mesh.coral.h"
#include "crypto/keys.h"
#include "discovery/client.h"
#include "discovery/validation.h"
#include "member/address_choice.h"
#include "mesh/host_transport.h"
#include "net/dialer.h"
#include "rpc/http_channel.h"

namespace coral::member {

namespace asio = boost::asio;
namespace mv1 = coral::mesh::v1;

// How long a dial to a colony's mesh address may take (the host transport's;
// dial errors name it: "connection timed out after 5000 ms").
constexpr std::chrono::milliseconds kConnectTimeout{5000};

std::string_view to_string(Standing standing) {
  switch (standing) {
    case Standing::no_secret: return "not registered (no colony secret here)";
    case Standing::retrying: return "registering (colony not reachable yet)";
    case Standing::registered: return "registered";
    case Standing::refused: return "refused";
    case Standing::left: return "left";
  }
  return "?";
}

struct Membership::State {
  asio::io_context& io;
  JoinOptions options;
  ColonyEndpoint colony;
  std::unique_ptr<mesh::Transport> transport;
  crypto::SecretKey key = crypto::SecretKey::generate();
  std::string pubkey = key.public_key().to_base64();
  mv1::RegisterRequest registration;  // holds the colony secret: memory only
  Standing standing = Standing::no_secret;
  std::string peer_id;
  std::string mesh_ipv4;
  std::string mesh_ipv6;
  std::vector<std::string> warnings;
  std::uint64_t register_attempts = 0;
  std::function<void()> on_registered;
  // Each membership's own timers (a shared one would let one colony's wait
  // cancel another's).
  asio::steady_timer retry_timer{io};
  asio::steady_timer heartbeat_timer{io};
  bool stopping = false;

  State(asio::io_context& io_, JoinOptions options_) : io(io_), options(std::move(options_)) {}
  ~State() { crypto::wipe(*registration.mutable_colony_secret()); }

  rpc::ChannelOptions channel() const {
    return rpc::h2c_proto_options(http::Url{colony.target.host, colony.target.port, {}}, transport->dialer(),
                                  options.call_timeout);
  }
  rpc::CallOptions call() const {
    return {.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.call_timeout), .headers = {}};
  }

  asio::awaitable<rpc::Result<bool>> register_once();
  asio::awaitable<void> keep_registering(std::shared_ptr<State> self);
  asio::awaitable<void> keep_heartbeating(std::shared_ptr<State> self);
  void registered_again(std::string_view what);
};

namespace {

// The key discovery returned must be the one of the local config. The
// error names both keys (public keys: what `wg show` prints).
std::expected<void, std::string> check_pinned(const config::ColonyConfig& config,
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

bool retryable(rpc::Code code) { return code == rpc::Code::unavailable || code == rpc::Code::deadline_exceeded; }

// Sleeps on `timer` for `delay`; false when the wait was cut short
// (cancelled: the membership is leaving).
asio::awaitable<bool> sleep_for(asio::steady_timer& timer, std::chrono::milliseconds delay) {
  timer.expires_after(delay);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

}  // namespace

asio::awaitable<rpc::Result<bool>> Membership::State::register_once() {
  ++register_attempts;
  rpc::HttpChannel channel(io.get_executor(), this->channel());
  mv1::MeshServiceClient client(channel);
  auto registered = co_await client.Register(registration, call());
  if (!registered) co_return std::unexpected(std::move(registered.error()));
  standing = Standing::registered;
  peer_id = registered->peer_id();
  mesh_ipv4 = registered->mesh_ipv4();
  mesh_ipv6 = registered->mesh_ipv6();
  transport->set_mesh_addresses(mesh_ipv4, mesh_ipv6);
  co_return true;
}

void Membership::State::registered_again(std::string_view what) {
  log::info(what, {{"colony_id", colony.colony_id},
                   {"peer_id", peer_id},
                   {"mesh_ipv4", mesh_ipv4},
                   {"mesh_ipv6", mesh_ipv6}});
  if (on_registered) on_registered();
}

asio::awaitable<void> Membership::State::keep_registering([[maybe_unused]] std::shared_ptr<State> self) {
  auto delay = options.retry.first;
  while (!stopping && standing == Standing::retrying) {
    if (!co_await sleep_for(retry_timer, delay) || stopping) co_return;
    auto registered = co_await register_once();
    if (stopping) co_return;
    if (registered) {
      registered_again("registered with colony as a mesh peer");
      co_return;
    }
    if (!retryable(registered.error().code)) {
      standing = Standing::refused;
      log::warn("registration refused; not retrying", {{"colony_id", colony.colony_id},
                                                      {"error", registered.error().message}});
      co_return;
    }
    delay = std::min(delay * 2, options.retry.max);
  }
}

asio::awaitable<void> Membership::State::keep_heartbeating([[maybe_unused]] std::shared_ptr<State> self) {
  // The first after 1 s; then at the interval the colony asks for.
  std::chrono::milliseconds interval{1000};
  while (!stopping) {
    if (!co_await sleep_for(heartbeat_timer, interval) || stopping) co_return;
    if (standing != Standing::registered) continue;  // not registered (yet)
    rpc::HttpChannel channel(io.get_executor(), this->channel());
    mv1::MeshServiceClient client(channel);
    mv1::HeartbeatRequest request;
    request.set_peer_id(peer_id);
    request.set_wireguard_pubkey(pubkey);
    request.set_status("healthy");
    auto beat = co_await client.Heartbeat(request, call());
    if (stopping) co_return;
    if (beat) {
      interval = std::clamp<std::chrono::milliseconds>(std::chrono::seconds(beat->heartbeat_interval_seconds()),
                                                      std::chrono::seconds(1), std::chrono::hours(1));
      continue;
    }
    if (beat.error().code == rpc::Code::not_found) {
      // Expired (the colony heard nothing for too long) or its state reset.
      auto registered = co_await register_once();
      if (stopping) co_return;
      if (registered) registered_again("registered with colony again as a mesh peer");
    }
  }
}

asio::awaitable<std::expected<std::unique_ptr<Membership>, std::string>> Membership::join(
    asio::io_context& io, const config::ConfigDir& dir, JoinOptions options, Progress progress) {
  using Failure = std::unexpected<std::string>;
  const std::string id = options.colony_id;
  progress("Resolving colony: " + id);
  auto state = std::make_shared<State>(io, std::move(options));
  ColonyEndpoint& colony = state->colony;
  colony.colony_id = id;

  // The local config, when this machine has the colony: its discovery
  // endpoint and mesh id, and the secret to register with.
  std::optional<config::ColonyConfig> config;
  if (std::filesystem::exists(dir.colony_file(id))) {
    auto loaded = dir.load_colony(id);
    if (!loaded) co_return Failure(loaded.error());
    config = std::move(*loaded);
  }
  // A colony whose mesh lives in its own userspace stack is reached only
  // over its WireGuard tunnel; dialling its mesh addresses from the host
  // network would send them wherever the host's default route goes.
  if (config && config->wireguard.mesh == config::MeshTransport::userspace) {
    co_return Failure("colony " + id + " carries its mesh in a userspace stack (wireguard.mesh: userspace in " +
                      dir.colony_file(id).string() +
                      "); members join it over its WireGuard tunnel, which this release's proxy does not do yet: "
                      "run the colony with --mesh tun or --mesh host to use a proxy, or reach it from a WireGuard "
                      "peer (coral colony peers add)");
  }
  const std::string mesh_id = config ? config->discovery.mesh_id : id;
  const std::string endpoint = !state->options.discovery.empty() ? state->options.discovery
                               : config                          ? config->discovery.endpoint
                                                                 : state->options.default_discovery;
  colony.discovery = endpoint;
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
  colony.mesh_ipv4 = found->mesh_ipv4();
  colony.mesh_ipv6 = found->mesh_ipv6();
  colony.connect_port = static_cast<std::uint16_t>(found->connect_port());
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
    if (colony.mesh_ipv4 != pinned_ipv4 || colony.mesh_ipv6 != pinned_ipv6 ||
        colony.connect_port != config->services.connect_port) {
      state->warnings.push_back("discovery at " + endpoint + " announced other mesh addresses for colony " + id +
                                " (" + discovery::quote(found->mesh_ipv4()) + " / " +
                                discovery::quote(found->mesh_ipv6()) + " port " +
                                std::to_string(found->connect_port()) +
                                ") than its local config; using the local config's (" + pinned_ipv4 + " / " +
                                pinned_ipv6 + " port " + port + ")");
    }
    colony.mesh_ipv4 = std::move(pinned_ipv4);
    colony.mesh_ipv6 = std::move(pinned_ipv6);
    colony.connect_port = config->services.connect_port;
  }
  if (colony.connect_port == 0 || (colony.mesh_ipv4.empty() && colony.mesh_ipv6.empty())) {
    co_return Failure("colony " + id + " registered no mesh address and Connect port with " + endpoint +
                      " (an older colony?)");
  }
  std::string endpoints;
  for (const auto& public_endpoint : found->public_endpoints()) {
    endpoints += (endpoints.empty() ? "" : ", ") + public_endpoint;
  }
  progress(" ↳ Colony endpoint: " + (endpoints.empty() ? std::string("none announced") : endpoints) +
           " (mesh IPs: " + colony.mesh_ipv4 + " / " + colony.mesh_ipv6 + ")");

  state->transport = mesh::make_host_transport(io.get_executor(), {.connect_timeout = kConnectTimeout});
  progress(" ↳ Mesh transport: host (this host reaches the colony's mesh addresses)");
  std::vector<std::string> candidates;
  const bool ipv6_first = colony.mesh_ipv4.empty() || state->options.prefer_ipv6;
  for (const std::string* address : ipv6_first ? std::array{&colony.mesh_ipv6, &colony.mesh_ipv4}
                                               : std::array{&colony.mesh_ipv4, &colony.mesh_ipv6}) {
    if (!address->empty()) candidates.push_back(*address);
  }
  // Named: g++ 12 mishandles temporaries around co_await.
  const net::Dialer dial = state->transport->dialer();
  const AddressChoice choice =
      co_await choose_address(dial, candidates, colony.connect_port, kConnectTimeout, progress);
  colony.target = choice.target;
  const std::string& unreachable = choice.unreachable;
  if (!unreachable.empty()) {
    state->warnings.push_back("colony " + id + " is not reachable yet (" + unreachable +
                              "); calls fail until it is, then the proxy connects by itself");
  }

  if (!config) {
    state->warnings.push_back("not registered with colony " + id +
                              " as a mesh peer: no local config with its colony secret (" +
                              dir.colony_file(id).string() + ")");
  } else {
    progress(" ↳ Registering as " + state->options.component_name + " peer...");
    state->registration.set_colony_id(config->colony_id);
    state->registration.set_colony_secret(config->colony_secret);
    crypto::wipe(config->colony_secret);
    state->registration.set_wireguard_pubkey(state->pubkey);
    state->registration.set_component_name(state->options.component_name);
    state->registration.set_kind(state->options.kind);
    auto registered = co_await state->register_once();
    if (registered) {
      progress(" ↳ Assigned mesh IPs: " + state->mesh_ipv4 + " / " + state->mesh_ipv6);
    } else {
      state->warnings.push_back("not registered with colony " + id + " as a mesh peer yet: " +
                                registered.error().message);
      state->standing = retryable(registered.error().code) ? Standing::retrying : Standing::refused;
    }
  }
  co_return std::unique_ptr<Membership>(new Membership(std::move(state)));
}

Membership::Membership(std::shared_ptr<State> state) : state_(std::move(state)) {}

Membership::~Membership() {
  // The loops hold the state; they end at their next step.
  state_->stopping = true;
  state_->on_registered = nullptr;
  state_->retry_timer.cancel();
  state_->heartbeat_timer.cancel();
}

void Membership::start() {
  if (state_->standing == Standing::retrying) {
    asio::co_spawn(state_->io, state_->keep_registering(state_), asio::detached);
  }
  if (!state_->registration.colony_secret().empty()) {
    asio::co_spawn(state_->io, state_->keep_heartbeating(state_), asio::detached);
  }
}

asio::awaitable<LeaveResult> Membership::leave() {
  auto state = state_;
  state->stopping = true;
  state->retry_timer.cancel();
  state->heartbeat_timer.cancel();
  const bool was_registered = state->standing == Standing::registered;
  state->standing = Standing::left;
  if (!was_registered) co_return LeaveResult{};
  rpc::HttpChannel channel(state->io.get_executor(), state->channel());
  mv1::MeshServiceClient client(channel);
  mv1::UnregisterRequest request;
  request.set_peer_id(state->peer_id);
  request.set_wireguard_pubkey(state->pubkey);
  auto done = co_await client.Unregister(request, state->call());
  if (!done) {
    log::warn("unregister failed", {{"colony_id", state->colony.colony_id}, {"error", done.error().message}});
    co_return LeaveResult{.outcome = LeaveOutcome::failed, .error = done.error().message};
  }
  co_return LeaveResult{.outcome = LeaveOutcome::unregistered, .error = {}};
}

const ColonyEndpoint& Membership::colony() const { return state_->colony; }
mesh::Transport& Membership::transport() { return *state_->transport; }
Standing Membership::standing() const { return state_->standing; }
const std::string& Membership::peer_id() const { return state_->peer_id; }
const std::string& Membership::mesh_ipv4() const { return state_->mesh_ipv4; }
const std::string& Membership::mesh_ipv6() const { return state_->mesh_ipv6; }
const std::string& Membership::public_key() const { return state_->pubkey; }
const std::vector<std::string>& Membership::warnings() const { return state_->warnings; }
std::uint64_t Membership::register_attempts() const { return state_->register_attempts; }
void Membership::on_registered(std::function<void()> callback) { state_->on_registered = std::move(callback); }

}  // namespace coral::member

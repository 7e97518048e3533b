// member::Membership on the userspace transport against a real colony
// (ColonyRuntime on its own userspace transport), in one process over
// loopback UDP: the member joins as RFD 005 designs it — discovery lookup,
// WireGuard handshake with the colony's public endpoint, Register over the
// tunnel from its registration address as a provisional peer — and then
// talks to the colony over the mesh. The mesh addresses (10.42.0.0/16,
// fd42::/64) exist only inside the two userspace stacks.
//
// Also: what a provisional peer can reach (Register, nothing else); a wrong
// secret; revocation (the member stops and says so); a handshake flood from
// 2,000 unknown keys (cookies engage, admissions stay within the
// provisional limits, the member is served throughout); a colony restart (the
// member heals by itself and keeps its addresses); a member file on a
// "machine" that does not hold the colony's file.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "base/address.h"
#include "base/cidr.h"
#include "bounded_io.h"
#include "colony/runtime.h"
#include "config/colony_file.h"
#include "config/config_dir.h"
#include "coral/colony/v1/admin.coral.h"
#include "coral/colony/v1/colony.coral.h"
#include "crypto/keys.h"
#include "in_process_discovery.h"
#include "member/membership.h"
#include "member/tunnel.h"
#include "mesh/wireguard_transport.h"
#include "net/unix.h"
#include "rpc/http_channel.h"
#include "wireguard/engine.h"
#include "wireguard/messages.h"

namespace coral::member {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace cv1 = coral::colony::v1;
using coral::testing::run;
using coral::testing::run_until;
using namespace std::chrono_literals;

constexpr std::uint16_t kConnectPort = 9000;

config::ColonyConfig colony_config(const std::string& id) {
  config::ColonyConfig config;
  config.colony_id = id;
  config.app_name = "shop";
  config.environment = "test";
  config.wireguard.private_key = crypto::SecretKey::generate();
  config.wireguard.public_key = config.wireguard.private_key.public_key();
  config.wireguard.mesh_ipv4 = *base::parse_ipv4("10.42.0.1");
  config.wireguard.mesh_ipv6 = *base::parse_ipv6("fd42::1");
  config.wireguard.mesh_network_ipv4 = base::Cidr::parse("10.42.0.0/16").value();
  config.wireguard.mesh_network_ipv6 = base::Cidr::parse("fd42::/64").value();
  config.wireguard.mesh = config::MeshTransport::userspace;
  config.services.connect_port = kConnectPort;
  config.services.dashboard_port = 3000;
  config.discovery.mesh_id = id;
  config.discovery.auto_register = false;
  config.colony_secret = crypto::generate_colony_secret();
  return config;
}

fs::path temp_root(const std::string& what) {
  return fs::temp_directory_path() / ("coral-tunnel-" + std::to_string(::getpid()) + "-" + what + "-" +
                                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

class TunnelMembershipTest : public ::testing::Test {
 protected:
  TunnelMembershipTest()
      : colony_root_(temp_root("colony")),
        colony_dir_(colony_root_),
        discovery_(io_) {
    fs::remove_all(colony_root_);
    EXPECT_TRUE(colony_dir_.create());
    config_ = colony_config("tunnel-colony");
    config_.discovery.endpoint = discovery_.url();
    EXPECT_TRUE(colony_dir_.save_colony(config_));
  }
  ~TunnelMembershipTest() override {
    member_.reset();
    stop_colony();
    fs::remove_all(colony_root_);
    if (!operator_root_.empty()) fs::remove_all(operator_root_);
  }

  // Another machine's config directory holding only `member` (what `coral
  // colony import` stores): no colony file, no colony private key.
  config::ConfigDir operator_machine(const config::MemberConfig& member) {
    operator_root_ = temp_root("operator");
    fs::remove_all(operator_root_);
    config::ConfigDir dir(operator_root_);
    EXPECT_TRUE(dir.create());
    EXPECT_TRUE(dir.save_member(member));
    EXPECT_FALSE(fs::exists(dir.colony_file(config_.colony_id)));
    return dir;
  }
  config::MemberConfig member_view() const {
    return config::member_view(config_, {"127.0.0.1:" + std::to_string(udp_port_)});
  }

  // The colony's WireGuard device and services; `port` 0: any free UDP port.
  void start_colony(std::uint16_t port = 0) {
    mesh::WireGuardTransportOptions options;
    options.private_key = config_.wireguard.private_key;
    options.listen_port = port;
    options.ipv4 = "10.42.0.1";
    options.ipv6 = "fd42::1";
    options.link_local_tcp_port = kConnectPort;
    auto transport = mesh::make_userspace_transport(io_, std::move(options));
    ASSERT_TRUE(transport) << transport.error();
    colony_transport_ = std::move(*transport);
    colony::RuntimeOptions runtime_options;
    runtime_options.heartbeat_interval = 1s;
    ::testing::internal::CaptureStderr();
    auto runtime = colony::ColonyRuntime::start(io_, colony_dir_, config_, *colony_transport_, runtime_options);
    ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(runtime) << runtime.error();
    colony_ = std::move(*runtime);
    udp_port_ = colony_transport_->listen_port();
    announce();
  }

  void stop_colony() {
    if (colony_) {
      auto done = run(io_, [](colony::ColonyRuntime& runtime) -> asio::awaitable<bool> {
        co_await runtime.shutdown(200ms);
        co_return true;
      }(*colony_));
      EXPECT_TRUE(done);
    }
    colony_.reset();
    colony_transport_.reset();
  }

  // What the colony registers with discovery: its key, mesh addresses and
  // public endpoint (loopback here).
  void announce() {
    discovery::ColonyRecord record;
    record.mesh_id = config_.discovery.mesh_id;
    record.wireguard_pubkey = config_.wireguard.public_key.to_base64();
    record.public_endpoints = {"127.0.0.1:" + std::to_string(udp_port_)};
    record.mesh_ipv4 = "10.42.0.1";
    record.mesh_ipv6 = "fd42::1";
    record.connect_port = kConnectPort;
    discovery_.put(std::move(record));
  }

  JoinOptions options() {
    JoinOptions join;
    join.colony_id = config_.colony_id;
    join.retry = Backoff{.first = 200ms, .max = 1s};
    join.call_timeout = 2s;
    join.handshake_timeout = 1s;
    return join;
  }

  std::unique_ptr<Membership> join(const config::ConfigDir& dir, JoinOptions join_options) {
    std::vector<std::string> lines;
    auto joined = run(io_, Membership::join(io_, dir, join_options, [&](const std::string& line) {
      lines.push_back(line);
    }));
    EXPECT_TRUE(joined && *joined) << (joined && !*joined ? joined->error() : "timed out");
    if (!joined || !*joined) return nullptr;
    progress_ = lines;
    return std::move(**joined);
  }

  // ColonyService.GetStatus to the colony's `address` over `dialer`.
  rpc::Result<cv1::GetStatusResponse> get_status(net::Dialer dialer, const std::string& address) {
    auto result = run(io_, [](asio::io_context& io, net::Dialer dial,
                              std::string host) -> asio::awaitable<rpc::Result<cv1::GetStatusResponse>> {
      rpc::HttpChannel channel(io.get_executor(),
                               rpc::h2c_proto_options(http::Url{host, kConnectPort, {}}, std::move(dial), 2s));
      cv1::ColonyServiceClient client(channel);
      const cv1::GetStatusRequest request;
      auto status = co_await client.GetStatus(request, rpc::CallOptions{.timeout = 2s, .headers = {}});
      co_return status;
    }(io_, std::move(dialer), address));
    if (!result) return rpc::fail(rpc::Code::deadline_exceeded, "test timed out");
    return std::move(*result);
  }

  rpc::Result<cv1::RevokePeerResponse> revoke(const std::string& selector) {
    auto result = run(io_, [](asio::io_context& io, fs::path socket,
                              std::string who) -> asio::awaitable<rpc::Result<cv1::RevokePeerResponse>> {
      rpc::HttpChannel channel(io.get_executor(), rpc::h2c_proto_options(http::Url{"localhost", 80, {}},
                                                                         net::unix_dialer(io.get_executor(), socket), 2s));
      cv1::AdminServiceClient client(channel);
      cv1::RevokePeerRequest request;
      request.set_selector(who);
      auto revoked = co_await client.RevokePeer(request, rpc::CallOptions{.timeout = 2s, .headers = {}});
      co_return revoked;
    }(io_, colony_->admin_socket(), selector));
    if (!result) return rpc::fail(rpc::Code::deadline_exceeded, "test timed out");
    return std::move(*result);
  }

  asio::io_context io_{1};
  fs::path colony_root_;
  fs::path operator_root_;
  config::ConfigDir colony_dir_;
  testing::InProcessDiscovery discovery_;
  config::ColonyConfig config_;
  std::unique_ptr<mesh::WireGuardTransport> colony_transport_;
  std::unique_ptr<colony::ColonyRuntime> colony_;
  std::uint16_t udp_port_ = 0;
  std::unique_ptr<Membership> member_;
  std::vector<std::string> progress_;
};

bool contains(const std::vector<std::string>& lines, std::string_view text) {
  for (const auto& line : lines) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST_F(TunnelMembershipTest, JoinsOverTheTunnelRegistersAndReachesTheColonyOnBothFamilies) {
  start_colony();
  member_ = join(colony_dir_, options());
  ASSERT_TRUE(member_);
  ASSERT_EQ(member_->standing(), Standing::registered) << member_->problem();
  EXPECT_EQ(member_->transport().name(), "userspace");
  EXPECT_EQ(member_->mesh_ipv4(), "10.42.0.2");
  EXPECT_EQ(member_->mesh_ipv6(), "fd42::2");
  EXPECT_TRUE(contains(progress_, " ↳ Colony endpoint: 127.0.0.1:" + std::to_string(udp_port_) +
                                      " (mesh IPs: 10.42.0.1 / fd42::1)"));
  EXPECT_TRUE(contains(progress_, " ↳ Establishing WireGuard tunnel..."));
  EXPECT_TRUE(contains(progress_, " ↳ Registering as proxy peer..."));
  EXPECT_TRUE(contains(progress_, " ↳ Assigned mesh IPs: 10.42.0.2 / fd42::2"));
  const auto tunnel = member_->tunnel();
  ASSERT_TRUE(tunnel);
  EXPECT_EQ(tunnel->endpoint, "127.0.0.1:" + std::to_string(udp_port_));
  EXPECT_TRUE(tunnel->last_handshake.has_value());

  for (const std::string address : {"10.42.0.1", "fd42::1"}) {
    auto status = get_status(member_->transport().dialer(), address);
    ASSERT_TRUE(status) << address << ": " << status.error().message;
    EXPECT_EQ(status->colony_id(), "tunnel-colony");
  }
  // Heartbeats keep it registered.
  member_->start();
  run_until(io_, [] { return false; }, 2500ms);
  EXPECT_EQ(member_->standing(), Standing::registered);
  EXPECT_EQ(run(io_, member_->leave())->outcome, LeaveOutcome::unregistered);
}

TEST_F(TunnelMembershipTest, AMemberFileIsAllAnotherMachineNeeds) {
  start_colony();
  const config::ConfigDir operator_dir = operator_machine(member_view());
  member_ = join(operator_dir, options());
  ASSERT_TRUE(member_);
  EXPECT_EQ(member_->standing(), Standing::registered) << member_->problem();
  auto status = get_status(member_->transport().dialer(), "10.42.0.1");
  EXPECT_TRUE(status) << status.error().message;
  EXPECT_EQ(run(io_, member_->leave())->outcome, LeaveOutcome::unregistered);
}

TEST_F(TunnelMembershipTest, DiscoveryDownTheMemberFilesEndpointsServe) {
  start_colony();
  auto view = member_view();
  view.discovery_endpoint = "http://127.0.0.1:9";  // nothing listens there
  const config::ConfigDir operator_dir = operator_machine(view);
  member_ = join(operator_dir, options());
  ASSERT_TRUE(member_);
  EXPECT_EQ(member_->standing(), Standing::registered) << member_->problem();
  ASSERT_EQ(member_->warnings().size(), 1u);
  const std::string& warning = member_->warnings().front();
  EXPECT_NE(warning.find("discovery at http://127.0.0.1:9 is not reachable"), std::string::npos) << warning;
  EXPECT_NE(warning.find("using the public endpoints of " + operator_dir.member_file(config_.colony_id).string()),
            std::string::npos)
      << warning;
  EXPECT_EQ(member_->tunnel()->endpoint, "127.0.0.1:" + std::to_string(udp_port_));
  EXPECT_EQ(run(io_, member_->leave())->outcome, LeaveOutcome::unregistered);
}

TEST_F(TunnelMembershipTest, AProvisionalPeerReachesRegisterAndNothingElse) {
  start_colony();
  TunnelOptions tunnel_options{.private_key = crypto::SecretKey::generate(),
                               .colony_key = config_.wireguard.public_key,
                               .colony_subnets = {config_.wireguard.mesh_network_ipv4,
                                                  config_.wireguard.mesh_network_ipv6},
                               .handshake_timeout = 1s,
                               .connect_timeout = 1s};
  auto tunnel = Tunnel::open(io_, std::move(tunnel_options));
  ASSERT_TRUE(tunnel) << tunnel.error();
  auto established = run(io_, (*tunnel)->establish({"127.0.0.1:" + std::to_string(udp_port_)},
                                                   [](const std::string&) {}));
  ASSERT_TRUE(established && *established) << (established ? established->error() : "timed out");
  // The colony's other services answer a provisional peer permission_denied.
  auto status = get_status((*tunnel)->registration_dialer(), "fd42::1");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, rpc::Code::permission_denied) << status.error().message;
  // Its own mesh address is nothing it may use: it has none, and a source
  // outside its registration address is dropped by the colony.
  (*tunnel)->transport().set_mesh_addresses("10.42.0.99", "fd42::99");
  auto spoofed = get_status((*tunnel)->transport().dialer(), "10.42.0.1");
  ASSERT_FALSE(spoofed);
  EXPECT_TRUE(spoofed.error().code == rpc::Code::unavailable || spoofed.error().code == rpc::Code::deadline_exceeded)
      << spoofed.error().message;
}

// Over the tunnel a member that may not register can reach nothing: the
// join fails, naming the step and what to do.
TEST_F(TunnelMembershipTest, AWrongSecretIsRefusedAndFinal) {
  start_colony();
  auto view = member_view();
  view.colony_secret = crypto::generate_colony_secret();
  const config::ConfigDir operator_dir = operator_machine(view);
  ::testing::internal::CaptureStderr();
  auto joined = run(io_, Membership::join(io_, operator_dir, options(), [](const std::string&) {}));
  ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(joined);
  ASSERT_FALSE(*joined);
  EXPECT_NE(joined->error().find("registration refused: wrong colony secret"), std::string::npos) << joined->error();
  EXPECT_NE(joined->error().find("coral colony invite"), std::string::npos) << joined->error();
}

TEST_F(TunnelMembershipTest, ARevokedMemberIsCutOffStopsTryingAndSaysSo) {
  start_colony();
  member_ = join(colony_dir_, options());
  ASSERT_TRUE(member_);
  ASSERT_EQ(member_->standing(), Standing::registered) << member_->problem();
  member_->start();
  ASSERT_TRUE(get_status(member_->transport().dialer(), "10.42.0.1"));
  ::testing::internal::CaptureStderr();
  auto revoked = revoke(member_->peer_id());
  ASSERT_TRUE(revoked) << revoked.error().message;
  // Cut off at once: its sessions are gone.
  auto after = get_status(member_->transport().dialer(), "10.42.0.1");
  EXPECT_FALSE(after);
  // It learns it was revoked (not merely unreachable), and stops.
  EXPECT_TRUE(run_until(io_, [&] { return member_->standing() == Standing::revoked; }, 20s))
      << to_string(member_->standing()) << ": " << member_->problem();
  ::testing::internal::GetCapturedStderr();
  EXPECT_NE(member_->problem().find("revoked"), std::string::npos) << member_->problem();
}

TEST_F(TunnelMembershipTest, AColonyRestartHealsByItselfWithTheSameAddresses) {
  start_colony();
  member_ = join(colony_dir_, options());
  ASSERT_TRUE(member_);
  ASSERT_EQ(member_->standing(), Standing::registered) << member_->problem();
  const std::string ipv4 = member_->mesh_ipv4();
  member_->start();
  const std::uint16_t port = udp_port_;
  stop_colony();
  run_until(io_, [] { return false; }, 1500ms);
  start_colony(port);
  // Within a bound: the heartbeat interval (1 s), its timeout (2 s), a handshake.
  bool healed = false;
  for (int attempt = 0; attempt < 15 && !healed; ++attempt) {
    healed = get_status(member_->transport().dialer(), "10.42.0.1").has_value();
    if (!healed) run_until(io_, [] { return false; }, 1s);
  }
  EXPECT_TRUE(healed) << to_string(member_->standing()) << ": " << member_->problem();
  EXPECT_EQ(member_->standing(), Standing::registered) << member_->problem();
  EXPECT_EQ(member_->mesh_ipv4(), ipv4);
  EXPECT_EQ(run(io_, member_->leave())->outcome, LeaveOutcome::unregistered);
}


// Handshake initiations from `count` fresh keys to the colony, made by
// coral's own engine (one per key, the colony as its one peer).
struct InitiationCapture final : wireguard::EngineOutput {
  void send(const wireguard::Endpoint&, std::span<const std::uint8_t> message) override {
    messages.emplace_back(message.begin(), message.end());
  }
  void deliver(std::span<const std::uint8_t>) override {}
  std::vector<std::vector<std::uint8_t>> messages;
};

std::vector<std::vector<std::uint8_t>> initiations_from_fresh_keys(const crypto::PublicKey& colony, std::uint16_t port,
                                                                   int count) {
  InitiationCapture capture;
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::uint8_t> packet(40, 0);
  packet[0] = 0x45;  // an IPv4 header to 10.42.0.1: something to send, which starts a handshake
  packet[3] = 40;
  packet[8] = 64;
  packet[9] = 17;
  const std::uint8_t destination[4] = {10, 42, 0, 1};
  std::copy(std::begin(destination), std::end(destination), packet.begin() + 16);
  for (int i = 0; i < count; ++i) {
    wireguard::Engine engine;
    wireguard::DeviceSettings settings;
    settings.interface.private_key = crypto::SecretKey::generate();
    wireguard::PeerSettings peer;
    peer.public_key = colony;
    peer.endpoint = wireguard::Endpoint::parse("127.0.0.1:" + std::to_string(port)).value();
    peer.allowed_ips.push_back(base::Cidr::parse("10.42.0.0/16").value());
    settings.peers.push_back(peer);
    engine.configure(settings, now, capture);
    engine.send_packet(packet, now, capture);
  }
  return std::move(capture.messages);
}

TEST_F(TunnelMembershipTest, AHandshakeFloodFromUnknownKeysMeetsCookiesAndLeavesMembersServed) {
  start_colony();
  member_ = join(colony_dir_, options());
  ASSERT_TRUE(member_);
  ASSERT_EQ(member_->standing(), Standing::registered) << member_->problem();
  const auto flood = initiations_from_fresh_keys(config_.wireguard.public_key, udp_port_, 2000);
  ASSERT_GE(flood.size(), 2000u);

  asio::ip::udp::socket socket(io_, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const asio::ip::udp::endpoint colony(asio::ip::make_address("127.0.0.1"), udp_port_);
  int cookie_replies = 0;
  int handshake_responses = 0;
  std::array<std::uint8_t, 256> reply{};
  asio::ip::udp::endpoint from;
  std::function<void()> receive = [&] {
    socket.async_receive_from(asio::buffer(reply), from, [&](boost::system::error_code ec, std::size_t size) {
      if (ec) return;
      const auto type = wireguard::message_type(std::span<const std::uint8_t>(reply.data(), size));
      if (type == wireguard::MessageType::cookie_reply) ++cookie_replies;
      if (type == wireguard::MessageType::handshake_response) ++handshake_responses;
      receive();
    });
  };
  receive();
  // The flood, in bursts of 100 every 10 ms, while the member calls the colony.
  int served = 0;
  for (std::size_t sent = 0; sent < flood.size();) {
    for (int i = 0; i < 100 && sent < flood.size(); ++i, ++sent) {
      boost::system::error_code ignored;
      socket.send_to(asio::buffer(flood[sent]), colony, 0, ignored);
    }
    run_until(io_, [] { return false; }, 10ms);
    if (sent % 500 == 0 && get_status(member_->transport().dialer(), "10.42.0.1")) ++served;
  }
  run_until(io_, [] { return false; }, 200ms);
  // Cookies engaged: the flood got cookie replies (the rest of it met the
  // per-source rate limit or a full socket buffer: no reply at all).
  EXPECT_GT(cookie_replies, 100) << cookie_replies << " cookie replies, " << handshake_responses << " responses";
  // A handshake response means a provisional admission: never beyond the
  // table's cap (64; nobody is forgotten within the test's seconds).
  EXPECT_GT(handshake_responses, 0);
  EXPECT_LE(handshake_responses, 64) << cookie_replies << " cookie replies";
  // The member was served throughout, and still is.
  EXPECT_EQ(served, 4);
  EXPECT_TRUE(get_status(member_->transport().dialer(), "10.42.0.1"));
  EXPECT_EQ(member_->standing(), Standing::registered);
}

}  // namespace
}  // namespace coral::member

// A running colony (ColonyRuntime) on the host transport, on loopback mesh
// addresses (127.42.0.1; its IPv6 address fdc0:42::1 is on no interface
// here), reached by real clients: ColonyService and MeshService over
// Connect, the audit of requests from proxy peers (a client socket bound to
// the proxy's mesh address), shutdown, and a restart on the same state.

#include "colony/runtime.h"

#include <gtest/gtest.h>

#include "service_fixtures.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "config/config_dir.h"
#include "coral/colony/v1/colony.coral.h"
#include "coral/mesh/v1/mesh.coral.h"
#include "mesh/host_transport.h"
#include "net/tcp.h"
#include "rpc/http_channel.h"
#include "bounded_io.h"

namespace coral::colony {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace cv1 = coral::colony::v1;
using coral::testing::run;
using coral::testing::run_until;
namespace mv1 = coral::mesh::v1;
using asio::ip::tcp;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using testing::new_pubkey;
using testing::test_config;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// A port with nothing listening on `host`: bind one, then let it go.
std::uint16_t free_port(const std::string& host) {
  asio::io_context io(1);
  tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address(host), 0));
  return probe.local_endpoint().port();
}

// Dials from `source`: the client socket is bound to that local address
// before it connects, so the colony sees requests coming from it (as it
// would from a peer's mesh address).
net::Awaitable<std::expected<std::unique_ptr<net::ByteStream>, std::error_code>> dial_from(
    asio::any_io_executor executor, std::string source, net::Target target) {
  tcp::socket socket(executor);
  const tcp::endpoint local(asio::ip::make_address(source), 0);
  boost::system::error_code ec;
  socket.open(local.protocol(), ec);
  if (!ec) socket.bind(local, ec);
  if (ec) co_return std::unexpected(std::error_code(ec));  // cannot bind `source`
  const tcp::endpoint remote(asio::ip::make_address(target.host), target.port);
  co_await socket.async_connect(remote, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return std::unexpected(std::error_code(ec));
  co_return std::make_unique<net::TcpStream>(std::move(socket));
}

net::Dialer dialer_from(asio::any_io_executor executor, std::string source) {
  return [executor, source](const net::Target& target) { return dial_from(executor, source, target); };
}

// A Connect channel to the colony's IPv4 mesh address, from `source`.
std::unique_ptr<rpc::HttpChannel> channel_from(asio::io_context& io, std::uint16_t port, const std::string& source) {
  rpc::ChannelOptions options;
  options.url = http::Url{.host = "127.42.0.1", .port = port, .path_prefix = {}};
  options.connect_timeout = 2000ms;
  options.dialer = dialer_from(io.get_executor(), source);
  return std::make_unique<rpc::HttpChannel>(io.get_executor(), std::move(options));
}

asio::awaitable<rpc::Result<cv1::GetStatusResponse>> get_status(rpc::Channel& channel) {
  cv1::ColonyServiceClient client(channel);
  const cv1::GetStatusRequest request;
  const rpc::CallOptions options{.timeout = 3000ms, .headers = {}};
  co_return co_await client.GetStatus(request, options);
}

asio::awaitable<rpc::Result<mv1::RegisterResponse>> register_peer(rpc::Channel& channel, mv1::RegisterRequest request) {
  mv1::MeshServiceClient client(channel);
  const rpc::CallOptions options{.timeout = 3000ms, .headers = {}};
  co_return co_await client.Register(request, options);
}

class RuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::log_to_stderr(); }

  void SetUp() override {
    root_ = fs::temp_directory_path() / ("coral-runtime-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    config_ = test_config();
    config_.discovery.mesh_id = config_.colony_id;
    config_.discovery.auto_register = false;
    port_ = free_port("127.42.0.1");
    config_.services.connect_port = port_;
    transport_ = mesh::make_host_transport(io_.get_executor(), {.connect_timeout = 2000ms});
  }
  void TearDown() override {
    stop();
    fs::remove_all(root_);
  }

  // Starts the colony, capturing its start-up logs in `logged`.
  void start(std::string* logged = nullptr) {
    ::testing::internal::CaptureStderr();
    auto runtime = ColonyRuntime::start(io_, config::ConfigDir(root_), config_, *transport_);
    const std::string text = ::testing::internal::GetCapturedStderr();
    if (logged) *logged = text;
    ASSERT_TRUE(runtime) << runtime.error();
    runtime_ = std::move(*runtime);
  }
  // Shuts the colony down; whether that finished in time.
  bool stop() {
    if (!runtime_) return true;
    const bool done = run(io_, [this]() -> asio::awaitable<bool> {
                        co_await runtime_->shutdown(1s);
                        co_return true;
                      }()).has_value();
    runtime_.reset();
    return done;
  }

  mv1::RegisterRequest proxy_request(const std::string& pubkey) const {
    mv1::RegisterRequest request;
    request.set_colony_id(config_.colony_id);
    request.set_colony_secret(config_.colony_secret);
    request.set_wireguard_pubkey(pubkey);
    request.set_component_name("proxy");
    request.set_kind(mv1::PEER_KIND_PROXY);
    return request;
  }

  // GetStatus from `source`, and what the colony logged meanwhile.
  std::string logged_for_status_from(const std::string& source) {
    auto from = channel_from(io_, port_, source);
    ::testing::internal::CaptureStderr();
    auto status = run(io_, get_status(*from));
    const std::string logged = ::testing::internal::GetCapturedStderr();
    EXPECT_TRUE(status && *status) << source << ": " << (status ? (*status).error().message : "timed out");
    return logged;
  }

  asio::io_context io_{1};
  fs::path root_;
  config::ColonyConfig config_;
  std::uint16_t port_ = 0;
  std::unique_ptr<mesh::Transport> transport_;
  std::unique_ptr<ColonyRuntime> runtime_;
};

TEST_F(RuntimeTest, ServesOnTheIpv4MeshAddressAndWarnsAboutTheUnboundIpv6One) {
  std::string logged;
  start(&logged);
  EXPECT_EQ(runtime_->addresses(), (std::vector<std::string>{"127.42.0.1:" + std::to_string(port_)}));
  ASSERT_EQ(runtime_->warnings().size(), 1U);
  const std::string& warning = runtime_->warnings().front();
  EXPECT_NE(warning.find("fdc0:42::1"), std::string::npos) << warning;
  EXPECT_NE(warning.find("needs the mesh address on a local interface"), std::string::npos) << warning;

  EXPECT_NE(logged.find("msg=\"colony running\""), std::string::npos) << logged;
  EXPECT_NE(logged.find("colony_id=" + config_.colony_id), std::string::npos) << logged;
  EXPECT_NE(logged.find("transport=host"), std::string::npos) << logged;
  EXPECT_NE(logged.find("msg=\"mesh address not served\""), std::string::npos) << logged;
  // The state lives under the config dir.
  EXPECT_TRUE(fs::exists(config::ConfigDir(root_).colony_state(config_.colony_id)));
}

TEST_F(RuntimeTest, AnswersGetStatusWithItsIdentity) {
  start();
  auto from = channel_from(io_, port_, "127.0.0.1");
  auto status = run(io_, get_status(*from));
  ASSERT_TRUE(status);
  ASSERT_TRUE(*status) << (*status).error().message;
  EXPECT_EQ((*status)->colony_id(), config_.colony_id);
  EXPECT_EQ((*status)->app_name(), "my-shop");
  EXPECT_EQ((*status)->environment(), "production");
  EXPECT_EQ((*status)->agent_count(), 0);
}

TEST_F(RuntimeTest, RequestsFromAProxyPeerAreAuditedAndOthersAreNot) {
  start();
  auto from_host = channel_from(io_, port_, "127.0.0.1");
  const std::string proxy_key = new_pubkey();
  auto registered = run(io_, register_peer(*from_host, proxy_request(proxy_key)));
  ASSERT_TRUE(registered);
  ASSERT_TRUE(*registered) << (*registered).error().message;
  const mv1::RegisterResponse& proxy = **registered;
  ASSERT_EQ(proxy.mesh_ipv4(), "127.42.0.2");
  EXPECT_EQ(proxy.colony_mesh_ipv4(), "127.42.0.1");
  EXPECT_EQ(proxy.colony_connect_port(), port_);

  // issue 16: one info line per proxied call made 1.16 M lines in 60 s.
  // At info, calls are counted and summarized per proxy (once a minute, and
  // at shutdown); each is logged at debug only.
  for (int i = 0; i < 3; ++i) {
    const std::string audited = logged_for_status_from("127.42.0.2");
    EXPECT_EQ(audited.find("audit"), std::string::npos) << audited;
  }
  const std::string not_audited = logged_for_status_from("127.0.0.1");
  EXPECT_EQ(not_audited.find("audit"), std::string::npos) << not_audited;

  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(stop());
  const std::string summary = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(count(summary, "msg=\"audit: proxy requests\""), 1U) << summary;
  EXPECT_NE(summary.find("level=info msg=\"audit: proxy requests\" peer_id=" + proxy.peer_id() +
                         " requests=3 failed=0 seconds="),
            std::string::npos)
      << summary;
}

TEST_F(RuntimeTest, RequestsFromAnAgentPeerAreNotAudited) {
  start();
  auto from_host = channel_from(io_, port_, "127.0.0.1");
  mv1::RegisterRequest agent = proxy_request(new_pubkey());
  agent.set_kind(mv1::PEER_KIND_AGENT);
  agent.set_component_name("api");
  auto registered = run(io_, register_peer(*from_host, agent));
  ASSERT_TRUE(registered && *registered);
  ASSERT_EQ((**registered).mesh_ipv4(), "127.42.0.2");

  const std::string logged = logged_for_status_from("127.42.0.2");
  EXPECT_EQ(logged.find("audit"), std::string::npos) << logged;
}

TEST_F(RuntimeTest, WrongSecretIsRefusedOverTheWire) {
  start();
  auto from_host = channel_from(io_, port_, "127.0.0.1");
  mv1::RegisterRequest request = proxy_request(new_pubkey());
  request.set_colony_secret("a-guessed-secret-that-is-long-enough-to-be-valid");
  ::testing::internal::CaptureStderr();
  auto registered = run(io_, register_peer(*from_host, request));
  ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(registered);
  ASSERT_FALSE(*registered);
  EXPECT_EQ((*registered).error().code, rpc::Code::permission_denied);
}

TEST_F(RuntimeTest, ShutdownCompletesAndStopsServing) {
  start();
  {
    // An open HTTP/2 connection does not hold shutdown up past the grace.
    auto from = channel_from(io_, port_, "127.0.0.1");
    auto status = run(io_, get_status(*from));
    ASSERT_TRUE(status && *status);
    const auto begin = std::chrono::steady_clock::now();
    EXPECT_TRUE(stop());
    EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s);
  }
  auto refused = run(io_, [this]() -> asio::awaitable<bool> {
    tcp::socket socket(io_);
    const tcp::endpoint colony(asio::ip::make_address("127.42.0.1"), port_);
    boost::system::error_code ec;
    co_await socket.async_connect(colony, asio::redirect_error(asio::use_awaitable, ec));
    co_return ec == asio::error::connection_refused;
  }());
  ASSERT_TRUE(refused);
  EXPECT_TRUE(*refused);
}

TEST_F(RuntimeTest, ShutdownWithARegistrationInFlightCompletesAndLeavesNothingBehind) {
  // A discovery service that accepts connections and never answers: the
  // colony's registration is in flight when it is told to stop.
  tcp::acceptor black_hole(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::vector<std::shared_ptr<tcp::socket>> held;
  std::function<void()> accept_next = [&] {
    auto socket = std::make_shared<tcp::socket>(io_);
    black_hole.async_accept(*socket, [&, socket](boost::system::error_code ec) {
      if (ec) return;
      held.push_back(socket);
      accept_next();
    });
  };
  accept_next();
  config_.discovery.auto_register = true;
  config_.discovery.endpoint = "http://127.0.0.1:" + std::to_string(black_hole.local_endpoint().port());

  start();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (held.empty() && std::chrono::steady_clock::now() < deadline) {
    io_.restart();
    io_.run_for(10ms);
  }
  ASSERT_FALSE(held.empty()) << "the colony never dialed discovery";

  const auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(stop());  // shuts down, then destroys the runtime
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s);
  // The process goes on: whatever the runtime left on the io_context must
  // not touch it any more (ASan would see it), even once discovery gives up.
  black_hole.close();
  for (auto& socket : held) socket->close();
  for (int i = 0; i < 100; ++i) {
    io_.restart();
    io_.run_for(10ms);
  }
}

// The io_context may go on after the runtime: nothing the runtime left on it
// may touch it (ASan checks).
TEST_F(RuntimeTest, DestroyedAsSoonAsShutdownCompletesWhileTheLoopGoesOn) {
  start();
  // Nothing else runs between shutdown's completion and the destruction.
  bool done = false;
  asio::co_spawn(io_, runtime_->shutdown(1s), [&](std::exception_ptr) { done = true; });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io_.restart();
    io_.run_one_for(10ms);
  }
  ASSERT_TRUE(done);
  runtime_.reset();
  for (int i = 0; i < 20; ++i) {
    io_.restart();
    io_.run_for(10ms);
  }
}

TEST_F(RuntimeTest, RestartOnTheSameDirectoryKeepsThePeersAssignment) {
  start();
  const std::string proxy_key = new_pubkey();
  std::string peer_id;
  {
    auto from_host = channel_from(io_, port_, "127.0.0.1");
    auto first = run(io_, register_peer(*from_host, proxy_request(proxy_key)));
    ASSERT_TRUE(first && *first);
    ASSERT_EQ((**first).mesh_ipv4(), "127.42.0.2");
    peer_id = (**first).peer_id();
  }
  ASSERT_TRUE(stop());

  std::string logged;
  start(&logged);
  EXPECT_NE(logged.find("peers=1"), std::string::npos) << logged;
  // Still the proxy's address before it registers again: audited.
  logged_for_status_from("127.42.0.2");

  auto from_host = channel_from(io_, port_, "127.0.0.1");
  auto again = run(io_, register_peer(*from_host, proxy_request(proxy_key)));
  ASSERT_TRUE(again && *again);
  EXPECT_EQ((**again).mesh_ipv4(), "127.42.0.2");
  EXPECT_EQ((**again).mesh_ipv6(), "fdc0:42::2");
  EXPECT_EQ((**again).peer_id(), peer_id);
  auto other = run(io_, register_peer(*from_host, proxy_request(new_pubkey())));
  ASSERT_TRUE(other && *other);
  EXPECT_EQ((**other).mesh_ipv4(), "127.42.0.3");

  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(stop());
  const std::string summary = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(summary.find("audit: proxy requests\" peer_id=" + peer_id + " requests=1 "), std::string::npos) << summary;
}

TEST_F(RuntimeTest, NoMeshAddressBindableIsAnErrorNamingBoth) {
  // Something else holds the IPv4 port; the IPv6 address is on no interface.
  auto squatter = transport_->listen("127.42.0.1", port_);
  ASSERT_TRUE(squatter) << squatter.error().message();
  ::testing::internal::CaptureStderr();
  auto runtime = ColonyRuntime::start(io_, config::ConfigDir(root_), config_, *transport_);
  ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(runtime);
  EXPECT_TRUE(runtime.error().starts_with("cannot serve on the colony's mesh addresses (host transport): "))
      << runtime.error();
  EXPECT_NE(runtime.error().find("127.42.0.1:" + std::to_string(port_)), std::string::npos) << runtime.error();
  EXPECT_NE(runtime.error().find("fdc0:42::1"), std::string::npos) << runtime.error();
}

}  // namespace
}  // namespace coral::colony

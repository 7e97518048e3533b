// The colony's registration with discovery: the request built from the
// config, the retry schedule, and RegistrationLoop against a real
// in-process discovery server (DiscoveryService, memory store, served over
// rpc::Server + http::Server on 127.0.0.1, port 0) or against nothing.

#include "colony/registration.h"

#include <gtest/gtest.h>

#include "service_fixtures.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "base/clock.h"
#include "base/file.h"
#include "discovery/memory_store.h"
#include "discovery/service.h"
#include "http/server.h"
#include "rpc/server.h"
#include "bounded_io.h"

namespace coral::colony {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using coral::testing::run;
using coral::testing::run_until;
using testing::test_config;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// A loopback port with nothing listening: bind one, then let it go.
std::uint16_t free_port() {
  asio::io_context io(1);
  asio::ip::tcp::acceptor probe(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return probe.local_endpoint().port();
}

// coral-discovery in this process: what apps/coral-discovery serves.
class DiscoveryServer {
 public:
  DiscoveryServer(asio::io_context& io, std::uint16_t port)
      : io_(io), service_(*store_, clock_, options()),
        rpc_(io.get_executor()), http_(io, rpc_) {
    rpc_.add(service_);
    rpc_.on_call([this](const rpc::CallRecord& call) {
      if (call.procedure.ends_with("/RegisterColony")) ++registrations;
    });
    auto listening = http_.listen("127.0.0.1", port);
    EXPECT_TRUE(listening) << listening.error().message();
    http_.start();
  }
  ~DiscoveryServer() {
    run(io_, [this]() -> asio::awaitable<bool> {
      co_await http_.shutdown(1s);
      co_return true;
    }());
  }

  static discovery::ServiceOptions options() {
    discovery::ServiceOptions options;
    options.ttl = 300s;
    options.version = "test";
    return options;
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(http_.port()); }

  int registrations = 0;

 private:
  asio::io_context& io_;
  base::SystemClock clock_;
  std::unique_ptr<discovery::Store> store_ = discovery::make_memory_store(clock_);
  discovery::DiscoveryService service_;
  rpc::Server rpc_;
  http::Server http_;
};

config::ColonyConfig registering_config() {
  config::ColonyConfig config = test_config();
  config.discovery.mesh_id = "my-shop-production";
  return config;
}

std::unique_ptr<discovery::DiscoveryClient> client_for(asio::io_context& io, const std::string& endpoint) {
  auto client = discovery::DiscoveryClient::create(
      io.get_executor(), endpoint,
      discovery::ClientOptions{.attempts = 1, .first_backoff = 10ms, .max_backoff = 10ms, .timeout = 2000ms});
  EXPECT_TRUE(client) << client.error();
  return client ? std::move(*client) : nullptr;
}

// A loop running on `io`; stop() then waits (bounded) for run() to return.
class RunningLoop {
 public:
  RunningLoop(asio::io_context& io, discovery::DiscoveryClient& client, const config::ColonyConfig& config,
              milliseconds interval, std::filesystem::path status_file = {})
      : io_(io),
        loop_(io.get_executor(), client, registration_request(config, {"203.0.113.7:41820"}), interval,
              config.wireguard.private_key, status_file) {
    asio::co_spawn(io, loop_.run(), [this](std::exception_ptr) { finished_ = true; });
  }
  ~RunningLoop() { stop(); }

  RegistrationLoop& operator*() { return loop_; }
  RegistrationLoop* operator->() { return &loop_; }

  bool stop() {
    loop_.stop();
    return run_until(io_, [this] { return finished_; });
  }

 private:
  asio::io_context& io_;
  RegistrationLoop loop_;
  bool finished_ = false;
};

class RegistrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::log_to_stderr(); }
};

TEST(RegistrationRequest, AnnouncesTheColonyFromItsConfig) {
  config::ColonyConfig config = registering_config();
  const auto request = registration_request(config, {"203.0.113.7:41820", "[2001:db8::7]:41820"});
  EXPECT_EQ(request.mesh_id(), "my-shop-production");
  EXPECT_EQ(request.wireguard_pubkey(), config.wireguard.public_key.to_base64());
  EXPECT_EQ(std::vector<std::string>(request.public_endpoints().begin(), request.public_endpoints().end()),
            (std::vector<std::string>{"203.0.113.7:41820", "[2001:db8::7]:41820"}));
  EXPECT_EQ(request.mesh_ipv4(), "127.42.0.1");
  EXPECT_EQ(request.mesh_ipv6(), "fdc0:42::1");
  EXPECT_EQ(request.connect_port(), 9000U);
  using Metadata = std::map<std::string, std::string>;
  const Metadata expected{{"app", "my-shop"}, {"environment", "production"}, {"colony_id", "my-shop-production-a3f2e1"}};
  EXPECT_EQ(Metadata(request.metadata().begin(), request.metadata().end()), expected);
  // Secrets stay home.
  EXPECT_EQ(request.DebugString().find(config.colony_secret), std::string::npos);
  EXPECT_EQ(request.DebugString().find(config.wireguard.private_key.to_base64()), std::string::npos);

  config.services.connect_port = 9443;
  EXPECT_EQ(registration_request(config, {}).connect_port(), 9443U);
  EXPECT_EQ(registration_request(config, {}).public_endpoints_size(), 0);
}

TEST(RetryDelay, DoublesFromOneSecondUpToTheInterval) {
  const milliseconds minute = 60s;
  EXPECT_EQ(retry_delay(1, minute), 1s);
  EXPECT_EQ(retry_delay(2, minute), 2s);
  EXPECT_EQ(retry_delay(3, minute), 4s);
  EXPECT_EQ(retry_delay(4, minute), 8s);
  EXPECT_EQ(retry_delay(5, minute), 16s);
  EXPECT_EQ(retry_delay(6, minute), 32s);
  EXPECT_EQ(retry_delay(7, minute), 60s);  // 64 s, capped
  EXPECT_EQ(retry_delay(8, minute), 60s);
  EXPECT_EQ(retry_delay(1'000'000, minute), 60s);  // no overflow after a long outage
}

TEST(RetryDelay, NeverLongerThanAShortInterval) {
  EXPECT_EQ(retry_delay(1, 500ms), 500ms);
  EXPECT_EQ(retry_delay(3, 500ms), 500ms);
  EXPECT_EQ(retry_delay(2, 3s), 2s);
  EXPECT_EQ(retry_delay(3, 3s), 3s);
}

TEST_F(RegistrationTest, RegistersAndIsFoundByLookup) {
  asio::io_context io(1);
  DiscoveryServer server(io, 0);
  auto client = client_for(io, server.endpoint());
  ASSERT_TRUE(client);
  const config::ColonyConfig config = registering_config();

  ::testing::internal::CaptureStderr();
  {
    RunningLoop loop(io, *client, config, 60s);
    EXPECT_FALSE(loop->registered());
    EXPECT_TRUE(run_until(io, [&] { return loop->registered(); }));
    EXPECT_EQ(loop->last_error(), "");
    EXPECT_TRUE(loop.stop());
  }
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(count(logged, "msg=\"registered with discovery\""), 1U) << logged;
  EXPECT_NE(logged.find("mesh_id=my-shop-production"), std::string::npos) << logged;
  EXPECT_NE(logged.find("discovery=" + server.endpoint()), std::string::npos) << logged;
  EXPECT_NE(logged.find("ttl=300s"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("level=warn"), std::string::npos) << logged;
  EXPECT_EQ(server.registrations, 1);

  const std::string mesh_id = "my-shop-production";
  auto found = run(io, client->lookup(mesh_id));
  ASSERT_TRUE(found);
  ASSERT_TRUE(*found) << (*found).error().message;
  const auto& colony = **found;
  EXPECT_EQ(colony.wireguard_pubkey(), config.wireguard.public_key.to_base64());
  EXPECT_EQ(colony.mesh_ipv4(), "127.42.0.1");
  EXPECT_EQ(colony.mesh_ipv6(), "fdc0:42::1");
  EXPECT_EQ(colony.connect_port(), 9000U);
  ASSERT_EQ(colony.public_endpoints_size(), 1);
  EXPECT_EQ(colony.public_endpoints(0), "203.0.113.7:41820");
  EXPECT_EQ(colony.metadata().at("app"), "my-shop");
  EXPECT_EQ(colony.metadata().at("environment"), "production");
  EXPECT_EQ(colony.metadata().at("colony_id"), "my-shop-production-a3f2e1");
}

TEST_F(RegistrationTest, RenewsEveryIntervalAndLogsOnlyTheFirstTime) {
  asio::io_context io(1);
  DiscoveryServer server(io, 0);
  auto client = client_for(io, server.endpoint());
  ASSERT_TRUE(client);

  ::testing::internal::CaptureStderr();
  const auto start = std::chrono::steady_clock::now();
  {
    RunningLoop loop(io, *client, registering_config(), 100ms);
    EXPECT_TRUE(run_until(io, [&] { return server.registrations >= 3; }));
    EXPECT_TRUE(loop->registered());
    EXPECT_TRUE(loop.stop());
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_GE(elapsed, 200ms);  // two intervals between three registrations
  EXPECT_EQ(count(logged, "registered with discovery"), 1U) << logged;
}

TEST_F(RegistrationTest, StopEndsTheLoopAndNothingIsSentAfterIt) {
  asio::io_context io(1);
  DiscoveryServer server(io, 0);
  auto client = client_for(io, server.endpoint());
  ASSERT_TRUE(client);
  ::testing::internal::CaptureStderr();
  {
    RunningLoop loop(io, *client, registering_config(), 100ms);
    ASSERT_TRUE(run_until(io, [&] { return loop->registered(); }));
    ASSERT_TRUE(loop.stop());
  }
  ::testing::internal::GetCapturedStderr();
  const int sent = server.registrations;
  io.restart();
  io.run_for(300ms);  // three intervals: a loop still running would register again
  EXPECT_EQ(server.registrations, sent);
}

TEST_F(RegistrationTest, DiscoveryDownIsNotFatalWarnsOnceAndRecoveryIsLogged) {
  asio::io_context io(1);
  const std::uint16_t port = free_port();
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(port);
  auto client = client_for(io, endpoint);
  ASSERT_TRUE(client);

  ::testing::internal::CaptureStderr();
  std::string outage;
  std::string recovery;
  {
    RunningLoop loop(io, *client, registering_config(), 60s);
    ASSERT_TRUE(run_until(io, [&] { return !loop->last_error().empty(); }));
    EXPECT_FALSE(loop->registered());
    EXPECT_EQ(loop->last_error(), "discovery service at " + endpoint + " is not reachable: connection refused");
    // Retries come after 1 s, then 2 s: by 2.5 s the loop has failed twice.
    io.restart();
    io.run_for(2500ms);
    EXPECT_FALSE(loop->registered());
    EXPECT_NE(loop->last_error().find("not reachable"), std::string::npos) << loop->last_error();
    outage = ::testing::internal::GetCapturedStderr();

    // Discovery comes up on that port: the next retry (at 3 s) registers.
    ::testing::internal::CaptureStderr();
    DiscoveryServer server(io, port);
    EXPECT_TRUE(run_until(io, [&] { return loop->registered(); }, 5s));
    EXPECT_EQ(loop->last_error(), "");
    EXPECT_TRUE(loop.stop());
    recovery = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(server.registrations, 1);
  }
  EXPECT_EQ(count(outage, "level=warn"), 1U) << outage;
  EXPECT_NE(outage.find("msg=\"discovery registration failed; retrying\""), std::string::npos) << outage;
  EXPECT_NE(outage.find("not reachable"), std::string::npos) << outage;
  EXPECT_NE(outage.find("mesh_id=my-shop-production"), std::string::npos) << outage;
  EXPECT_EQ(count(recovery, "msg=\"registered with discovery again\""), 1U) << recovery;
}

TEST_F(RegistrationTest, RegistersWithAProofOfPossession) {
  asio::io_context io(1);
  DiscoveryServer server(io, 0);
  auto client = client_for(io, server.endpoint());
  ASSERT_TRUE(client);
  ::testing::internal::CaptureStderr();
  {
    RunningLoop loop(io, *client, registering_config(), 60s);
    ASSERT_TRUE(run_until(io, [&] { return loop->registered(); }));
    EXPECT_TRUE(loop->status().proven);
    EXPECT_TRUE(loop.stop());
  }
  ::testing::internal::GetCapturedStderr();
  const std::string mesh_id = "my-shop-production";
  auto found = run(io, client->lookup(mesh_id));
  ASSERT_TRUE(found && *found);
  EXPECT_TRUE((*found)->proven());
}

// Issue 16: a squatter holds the mesh id (with its own key); the real
// colony must say it is refused, and why, not "registered".
TEST_F(RegistrationTest, ARefusedRegistrationIsReportedAsRefusedWithTheReason) {
  asio::io_context io(1);
  DiscoveryServer server(io, 0);
  auto client = client_for(io, server.endpoint());
  ASSERT_TRUE(client);
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("coral-registration-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path status_file = dir / "victim.registration";

  ::testing::internal::CaptureStderr();
  std::string logged;
  {
    RunningLoop squatter(io, *client, registering_config(), 60s);  // another key, same mesh id
    ASSERT_TRUE(run_until(io, [&] { return squatter->registered(); }));
    RunningLoop victim(io, *client, registering_config(), 60s, status_file);
    ASSERT_TRUE(run_until(io, [&] { return victim->status().state == RegistrationState::refused; }));
    EXPECT_FALSE(victim->registered());
    EXPECT_EQ(victim->status().code, "already_exists");
    EXPECT_NE(victim->status().reason.find("another WireGuard key"), std::string::npos) << victim->status().reason;

    const auto written = read_registration_status(status_file);
    ASSERT_TRUE(written);
    EXPECT_EQ(written->state, RegistrationState::refused);
    EXPECT_EQ(written->code, "already_exists");
    EXPECT_EQ(written->reason, victim->status().reason);
    EXPECT_EQ(written->mesh_id, "my-shop-production");
    EXPECT_EQ(written->pid, static_cast<long>(::getpid()));
    EXPECT_TRUE(victim.stop());
    EXPECT_FALSE(std::filesystem::exists(status_file));  // the colony stopped: no state
    EXPECT_TRUE(squatter.stop());
  }
  logged = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(logged.find("msg=\"discovery refused the registration; retrying\""), std::string::npos) << logged;
  EXPECT_NE(logged.find("code=already_exists"), std::string::npos) << logged;
  std::filesystem::remove_all(dir);
}

// A discovery service from before proofs: GetRegistrationChallenge is
// unimplemented (the generated default), RegisterColony stores anything.
class LegacyDiscovery final : public discovery::v1::DiscoveryServiceHandler {
 public:
  rpc::Awaitable<rpc::Result<discovery::v1::RegisterColonyResponse>> RegisterColony(
      rpc::Context&, const discovery::v1::RegisterColonyRequest& request) override {
    last = request;
    discovery::v1::RegisterColonyResponse response;
    response.set_success(true);
    response.set_ttl(300);
    co_return response;
  }
  discovery::v1::RegisterColonyRequest last;
};

TEST_F(RegistrationTest, AnOlderDiscoveryGetsARegistrationWithoutProofAndOneWarning) {
  asio::io_context io(1);
  LegacyDiscovery legacy;
  rpc::Server rpc(io.get_executor());
  rpc.add(legacy);
  http::Server http(io, rpc);
  ASSERT_TRUE(http.listen("127.0.0.1", 0));
  http.start();
  auto client = client_for(io, "http://127.0.0.1:" + std::to_string(http.port()));
  ASSERT_TRUE(client);
  ::testing::internal::CaptureStderr();
  {
    RunningLoop loop(io, *client, registering_config(), 100ms);
    ASSERT_TRUE(run_until(io, [&] { return loop->registered(); }));
    io.restart();
    io.run_for(300ms);  // a few more rounds
    EXPECT_TRUE(loop->registered());
    EXPECT_FALSE(loop->status().proven);
    EXPECT_TRUE(loop.stop());
  }
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(count(logged, "does not check proofs of possession"), 1U) << logged;
  EXPECT_TRUE(legacy.last.proof().empty());
  EXPECT_EQ(legacy.last.mesh_id(), "my-shop-production");
  run(io, [&]() -> asio::awaitable<bool> {
    co_await http.shutdown(1s);
    co_return true;
  }());
}

TEST(RegistrationStatusFile, RoundTripsThroughYamlWithAwkwardReasons) {
  RegistrationStatus status;
  status.state = RegistrationState::refused;
  status.code = "unauthenticated";
  status.reason = "mesh_id \"x\": refused: a: b\nnewline # and 'quotes'";
  status.discovery = "http://127.0.0.1:8080";
  status.mesh_id = "x";
  status.proven = true;
  status.pid = 4242;
  status.since = "2026-12-07T15:00:00Z";
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("coral-status-" + std::to_string(::getpid()) + ".registration");
  ASSERT_TRUE(base::write_file_atomically(file, to_yaml(status)));
  const auto read = read_registration_status(file);
  std::filesystem::remove(file);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->state, status.state);
  EXPECT_EQ(read->code, status.code);
  EXPECT_EQ(read->reason, status.reason);
  EXPECT_EQ(read->discovery, status.discovery);
  EXPECT_EQ(read->proven, true);
  EXPECT_EQ(read->pid, 4242);
  EXPECT_EQ(read->since, status.since);
  EXPECT_FALSE(read_registration_status(file));  // gone: nothing
}

}  // namespace
}  // namespace coral::colony

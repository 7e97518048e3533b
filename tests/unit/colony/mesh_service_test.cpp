// MeshService's handlers, called directly, over a PeerRegistry on a real
// SQLite file in a temporary directory and a fake clock: registration,
// re-registration, refusals, exhaustion, heartbeats, unregistration and
// assignments that survive a restart.

#include "colony/mesh_service.h"

#include <gtest/gtest.h>

#include "service_fixtures.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "base/log.h"
#include "crypto/keys.h"

namespace coral::colony {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace mv1 = coral::mesh::v1;
using namespace std::chrono_literals;

template <class T>
T run(rpc::Awaitable<T> call) {
  asio::io_context io;
  std::optional<T> result;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { result = co_await std::move(call); }, asio::detached);
  io.run_for(10s);
  return std::move(result).value();
}

using testing::new_pubkey;
using testing::test_config;

class MeshServiceTest : public ::testing::Test {
 protected:
  // Logs to stderr (as the colony does), so that tests can capture them.
  static void SetUpTestSuite() { testing::log_to_stderr(); }

  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coral-mesh-service-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    start(test_config());
  }
  void TearDown() override {
    stop();
    fs::remove_all(dir_);
  }

  void start(config::ColonyConfig config) {
    config_ = config;
    store_.emplace(PeerStore::open(dir_ / "colony.db").value());
    auto registry = PeerRegistry::open(*store_, std::move(config), clock_);
    ASSERT_TRUE(registry) << registry.error();
    registry_ = std::move(*registry);
    service_ = std::make_unique<MeshService>(*registry_);
  }
  void stop() {
    service_.reset();
    registry_.reset();
    store_.reset();
  }

  mv1::RegisterRequest request(const std::string& pubkey, mv1::PeerKind kind = mv1::PEER_KIND_AGENT,
                               const std::string& component = "api") const {
    mv1::RegisterRequest r;
    r.set_colony_id(config_.colony_id);
    r.set_colony_secret(config_.colony_secret);
    r.set_wireguard_pubkey(pubkey);
    r.set_component_name(component);
    r.set_kind(kind);
    return r;
  }
  rpc::Result<mv1::RegisterResponse> register_peer(const mv1::RegisterRequest& r) {
    return run(service_->Register(context_, r));
  }
  rpc::Result<mv1::HeartbeatResponse> heartbeat(const std::string& id, const std::string& pubkey,
                                                const std::string& status = "healthy") {
    mv1::HeartbeatRequest r;
    r.set_peer_id(id);
    r.set_wireguard_pubkey(pubkey);
    r.set_status(status);
    return run(service_->Heartbeat(context_, r));
  }
  rpc::Result<mv1::UnregisterResponse> unregister(const std::string& id, const std::string& pubkey) {
    mv1::UnregisterRequest r;
    r.set_peer_id(id);
    r.set_wireguard_pubkey(pubkey);
    return run(service_->Unregister(context_, r));
  }

  fs::path dir_;
  base::FakeClock clock_;
  config::ColonyConfig config_;
  std::optional<PeerStore> store_;
  std::unique_ptr<PeerRegistry> registry_;
  std::unique_ptr<MeshService> service_;
  rpc::Context context_ = [] {
    rpc::Context context;
    context.peer = "127.0.0.1:51000";
    return context;
  }();
};

TEST_F(MeshServiceTest, RegisterAssignsLowestFreeDualStackAddressesAndDescribesTheColony) {
  const std::string key = new_pubkey();
  auto reply = register_peer(request(key));
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->mesh_ipv4(), "127.42.0.2");
  EXPECT_EQ(reply->mesh_ipv6(), "fdc0:42::2");
  EXPECT_EQ(reply->colony_mesh_ipv4(), "127.42.0.1");
  EXPECT_EQ(reply->colony_mesh_ipv6(), "fdc0:42::1");
  EXPECT_EQ(reply->mesh_network_ipv4(), "127.42.0.0/16");
  EXPECT_EQ(reply->mesh_network_ipv6(), "fdc0:42::/64");
  EXPECT_EQ(reply->colony_wireguard_pubkey(), config_.wireguard.public_key.to_base64());
  EXPECT_EQ(reply->colony_connect_port(), 9000U);
  EXPECT_EQ(reply->peer_id(), peer_id_for(key));
  EXPECT_TRUE(reply->peer_id().starts_with("peer-"));
  EXPECT_EQ(reply->peer_id().size(), 17U);

  auto stored = store_->find_by_pubkey(key).value();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->peer_id, reply->peer_id());
  EXPECT_EQ(stored->kind, Peer::Kind::agent);
  EXPECT_EQ(stored->component_name, "api");
  EXPECT_EQ(stored->mesh_ipv4, "127.42.0.2");
  EXPECT_EQ(stored->last_seen, clock_.now());

  auto second = register_peer(request(new_pubkey()));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->mesh_ipv4(), "127.42.0.3");
  EXPECT_EQ(second->mesh_ipv6(), "fdc0:42::3");
  EXPECT_NE(second->peer_id(), reply->peer_id());
}

TEST_F(MeshServiceTest, ReRegisteringTheSamePubkeyKeepsTheAddressesAndUpdatesTheRecord) {
  const std::string key = new_pubkey();
  auto first = register_peer(request(key));
  ASSERT_TRUE(first);
  ASSERT_TRUE(register_peer(request(new_pubkey())));

  clock_.advance(90s);
  auto again = register_peer(request(key, mv1::PEER_KIND_PROXY, "proxy"));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->mesh_ipv4(), first->mesh_ipv4());
  EXPECT_EQ(again->mesh_ipv6(), first->mesh_ipv6());
  EXPECT_EQ(again->peer_id(), first->peer_id());

  auto stored = store_->find_by_pubkey(key).value().value();
  EXPECT_EQ(stored.kind, Peer::Kind::proxy);
  EXPECT_EQ(stored.component_name, "proxy");
  EXPECT_EQ(stored.last_seen, clock_.now());
  EXPECT_EQ(store_->count().value(), 2U);
  EXPECT_EQ(registry_->addresses_in_use(), 2U);
}

TEST_F(MeshServiceTest, WrongColonyIdIsNotFoundAndNothingIsRecorded) {
  auto r = request(new_pubkey());
  r.set_colony_id("another-colony");
  auto reply = register_peer(r);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, rpc::Code::not_found);
  EXPECT_NE(reply.error().message.find("another-colony"), std::string::npos);
  EXPECT_NE(reply.error().message.find(config_.colony_id), std::string::npos);
  EXPECT_EQ(store_->count().value(), 0U);
}

TEST_F(MeshServiceTest, WrongSecretIsUnauthenticatedAndTheLogLeavesTheSecretOut) {
  const std::string key = new_pubkey();
  auto r = request(key);
  const std::string guess = "a-guessed-secret-that-is-long-enough-to-be-valid";
  r.set_colony_secret(guess);
  ::testing::internal::CaptureStderr();
  auto reply = register_peer(r);
  const std::string logged = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, rpc::Code::permission_denied);
  EXPECT_EQ(reply.error().message, "wrong colony secret");
  EXPECT_EQ(store_->count().value(), 0U);

  EXPECT_NE(logged.find("wrong colony secret"), std::string::npos) << logged;
  EXPECT_NE(logged.find("127.0.0.1:51000"), std::string::npos) << logged;
  EXPECT_EQ(logged.find(guess), std::string::npos) << logged;
  EXPECT_EQ(logged.find(config_.colony_secret), std::string::npos) << logged;

  r.set_colony_secret("");
  auto empty = register_peer(r);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, rpc::Code::permission_denied);
}

TEST_F(MeshServiceTest, ARevokedKeyIsPermissionDeniedRevokedEvenAfterARestart) {
  const std::string key = new_pubkey();
  auto first = register_peer(request(key, mv1::PEER_KIND_PROXY, "proxy"));
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(registry_->revoke(first->peer_id()));
  for (int round = 0; round < 2; ++round) {
    auto again = register_peer(request(key, mv1::PEER_KIND_PROXY, "proxy"));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, rpc::Code::permission_denied);
    EXPECT_TRUE(again.error().message.starts_with("revoked: ")) << again.error().message;
    EXPECT_EQ(store_->count().value(), 0U);
    stop();
    start(config_);
  }
  // A fresh key with the secret still joins: rotating the secret is the lockout.
  EXPECT_TRUE(register_peer(request(new_pubkey(), mv1::PEER_KIND_PROXY, "proxy")));
}

TEST_F(MeshServiceTest, AfterARotationTheOldSecretIsRefusedTheNewOneAcceptedAndPeersKept) {
  const std::string member = new_pubkey();
  auto registered = register_peer(request(member));
  ASSERT_TRUE(registered) << registered.error().message;
  const std::string new_secret = crypto::generate_colony_secret();
  registry_->set_colony_secret(new_secret);

  auto old = register_peer(request(new_pubkey()));
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, rpc::Code::permission_denied);
  EXPECT_EQ(old.error().message, "wrong colony secret");

  auto r = request(new_pubkey());
  r.set_colony_secret(new_secret);
  auto fresh = register_peer(r);
  ASSERT_TRUE(fresh) << fresh.error().message;
  // The peer registered before keeps its addresses and heartbeats on.
  EXPECT_EQ(store_->count().value(), 2U);
  EXPECT_TRUE(heartbeat(registered->peer_id(), member));
  EXPECT_EQ(store_->find_by_id(registered->peer_id()).value()->mesh_ipv4, registered->mesh_ipv4());
}

// issue 16: 10,000 wrong secrets wrote 10,000 warnings in 0.7 s, and
// nothing slowed the guessing down.
TEST_F(MeshServiceTest, WrongSecretsAreRateLimitedPerSourceAndTheirWarningsAggregated) {
  auto r = request(new_pubkey());
  r.set_colony_secret("a-guessed-secret-that-is-long-enough-to-be-valid");
  ::testing::internal::CaptureStderr();
  int refused = 0;
  int limited = 0;
  for (int i = 0; i < 5000; ++i) {
    auto reply = register_peer(r);
    ASSERT_FALSE(reply);
    if (reply.error().code == rpc::Code::permission_denied) ++refused;
    if (reply.error().code == rpc::Code::resource_exhausted) {
      ++limited;
      EXPECT_TRUE(reply.error().message.starts_with("too many wrong colony secrets from 127.0.0.1; try again in "))
          << reply.error().message;
    }
  }
  // Even the right secret waits while the source is limited (no oracle).
  auto right = register_peer(request(new_pubkey()));
  ASSERT_FALSE(right);
  EXPECT_EQ(right.error().code, rpc::Code::resource_exhausted);
  // Another source is not limited.
  context_.peer = "127.0.0.2:40000";
  EXPECT_TRUE(register_peer(request(new_pubkey())));
  context_.peer = "127.0.0.1:51000";

  clock_.advance(11s);
  service_->sweep();
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(refused, static_cast<int>(SecretGuard::kBurst));
  EXPECT_EQ(limited, 5000 - static_cast<int>(SecretGuard::kBurst));
  std::size_t lines = 0;
  for (char c : logged) lines += c == '\n';
  // One line for the first wrong secret, one registration, one summary.
  EXPECT_LE(lines, 4U) << logged;
  EXPECT_NE(logged.find("wrong colony secret"), std::string::npos) << logged;
  EXPECT_NE(logged.find("register refused 5000 more times from 127.0.0.1 in the last 11 s"), std::string::npos)
      << logged;
  EXPECT_NE(logged.find("wrong_secret=9 wrong_colony=0 rate_limited=4991"), std::string::npos) << logged;

  // After the refill, the source may try again.
  auto later = register_peer(request(new_pubkey()));
  EXPECT_TRUE(later) << later.error().message;
}

// A flood of Registers for another colony id: refused, and reported like
// wrong secrets (one line, then a summary), but not limited.
TEST_F(MeshServiceTest, WrongColonyIdsAreReportedInSummariesNotOneLineEach) {
  auto r = request(new_pubkey());
  r.set_colony_id("another-colony");
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 1000; ++i) {
    auto reply = register_peer(r);
    ASSERT_FALSE(reply);
    ASSERT_EQ(reply.error().code, rpc::Code::not_found);
  }
  EXPECT_TRUE(register_peer(request(new_pubkey())));  // not limited
  clock_.advance(10s);
  service_->sweep();
  const std::string logged = ::testing::internal::GetCapturedStderr();
  std::size_t lines = 0;
  for (char c : logged) lines += c == '\n';
  EXPECT_EQ(lines, 3U) << logged;
  EXPECT_NE(logged.find("register refused 999 more times from 127.0.0.1 in the last 10 s"), std::string::npos)
      << logged;
  EXPECT_NE(logged.find("wrong_secret=0 wrong_colony=999 rate_limited=0"), std::string::npos) << logged;
}

TEST_F(MeshServiceTest, BadRequestsAreInvalidArguments) {
  auto bad_key = request("not-a-key");
  auto reply = register_peer(bad_key);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, rpc::Code::invalid_argument);
  EXPECT_TRUE(reply.error().message.starts_with("wireguard_pubkey: ")) << reply.error().message;

  auto zero_key = request(crypto::PublicKey().to_base64());
  reply = register_peer(zero_key);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, rpc::Code::invalid_argument);

  auto bad_kind = request(new_pubkey(), static_cast<mv1::PeerKind>(7));
  reply = register_peer(bad_kind);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, rpc::Code::invalid_argument);
  EXPECT_TRUE(reply.error().message.starts_with("kind: ")) << reply.error().message;

  auto no_component = request(new_pubkey(), mv1::PEER_KIND_AGENT, "");
  reply = register_peer(no_component);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, rpc::Code::invalid_argument);
  EXPECT_TRUE(reply.error().message.starts_with("component_name: ")) << reply.error().message;
  EXPECT_EQ(store_->count().value(), 0U);
}

TEST_F(MeshServiceTest, UnspecifiedKindIsAnAgentAndAProxyMayOmitItsComponent) {
  const std::string agent = new_pubkey();
  ASSERT_TRUE(register_peer(request(agent, mv1::PEER_KIND_UNSPECIFIED, "api")));
  EXPECT_EQ(store_->find_by_pubkey(agent).value()->kind, Peer::Kind::agent);

  const std::string proxy = new_pubkey();
  ASSERT_TRUE(register_peer(request(proxy, mv1::PEER_KIND_PROXY, "")));
  auto stored = store_->find_by_pubkey(proxy).value().value();
  EXPECT_EQ(stored.kind, Peer::Kind::proxy);
  EXPECT_EQ(stored.component_name, "proxy");
}

TEST_F(MeshServiceTest, AFullSubnetIsResourceExhausted) {
  stop();
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  start(test_config("127.42.0.0/29"));  // peers .2 - .6
  for (int i = 0; i < 5; ++i) {
    auto reply = register_peer(request(new_pubkey()));
    ASSERT_TRUE(reply) << reply.error().message;
    EXPECT_EQ(reply->mesh_ipv4(), "127.42.0." + std::to_string(i + 2));
  }
  auto full = register_peer(request(new_pubkey()));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, rpc::Code::resource_exhausted);
  EXPECT_NE(full.error().message.find("127.42.0.0/29"), std::string::npos) << full.error().message;
  EXPECT_EQ(store_->count().value(), 5U);
}

TEST_F(MeshServiceTest, HeartbeatUpdatesLastSeenAndSaysWhenTheNextIsDue) {
  const std::string key = new_pubkey();
  auto registered = register_peer(request(key)).value();
  clock_.advance(20s);
  auto reply = heartbeat(registered.peer_id(), key, "degraded");
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->heartbeat_interval_seconds(), 15U);
  const auto now = std::chrono::floor<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
  EXPECT_EQ(reply->next_heartbeat_before().seconds(), now + 60);

  auto stored = store_->find_by_id(registered.peer_id()).value().value();
  EXPECT_EQ(stored.last_seen, clock_.now());
  EXPECT_EQ(stored.status, "degraded");

  ASSERT_TRUE(heartbeat(registered.peer_id(), key, ""));  // empty: healthy
  EXPECT_EQ(store_->find_by_id(registered.peer_id()).value()->status, "healthy");
}

TEST_F(MeshServiceTest, HeartbeatRefusals) {
  const std::string key = new_pubkey();
  auto registered = register_peer(request(key)).value();

  auto unknown = heartbeat("peer-000000000000", key);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, rpc::Code::not_found);

  auto other_key = heartbeat(registered.peer_id(), new_pubkey());
  ASSERT_FALSE(other_key);
  EXPECT_EQ(other_key.error().code, rpc::Code::permission_denied);

  auto bad_status = heartbeat(registered.peer_id(), key, "fine");
  ASSERT_FALSE(bad_status);
  EXPECT_EQ(bad_status.error().code, rpc::Code::invalid_argument);
}

// A flood of Heartbeats with a known peer id and another key: one line,
// then a summary, as for Registers (before: one warning each).
TEST_F(MeshServiceTest, RefusedHeartbeatsAreReportedInSummariesNotOneLineEach) {
  const std::string key = new_pubkey();
  auto registered = register_peer(request(key)).value();
  const std::string other = new_pubkey();
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 1000; ++i) {
    auto refused = heartbeat(registered.peer_id(), other);
    ASSERT_FALSE(refused);
    ASSERT_EQ(refused.error().code, rpc::Code::permission_denied);
  }
  EXPECT_TRUE(heartbeat(registered.peer_id(), key));  // the peer itself is not held up
  clock_.advance(10s);
  service_->sweep();
  const std::string logged = ::testing::internal::GetCapturedStderr();
  std::size_t lines = 0;
  for (char c : logged) lines += c == '\n';
  EXPECT_EQ(lines, 2U) << logged;
  EXPECT_NE(logged.find("heartbeat refused"), std::string::npos) << logged;
  EXPECT_NE(logged.find("heartbeat refused 999 more times from 127.0.0.1 in the last 10 s"), std::string::npos)
      << logged;
  EXPECT_EQ(logged.find("register refused"), std::string::npos) << logged;
}

TEST_F(MeshServiceTest, UnregisterReleasesTheAddressesForReuse) {
  const std::string a = new_pubkey();
  const std::string b = new_pubkey();
  auto first = register_peer(request(a)).value();
  auto second = register_peer(request(b)).value();
  ASSERT_EQ(first.mesh_ipv4(), "127.42.0.2");

  auto wrong_key = unregister(first.peer_id(), b);
  ASSERT_FALSE(wrong_key);
  EXPECT_EQ(wrong_key.error().code, rpc::Code::permission_denied);

  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(unregister(first.peer_id(), a));
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(logged.find("peer unregistered"), std::string::npos) << logged;
  EXPECT_NE(logged.find(first.peer_id()), std::string::npos) << logged;
  EXPECT_FALSE(store_->find_by_id(first.peer_id()).value());

  auto again = unregister(first.peer_id(), a);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, rpc::Code::not_found);
  auto gone = heartbeat(first.peer_id(), a);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, rpc::Code::not_found);

  auto reused = register_peer(request(new_pubkey())).value();
  EXPECT_EQ(reused.mesh_ipv4(), "127.42.0.2");
  EXPECT_EQ(reused.mesh_ipv6(), "fdc0:42::2");
  EXPECT_EQ(register_peer(request(b))->mesh_ipv4(), second.mesh_ipv4());
}

TEST_F(MeshServiceTest, RegistrationIsAuditLogged) {
  ::testing::internal::CaptureStderr();
  auto reply = register_peer(request(new_pubkey(), mv1::PEER_KIND_AGENT, "frontend")).value();
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(logged.find("peer registered"), std::string::npos) << logged;
  EXPECT_NE(logged.find(reply.peer_id()), std::string::npos) << logged;
  EXPECT_NE(logged.find("frontend"), std::string::npos) << logged;
  EXPECT_NE(logged.find("127.42.0.2"), std::string::npos) << logged;
  EXPECT_NE(logged.find("fdc0:42::2"), std::string::npos) << logged;
  EXPECT_EQ(logged.find(config_.colony_secret), std::string::npos) << logged;
}

TEST_F(MeshServiceTest, AssignmentsSurviveARestart) {
  const std::string a = new_pubkey();
  const std::string b = new_pubkey();
  const std::string c = new_pubkey();
  auto ra = register_peer(request(a)).value();
  auto rb = register_peer(request(b)).value();
  auto rc = register_peer(request(c, mv1::PEER_KIND_PROXY, "proxy")).value();
  ASSERT_TRUE(unregister(rb.peer_id(), b));

  const config::ColonyConfig config = config_;
  stop();
  start(config);
  EXPECT_EQ(registry_->addresses_in_use(), 2U);

  auto again_c = register_peer(request(c, mv1::PEER_KIND_PROXY, "proxy")).value();
  EXPECT_EQ(again_c.mesh_ipv4(), rc.mesh_ipv4());
  EXPECT_EQ(again_c.mesh_ipv6(), rc.mesh_ipv6());
  EXPECT_EQ(again_c.peer_id(), rc.peer_id());
  auto again_a = register_peer(request(a)).value();
  EXPECT_EQ(again_a.mesh_ipv4(), ra.mesh_ipv4());
  EXPECT_EQ(again_a.peer_id(), ra.peer_id());
  // Heartbeats from before the restart's peers still land.
  EXPECT_TRUE(heartbeat(ra.peer_id(), a));

  // A new peer takes the lowest free index (b's), never one still held.
  auto fresh = register_peer(request(new_pubkey())).value();
  EXPECT_EQ(fresh.mesh_ipv4(), rb.mesh_ipv4());
  auto next = register_peer(request(new_pubkey())).value();
  EXPECT_EQ(next.mesh_ipv4(), "127.42.0.5");
  EXPECT_EQ(next.mesh_ipv6(), "fdc0:42::5");
}

TEST_F(MeshServiceTest, AStoreThatDoesNotFitTheSubnetIsRefusedAtStartUp) {
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(register_peer(request(new_pubkey())));  // up to .8
  const config::ColonyConfig wide = config_;
  stop();
  config::ColonyConfig narrow = wide;
  narrow.wireguard.mesh_network_ipv4 = base::Cidr::parse("127.42.0.0/29").value();
  store_.emplace(PeerStore::open(dir_ / "colony.db").value());
  auto registry = PeerRegistry::open(*store_, narrow, clock_);
  ASSERT_FALSE(registry);
  EXPECT_NE(registry.error().find("colony.db"), std::string::npos) << registry.error();
}

}  // namespace
}  // namespace coral::colony

// DiscoveryService's handlers, called directly, over the memory store and a
// fake clock (and a failing store for error paths).

#include "discovery/service.h"

#include <gtest/gtest.h>

#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "base/base64.h"
#include "discovery/memory_store.h"
#include "discovery/proof.h"

namespace coral::discovery {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

const std::string kKeyA = base::base64_encode(std::string(32, 'a'));
const std::string kKeyB = base::base64_encode(std::string(32, 'b'));

// FakeClock's default start: 2023-11-14T22:13:20Z.
constexpr std::int64_t kStart = 1'700'000'000;

template <class T>
T run(rpc::Awaitable<T> call) {
  asio::io_context io;
  std::optional<T> result;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { result = co_await std::move(call); }, asio::detached);
  io.run();
  return std::move(result).value();
}

v1::RegisterColonyRequest rfd005_registration(const std::string& mesh_id, const std::string& pubkey) {
  v1::RegisterColonyRequest request;
  request.set_mesh_id(mesh_id);
  request.set_wireguard_pubkey(pubkey);
  request.add_public_endpoints("203.0.113.42:41820");
  request.add_public_endpoints("[2001:db8::42]:41820");
  request.set_mesh_ipv4("127.42.0.1");
  request.set_mesh_ipv6("fdc0:42::1");
  request.set_connect_port(9000);
  (*request.mutable_metadata())["environment"] = "production";
  (*request.mutable_metadata())["app"] = "my-shop";
  return request;
}

// A store whose every call fails, as a Redis store does during an outage.
class UnavailableStore final : public Store {
 public:
  rpc::Awaitable<rpc::Result<PutResult>> put(ColonyRecord) override { co_return outage(); }
  rpc::Awaitable<rpc::Result<std::optional<ColonyRecord>>> get(std::string) override { co_return outage(); }
  rpc::Awaitable<rpc::Result<std::size_t>> count_live() override { co_return outage(); }
  rpc::Awaitable<rpc::Result<std::size_t>> purge_expired() override { co_return outage(); }
  rpc::Awaitable<rpc::Result<crypto::SecretKey>> shared_key(crypto::SecretKey) override { co_return outage(); }
  std::string describe() const override { return "redis://127.0.0.1:6390/0"; }

 private:
  static std::unexpected<rpc::Error> outage() {
    return rpc::fail(rpc::Code::unavailable, "redis://127.0.0.1:6390/0 is not reachable: connection refused");
  }
};

class DiscoveryServiceTest : public ::testing::Test {
 protected:
  rpc::Result<v1::RegisterColonyResponse> register_colony(const v1::RegisterColonyRequest& request) {
    return run(service_.RegisterColony(context_, request));
  }
  rpc::Result<v1::LookupColonyResponse> lookup(const std::string& mesh_id) {
    v1::LookupColonyRequest request;
    request.set_mesh_id(mesh_id);
    return run(service_.LookupColony(context_, request));
  }
  v1::HealthResponse health() { return run(service_.Health(context_, v1::HealthRequest{})).value(); }

  base::FakeClock clock_;
  std::unique_ptr<Store> store_ = make_memory_store(clock_);
  // These tests are about leases: registrations without proofs (as older
  // colonies send them) are accepted. proof_test.cpp and the tests below
  // (ProvenRegistrationTest) require proofs.
  static ServiceOptions lease_options() {
    ServiceOptions options;
    options.ttl = 300s;
    options.version = "1.2.3";
    options.accept_unproven = true;
    options.source_limits.per_second = 0;
    return options;
  }
  DiscoveryService service_{*store_, clock_, lease_options()};
  rpc::Context context_;
};

TEST_F(DiscoveryServiceTest, RegisterGrantsALeaseOfTheTtl) {
  clock_.advance(250ms);
  const auto response = register_colony(rfd005_registration("my-app-prod", kKeyA));
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_TRUE(response->success());
  EXPECT_EQ(response->ttl(), 300);
  EXPECT_EQ(response->expires_at().seconds(), kStart + 300);
  EXPECT_EQ(response->expires_at().nanos(), 250'000'000);
}

TEST_F(DiscoveryServiceTest, LookupReturnsEveryRegisteredFieldAndLastSeen) {
  ASSERT_TRUE(register_colony(rfd005_registration("my-app-prod", kKeyA)));
  clock_.advance(42s);
  const auto found = lookup("my-app-prod");
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->wireguard_pubkey(), kKeyA);
  ASSERT_EQ(found->public_endpoints_size(), 2);
  EXPECT_EQ(found->public_endpoints(0), "203.0.113.42:41820");
  EXPECT_EQ(found->public_endpoints(1), "[2001:db8::42]:41820");
  EXPECT_EQ(found->mesh_ipv4(), "127.42.0.1");
  EXPECT_EQ(found->mesh_ipv6(), "fdc0:42::1");
  EXPECT_EQ(found->connect_port(), 9000u);
  ASSERT_EQ(found->metadata_size(), 2u);
  EXPECT_EQ(found->metadata().at("app"), "my-shop");
  EXPECT_EQ(found->metadata().at("environment"), "production");
  EXPECT_EQ(found->last_seen().seconds(), kStart);  // when it registered, not when it was looked up
  EXPECT_EQ(found->last_seen().nanos(), 0);
}

TEST_F(DiscoveryServiceTest, AnOlderClientsRegistrationWorksWithoutTheRfd005Fields) {
  v1::RegisterColonyRequest request;
  request.set_mesh_id("legacy-colony");
  request.set_wireguard_pubkey(kKeyA);
  request.add_public_endpoints("203.0.113.7:51820");
  const auto response = register_colony(request);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_TRUE(response->success());

  const auto found = lookup("legacy-colony");
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->wireguard_pubkey(), kKeyA);
  ASSERT_EQ(found->public_endpoints_size(), 1);
  EXPECT_EQ(found->public_endpoints(0), "203.0.113.7:51820");
  EXPECT_EQ(found->mesh_ipv4(), "");
  EXPECT_EQ(found->mesh_ipv6(), "");
  EXPECT_EQ(found->connect_port(), 0u);
  EXPECT_TRUE(found->metadata().empty());
}

TEST_F(DiscoveryServiceTest, ReRegisteringRenewsTheLeaseAndLastSeen) {
  ASSERT_TRUE(register_colony(rfd005_registration("my-app-prod", kKeyA)));
  clock_.advance(200s);
  v1::RegisterColonyRequest renewal = rfd005_registration("my-app-prod", kKeyA);
  renewal.set_connect_port(9001);
  const auto response = register_colony(renewal);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->expires_at().seconds(), kStart + 200 + 300);

  clock_.advance(200s);  // past the first lease
  const auto found = lookup("my-app-prod");
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->connect_port(), 9001u);
  EXPECT_EQ(found->last_seen().seconds(), kStart + 200);
}

TEST_F(DiscoveryServiceTest, AnExpiredColonyIsNotFoundNamingItsMeshId) {
  ASSERT_TRUE(register_colony(rfd005_registration("my-app-prod", kKeyA)));
  clock_.advance(300s);
  const auto found = lookup("my-app-prod");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, rpc::Code::not_found);
  EXPECT_EQ(found.error().message, "colony \"my-app-prod\" is not registered (or its lease expired)");
}

TEST_F(DiscoveryServiceTest, AnUnknownColonyIsNotFound) {
  const auto found = lookup("nobody");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, rpc::Code::not_found);
  EXPECT_EQ(found.error().message, "colony \"nobody\" is not registered (or its lease expired)");
}

TEST_F(DiscoveryServiceTest, LookupValidatesTheMeshId) {
  const auto found = lookup("My App");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, rpc::Code::invalid_argument);
  EXPECT_EQ(found.error().message, "mesh_id: must be 1-63 characters of a-z, 0-9, '-', '_' and '.'; got \"My App\"");
}

TEST_F(DiscoveryServiceTest, AnInvalidRegistrationIsRefusedAndNotStored) {
  v1::RegisterColonyRequest request = rfd005_registration("my-app-prod", kKeyA);
  request.set_mesh_ipv6("::ffff:127.42.0.1");
  const auto response = register_colony(request);
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, rpc::Code::invalid_argument);
  EXPECT_TRUE(response.error().message.starts_with("mesh_ipv6: ")) << response.error().message;
  EXPECT_EQ(lookup("my-app-prod").error().code, rpc::Code::not_found);
}

TEST_F(DiscoveryServiceTest, TakeoverIsRefusedNamingWhenTheLeaseEnds) {
  ASSERT_TRUE(register_colony(rfd005_registration("my-app-prod", kKeyA)));
  clock_.advance(100s);
  const auto response = register_colony(rfd005_registration("my-app-prod", kKeyB));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, rpc::Code::already_exists);
  EXPECT_EQ(response.error().message,
            "mesh_id \"my-app-prod\" is registered by another WireGuard key until 2023-11-14T22:18:20Z; it can be "
            "taken over after that lease expires");
  EXPECT_EQ(lookup("my-app-prod")->wireguard_pubkey(), kKeyA);
}

TEST_F(DiscoveryServiceTest, TheLeaseEndIsRoundedUpToTheSecond) {
  clock_.advance(500ms);
  ASSERT_TRUE(register_colony(rfd005_registration("my-app-prod", kKeyA)));
  const auto response = register_colony(rfd005_registration("my-app-prod", kKeyB));
  ASSERT_FALSE(response);
  EXPECT_NE(response.error().message.find("until 2023-11-14T22:18:21Z;"), std::string::npos) << response.error().message;
}

TEST_F(DiscoveryServiceTest, TakeoverSucceedsOnceTheLeaseExpired) {
  ASSERT_TRUE(register_colony(rfd005_registration("my-app-prod", kKeyA)));
  clock_.advance(300s);
  const auto response = register_colony(rfd005_registration("my-app-prod", kKeyB));
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(lookup("my-app-prod")->wireguard_pubkey(), kKeyB);
}

TEST_F(DiscoveryServiceTest, HealthReportsVersionUptimeAndLiveColonies) {
  clock_.advance(90s);
  ASSERT_TRUE(register_colony(rfd005_registration("short-lived", kKeyA)));
  clock_.advance(200s);
  ASSERT_TRUE(register_colony(rfd005_registration("my-app-prod", kKeyA)));
  ASSERT_TRUE(register_colony(rfd005_registration("my-app-dev", kKeyB)));
  v1::HealthResponse response = health();
  EXPECT_EQ(response.status(), "ok");
  EXPECT_EQ(response.version(), "1.2.3");
  EXPECT_EQ(response.uptime_seconds(), 290);
  EXPECT_EQ(response.registered_colonies(), 3);

  clock_.advance(100s);  // "short-lived" expires, unpurged
  response = health();
  EXPECT_EQ(response.uptime_seconds(), 390);
  EXPECT_EQ(response.registered_colonies(), 2);
}

class UnavailableStoreTest : public ::testing::Test {
 protected:
  base::FakeClock clock_;
  UnavailableStore store_;
  DiscoveryService service_{store_, clock_, ServiceOptions{}};
  rpc::Context context_;
};

TEST_F(UnavailableStoreTest, RegisterAndLookupPassTheStoresErrorThrough) {
  const auto registered = run(service_.RegisterColony(context_, rfd005_registration("my-app-prod", kKeyA)));
  ASSERT_FALSE(registered);
  EXPECT_EQ(registered.error().code, rpc::Code::unavailable);
  EXPECT_EQ(registered.error().message, "redis://127.0.0.1:6390/0 is not reachable: connection refused");

  v1::LookupColonyRequest request;
  request.set_mesh_id("my-app-prod");
  const auto found = run(service_.LookupColony(context_, request));
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, rpc::Code::unavailable);
  EXPECT_EQ(found.error().message, "redis://127.0.0.1:6390/0 is not reachable: connection refused");
}

TEST_F(UnavailableStoreTest, HealthStillAnswersDegradedWithTheReason) {
  clock_.advance(5s);
  const auto response = run(service_.Health(context_, v1::HealthRequest{}));
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status(), "degraded: redis://127.0.0.1:6390/0 is not reachable: connection refused");
  EXPECT_EQ(response->version(), ServiceOptions{}.version);
  EXPECT_EQ(response->uptime_seconds(), 5);
  EXPECT_EQ(response->registered_colonies(), 0);
}

}  // namespace
}  // namespace coral::discovery

// --- issue 16: discovery must not decide where the colony secret goes ---

namespace coral::discovery {
namespace {

// Proofs required (the default), small limits.
class ProvenRegistrationTest : public ::testing::Test {
 protected:
  static ServiceOptions options(bool accept_unproven = false) {
    ServiceOptions options;
    options.accept_unproven = accept_unproven;
    options.source_limits.per_second = 0;
    return options;
  }

  rpc::Result<v1::GetRegistrationChallengeResponse> challenge(const std::string& mesh_id, const std::string& pubkey) {
    v1::GetRegistrationChallengeRequest request;
    request.set_mesh_id(mesh_id);
    request.set_wireguard_pubkey(pubkey);
    return run(service_->GetRegistrationChallenge(context_, request));
  }
  // A registration of `mesh_id` for `claimed` key, proven with `signer`.
  v1::RegisterColonyRequest proven(const std::string& mesh_id, const crypto::SecretKey& signer,
                                   const crypto::PublicKey& claimed) {
    v1::RegisterColonyRequest request = rfd005_registration(mesh_id, claimed.to_base64());
    const auto issued = challenge(mesh_id, claimed.to_base64());
    EXPECT_TRUE(issued) << issued.error().message;
    request.set_challenge(issued->challenge());
    const auto discovery_key = crypto::PublicKey::from_base64(issued->discovery_pubkey());
    EXPECT_TRUE(discovery_key);
    const auto proof = registration_proof(signer, *discovery_key, request);
    request.set_proof(proof->data(), proof->size());
    return request;
  }
  v1::RegisterColonyRequest proven(const std::string& mesh_id, const crypto::SecretKey& key) {
    return proven(mesh_id, key, key.public_key());
  }
  rpc::Result<v1::RegisterColonyResponse> register_colony(const v1::RegisterColonyRequest& request) {
    return run(service_->RegisterColony(context_, request));
  }
  rpc::Result<v1::LookupColonyResponse> lookup(const std::string& mesh_id) {
    v1::LookupColonyRequest request;
    request.set_mesh_id(mesh_id);
    return run(service_->LookupColony(context_, request));
  }
  void restart(ServiceOptions options, StoreLimits limits = {}) {
    service_.reset();
    store_ = make_memory_store(clock_, limits);
    service_ = std::make_unique<DiscoveryService>(*store_, clock_, std::move(options));
  }

  base::FakeClock clock_;
  std::unique_ptr<Store> store_ = make_memory_store(clock_);
  std::unique_ptr<DiscoveryService> service_ = std::make_unique<DiscoveryService>(*store_, clock_, options());
  rpc::Context context_ = [] {
    rpc::Context context;
    context.peer = "127.0.0.1:40000";
    return context;
  }();
  crypto::SecretKey victim_ = crypto::SecretKey::generate();
  crypto::SecretKey squatter_ = crypto::SecretKey::generate();
};

TEST_F(ProvenRegistrationTest, TheRealColonyRegistersAndLookupSaysProven) {
  const auto response = register_colony(proven("victim", victim_));
  ASSERT_TRUE(response) << response.error().message;
  const auto found = lookup("victim");
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->wireguard_pubkey(), victim_.public_key().to_base64());
  EXPECT_TRUE(found->proven());
}

TEST_F(ProvenRegistrationTest, ASquatterWithoutAProofIsRefused) {
  const auto refused = register_colony(rfd005_registration("victim", victim_.public_key().to_base64()));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, rpc::Code::unauthenticated);
  EXPECT_NE(refused.error().message.find("proof of possession"), std::string::npos) << refused.error().message;
  EXPECT_EQ(lookup("victim").error().code, rpc::Code::not_found);
  // ... and the real colony then registers.
  EXPECT_TRUE(register_colony(proven("victim", victim_)));
}

TEST_F(ProvenRegistrationTest, ASquatterWithTheRightPublicKeyButNotItsPrivateKeyIsRefused) {
  const auto refused = register_colony(proven("victim", squatter_, victim_.public_key()));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, rpc::Code::unauthenticated);
  EXPECT_NE(refused.error().message.find("does not hold the private key"), std::string::npos) << refused.error().message;
  EXPECT_EQ(lookup("victim").error().code, rpc::Code::not_found);
}

TEST_F(ProvenRegistrationTest, ASquattersRecordIsNotReplacedButSaysWhoHoldsIt) {
  // A squatter with its own key can still hold a mesh id nobody holds
  // (first come): members refuse it because their config pins the key, and
  // the real colony is told why it is refused.
  ASSERT_TRUE(register_colony(proven("victim", squatter_)));
  const auto refused = register_colony(proven("victim", victim_));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, rpc::Code::already_exists);
}

TEST_F(ProvenRegistrationTest, WithAcceptUnprovenAProvenColonyTakesOverAnUnprovenSquatter) {
  restart(options(/*accept_unproven=*/true));
  ASSERT_TRUE(register_colony(rfd005_registration("victim", squatter_.public_key().to_base64())));
  EXPECT_FALSE(lookup("victim")->proven());
  const auto response = register_colony(proven("victim", victim_));
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(lookup("victim")->wireguard_pubkey(), victim_.public_key().to_base64());
  EXPECT_TRUE(lookup("victim")->proven());
  // An unproven one cannot take it back, nor a forged proof get in.
  EXPECT_EQ(register_colony(rfd005_registration("victim", squatter_.public_key().to_base64())).error().code,
            rpc::Code::already_exists);
  EXPECT_EQ(register_colony(proven("victim", squatter_, victim_.public_key())).error().code,
            rpc::Code::unauthenticated);
}

TEST_F(ProvenRegistrationTest, AReservedMeshIdCannotBeHeldFirstBySomeoneElse) {
  ServiceOptions reserving = options();
  reserving.reserved["victim"] = victim_.public_key().to_base64();
  restart(reserving);
  const auto refused = register_colony(proven("victim", squatter_));  // a valid proof, of its own key
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, rpc::Code::permission_denied);
  EXPECT_NE(refused.error().message.find("reserved for WireGuard key " + victim_.public_key().to_base64()),
            std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(register_colony(proven("victim", victim_)));
  EXPECT_TRUE(register_colony(proven("other", squatter_)));  // other mesh ids are first come
}

TEST_F(ProvenRegistrationTest, BeyondTheColonyLimitNewRecordsAreRefusedRenewalsAreNot) {
  restart(options(true), StoreLimits{.max_records = 3, .max_bytes = std::size_t{1} << 20});
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(register_colony(rfd005_registration(id, kKeyA)));
  const auto refused = register_colony(rfd005_registration("d", kKeyA));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, rpc::Code::resource_exhausted);
  EXPECT_NE(refused.error().message.find("--max-colonies"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(register_colony(rfd005_registration("b", kKeyA)));  // a renewal
  // Once leases expire there is room again.
  clock_.advance(301s);
  EXPECT_TRUE(register_colony(rfd005_registration("d", kKeyA)));
}

TEST_F(ProvenRegistrationTest, BeyondTheByteLimitNewRecordsAreRefused) {
  v1::RegisterColonyRequest big = rfd005_registration("big-0", kKeyA);
  big.mutable_metadata()->clear();
  for (int i = 0; i < 32; ++i) (*big.mutable_metadata())["key-" + std::to_string(i)] = std::string(256, 'x');
  const std::size_t per_record = 32 * (6 + 256);  // at least
  restart(options(true), StoreLimits{.max_records = 1000, .max_bytes = 4 * per_record + 4 * 1024});
  int stored = 0;
  rpc::Result<v1::RegisterColonyResponse> last;
  for (int i = 0; i < 20; ++i) {
    big.set_mesh_id("big-" + std::to_string(i));
    last = register_colony(big);
    if (!last) break;
    ++stored;
  }
  EXPECT_EQ(stored, 4);
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().code, rpc::Code::resource_exhausted);
}

TEST_F(ProvenRegistrationTest, ASourceOverItsRateIsRefusedOthersAreNot) {
  ServiceOptions limited = options(true);
  limited.source_limits = SourceLimits{.per_second = 1, .burst = 3, .max_sources = 16};
  restart(limited);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(register_colony(rfd005_registration("r" + std::to_string(i), kKeyA)));
  const auto refused = register_colony(rfd005_registration("r3", kKeyA));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, rpc::Code::resource_exhausted);
  EXPECT_NE(refused.error().message.find("too many calls"), std::string::npos) << refused.error().message;
  // Challenges count too.
  EXPECT_EQ(challenge("r3", kKeyA).error().code, rpc::Code::resource_exhausted);
  // Another source (and another /64 of IPv6) is not limited...
  context_.peer = "127.0.0.2:40000";
  EXPECT_TRUE(register_colony(rfd005_registration("r3", kKeyA)));
  context_.peer = "[2001:db8:0:1::1]:40000";
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(register_colony(rfd005_registration("s" + std::to_string(i), kKeyA)));
  context_.peer = "[2001:db8:0:1::2]:40001";  // same /64
  EXPECT_FALSE(register_colony(rfd005_registration("s3", kKeyA)));
  // ... and the first one may go on a second later.
  context_.peer = "127.0.0.1:40001";
  clock_.advance(1s);
  EXPECT_TRUE(register_colony(rfd005_registration("r4", kKeyA)));
}

TEST(SourceLimiter, TracksBoundedSourcesAndForgetsIdleOnes) {
  base::FakeClock clock;
  SourceLimiter limiter(SourceLimits{.per_second = 10, .burst = 2, .max_sources = 2});
  EXPECT_TRUE(limiter.allow("127.0.0.1:1", clock.now()));
  EXPECT_TRUE(limiter.allow("127.0.0.2:1", clock.now()));
  EXPECT_FALSE(limiter.allow("127.0.0.3:1", clock.now()));  // a third source while two are active
  EXPECT_EQ(limiter.tracked(), 2U);
  clock.advance(std::chrono::seconds(1));  // both buckets full again: forgotten
  EXPECT_TRUE(limiter.allow("127.0.0.3:1", clock.now()));
  EXPECT_EQ(limiter.tracked(), 1U);
}

TEST(SourceKey, IsTheAddressOrTheIpv6Slash64) {
  EXPECT_EQ(source_key("127.0.0.1:5000"), "v4:127.0.0.1");
  EXPECT_EQ(source_key("[::ffff:127.0.0.1]:5000"), "v4:127.0.0.1");
  EXPECT_EQ(source_key("[2001:db8:1:2:3:4:5:6]:5000"), "v6:20010db800010002");
  EXPECT_EQ(source_key("junk"), "?");
}

}  // namespace
}  // namespace coral::discovery

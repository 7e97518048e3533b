// The embedded store with a fake clock: leases, expiry, the takeover rule,
// purge and the live count.

#include "discovery/memory_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace coral::discovery {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Runs one store call to completion.
template <class T>
T run(rpc::Awaitable<T> call) {
  asio::io_context io;
  std::optional<T> result;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { result = co_await std::move(call); }, asio::detached);
  io.run();
  return std::move(result).value();
}

class MemoryStoreTest : public ::testing::Test {
 protected:
  ColonyRecord record(std::string mesh_id, std::string pubkey, std::chrono::seconds ttl = 300s) const {
    const auto now = clock_.now();
    return ColonyRecord{
        .mesh_id = std::move(mesh_id),
        .wireguard_pubkey = std::move(pubkey),
        .public_endpoints = {"203.0.113.42:41820"},
        .mesh_ipv4 = "127.42.0.1",
        .mesh_ipv6 = "fdc0:42::1",
        .connect_port = 9000,
        .metadata = {{"app", "my-shop"}, {"environment", "production"}},
        .last_seen = now,
        .expires_at = now + ttl,
    };
  }

  PutResult put(ColonyRecord r) { return run(store_->put(std::move(r))).value(); }
  std::optional<ColonyRecord> get(std::string mesh_id) { return run(store_->get(std::move(mesh_id))).value(); }
  std::size_t count_live() { return run(store_->count_live()).value(); }
  std::size_t purge() { return run(store_->purge_expired()).value(); }

  base::FakeClock clock_;
  std::unique_ptr<Store> store_ = make_memory_store(clock_);
};

TEST_F(MemoryStoreTest, DescribesItselfAsMemory) { EXPECT_EQ(store_->describe(), "memory"); }

TEST_F(MemoryStoreTest, ReturnsWhatWasStored) {
  const ColonyRecord stored = record("my-app-prod", "key-a");
  const PutResult result = put(stored);
  EXPECT_TRUE(result.stored);
  EXPECT_FALSE(result.holder);
  EXPECT_EQ(get("my-app-prod"), stored);
}

TEST_F(MemoryStoreTest, UnknownMeshIdIsNotFound) {
  put(record("my-app-prod", "key-a"));
  EXPECT_EQ(get("my-app-dev"), std::nullopt);
}

TEST_F(MemoryStoreTest, LeaseIsLiveUntilJustBeforeExpiresAt) {
  put(record("my-app-prod", "key-a", 300s));
  clock_.advance(300s - 1ns);
  EXPECT_TRUE(get("my-app-prod"));
  clock_.advance(1ns);
  EXPECT_EQ(get("my-app-prod"), std::nullopt);
}

TEST_F(MemoryStoreTest, ReRegisteringWithTheSameKeyRefreshesTheLease) {
  put(record("my-app-prod", "key-a", 300s));
  clock_.advance(200s);
  ColonyRecord renewed = record("my-app-prod", "key-a", 300s);
  renewed.public_endpoints = {"198.51.100.7:41820"};
  EXPECT_TRUE(put(renewed).stored);
  clock_.advance(200s);  // 400 s after the first registration
  EXPECT_EQ(get("my-app-prod"), renewed);
  clock_.advance(100s);
  EXPECT_EQ(get("my-app-prod"), std::nullopt);
}

TEST_F(MemoryStoreTest, TakeoverIsRefusedWhileTheLeaseIsLive) {
  const ColonyRecord first = record("my-app-prod", "key-a", 300s);
  put(first);
  clock_.advance(299s);
  const PutResult result = put(record("my-app-prod", "key-b", 300s));
  EXPECT_FALSE(result.stored);
  EXPECT_EQ(result.holder, first);
  EXPECT_EQ(get("my-app-prod"), first);
}

TEST_F(MemoryStoreTest, TakeoverIsAllowedOnceTheLeaseExpired) {
  put(record("my-app-prod", "key-a", 300s));
  clock_.advance(300s);
  const ColonyRecord second = record("my-app-prod", "key-b", 300s);
  const PutResult result = put(second);
  EXPECT_TRUE(result.stored);
  EXPECT_FALSE(result.holder);
  EXPECT_EQ(get("my-app-prod"), second);
  // And now the old key is the one refused.
  EXPECT_FALSE(put(record("my-app-prod", "key-a", 300s)).stored);
}

TEST_F(MemoryStoreTest, TheSameKeyRenewsEvenAfterExpiry) {
  put(record("my-app-prod", "key-a", 300s));
  clock_.advance(1h);
  EXPECT_EQ(count_live(), 0u);
  EXPECT_TRUE(put(record("my-app-prod", "key-a", 300s)).stored);
  EXPECT_EQ(count_live(), 1u);
  EXPECT_EQ(purge(), 0u);
  EXPECT_TRUE(get("my-app-prod"));
}

TEST_F(MemoryStoreTest, CountLiveLeavesOutExpiredLeasesBeforeAnyPurge) {
  EXPECT_EQ(count_live(), 0u);
  put(record("short", "key-a", 60s));
  put(record("medium", "key-b", 120s));
  put(record("long", "key-c", 300s));
  EXPECT_EQ(count_live(), 3u);
  clock_.advance(60s);
  EXPECT_EQ(count_live(), 2u);
  clock_.advance(60s);
  EXPECT_EQ(count_live(), 1u);
  clock_.advance(180s);
  EXPECT_EQ(count_live(), 0u);
}

TEST_F(MemoryStoreTest, PurgeForgetsOnlyExpiredLeasesAndCountsThem) {
  put(record("short", "key-a", 60s));
  put(record("medium", "key-b", 120s));
  put(record("long", "key-c", 300s));
  EXPECT_EQ(purge(), 0u);
  clock_.advance(120s);
  EXPECT_EQ(purge(), 2u);
  EXPECT_EQ(purge(), 0u);
  EXPECT_EQ(count_live(), 1u);
  EXPECT_TRUE(get("long"));
  EXPECT_FALSE(get("short"));
  // A purged mesh_id is free for anyone.
  EXPECT_TRUE(put(record("short", "key-z", 60s)).stored);
}

TEST_F(MemoryStoreTest, PurgeKeepsALeaseThatWasRenewed) {
  put(record("my-app-prod", "key-a", 60s));
  clock_.advance(50s);
  put(record("my-app-prod", "key-a", 60s));
  clock_.advance(50s);  // past the first lease, inside the second
  EXPECT_EQ(purge(), 0u);
  EXPECT_EQ(count_live(), 1u);
  clock_.advance(10s);
  EXPECT_EQ(purge(), 1u);
  EXPECT_EQ(count_live(), 0u);
}

TEST_F(MemoryStoreTest, ALeaseRenewedShorterMovesEarlierInTheExpiryOrder) {
  put(record("a", "key-a", 300s));
  put(record("b", "key-b", 200s));
  put(record("a", "key-a", 100s));  // a client configured with a shorter TTL
  clock_.advance(100s);
  EXPECT_EQ(count_live(), 1u);
  EXPECT_EQ(purge(), 1u);
  EXPECT_FALSE(get("a"));
  EXPECT_TRUE(get("b"));
}

// Many random registrations, renewals, takeovers and purges against a plain
// model of the rule: the expiry index must always agree with it.
TEST_F(MemoryStoreTest, AgreesWithASimpleModelUnderRandomTraffic) {
  struct Model {
    std::string pubkey;
    base::Clock::time_point expires_at;
  };
  std::map<std::string, Model> model;
  std::mt19937 random(12345);
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  for (int step = 0; step < 20000; ++step) {
    const auto now = clock_.now();
    auto live = [&](const Model& m) { return now < m.expires_at; };
    switch (pick(10)) {
      case 0:
        clock_.advance(std::chrono::seconds(pick(40)));
        break;
      case 1: {
        std::size_t expired = 0;
        for (auto it = model.begin(); it != model.end();) {
          if (!live(it->second)) {
            it = model.erase(it);
            ++expired;
          } else {
            ++it;
          }
        }
        ASSERT_EQ(purge(), expired) << "step " << step;
        break;
      }
      case 2: {
        const auto expected = static_cast<std::size_t>(
            std::count_if(model.begin(), model.end(), [&](const auto& entry) { return live(entry.second); }));
        ASSERT_EQ(count_live(), expected) << "step " << step;
        break;
      }
      default: {
        const std::string mesh_id = "colony-" + std::to_string(pick(300));
        const std::string pubkey = "key-" + std::to_string(pick(3));
        const std::chrono::seconds ttl(1 + pick(120));
        const auto held = model.find(mesh_id);
        const bool refused = held != model.end() && live(held->second) && held->second.pubkey != pubkey;
        const PutResult result = put(record(mesh_id, pubkey, ttl));
        ASSERT_EQ(result.stored, !refused) << "step " << step;
        if (!refused) model[mesh_id] = Model{.pubkey = pubkey, .expires_at = now + ttl};
        const auto got = get(mesh_id);
        ASSERT_TRUE(got);
        ASSERT_EQ(got->wireguard_pubkey, model[mesh_id].pubkey);
        ASSERT_EQ(got->expires_at, model[mesh_id].expires_at);
      }
    }
  }
}

TEST_F(MemoryStoreTest, CallsCompleteWithoutWaiting) {
  asio::io_context io;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // Named arguments: g++ 12 mishandles temporaries in co_await expressions.
        ColonyRecord colony = record("my-app-prod", "key-a");
        std::string mesh_id = "my-app-prod";
        auto stored = co_await store_->put(std::move(colony));
        auto found = co_await store_->get(std::move(mesh_id));
        auto live = co_await store_->count_live();
        done = stored && found && live;
      },
      asio::detached);
  // Only handlers that are ready run: nothing is waited for.
  io.poll();
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace coral::discovery

// The Redis store against a real redis-server, started on a free loopback
// port for each test and stopped by its PID.

#include "discovery/redis_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "../../support/redis_server.h"

namespace coral::discovery {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------
// parse_redis_url

struct UrlRow {
  std::string_view url;
  std::string host;
  std::uint16_t port;
  int db;
};

TEST(ParseRedisUrl, Accepts) {
  const UrlRow rows[] = {
      {"redis://127.0.0.1:6390/2", "127.0.0.1", 6390, 2},
      {"redis://localhost", "localhost", 6379, 0},
      {"redis://localhost/", "localhost", 6379, 0},
      {"redis://redis.internal:7000", "redis.internal", 7000, 0},
      {"redis://cache-1/15", "cache-1", 6379, 15},
      {"redis://[::1]:6380/1", "::1", 6380, 1},
      {"redis://[2001:db8::7]", "2001:db8::7", 6379, 0},
      {"redis://h:65535/0", "h", 65535, 0},
      {"redis://h:1", "h", 1, 0},
  };
  for (const auto& row : rows) {
    auto address = parse_redis_url(row.url);
    ASSERT_TRUE(address) << row.url << ": " << address.error();
    EXPECT_EQ(address->host, row.host) << row.url;
    EXPECT_EQ(address->port, row.port) << row.url;
    EXPECT_EQ(address->db, row.db) << row.url;
  }
}

TEST(ParseRedisUrl, RejectsNamingTheProblem) {
  const std::pair<std::string_view, std::string_view> rows[] = {
      {"redis://x:y", "invalid --store \"redis://x:y\": port must be 1-65535"},
      {"redis://x:0", "port must be 1-65535"},
      {"redis://x:65536", "port must be 1-65535"},
      {"redis://x:", "port must be 1-65535"},
      {"redis://x:-1", "port must be 1-65535"},
      {"redis://x:+80", "port must be 1-65535"},
      {"redis://", "host is missing"},
      {"redis://:6379/0", "host is missing"},
      {"redis://[]:6379", "host is missing"},
      {"redis://x/abc", "database must be a number (0, 1, ...), not \"abc\""},
      {"redis://x/-1", "database must be a number"},
      {"redis://x/1/2", "database must be a number"},
      {"redis://x/99999999999", "database must be a number"},
      {"redis://::1:6379", "an IPv6 host must be in brackets"},
      {"redis://[::1:6379", "missing ] after the IPv6 host"},
      {"redis://[::1]6379", "expected :PORT after the IPv6 host"},
      {"redis://[nope]:6379", "\"nope\" is not an IPv6 address"},
      {"redis://user:pw@x:6379", "a user or password is not supported"},
      {"redis://x:6379/0?timeout=1", "options (?... or #...) are not supported"},
      {"redis://bad host", "host \"bad host\" has characters a host name cannot have"},
      {"http://x:6379", "expected redis://HOST:PORT/DB"},
      {"rediss://x:6379", "expected redis://HOST:PORT/DB"},
  };
  for (const auto& [url, message] : rows) {
    auto address = parse_redis_url(url);
    ASSERT_FALSE(address) << url;
    EXPECT_NE(address.error().find(message), std::string::npos) << url << " -> " << address.error();
    EXPECT_TRUE(address.error().starts_with("invalid --store \"" + std::string(url) + "\": ")) << address.error();
  }
}

// ---------------------------------------------------------------------------
// Against a real Redis

// Runs `operation` on `io` for at most `limit`; nullopt when it did not
// finish (the result then lands in a cell the test no longer reads).
template <class T>
asio::awaitable<void> store_into(asio::awaitable<T> operation, std::shared_ptr<std::optional<T>> cell) {
  T value = co_await std::move(operation);
  cell->emplace(std::move(value));
}

template <class T>
std::optional<T> run(asio::io_context& io, asio::awaitable<T> operation, std::chrono::milliseconds limit = 5s) {
  auto cell = std::make_shared<std::optional<T>>();
  auto coroutine = store_into(std::move(operation), cell);
  asio::co_spawn(io, std::move(coroutine), asio::detached);
  io.restart();
  io.run_for(limit);
  return *cell;
}

ColonyRecord make_record(std::string mesh_id, std::string pubkey, base::Clock::time_point now,
                         std::chrono::seconds ttl = 30s) {
  ColonyRecord record;
  record.mesh_id = std::move(mesh_id);
  record.wireguard_pubkey = std::move(pubkey);
  record.public_endpoints = {"203.0.113.7:41820", "[2001:db8::7]:41820"};
  record.mesh_ipv4 = "127.42.0.1";
  record.mesh_ipv6 = "fdc0:42::1";
  record.connect_port = 9000;
  record.metadata = {{"app", "shop"}, {"env", "prod"}, {"version", "1.2.3"}};
  record.last_seen = now;
  record.expires_at = now + ttl;
  return record;
}

const std::string kKeyA = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const std::string kKeyB = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=";

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::RedisServer::executable().empty()) GTEST_SKIP() << "redis-server not installed";
    server_.emplace();
    ASSERT_TRUE(server_->running()) << server_->error();
    address_.host = "127.0.0.1";
    address_.port = server_->port();
    address_.db = 0;
  }

  std::unique_ptr<Store> make_store(int db = 0, StoreLimits limits = {}) {
    RedisAddress address = address_;
    address.db = db;
    return make_redis_store(io_.get_executor(), address, clock_, limits);
  }

  template <class T>
  std::optional<T> run(asio::awaitable<T> operation, std::chrono::milliseconds limit = 5s) {
    return discovery::run(io_, std::move(operation), limit);
  }

  PutResult put_ok(Store& store, ColonyRecord record) {
    auto result = run(store.put(std::move(record)));
    EXPECT_TRUE(result.has_value()) << "put did not finish";
    if (!result) return {};
    EXPECT_TRUE(result->has_value()) << (*result).error().message;
    return result->value_or(PutResult{});
  }

  std::optional<ColonyRecord> get_ok(Store& store, std::string mesh_id) {
    auto result = run(store.get(std::move(mesh_id)));
    EXPECT_TRUE(result.has_value()) << "get did not finish";
    if (!result) return std::nullopt;
    EXPECT_TRUE(result->has_value()) << (*result).error().message;
    return result->value_or(std::nullopt);
  }

  std::size_t count_ok(Store& store) {
    auto result = run(store.count_live());
    EXPECT_TRUE(result && result->has_value());
    return result && result->has_value() ? **result : ~std::size_t{0};
  }

  std::size_t purge_ok(Store& store) {
    auto result = run(store.purge_expired());
    EXPECT_TRUE(result && result->has_value());
    return result && result->has_value() ? **result : ~std::size_t{0};
  }

  asio::io_context io_;  // declared before the stores: outlives them
  base::FakeClock clock_;
  std::optional<test::RedisServer> server_;
  RedisAddress address_;
};

TEST_F(RedisStoreTest, DescribesItself) {
  EXPECT_EQ(make_store(3)->describe(), "redis://127.0.0.1:" + std::to_string(server_->port()) + "/3");
  RedisAddress v6{"::1", 6379, 0};
  EXPECT_EQ(make_redis_store(io_.get_executor(), v6, clock_)->describe(), "redis://[::1]:6379/0");
}

TEST_F(RedisStoreTest, RoundTripsEveryField) {
  auto store = make_store();
  // A time that is not a whole millisecond survives too.
  clock_.advance(123'456'789ns);
  ColonyRecord record = make_record("my-app-prod", kKeyA, clock_.now());
  auto put = put_ok(*store, record);
  EXPECT_TRUE(put.stored);
  EXPECT_FALSE(put.holder);

  auto got = get_ok(*store, "my-app-prod");
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, record);

  // Pre-RFD-005 registrations: the optional fields empty.
  ColonyRecord old;
  old.mesh_id = "legacy";
  old.wireguard_pubkey = kKeyB;
  old.public_endpoints = {"198.51.100.1:51820"};
  old.last_seen = clock_.now();
  old.expires_at = clock_.now() + 10s;
  EXPECT_TRUE(put_ok(*store, old).stored);
  EXPECT_EQ(get_ok(*store, "legacy"), old);

  EXPECT_EQ(get_ok(*store, "unknown"), std::nullopt);
}

TEST_F(RedisStoreTest, KeysCarryARedisExpiry) {
  auto store = make_store();
  put_ok(*store, make_record("ttl", kKeyA, clock_.now(), 30s));
  const std::string pttl = server_->query("PTTL coral:discovery:colony:ttl");
  ASSERT_TRUE(pttl.starts_with(":")) << pttl;
  const long left = std::stol(pttl.substr(1));
  EXPECT_GT(left, 25'000);
  EXPECT_LE(left, 30'000);
  EXPECT_EQ(server_->query("ZSCORE coral:discovery:leases ttl").substr(0, 1), "$");
}

TEST_F(RedisStoreTest, RedisForgetsLeasesThatRunOut) {
  auto store = make_store();
  // 200 ms by the fake clock: Redis drops the key after 200 real ms.
  ColonyRecord record = make_record("short", kKeyA, clock_.now());
  record.expires_at = clock_.now() + 200ms;
  put_ok(*store, record);
  EXPECT_EQ(server_->query("EXISTS coral:discovery:colony:short"), ":1");
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (server_->query("EXISTS coral:discovery:colony:short") != ":0" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(server_->query("EXISTS coral:discovery:colony:short"), ":0");
  EXPECT_EQ(get_ok(*store, "short"), std::nullopt);
}

TEST_F(RedisStoreTest, TakeoverRefusedWhileLiveAllowedAfterExpiry) {
  auto store = make_store();
  const ColonyRecord first = make_record("contested", kKeyA, clock_.now(), 30s);
  EXPECT_TRUE(put_ok(*store, first).stored);

  clock_.advance(10s);
  auto refused = put_ok(*store, make_record("contested", kKeyB, clock_.now(), 30s));
  EXPECT_FALSE(refused.stored);
  ASSERT_TRUE(refused.holder);
  EXPECT_EQ(*refused.holder, first);
  EXPECT_EQ(get_ok(*store, "contested"), first);

  // Live until the instant it expires: one nanosecond before is still live.
  clock_.advance(20s - 1ns);
  EXPECT_FALSE(put_ok(*store, make_record("contested", kKeyB, clock_.now(), 30s)).stored);
  clock_.advance(1ns);
  EXPECT_EQ(get_ok(*store, "contested"), std::nullopt);
  const ColonyRecord second = make_record("contested", kKeyB, clock_.now(), 30s);
  auto taken = put_ok(*store, second);
  EXPECT_TRUE(taken.stored);
  EXPECT_FALSE(taken.holder);
  EXPECT_EQ(get_ok(*store, "contested"), second);
}

TEST_F(RedisStoreTest, SamePubkeyRefreshesTheLease) {
  auto store = make_store();
  put_ok(*store, make_record("refresh", kKeyA, clock_.now(), 30s));
  clock_.advance(20s);
  ColonyRecord renewed = make_record("refresh", kKeyA, clock_.now(), 30s);
  renewed.public_endpoints = {"192.0.2.9:41820"};
  renewed.metadata = {{"version", "1.2.4"}};
  EXPECT_TRUE(put_ok(*store, renewed).stored);
  clock_.advance(25s);  // past the first lease, within the second
  EXPECT_EQ(get_ok(*store, "refresh"), renewed);
  EXPECT_EQ(count_ok(*store), 1u);
  clock_.advance(5s);  // the second lease ends
  EXPECT_EQ(get_ok(*store, "refresh"), std::nullopt);
  EXPECT_EQ(count_ok(*store), 0u);
}

TEST_F(RedisStoreTest, CountsLiveAndPurgesExpired) {
  auto store = make_store();
  EXPECT_EQ(count_ok(*store), 0u);
  EXPECT_EQ(purge_ok(*store), 0u);
  put_ok(*store, make_record("a", kKeyA, clock_.now(), 10s));
  put_ok(*store, make_record("b", kKeyA, clock_.now(), 20s));
  put_ok(*store, make_record("c", kKeyA, clock_.now(), 30s));
  EXPECT_EQ(count_ok(*store), 3u);

  clock_.advance(10s);  // "a" ends exactly now
  EXPECT_EQ(count_ok(*store), 2u);
  clock_.advance(10s);  // and "b"
  EXPECT_EQ(count_ok(*store), 1u);
  EXPECT_EQ(purge_ok(*store), 2u);
  EXPECT_EQ(purge_ok(*store), 0u);
  EXPECT_EQ(count_ok(*store), 1u);
  // Purged records are gone from Redis, not only from the index.
  EXPECT_EQ(server_->query("EXISTS coral:discovery:colony:a"), ":0");
  EXPECT_EQ(server_->query("EXISTS coral:discovery:colony:b"), ":0");
  EXPECT_EQ(server_->query("EXISTS coral:discovery:colony:c"), ":1");
  EXPECT_EQ(server_->query("ZCARD coral:discovery:leases"), ":1");
  EXPECT_TRUE(get_ok(*store, "c"));

  // A name freed by expiry can be taken by another key right away.
  EXPECT_TRUE(put_ok(*store, make_record("a", kKeyB, clock_.now(), 10s)).stored);
  EXPECT_EQ(count_ok(*store), 2u);
}

TEST_F(RedisStoreTest, TwoReplicasShareLeases) {
  auto one = make_store();
  auto two = make_store();
  const ColonyRecord record = make_record("shared", kKeyA, clock_.now(), 30s);
  EXPECT_TRUE(put_ok(*one, record).stored);
  EXPECT_EQ(get_ok(*two, "shared"), record);
  EXPECT_EQ(count_ok(*two), 1u);

  // The takeover rule holds across replicas.
  auto refused = put_ok(*two, make_record("shared", kKeyB, clock_.now(), 30s));
  EXPECT_FALSE(refused.stored);
  ASSERT_TRUE(refused.holder);
  EXPECT_EQ(refused.holder->wireguard_pubkey, kKeyA);

  // A renewal through the other replica is seen by the first.
  clock_.advance(20s);
  const ColonyRecord renewed = make_record("shared", kKeyA, clock_.now(), 30s);
  EXPECT_TRUE(put_ok(*two, renewed).stored);
  clock_.advance(15s);
  EXPECT_EQ(get_ok(*one, "shared"), renewed);

  // Concurrent conflicting registrations through both replicas: exactly one
  // wins (after the lease ends, both race for the name).
  clock_.advance(20s);
  auto op_one = one->put(make_record("shared", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC=", clock_.now()));
  auto op_two = two->put(make_record("shared", "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD=", clock_.now()));
  auto cell_one = std::make_shared<std::optional<rpc::Result<PutResult>>>();
  auto cell_two = std::make_shared<std::optional<rpc::Result<PutResult>>>();
  auto co_one = store_into(std::move(op_one), cell_one);
  auto co_two = store_into(std::move(op_two), cell_two);
  asio::co_spawn(io_, std::move(co_one), asio::detached);
  asio::co_spawn(io_, std::move(co_two), asio::detached);
  io_.restart();
  io_.run_for(5s);
  ASSERT_TRUE(*cell_one && **cell_one);
  ASSERT_TRUE(*cell_two && **cell_two);
  EXPECT_NE((**cell_one)->stored, (**cell_two)->stored);
  auto winner = get_ok(*one, "shared");
  ASSERT_TRUE(winner);
  EXPECT_EQ(winner->wireguard_pubkey, (**cell_one)->stored ? "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC="
                                                           : "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD=");
}

TEST_F(RedisStoreTest, LeasesSurviveAReplicaRestart) {
  const ColonyRecord record = make_record("durable", kKeyA, clock_.now(), 30s);
  {
    auto store = make_store();
    EXPECT_TRUE(put_ok(*store, record).stored);
  }
  auto restarted = make_store();
  EXPECT_EQ(get_ok(*restarted, "durable"), record);
  EXPECT_EQ(count_ok(*restarted), 1u);
  EXPECT_FALSE(put_ok(*restarted, make_record("durable", kKeyB, clock_.now(), 30s)).stored);
}

TEST_F(RedisStoreTest, DatabasesAreSeparate) {
  auto zero = make_store(0);
  auto one = make_store(1);
  put_ok(*one, make_record("in-db-1", kKeyA, clock_.now()));
  EXPECT_TRUE(get_ok(*one, "in-db-1"));
  EXPECT_EQ(get_ok(*zero, "in-db-1"), std::nullopt);
  EXPECT_EQ(count_ok(*zero), 0u);
  EXPECT_EQ(server_->query("EXISTS coral:discovery:colony:in-db-1"), ":0");  // db 0
}

TEST_F(RedisStoreTest, ManyCallsInFlight) {
  auto store = make_store();
  constexpr int kColonies = 200;
  auto done = std::make_shared<int>(0);
  auto failed = std::make_shared<int>(0);
  for (int i = 0; i < kColonies; ++i) {
    auto op = store->put(make_record("colony-" + std::to_string(i), kKeyA, clock_.now()));
    asio::co_spawn(
        io_,
        [](asio::awaitable<rpc::Result<PutResult>> op, std::shared_ptr<int> done,
           std::shared_ptr<int> failed) -> asio::awaitable<void> {
          auto result = co_await std::move(op);
          ++*done;
          if (!result || !result->stored) ++*failed;
        }(std::move(op), done, failed),
        asio::detached);
  }
  io_.restart();
  io_.run_for(10s);
  EXPECT_EQ(*done, kColonies);
  EXPECT_EQ(*failed, 0);
  EXPECT_EQ(count_ok(*store), std::size_t(kColonies));
}

TEST_F(RedisStoreTest, OutageFailsFastLogsOnceAndRecovers) {
  auto store = make_store();
  EXPECT_TRUE(put_ok(*store, make_record("before", kKeyA, clock_.now())).stored);

  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  server_->stop();

  // Every kind of call fails with `unavailable`, quickly, naming Redis.
  const std::string expected = "redis at 127.0.0.1:" + std::to_string(server_->port()) + " is unavailable: ";
  auto started = std::chrono::steady_clock::now();
  auto get = run(store->get("before"), 3s);
  const auto detection = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(get) << "get hung";
  ASSERT_FALSE(*get);
  EXPECT_EQ(get->error().code, rpc::Code::unavailable);
  EXPECT_TRUE(get->error().message.starts_with(expected)) << get->error().message;
  EXPECT_LT(detection, 2s);

  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto put = run(store->put(make_record("during", kKeyA, clock_.now())), 3s);
    auto count = run(store->count_live(), 3s);
    auto purge = run(store->purge_expired(), 3s);
    ASSERT_TRUE(put && count && purge) << "a call hung";
    EXPECT_EQ(put->error().code, rpc::Code::unavailable);
    EXPECT_EQ(count->error().code, rpc::Code::unavailable);
    EXPECT_EQ(purge->error().code, rpc::Code::unavailable);
    EXPECT_TRUE(count->error().message.starts_with(expected)) << count->error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    std::this_thread::sleep_for(30ms);
  }

  // Redis returns on the same port (empty: it saves nothing).
  ASSERT_TRUE(server_->start()) << server_->error();
  started = std::chrono::steady_clock::now();
  std::optional<rpc::Result<PutResult>> put;
  while (std::chrono::steady_clock::now() - started < 3s) {
    put = run(store->put(make_record("after", kKeyA, clock_.now())), 3s);
    if (put && *put) break;
    std::this_thread::sleep_for(10ms);
  }
  const auto recovery = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(put && *put) << (put ? (*put).error().message : "hung");
  EXPECT_TRUE((*put)->stored);
  EXPECT_LT(recovery, 1s);
  EXPECT_TRUE(get_ok(*store, "after"));
  EXPECT_EQ(get_ok(*store, "before"), std::nullopt);  // lost with --save ''

  std::fflush(stdout);
  std::fflush(stderr);
  const std::string logs = ::testing::internal::GetCapturedStdout() + ::testing::internal::GetCapturedStderr();
  auto occurrences = [&](std::string_view needle) {
    int n = 0;
    for (auto at = logs.find(needle); at != std::string::npos; at = logs.find(needle, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(occurrences("redis unavailable"), 1) << logs;
  EXPECT_EQ(occurrences("redis reachable again"), 1) << logs;
  EXPECT_NE(logs.find("address=127.0.0.1:" + std::to_string(server_->port())), std::string::npos) << logs;
  std::printf("outage detected in %lld ms, recovered %lld ms after redis-server answered PING\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(detection).count()),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(recovery).count()));
}

TEST_F(RedisStoreTest, ARestartBetweenCallsIsInvisible) {
  // Pooled connections are dead after Redis restarts; the next call must
  // notice, reconnect and succeed rather than report an outage.
  auto store = make_store();
  EXPECT_TRUE(put_ok(*store, make_record("x", kKeyA, clock_.now())).stored);
  server_->stop();
  ASSERT_TRUE(server_->start()) << server_->error();
  for (int i = 0; i < 4; ++i) {
    auto count = run(store->count_live());
    ASSERT_TRUE(count);
    ASSERT_TRUE(*count) << (*count).error().message;
    EXPECT_EQ(**count, 0u);
  }
}

TEST_F(RedisStoreTest, ABigWriteToADeadConnectionRaisesNoSigpipe) {
  // Writing several megabytes to a connection the server has closed gets an
  // RST, then EPIPE: the process must not die of SIGPIPE, and the call is
  // retried on a fresh connection.
  auto store = make_store();
  EXPECT_TRUE(put_ok(*store, make_record("small", kKeyA, clock_.now())).stored);
  server_->stop();
  ASSERT_TRUE(server_->start()) << server_->error();
  ColonyRecord big = make_record("big", kKeyA, clock_.now());
  big.metadata = {{"blob", std::string(8 << 20, 'x')}};
  auto put = run(store->put(big));
  ASSERT_TRUE(put);
  ASSERT_TRUE(*put) << (*put).error().message;
  EXPECT_TRUE((*put)->stored);
  EXPECT_EQ(get_ok(*store, "big"), big);
}

TEST_F(RedisStoreTest, AHungRedisTimesOut) {
  auto store = make_store();
  EXPECT_TRUE(put_ok(*store, make_record("x", kKeyA, clock_.now())).stored);
  server_->pause();
  // Four calls at once on two workers: the first ones time out after 1 s,
  // the rest fail fast instead of each waiting its turn for a timeout.
  std::vector<std::shared_ptr<std::optional<rpc::Result<std::optional<ColonyRecord>>>>> cells;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) {
    cells.push_back(std::make_shared<std::optional<rpc::Result<std::optional<ColonyRecord>>>>());
    auto op = store->get("x");
    auto co = store_into(std::move(op), cells.back());
    asio::co_spawn(io_, std::move(co), asio::detached);
  }
  io_.restart();
  io_.run_for(5s);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  for (const auto& cell : cells) {
    ASSERT_TRUE(*cell) << "a call hung";
    ASSERT_FALSE(**cell);
    EXPECT_EQ((**cell).error().code, rpc::Code::unavailable);
    EXPECT_NE((**cell).error().message.find(" is unavailable: "), std::string::npos) << (**cell).error().message;
  }
  EXPECT_LT(elapsed, 2500ms);
  std::printf("hung redis: 4 concurrent calls failed within %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));

  server_->resume();
  const auto resumed = std::chrono::steady_clock::now();
  std::optional<rpc::Result<std::optional<ColonyRecord>>> got;
  while (std::chrono::steady_clock::now() - resumed < 3s) {
    got = run(store->get("x"), 3s);
    if (got && *got) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(got && *got) << (got ? (*got).error().message : "hung");
  EXPECT_TRUE(**got);  // nothing was lost: Redis only paused
}

TEST_F(RedisStoreTest, UnreachableFromTheStart) {
  server_->stop();
  auto store = make_store();
  auto started = std::chrono::steady_clock::now();
  auto got = run(store->get("x"), 3s);
  ASSERT_TRUE(got);
  ASSERT_FALSE(*got);
  EXPECT_EQ(got->error().code, rpc::Code::unavailable);
  EXPECT_NE(got->error().message.find("Connection refused"), std::string::npos) << got->error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

TEST_F(RedisStoreTest, DestroyedWithCallsInFlight) {
  auto store = make_store();
  auto cell = std::make_shared<std::optional<rpc::Result<std::size_t>>>();
  auto op = store->count_live();
  auto co = store_into(std::move(op), cell);
  asio::co_spawn(io_, std::move(co), asio::detached);
  io_.poll();  // starts the call
  store.reset();  // waits for the worker; the result is posted to io_
  io_.restart();
  io_.run_for(2s);
  ASSERT_TRUE(*cell);
  EXPECT_TRUE(**cell);
}

// Issue 16: two replicas share the limits (they live in Redis).
TEST_F(RedisStoreTest, LimitsHoldAcrossReplicasAndExpiredRecordsMakeRoom) {
  const StoreLimits limits{.max_records = 3, .max_bytes = std::size_t{1} << 20};
  auto a = make_store(0, limits);
  auto b = make_store(0, limits);
  EXPECT_TRUE(put_ok(*a, make_record("one", kKeyA, clock_.now(), 10s)).stored);
  EXPECT_TRUE(put_ok(*b, make_record("two", kKeyA, clock_.now())).stored);
  EXPECT_TRUE(put_ok(*a, make_record("three", kKeyA, clock_.now())).stored);
  PutResult full = put_ok(*b, make_record("four", kKeyA, clock_.now()));
  EXPECT_FALSE(full.stored);
  EXPECT_TRUE(full.full);
  EXPECT_FALSE(full.holder);
  EXPECT_TRUE(put_ok(*b, make_record("two", kKeyA, clock_.now())).stored);  // a renewal fits
  clock_.advance(11s);  // "one" expired: the put purges it to make room
  EXPECT_TRUE(put_ok(*b, make_record("four", kKeyA, clock_.now())).stored);
  EXPECT_FALSE(get_ok(*a, "one"));
}

TEST_F(RedisStoreTest, TheByteLimitCountsFootprints) {
  const ColonyRecord sample = make_record("bytes-0", kKeyA, clock_.now());
  const StoreLimits limits{.max_records = 100, .max_bytes = 2 * footprint(sample) + 10};
  auto store = make_store(0, limits);
  EXPECT_TRUE(put_ok(*store, make_record("bytes-0", kKeyA, clock_.now())).stored);
  EXPECT_TRUE(put_ok(*store, make_record("bytes-1", kKeyA, clock_.now())).stored);
  EXPECT_TRUE(put_ok(*store, make_record("bytes-2", kKeyA, clock_.now())).full);
  clock_.advance(31s);
  EXPECT_EQ(purge_ok(*store), 2U);
  EXPECT_TRUE(put_ok(*store, make_record("bytes-2", kKeyA, clock_.now())).stored);
}

TEST_F(RedisStoreTest, AProvenRecordTakesOverAnUnprovenOneNotTheOtherWayRound) {
  auto store = make_store();
  EXPECT_TRUE(put_ok(*store, make_record("victim", kKeyA, clock_.now())).stored);  // unproven
  ColonyRecord proven = make_record("victim", kKeyB, clock_.now());
  proven.proven = true;
  EXPECT_TRUE(put_ok(*store, proven).stored);
  auto got = get_ok(*store, "victim");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->wireguard_pubkey, kKeyB);
  EXPECT_TRUE(got->proven);
  PutResult refused = put_ok(*store, make_record("victim", kKeyA, clock_.now()));
  EXPECT_FALSE(refused.stored);
  ASSERT_TRUE(refused.holder);
  EXPECT_TRUE(refused.holder->proven);
}

TEST_F(RedisStoreTest, ReplicasShareOneStaticKey) {
  auto a = make_store();
  auto b = make_store();
  const crypto::SecretKey first = crypto::SecretKey::generate();
  auto from_a = run(a->shared_key(first));
  auto from_b = run(b->shared_key(crypto::SecretKey::generate()));
  ASSERT_TRUE(from_a && from_a->has_value());
  ASSERT_TRUE(from_b && from_b->has_value());
  EXPECT_TRUE(**from_a == first);
  EXPECT_TRUE(**from_b == first);  // the second replica's candidate is not used
}

}  // namespace
}  // namespace coral::discovery

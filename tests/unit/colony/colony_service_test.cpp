// ColonyService's handlers, called directly, over a PeerRegistry on a real
// SQLite file in a temporary directory and a fake clock: status and its
// health rule, the agents list with heartbeat-derived status, topology.

#include "colony/colony_service.h"

#include <gtest/gtest.h>

#include "service_fixtures.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "crypto/keys.h"

namespace coral::colony {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
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

class ColonyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coral-colony-service-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    store_.emplace(PeerStore::open(dir_ / "colony.db").value());
    auto registry = PeerRegistry::open(*store_, test_config(), clock_);
    ASSERT_TRUE(registry) << registry.error();
    registry_ = std::move(*registry);
    service_ = std::make_unique<ColonyService>(*registry_);
  }
  void TearDown() override {
    service_.reset();
    registry_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  Peer add(Peer::Kind kind, const std::string& component) {
    return registry_->register_peer(new_pubkey(), kind, component).value().peer;
  }
  void beat(const Peer& peer, const std::string& status = "healthy") {
    ASSERT_TRUE(registry_->heartbeat(peer.peer_id, peer.wireguard_pubkey, status));
  }
  v1::GetStatusResponse status() { return run(service_->GetStatus(context_, {})).value(); }
  v1::ListAgentsResponse agents() { return run(service_->ListAgents(context_, {})).value(); }
  std::map<std::string, std::string> status_by_id() {
    std::map<std::string, std::string> out;
    const v1::ListAgentsResponse reply = agents();
    for (const auto& agent : reply.agents()) out[agent.agent_id()] = agent.status();
    return out;
  }

  fs::path dir_;
  base::FakeClock clock_;
  std::optional<PeerStore> store_;
  std::unique_ptr<PeerRegistry> registry_;
  std::unique_ptr<ColonyService> service_;
  rpc::Context context_;
};

TEST_F(ColonyServiceTest, StatusOfAColonyWithoutPeers) {
  const auto started = clock_.now();
  clock_.advance(125s);
  auto reply = status();
  EXPECT_EQ(reply.colony_id(), "my-shop-production-a3f2e1");
  EXPECT_EQ(reply.app_name(), "my-shop");
  EXPECT_EQ(reply.environment(), "production");
  EXPECT_EQ(reply.status(), "running");
  EXPECT_EQ(reply.started_at().seconds(),
            std::chrono::floor<std::chrono::seconds>(started.time_since_epoch()).count());
  EXPECT_EQ(reply.uptime_seconds(), 125);
  EXPECT_EQ(reply.agent_count(), 0);
  // Nothing serves a dashboard: no URL (it was http://127.42.0.1:3000, which answered nothing).
  EXPECT_EQ(reply.dashboard_url(), "");
  EXPECT_EQ(reply.mesh_ipv4(), "127.42.0.1");
  EXPECT_EQ(reply.mesh_ipv6(), "fdc0:42::1");
  EXPECT_GT(reply.storage_bytes(), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(reply.storage_bytes()), store_->storage_bytes().value());
}

TEST_F(ColonyServiceTest, AgentCountLeavesProxiesOut) {
  add(Peer::Kind::agent, "api");
  add(Peer::Kind::agent, "frontend");
  add(Peer::Kind::proxy, "proxy");
  auto reply = status();
  EXPECT_EQ(reply.agent_count(), 2);
  EXPECT_EQ(reply.status(), "running");
}

TEST_F(ColonyServiceTest, HealthFollowsHeartbeatAge) {
  const Peer api = add(Peer::Kind::agent, "api");
  const Peer web = add(Peer::Kind::agent, "frontend");
  EXPECT_EQ(status().status(), "running");

  clock_.advance(30s);  // exactly 2 intervals: still healthy
  EXPECT_EQ(status_by_id()[api.peer_id], "healthy");

  clock_.advance(1s);
  beat(web);
  auto statuses = status_by_id();
  EXPECT_EQ(statuses[api.peer_id], "degraded");
  EXPECT_EQ(statuses[web.peer_id], "healthy");
  EXPECT_EQ(status().status(), "degraded");

  clock_.advance(30s);  // api 61 s, web 30 s
  statuses = status_by_id();
  EXPECT_EQ(statuses[api.peer_id], "unhealthy");
  EXPECT_EQ(statuses[web.peer_id], "healthy");
  EXPECT_EQ(status().status(), "degraded");

  clock_.advance(40s);  // both past 4 intervals
  EXPECT_EQ(status().status(), "unhealthy");

  beat(api);
  beat(web);
  EXPECT_EQ(status().status(), "running");
}

TEST_F(ColonyServiceTest, AStaleProxyDoesNotMakeTheColonyUnhealthy) {
  const Peer api = add(Peer::Kind::agent, "api");
  add(Peer::Kind::proxy, "proxy");
  clock_.advance(10min);
  beat(api);
  EXPECT_EQ(status().status(), "running");
}

TEST_F(ColonyServiceTest, APeerReportingItselfDegradedIsDegraded) {
  const Peer api = add(Peer::Kind::agent, "api");
  beat(api, "degraded");
  EXPECT_EQ(status_by_id()[api.peer_id], "degraded");
  EXPECT_EQ(status().status(), "degraded");
  beat(api, "unhealthy");
  EXPECT_EQ(status_by_id()[api.peer_id], "unhealthy");
  EXPECT_EQ(status().status(), "unhealthy");
}

TEST_F(ColonyServiceTest, ListAgentsGivesDualStackAddressesAndLastSeen) {
  EXPECT_EQ(agents().agents_size(), 0);
  const Peer api = add(Peer::Kind::agent, "api");
  clock_.advance(5s);
  const Peer web = add(Peer::Kind::agent, "frontend");
  add(Peer::Kind::proxy, "proxy");  // a peer, but not an agent

  auto reply = agents();
  ASSERT_EQ(reply.agents_size(), 2);
  std::map<std::string, v1::Agent> by_id;
  for (const auto& agent : reply.agents()) by_id[agent.agent_id()] = agent;
  ASSERT_TRUE(by_id.contains(api.peer_id));
  const v1::Agent& a = by_id[api.peer_id];
  EXPECT_EQ(a.component_name(), "api");
  EXPECT_EQ(a.mesh_ipv4(), "127.42.0.2");
  EXPECT_EQ(a.mesh_ipv6(), "fdc0:42::2");
  EXPECT_EQ(a.last_seen().seconds(),
            std::chrono::floor<std::chrono::seconds>(api.last_seen.time_since_epoch()).count());
  EXPECT_EQ(a.status(), "healthy");
  const v1::Agent& w = by_id[web.peer_id];
  EXPECT_EQ(w.component_name(), "frontend");
  EXPECT_EQ(w.mesh_ipv4(), "127.42.0.3");
  EXPECT_EQ(w.mesh_ipv6(), "fdc0:42::3");
  EXPECT_EQ(w.last_seen().seconds(), a.last_seen().seconds() + 5);
}

TEST_F(ColonyServiceTest, TopologyHasTheAgentsAndNoConnectionsYet) {
  auto empty = run(service_->GetTopology(context_, {})).value();
  EXPECT_EQ(empty.colony_id(), "my-shop-production-a3f2e1");
  EXPECT_EQ(empty.agents_size(), 0);
  EXPECT_EQ(empty.connections_size(), 0);

  const Peer api = add(Peer::Kind::agent, "api");
  add(Peer::Kind::proxy, "proxy");
  auto reply = run(service_->GetTopology(context_, {})).value();
  ASSERT_EQ(reply.agents_size(), 1);
  EXPECT_EQ(reply.agents(0).agent_id(), api.peer_id);
  EXPECT_EQ(reply.agents(0).mesh_ipv4(), "127.42.0.2");
  EXPECT_EQ(reply.connections_size(), 0);
}

TEST_F(ColonyServiceTest, PeerHealthRule) {
  Peer peer;
  peer.last_seen = clock_.now();
  peer.status = "healthy";
  const auto interval = 15s;
  EXPECT_EQ(peer_health(peer, clock_.now(), interval), "healthy");
  EXPECT_EQ(peer_health(peer, clock_.now() + 30s, interval), "healthy");
  EXPECT_EQ(peer_health(peer, clock_.now() + 31s, interval), "degraded");
  EXPECT_EQ(peer_health(peer, clock_.now() + 60s, interval), "degraded");
  EXPECT_EQ(peer_health(peer, clock_.now() + 61s, interval), "unhealthy");
  EXPECT_EQ(peer_health(peer, clock_.now() + 10s, 5s), "healthy");
  EXPECT_EQ(peer_health(peer, clock_.now() + 11s, 5s), "degraded");
}

TEST(PeerIdTest, StablePerPubkeyAndDistinct) {
  const std::string a = new_pubkey();
  const std::string b = new_pubkey();
  EXPECT_EQ(peer_id_for(a), peer_id_for(a));
  EXPECT_NE(peer_id_for(a), peer_id_for(b));
  const std::string id = peer_id_for(a);
  ASSERT_EQ(id.size(), 17U);
  EXPECT_TRUE(id.starts_with("peer-"));
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 5), std::string::npos);
}

}  // namespace
}  // namespace coral::colony

// PeerRegistry::find_by_address: which peer holds a source address (what
// the colony's audit of proxy requests asks), over a real SQLite file.

#include "colony/peer_registry.h"

#include <gtest/gtest.h>

#include "service_fixtures.h"

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace coral::colony {
namespace {

namespace fs = std::filesystem;
using testing::new_pubkey;
using testing::test_config;

class PeerRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coral-peer-registry-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    open();
  }
  void TearDown() override {
    registry_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void open() {
    registry_.reset();
    store_.reset();
    store_.emplace(PeerStore::open(dir_ / "colony.db").value());
    auto registry = PeerRegistry::open(*store_, test_config(), clock_);
    ASSERT_TRUE(registry) << registry.error();
    registry_ = std::move(*registry);
  }

  Peer add(Peer::Kind kind, const std::string& component) {
    auto registered = registry_->register_peer(new_pubkey(), kind, component);
    EXPECT_TRUE(registered) << registered.error().message;
    return registered ? registered->peer : Peer{};
  }

  // The peer id at `mesh_ip`, "" for nobody; "error: ..." when the look-up failed.
  std::string holder(std::string_view mesh_ip) const {
    auto found = registry_->find_by_address(mesh_ip);
    if (!found) return "error: " + found.error().message;
    return found->has_value() ? (*found)->peer_id : "";
  }

  fs::path dir_;
  base::FakeClock clock_;
  std::optional<PeerStore> store_;
  std::unique_ptr<PeerRegistry> registry_;
};

TEST_F(PeerRegistryTest, FindsTheHolderOfATakenIpv4OrIpv6Address) {
  const Peer agent = add(Peer::Kind::agent, "api");
  const Peer proxy = add(Peer::Kind::proxy, "proxy");
  ASSERT_EQ(agent.mesh_ipv4, "127.42.0.2");
  ASSERT_EQ(proxy.mesh_ipv4, "127.42.0.3");

  auto found = registry_->find_by_address("127.42.0.3");
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, proxy);
  EXPECT_EQ((*found)->kind, Peer::Kind::proxy);

  EXPECT_EQ(holder("127.42.0.2"), agent.peer_id);
  EXPECT_EQ(holder("fdc0:42::2"), agent.peer_id);
  EXPECT_EQ(holder("fdc0:42::3"), proxy.peer_id);
  // Another spelling of the same IPv6 address.
  EXPECT_EQ(holder("fdc0:42:0:0:0:0:0:3"), proxy.peer_id);
}

TEST_F(PeerRegistryTest, FreeAddressesInTheSubnetsHaveNoHolder) {
  add(Peer::Kind::agent, "api");
  EXPECT_EQ(holder("127.42.0.4"), "");
  EXPECT_EQ(holder("127.42.255.254"), "");
  EXPECT_EQ(holder("fdc0:42::4"), "");
}

TEST_F(PeerRegistryTest, TheColonysOwnAndNonPeerAddressesHaveNoHolder) {
  add(Peer::Kind::agent, "api");
  for (const std::string_view address : {"127.42.0.1", "fdc0:42::1", "127.42.0.0", "127.42.255.255", "127.0.0.1",
                                         "127.43.0.2", "::1", "fdc0:43::2", "fdc0:42::2:0:0:2", "not an address", ""}) {
    EXPECT_EQ(holder(address), "") << address;
  }
}

TEST_F(PeerRegistryTest, ReleasedAddressesHaveNoHolderAndReplayedOnesDo) {
  const Peer gone = add(Peer::Kind::agent, "api");
  const Peer kept = add(Peer::Kind::proxy, "proxy");
  ASSERT_TRUE(registry_->unregister(gone.peer_id, gone.wireguard_pubkey));
  EXPECT_EQ(holder(gone.mesh_ipv4), "");
  EXPECT_EQ(holder(gone.mesh_ipv6), "");

  open();  // a colony restart: assignments are replayed from the store
  EXPECT_EQ(holder(kept.mesh_ipv4), kept.peer_id);
  EXPECT_EQ(holder(kept.mesh_ipv6), kept.peer_id);
  EXPECT_EQ(holder(gone.mesh_ipv4), "");
}

// issue 16: a proxy killed with -9 left its peer record (and addresses)
// forever. Proxies that stop heartbeating expire; agents are kept.
TEST_F(PeerRegistryTest, ProxiesThatStopHeartbeatingExpireAndFreeTheirAddresses) {
  using namespace std::chrono_literals;
  const Peer agent = add(Peer::Kind::agent, "api");
  const Peer silent = add(Peer::Kind::proxy, "proxy");
  const Peer alive = add(Peer::Kind::proxy, "proxy");
  const auto expiry = kExpiryHeartbeats * registry_->heartbeat_interval();  // 60 s by default
  clock_.advance(expiry - 1s);
  ASSERT_TRUE(registry_->heartbeat(alive.peer_id, alive.wireguard_pubkey, "healthy"));
  EXPECT_TRUE(registry_->expire_stale().value().empty());
  clock_.advance(2s);
  const auto expired = registry_->expire_stale().value();
  ASSERT_EQ(expired.size(), 1U);
  EXPECT_EQ(expired[0].peer_id, silent.peer_id);
  EXPECT_EQ(holder(silent.mesh_ipv4), "");
  EXPECT_EQ(holder(agent.mesh_ipv4), agent.peer_id);
  EXPECT_EQ(holder(alive.mesh_ipv4), alive.peer_id);
  EXPECT_EQ(registry_->heartbeat(silent.peer_id, silent.wireguard_pubkey, "healthy").error().code,
            rpc::Code::not_found);
  // The freed address goes to the next peer.
  EXPECT_EQ(add(Peer::Kind::proxy, "proxy").mesh_ipv4, silent.mesh_ipv4);

  // Long after, the agent is still there (unhealthy), never expired.
  clock_.advance(24h);
  const auto later = registry_->expire_stale().value();
  for (const Peer& peer : later) EXPECT_EQ(peer.kind, Peer::Kind::proxy);
  EXPECT_EQ(holder(agent.mesh_ipv4), agent.peer_id);
}

TEST_F(PeerRegistryTest, AColonyRestartGivesProxiesAFullPeriodToHeartbeat) {
  using namespace std::chrono_literals;
  const Peer proxy = add(Peer::Kind::proxy, "proxy");
  clock_.advance(1h);  // the colony was down
  open();
  EXPECT_TRUE(registry_->expire_stale().value().empty());
  clock_.advance(kExpiryHeartbeats * registry_->heartbeat_interval() + 1s);
  EXPECT_EQ(registry_->expire_stale().value().size(), 1U);
}

// issue 16: a hand-edited store in which two peers hold one mesh address
// loaded and was served. It is refused, with the file named.
TEST_F(PeerRegistryTest, RefusesAStoreWithDuplicateMeshAddresses) {
  const Peer first = add(Peer::Kind::agent, "api");
  Peer second = add(Peer::Kind::proxy, "proxy");
  registry_.reset();
  second.mesh_ipv4 = first.mesh_ipv4;  // as `sqlite3 x.db "UPDATE peers SET mesh_ipv4 = ..."` would
  ASSERT_TRUE(store_->upsert(second));
  auto registry = PeerRegistry::open(*store_, test_config(), clock_);
  ASSERT_FALSE(registry);
  EXPECT_TRUE(registry.error().starts_with((dir_ / "colony.db").string() + ": peers " + first.peer_id + " and " +
                                           second.peer_id + " both hold mesh address " + first.mesh_ipv4))
      << registry.error();
}

TEST_F(PeerRegistryTest, RefusesAStoreWhoseAddressesDoNotMatchTheirIndex) {
  Peer peer = add(Peer::Kind::agent, "api");
  registry_.reset();
  peer.mesh_ipv6 = "fdc0:42::99";  // free, but not index 2's
  ASSERT_TRUE(store_->upsert(peer));
  auto registry = PeerRegistry::open(*store_, test_config(), clock_);
  ASSERT_FALSE(registry);
  EXPECT_TRUE(registry.error().starts_with((dir_ / "colony.db").string() + ": peer " + peer.peer_id +
                                           " records mesh addresses 127.42.0.2 / fdc0:42::99, but its mesh index 2"))
      << registry.error();
}

}  // namespace
}  // namespace coral::colony

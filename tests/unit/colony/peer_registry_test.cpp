// PeerRegistry over a real SQLite file: find_by_address (which peer holds a
// source address, what the colony's audit of proxy requests asks), expiry,
// devices added by hand, revocation and the change hook.

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


// ---- Devices added by hand, revocation, the change hook ---------------------

TEST_F(PeerRegistryTest, AddsADeviceWithTheNextFreeAddressesAndNeverExpiresIt) {
  using namespace std::chrono_literals;
  add(Peer::Kind::agent, "api");
  const std::string key = new_pubkey();
  auto device = registry_->add_device("laptop", key);
  ASSERT_TRUE(device) << device.error().message;
  EXPECT_EQ(device->kind, Peer::Kind::device);
  EXPECT_EQ(device->component_name, "laptop");
  EXPECT_EQ(device->wireguard_pubkey, key);
  EXPECT_EQ(device->peer_id, peer_id_for(key));
  EXPECT_EQ(device->mesh_ipv4, "127.42.0.3");
  EXPECT_EQ(device->mesh_ipv6, "fdc0:42::3");
  EXPECT_EQ(registry_->health(*device), "manual");
  EXPECT_EQ(holder("127.42.0.3"), device->peer_id);

  clock_.advance(24h);
  EXPECT_TRUE(registry_->expire_stale().value().empty());
  EXPECT_EQ(registry_->health(*device), "manual");
  open();  // survives a restart, with its kind
  auto peers = registry_->peers().value();
  ASSERT_EQ(peers.size(), 2U);
  EXPECT_EQ(peers[1].kind, Peer::Kind::device);
  EXPECT_EQ(peers[1].component_name, "laptop");
}

TEST_F(PeerRegistryTest, RefusesBadDeviceNamesAndKeys) {
  const std::string key = new_pubkey();
  const std::size_t in_use = registry_->addresses_in_use();
  for (const std::string_view name : {"", "Laptop", "my laptop", "a/b", "peer-0123456789ab",
                                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}) {
    auto added = registry_->add_device(name, key);
    ASSERT_FALSE(added) << name;
    EXPECT_EQ(added.error().code, rpc::Code::invalid_argument) << name;
    EXPECT_TRUE(added.error().message.starts_with("name: ")) << added.error().message;
  }
  const std::string colony_key = registry_->config().wireguard.public_key.to_base64();
  for (const std::string_view bad : {std::string_view("not a key"), std::string_view(key).substr(1),
                                     std::string_view("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
                                     std::string_view(colony_key)}) {
    auto added = registry_->add_device("laptop", bad);
    ASSERT_FALSE(added) << bad;
    EXPECT_EQ(added.error().code, rpc::Code::invalid_argument) << bad;
    EXPECT_TRUE(added.error().message.starts_with("public key: ")) << added.error().message;
  }
  EXPECT_TRUE(registry_->peers().value().empty());
  EXPECT_EQ(registry_->addresses_in_use(), in_use);
}

TEST_F(PeerRegistryTest, ADeviceKeyOrNameThatIsTakenIsAlreadyExists) {
  const Peer agent = add(Peer::Kind::agent, "api");
  auto taken = registry_->add_device("laptop", agent.wireguard_pubkey);
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, rpc::Code::already_exists);
  EXPECT_NE(taken.error().message.find(agent.peer_id), std::string::npos) << taken.error().message;

  ASSERT_TRUE(registry_->add_device("laptop", new_pubkey()));
  auto same_name = registry_->add_device("laptop", new_pubkey());
  ASSERT_FALSE(same_name);
  EXPECT_EQ(same_name.error().code, rpc::Code::already_exists);
  // A device's name may be an agent's component: revoke then asks for an id.
  EXPECT_TRUE(registry_->add_device("api", new_pubkey()));
}

TEST_F(PeerRegistryTest, ADeviceCannotRegisterHeartbeatOrUnregisterThroughMeshService) {
  const std::string key = new_pubkey();
  ASSERT_TRUE(registry_->add_device("laptop", key));
  auto registered = registry_->register_peer(key, Peer::Kind::proxy, "proxy");
  ASSERT_FALSE(registered);
  EXPECT_EQ(registered.error().code, rpc::Code::already_exists);
  EXPECT_EQ(registry_->peers().value().at(0).kind, Peer::Kind::device);
  // Nor heartbeat, nor unregister it: its key and id are no secret.
  const std::string id = peer_id_for(key);
  EXPECT_EQ(registry_->heartbeat(id, key, "healthy").error().code, rpc::Code::permission_denied);
  EXPECT_EQ(registry_->unregister(id, key).error().code, rpc::Code::permission_denied);
  EXPECT_EQ(registry_->peers().value().size(), 1U);
}

TEST_F(PeerRegistryTest, RevokesByNamePeerIdOrKeyAndFreesTheAddresses) {
  const std::string key = new_pubkey();
  const Peer laptop = registry_->add_device("laptop", key).value();
  const Peer agent = add(Peer::Kind::agent, "api");
  const Peer proxy = add(Peer::Kind::proxy, "proxy");

  auto by_name = registry_->revoke("laptop");
  ASSERT_TRUE(by_name) << by_name.error().message;
  EXPECT_EQ(by_name->peer_id, laptop.peer_id);
  EXPECT_EQ(holder(laptop.mesh_ipv4), "");
  EXPECT_EQ(holder(laptop.mesh_ipv6), "");
  // Its addresses are the next peer's (its key is revoked: another one).
  auto again = registry_->add_device("laptop", new_pubkey());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->mesh_ipv4, laptop.mesh_ipv4);
  EXPECT_EQ(again->mesh_ipv6, laptop.mesh_ipv6);

  EXPECT_EQ(registry_->revoke(agent.peer_id).value().peer_id, agent.peer_id);
  EXPECT_EQ(registry_->revoke(proxy.wireguard_pubkey).value().peer_id, proxy.peer_id);
  // A revoked agent or proxy heartbeats into not_found.
  EXPECT_EQ(registry_->heartbeat(agent.peer_id, agent.wireguard_pubkey, "healthy").error().code,
            rpc::Code::not_found);
  ASSERT_EQ(registry_->peers().value().size(), 1U);
}

TEST_F(PeerRegistryTest, ARevokedKeyIsRememberedAcrossARestartAndNeverAdmittedAgain) {
  using namespace std::chrono_literals;
  const Peer agent = add(Peer::Kind::agent, "api");
  const Peer proxy = add(Peer::Kind::proxy, "proxy");
  const std::string device_key = new_pubkey();
  ASSERT_TRUE(registry_->add_device("laptop", device_key));
  const auto key_of = [](const std::string& text) { return crypto::PublicKey::from_base64(text).value(); };
  EXPECT_FALSE(registry_->is_revoked(key_of(agent.wireguard_pubkey)));

  clock_.advance(5s);
  const auto revoked_at = clock_.now();
  ASSERT_TRUE(registry_->revoke(agent.peer_id));
  clock_.advance(1s);  // the listing is oldest first
  ASSERT_TRUE(registry_->revoke("laptop"));
  EXPECT_TRUE(registry_->is_revoked(key_of(agent.wireguard_pubkey)));
  EXPECT_TRUE(registry_->is_revoked(key_of(device_key)));
  EXPECT_FALSE(registry_->is_revoked(key_of(proxy.wireguard_pubkey)));
  EXPECT_FALSE(registry_->is_revoked(key_of(new_pubkey())));

  open();  // the colony restarts
  EXPECT_TRUE(registry_->is_revoked(key_of(agent.wireguard_pubkey)));
  EXPECT_TRUE(registry_->is_revoked(key_of(device_key)));
  EXPECT_FALSE(registry_->is_revoked(key_of(proxy.wireguard_pubkey)));
  const auto keys = registry_->revoked_keys().value();
  ASSERT_EQ(keys.size(), 2U);
  EXPECT_EQ(keys[0].wireguard_pubkey, agent.wireguard_pubkey);
  EXPECT_EQ(keys[0].peer_id, agent.peer_id);
  EXPECT_EQ(keys[0].name, "api");
  EXPECT_EQ(keys[0].kind, Peer::Kind::agent);
  EXPECT_EQ(keys[0].revoked_at, revoked_at);
  EXPECT_EQ(keys[1].name, "laptop");
  EXPECT_EQ(keys[1].kind, Peer::Kind::device);

  // Neither Register nor the operator brings them back.
  auto registered = registry_->register_peer(agent.wireguard_pubkey, Peer::Kind::agent, "api");
  ASSERT_FALSE(registered);
  EXPECT_EQ(registered.error().code, rpc::Code::permission_denied);
  EXPECT_TRUE(registered.error().message.starts_with("revoked")) << registered.error().message;
  auto as_proxy = registry_->register_peer(device_key, Peer::Kind::proxy, "proxy");
  ASSERT_FALSE(as_proxy);
  EXPECT_EQ(as_proxy.error().code, rpc::Code::permission_denied);
  auto device = registry_->add_device("laptop", device_key);
  ASSERT_FALSE(device);
  EXPECT_EQ(device.error().code, rpc::Code::permission_denied);
  EXPECT_TRUE(device.error().message.starts_with("revoked")) << device.error().message;
  // The others are untouched.
  EXPECT_EQ(registry_->peers().value().size(), 1U);
  EXPECT_TRUE(registry_->register_peer(proxy.wireguard_pubkey, Peer::Kind::proxy, "proxy"));
}

TEST_F(PeerRegistryTest, ASecretRotationKeepsThePeersAndChangesWhatRegisterChecks) {
  const Peer agent = add(Peer::Kind::agent, "api");
  const std::string old_secret = registry_->colony_secret();
  EXPECT_EQ(old_secret, registry_->config().colony_secret);
  const std::string new_secret = crypto::generate_colony_secret();
  registry_->set_colony_secret(new_secret);
  EXPECT_EQ(registry_->colony_secret(), new_secret);
  EXPECT_EQ(registry_->peers().value(), std::vector<Peer>{agent});
}

TEST_F(PeerRegistryTest, RevokeOfNothingIsNotFoundAndOfAnAmbiguousNameListsTheIds) {
  auto nothing = registry_->revoke("laptop");
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().code, rpc::Code::not_found);

  const Peer first = add(Peer::Kind::agent, "api");
  const Peer second = add(Peer::Kind::agent, "api");
  auto ambiguous = registry_->revoke("api");
  ASSERT_FALSE(ambiguous);
  EXPECT_EQ(ambiguous.error().code, rpc::Code::failed_precondition);
  EXPECT_NE(ambiguous.error().message.find(first.peer_id), std::string::npos) << ambiguous.error().message;
  EXPECT_NE(ambiguous.error().message.find(second.peer_id), std::string::npos) << ambiguous.error().message;
  EXPECT_EQ(registry_->peers().value().size(), 2U);
  EXPECT_TRUE(registry_->revoke(first.peer_id));
  EXPECT_EQ(registry_->revoke("api").value().peer_id, second.peer_id);
}

TEST_F(PeerRegistryTest, OnChangeRunsAfterEveryChangeOfPeersOrAddressesAndOnlyThen) {
  using namespace std::chrono_literals;
  int calls = 0;
  std::size_t seen = 0;
  registry_->on_change([&] {
    ++calls;
    // Outside the registry's mutex: it may read the registry.
    seen = registry_->peers().value().size();
  });
  const std::string key = new_pubkey();
  auto registered = registry_->register_peer(key, Peer::Kind::proxy, "proxy");
  ASSERT_TRUE(registered);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, 1U);
  // Re-registering and heartbeating change nothing that matters.
  ASSERT_TRUE(registry_->register_peer(key, Peer::Kind::proxy, "proxy"));
  ASSERT_TRUE(registry_->heartbeat(registered->peer.peer_id, key, "healthy"));
  EXPECT_EQ(calls, 1);

  const std::string device_key = new_pubkey();
  ASSERT_TRUE(registry_->add_device("laptop", device_key));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(seen, 2U);
  EXPECT_FALSE(registry_->add_device("laptop", device_key));  // refused: no call
  EXPECT_FALSE(registry_->revoke("nobody"));
  EXPECT_EQ(calls, 2);
  ASSERT_TRUE(registry_->revoke("laptop"));
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(seen, 1U);

  EXPECT_TRUE(registry_->expire_stale().value().empty());  // nobody expired: no call
  EXPECT_EQ(calls, 3);
  clock_.advance(kExpiryHeartbeats * registry_->heartbeat_interval() + 1s);
  EXPECT_EQ(registry_->expire_stale().value().size(), 1U);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(seen, 0U);

  const Peer agent = add(Peer::Kind::agent, "api");
  EXPECT_EQ(calls, 5);
  ASSERT_TRUE(registry_->unregister(agent.peer_id, agent.wireguard_pubkey));
  EXPECT_EQ(calls, 6);
  EXPECT_FALSE(registry_->unregister(agent.peer_id, agent.wireguard_pubkey));
  EXPECT_EQ(calls, 6);
}

}  // namespace
}  // namespace coral::colony

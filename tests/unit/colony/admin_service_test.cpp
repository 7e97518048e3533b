// AdminService served by AdminServer on a real Unix socket in a temporary
// directory, called through coral's Connect client over the Unix dialer:
// the socket's mode and removal, AddPeer's answer (what a wg-quick file
// needs), ListPeers with and without WireGuard facts, RevokePeer, and the
// errors as codes.

#include "colony/admin_server.h"

#include <gtest/gtest.h>

#include "service_fixtures.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <google/protobuf/util/time_util.h>

#include "bounded_io.h"
#include "net/unix.h"
#include "rpc/http_channel.h"

namespace coral::colony {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::new_pubkey;
using testing::test_config;

class AdminServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coral-admin-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    socket_ = dir_ / "c.sock";
    store_.emplace(PeerStore::open(dir_ / "colony.db").value());
    auto registry = PeerRegistry::open(*store_, test_config(), clock_);
    ASSERT_TRUE(registry) << registry.error();
    registry_ = std::move(*registry);
  }
  void TearDown() override {
    client_.reset();
    channel_.reset();
    server_.reset();
    registry_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void start(AdminServiceOptions options = {}) {
    auto server = AdminServer::start(io_, socket_, *registry_, std::move(options));
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    http::Url url;
    url.host = "localhost";
    channel_ = std::make_unique<rpc::HttpChannel>(io_.get_executor(),
                                                  rpc::h2c_proto_options(url, net::unix_dialer(io_.get_executor(), socket_)));
    client_ = std::make_unique<v1::AdminServiceClient>(*channel_);
  }

  template <class T>
  T call(rpc::Awaitable<T> task) {
    auto result = coral::testing::run(io_, std::move(task));
    EXPECT_TRUE(result.has_value()) << "the call did not complete";
    return std::move(result).value();
  }

  rpc::Result<v1::AddPeerResponse> add_peer(const std::string& name, const std::string& pubkey) {
    v1::AddPeerRequest request;
    request.set_name(name);
    request.set_wireguard_pubkey(pubkey);
    return call([&]() -> rpc::Awaitable<rpc::Result<v1::AddPeerResponse>> {
      co_return co_await client_->AddPeer(request);
    }());
  }
  rpc::Result<v1::ListPeersResponse> list() {
    return call([&]() -> rpc::Awaitable<rpc::Result<v1::ListPeersResponse>> {
      const v1::ListPeersRequest request;
      co_return co_await client_->ListPeers(request);
    }());
  }
  rpc::Result<v1::RotateSecretResponse> rotate() {
    return call([&]() -> rpc::Awaitable<rpc::Result<v1::RotateSecretResponse>> {
      const v1::RotateSecretRequest request;
      co_return co_await client_->RotateSecret(request);
    }());
  }
  rpc::Result<v1::RevokePeerResponse> revoke(const std::string& selector) {
    v1::RevokePeerRequest request;
    request.set_selector(selector);
    return call([&]() -> rpc::Awaitable<rpc::Result<v1::RevokePeerResponse>> {
      co_return co_await client_->RevokePeer(request);
    }());
  }

  fs::path dir_;
  fs::path socket_;
  asio::io_context io_{1};
  base::FakeClock clock_;
  std::optional<PeerStore> store_;
  std::unique_ptr<PeerRegistry> registry_;
  std::unique_ptr<AdminServer> server_;
  std::unique_ptr<rpc::HttpChannel> channel_;
  std::unique_ptr<v1::AdminServiceClient> client_;
};

TEST_F(AdminServiceTest, ServesOnAnOwnerOnlySocketAndRemovesItOnShutdown) {
  start();
  struct stat st {};
  ASSERT_EQ(::lstat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(server_->socket_path(), socket_);
  ASSERT_TRUE(list());
  bool done = false;
  asio::co_spawn(io_, server_->shutdown(1s), [&](std::exception_ptr) { done = true; });
  ASSERT_TRUE(coral::testing::run_until(io_, [&] { return done; }));
  EXPECT_FALSE(fs::exists(socket_));
}

TEST_F(AdminServiceTest, AddPeerAnswersWhatTheWgQuickFileNeeds) {
  start({.public_endpoints = {"203.0.113.7:41820", "[2001:db8::7]:41820"}, .wireguard_info = {}, .colony_file = {}});
  const std::string key = new_pubkey();
  auto added = add_peer("laptop", key);
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(added->peer().name(), "laptop");
  EXPECT_EQ(added->peer().kind(), "device");
  EXPECT_EQ(added->peer().health(), "manual");
  EXPECT_EQ(added->peer().wireguard_pubkey(), key);
  EXPECT_EQ(added->peer().peer_id(), peer_id_for(key));
  EXPECT_EQ(added->peer().mesh_ipv4(), "127.42.0.2");
  EXPECT_EQ(added->peer().mesh_ipv6(), "fdc0:42::2");
  EXPECT_EQ(added->colony_wireguard_pubkey(), registry_->config().wireguard.public_key.to_base64());
  ASSERT_EQ(added->colony_endpoints_size(), 2);
  EXPECT_EQ(added->colony_endpoints(0), "203.0.113.7:41820");
  EXPECT_EQ(added->mesh_network_ipv4(), "127.42.0.0/16");
  EXPECT_EQ(added->mesh_network_ipv6(), "fdc0:42::/64");
  EXPECT_EQ(added->colony_mesh_ipv4(), "127.42.0.1");
  EXPECT_EQ(added->colony_mesh_ipv6(), "fdc0:42::1");
  EXPECT_EQ(added->colony_connect_port(), 9000u);
}

TEST_F(AdminServiceTest, RefusalsKeepTheirCodes) {
  start();
  const std::string key = new_pubkey();
  ASSERT_TRUE(add_peer("laptop", key));
  EXPECT_EQ(add_peer("laptop2", key).error().code, rpc::Code::already_exists);
  EXPECT_EQ(add_peer("Bad Name", new_pubkey()).error().code, rpc::Code::invalid_argument);
  EXPECT_EQ(add_peer("phone", "not a key").error().code, rpc::Code::invalid_argument);
  EXPECT_EQ(revoke("nobody").error().code, rpc::Code::not_found);
  registry_->register_peer(new_pubkey(), Peer::Kind::agent, "api").value();
  registry_->register_peer(new_pubkey(), Peer::Kind::agent, "api").value();
  EXPECT_EQ(revoke("api").error().code, rpc::Code::failed_precondition);
}

TEST_F(AdminServiceTest, ListsEveryPeerWithoutWireGuardFactsOnTheHostTransport) {
  start();
  const Peer agent = registry_->register_peer(new_pubkey(), Peer::Kind::agent, "api").value().peer;
  const Peer proxy = registry_->register_peer(new_pubkey(), Peer::Kind::proxy, "proxy").value().peer;
  ASSERT_TRUE(add_peer("laptop", new_pubkey()));
  auto peers = list();
  ASSERT_TRUE(peers) << peers.error().message;
  EXPECT_EQ(peers->colony_id(), "my-shop-production-a3f2e1");
  EXPECT_FALSE(peers->wireguard_device());
  ASSERT_EQ(peers->peers_size(), 3);
  EXPECT_EQ(peers->peers(0).peer_id(), agent.peer_id);
  EXPECT_EQ(peers->peers(0).kind(), "agent");
  EXPECT_EQ(peers->peers(0).health(), "healthy");
  EXPECT_EQ(peers->peers(1).peer_id(), proxy.peer_id);
  EXPECT_EQ(peers->peers(1).kind(), "proxy");
  EXPECT_EQ(peers->peers(2).kind(), "device");
  EXPECT_EQ(peers->peers(2).name(), "laptop");
  for (const auto& peer : peers->peers()) EXPECT_FALSE(peer.has_wireguard()) << peer.peer_id();
}

TEST_F(AdminServiceTest, ListsWireGuardFactsFromTheProvider) {
  const std::string key = new_pubkey();
  const auto handshake = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  int asked = 0;
  start({.public_endpoints = {},
         .wireguard_info = [&] {
           ++asked;
           return std::map<std::string, PeerWireGuardInfo>{
               {key, PeerWireGuardInfo{.endpoint = "198.51.100.9:51820",
                                       .latest_handshake = handshake,
                                       .rx_bytes = 1234,
                                       .tx_bytes = 5678}}};
         },
         .colony_file = {}});
  ASSERT_TRUE(add_peer("laptop", key));
  ASSERT_TRUE(add_peer("phone", new_pubkey()));  // not on the device (yet)
  auto peers = list();
  ASSERT_TRUE(peers) << peers.error().message;
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(peers->wireguard_device());
  ASSERT_EQ(peers->peers_size(), 2);
  ASSERT_TRUE(peers->peers(0).has_wireguard());
  const auto& wg = peers->peers(0).wireguard();
  EXPECT_EQ(wg.endpoint(), "198.51.100.9:51820");
  EXPECT_EQ(google::protobuf::util::TimeUtil::TimestampToSeconds(wg.latest_handshake()), 1'800'000'000);
  EXPECT_EQ(wg.rx_bytes(), 1234u);
  EXPECT_EQ(wg.tx_bytes(), 5678u);
  EXPECT_FALSE(peers->peers(1).has_wireguard());
}

TEST_F(AdminServiceTest, RevokePeerRemovesItAndFreesItsAddresses) {
  start();
  int changes = 0;
  registry_->on_change([&] { ++changes; });
  const std::string key = new_pubkey();
  auto added = add_peer("laptop", key);
  ASSERT_TRUE(added);
  auto revoked = revoke("laptop");
  ASSERT_TRUE(revoked) << revoked.error().message;
  EXPECT_EQ(revoked->peer().peer_id(), added->peer().peer_id());
  EXPECT_EQ(changes, 2);
  EXPECT_EQ(list()->peers_size(), 0);
  auto again = add_peer("laptop", new_pubkey());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->peer().mesh_ipv4(), added->peer().mesh_ipv4());
}

TEST_F(AdminServiceTest, ListPeersCanListTheRevokedKeysAndTheColonysEndpoints) {
  start(AdminServiceOptions{.public_endpoints = {"203.0.113.7:41820"}, .wireguard_info = {}, .colony_file = {}});
  const std::string key = new_pubkey();
  ASSERT_TRUE(add_peer("laptop", key));
  ASSERT_TRUE(revoke("laptop"));
  auto plain = list();
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->revoked_size(), 0);
  ASSERT_EQ(plain->colony_endpoints_size(), 1);
  EXPECT_EQ(plain->colony_endpoints(0), "203.0.113.7:41820");
  auto with_revoked = call([&]() -> rpc::Awaitable<rpc::Result<v1::ListPeersResponse>> {
    v1::ListPeersRequest request;
    request.set_include_revoked(true);
    co_return co_await client_->ListPeers(request);
  }());
  ASSERT_TRUE(with_revoked) << with_revoked.error().message;
  ASSERT_EQ(with_revoked->revoked_size(), 1);
  EXPECT_EQ(with_revoked->revoked(0).wireguard_pubkey(), key);
  EXPECT_EQ(with_revoked->revoked(0).name(), "laptop");
  EXPECT_EQ(with_revoked->revoked(0).kind(), "device");
}

TEST_F(AdminServiceTest, RotateSecretWritesTheFileSwitchesTheRegistryAndKeepsThePeers) {
  config::ColonyConfig config = registry_->config();
  config.discovery.mesh_id = config.colony_id;
  const fs::path file = dir_ / "colony.yaml";
  ASSERT_TRUE(config::save(file, config));
  start(AdminServiceOptions{.public_endpoints = {}, .wireguard_info = {}, .colony_file = file});
  ASSERT_TRUE(add_peer("laptop", new_pubkey()));
  ASSERT_TRUE(registry_->register_peer(new_pubkey(), Peer::Kind::agent, "api"));

  auto rotated = rotate();
  ASSERT_TRUE(rotated) << rotated.error().message;
  EXPECT_EQ(rotated->colony_id(), config.colony_id);
  EXPECT_EQ(rotated->colony_file(), file.string());
  EXPECT_EQ(rotated->peers_kept(), 2u);
  EXPECT_NE(rotated->colony_secret(), config.colony_secret);
  EXPECT_TRUE(config::validate_colony_secret(rotated->colony_secret()));
  EXPECT_EQ(registry_->colony_secret(), rotated->colony_secret());
  auto written = config::load(file);
  ASSERT_TRUE(written) << written.error();
  EXPECT_EQ(written->colony_secret, rotated->colony_secret());
  written->colony_secret = config.colony_secret;
  EXPECT_EQ(*written, config);  // nothing else changed
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(list()->peers_size(), 2);

  // A file that holds another colony now is left alone, and so is the secret.
  config::ColonyConfig other = config;
  other.wireguard.private_key = crypto::SecretKey::generate();
  other.wireguard.public_key = other.wireguard.private_key.public_key();
  ASSERT_TRUE(config::save(file, other));
  auto refused = rotate();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, rpc::Code::failed_precondition);
  EXPECT_NE(refused.error().message.find("another colony"), std::string::npos) << refused.error().message;
  EXPECT_EQ(registry_->colony_secret(), rotated->colony_secret());
  EXPECT_EQ(config::load(file)->colony_secret, other.colony_secret);
}

TEST_F(AdminServiceTest, RotateSecretWithoutAColonyFileIsFailedPrecondition) {
  start();
  const std::string before = registry_->colony_secret();
  auto refused = rotate();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, rpc::Code::failed_precondition);
  EXPECT_EQ(registry_->colony_secret(), before);
}

TEST_F(AdminServiceTest, AStaleSocketIsReplacedAndALiveOneRefused) {
  start();
  auto second = AdminServer::start(io_, socket_, *registry_, {});
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().find("another process listens on it"), std::string::npos) << second.error();
  EXPECT_TRUE(fs::exists(socket_));  // the first one's is kept
}

}  // namespace
}  // namespace coral::colony

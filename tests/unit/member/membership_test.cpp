// member::Membership against real in-process servers on loopback: a
// discovery service (memory store) that knows two colonies, and "colonies"
// that are first dead ends (a listener that accepts and closes at once: the
// colony's host is up, its service is not) and then a real ColonyRuntime on
// the same address. Checks each membership's own backoff, that two
// colonies refused at start do not wake each other (issue 12: one
// retry_timer shared by every colony made each re-register the other at
// once, without backoff), and that a colony that comes back is joined.

#include "member/membership.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/address.h"
#include "base/cidr.h"
#include "bounded_io.h"
#include "config/config_dir.h"
#include "colony/runtime.h"
#include "config/colony_file.h"
#include "crypto/keys.h"
#include "in_process_discovery.h"
#include "mesh/host_transport.h"

namespace coral::member {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using asio::ip::tcp;
using coral::testing::run;
using coral::testing::run_until;
using namespace std::chrono_literals;

// Accepts connections and closes them at once, counting them: a colony
// whose host is up and whose service is not (or answers nothing useful).
class DeadEnd {
 public:
  DeadEnd(asio::io_context& io, const std::string& address)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address(address), 0)) {
    accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted() const { return accepted_; }
  void close() { acceptor_.close(); }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      ++accepted_;
      socket.close();
      accept();
    });
  }
  tcp::acceptor acceptor_;
  int accepted_ = 0;
};

// Runs a task that returns nothing; true when it finished in time.
bool run_done(asio::io_context& io, asio::awaitable<void> task) {
  auto wrapped = [](asio::awaitable<void> inner) -> asio::awaitable<bool> {
    co_await std::move(inner);
    co_return true;
  };
  return run(io, wrapped(std::move(task))).has_value();
}

config::ColonyConfig colony_config(const std::string& id, int n, std::uint16_t port) {
  config::ColonyConfig config;
  config.colony_id = id;
  config.app_name = "shop";
  config.environment = "test";
  config.wireguard.private_key = crypto::SecretKey::generate();
  config.wireguard.public_key = config.wireguard.private_key.public_key();
  config.wireguard.mesh_ipv4 = *base::parse_ipv4("127.42." + std::to_string(n) + ".1");
  config.wireguard.mesh_ipv6 = *base::parse_ipv6("fdc0:42:" + std::to_string(n) + "::1");
  config.wireguard.mesh_network_ipv4 = base::Cidr::parse("127.42." + std::to_string(n) + ".0/24").value();
  config.wireguard.mesh_network_ipv6 = base::Cidr::parse("fdc0:42:" + std::to_string(n) + "::/64").value();
  config.services.connect_port = port;
  config.services.dashboard_port = 3000;
  config.discovery.mesh_id = id;
  config.discovery.auto_register = false;
  config.colony_secret = crypto::generate_colony_secret();
  return config;
}

class MembershipTest : public ::testing::Test {
 protected:
  MembershipTest()
      : root_(fs::temp_directory_path() / ("coral-member-" + std::to_string(::getpid()) + "-" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name())),
        dir_(root_),
        discovery_(io_) {
    fs::remove_all(root_);
    EXPECT_TRUE(dir_.create());
  }
  ~MembershipTest() override { fs::remove_all(root_); }

  // A colony this machine has the config of, known to discovery, served
  // (for now) by a dead end.
  config::ColonyConfig add_colony(const std::string& id, int n, DeadEnd& dead_end) {
    auto config = colony_config(id, n, dead_end.port());
    config.discovery.endpoint = discovery_.url();
    EXPECT_TRUE(dir_.save_colony(config));
    discovery::ColonyRecord record;
    record.mesh_id = id;
    record.wireguard_pubkey = config.wireguard.public_key.to_base64();
    record.mesh_ipv4 = base::format_ipv4(config.wireguard.mesh_ipv4);
    record.mesh_ipv6 = base::format_ipv6(config.wireguard.mesh_ipv6);
    record.connect_port = dead_end.port();
    discovery_.put(std::move(record));
    return config;
  }

  // A real colony on `config`'s addresses (its start-up log swallowed).
  std::unique_ptr<colony::ColonyRuntime> start_colony(const config::ColonyConfig& config) {
    ::testing::internal::CaptureStderr();
    auto colony = colony::ColonyRuntime::start(io_, dir_, config, *transport_);
    ::testing::internal::GetCapturedStderr();
    EXPECT_TRUE(colony) << colony.error();
    return colony ? std::move(*colony) : nullptr;
  }

  std::unique_ptr<Membership> join(const std::string& id, Backoff retry) {
    JoinOptions options;
    options.colony_id = id;
    options.retry = retry;
    options.call_timeout = 2s;
    auto joined = run(io_, Membership::join(io_, dir_, options, [](const std::string&) {}));
    EXPECT_TRUE(joined && *joined) << (joined && !*joined ? joined->error() : "timed out");
    if (!joined || !*joined) return nullptr;
    return std::move(**joined);
  }

  asio::io_context io_{1};
  fs::path root_;
  config::ConfigDir dir_;
  testing::InProcessDiscovery discovery_;
  std::unique_ptr<mesh::Transport> transport_ = mesh::make_host_transport(io_.get_executor());
};

TEST_F(MembershipTest, TwoColoniesRefusedAtStartEachBackOffOnTheirOwn) {
  DeadEnd a(io_, "127.42.1.1");
  DeadEnd b(io_, "127.42.2.1");
  add_colony("colony-a", 1, a);
  add_colony("colony-b", 2, b);
  const Backoff retry{.first = 100ms, .max = 30s};
  auto member_a = join("colony-a", retry);
  auto member_b = join("colony-b", retry);
  ASSERT_TRUE(member_a && member_b);
  EXPECT_EQ(member_a->standing(), Standing::retrying);
  EXPECT_EQ(member_b->standing(), Standing::retrying);
  const int a_at_join = a.accepted();
  const int b_at_join = b.accepted();

  member_a->start();
  member_b->start();
  run_until(io_, [] { return false; }, 1600ms);
  // 100, 200, 400, 800 ms apart: 3 or 4 attempts each in 1.6 s. With one
  // timer for both, each wait cancelled the other's: hundreds.
  const int a_retries = a.accepted() - a_at_join;
  const int b_retries = b.accepted() - b_at_join;
  EXPECT_GE(a_retries, 2);
  EXPECT_GE(b_retries, 2);
  EXPECT_LE(a_retries, 5) << "colony-a's member re-registered without backing off";
  EXPECT_LE(b_retries, 5) << "colony-b's member re-registered without backing off";
  EXPECT_EQ(member_a->standing(), Standing::retrying);
  EXPECT_EQ(run(io_, member_a->leave())->outcome, LeaveOutcome::not_registered);
  EXPECT_EQ(run(io_, member_b->leave())->outcome, LeaveOutcome::not_registered);
}

TEST_F(MembershipTest, AColonyThatComesBackIsJoined) {
  DeadEnd dead(io_, "127.42.3.1");
  auto config = add_colony("colony-c", 3, dead);
  auto member = join("colony-c", Backoff{.first = 100ms, .max = 300ms});
  ASSERT_TRUE(member);
  ASSERT_EQ(member->standing(), Standing::retrying);
  int registrations = 0;
  member->on_registered([&] { ++registrations; });
  member->start();
  run_until(io_, [] { return false; }, 300ms);

  // The colony comes up on the address the dead end held.
  dead.close();
  auto colony = start_colony(config);
  ASSERT_TRUE(colony);

  ASSERT_TRUE(run_until(io_, [&] { return member->standing() == Standing::registered; }, 5s))
      << "not registered once the colony came back; standing: " << to_string(member->standing());
  EXPECT_EQ(registrations, 1);
  EXPECT_TRUE(member->mesh_ipv4().starts_with("127.42.3.")) << member->mesh_ipv4();
  EXPECT_FALSE(member->peer_id().empty());
  EXPECT_EQ(run(io_, member->leave())->outcome, LeaveOutcome::unregistered);
  EXPECT_TRUE(run_done(io_, colony->shutdown(1s)));
}

TEST_F(MembershipTest, LeavingWhenTheColonyIsGoneSaysSo) {
  DeadEnd dead(io_, "127.42.4.1");
  auto config = add_colony("colony-d", 4, dead);
  dead.close();
  auto colony = start_colony(config);
  ASSERT_TRUE(colony);
  auto member = join("colony-d", Backoff{});
  ASSERT_TRUE(member);
  ASSERT_EQ(member->standing(), Standing::registered);
  EXPECT_TRUE(run_done(io_, colony->shutdown(1s)));
  colony.reset();
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run(io_, member->leave())->outcome, LeaveOutcome::failed);
  ::testing::internal::GetCapturedStderr();
}

// Discovery is untrusted: an answer with another key than the local
// config's is refused, naming both.
TEST_F(MembershipTest, ADiscoveryAnswerWithAnotherKeyIsRefused) {
  DeadEnd dead(io_, "127.42.5.1");
  auto config = add_colony("colony-e", 5, dead);
  config.wireguard.private_key = crypto::SecretKey::generate();
  config.wireguard.public_key = config.wireguard.private_key.public_key();
  ASSERT_TRUE(dir_.save_colony(config, /*force=*/true));
  JoinOptions options;
  options.colony_id = "colony-e";
  auto joined = run(io_, Membership::join(io_, dir_, options, [](const std::string&) {}));
  ASSERT_TRUE(joined);
  ASSERT_FALSE(*joined);
  EXPECT_NE(joined->error().find("pins key " + config.wireguard.public_key.to_base64()), std::string::npos)
      << joined->error();
  EXPECT_NE(joined->error().find("refusing to connect or to send it the colony secret"), std::string::npos);
  EXPECT_EQ(dead.accepted(), 0) << "the colony's address was dialled";
}

}  // namespace
}  // namespace coral::member

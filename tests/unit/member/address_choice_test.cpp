// Which of a colony's mesh addresses the proxy forwards to, decided on the
// dial's error code: a refused dial stops there, anything else tries the
// other family. A scripted dialer stands in for the transport.

#include "member/address_choice.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>

#include "bounded_io.h"
#include "net/error.h"

namespace coral::member {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using coral::testing::run;

// A stream that is never used: a successful dial's.
class IdleStream final : public net::ByteStream {
 public:
  explicit IdleStream(bool& closed) : closed_(closed) {}
  net::Awaitable<std::expected<std::size_t, std::error_code>> read_some(std::span<std::byte>) override {
    co_return std::unexpected(std::make_error_code(std::errc::not_connected));
  }
  net::Awaitable<std::error_code> write(std::span<const std::byte>) override {
    co_return std::make_error_code(std::errc::not_connected);
  }
  void close() override { closed_ = true; }
  std::string remote_address() const override { return "scripted"; }

 private:
  bool& closed_;
};

// Answers each host with its scripted error (none: a stream), and records
// what was dialed.
struct ScriptedDialer {
  std::map<std::string, std::error_code> errors;
  std::vector<std::string> dialed;
  bool closed = false;

  using Dialed = std::expected<std::unique_ptr<net::ByteStream>, std::error_code>;

  net::Dialer dialer() {
    return [this](const net::Target& target) -> net::Awaitable<Dialed> {
      dialed.push_back(target.authority());
      if (const auto error = errors.find(target.host); error != errors.end() && error->second) {
        co_return std::unexpected(error->second);
      }
      co_return std::make_unique<IdleStream>(closed);
    };
  }
};

std::error_code asio_code(boost::system::error_code error) { return error; }

struct Outcome {
  AddressChoice choice;
  std::vector<std::string> progress;
};

Outcome choose(ScriptedDialer& script, const std::vector<std::string>& candidates) {
  asio::io_context io(1);
  Outcome outcome;
  const net::Dialer dial = script.dialer();
  auto choice = run(io, choose_address(dial, candidates, 9000, 5000ms, [&](const std::string& line) {
                      outcome.progress.push_back(line);
                    }));
  EXPECT_TRUE(choice);
  if (choice) outcome.choice = *choice;
  return outcome;
}

TEST(AddressChoice, TheFirstFamilyWhenItAnswers) {
  ScriptedDialer script;
  const Outcome outcome = choose(script, {"127.42.0.1", "fdc0:42::1"});
  EXPECT_EQ(outcome.choice.target.authority(), "127.42.0.1:9000");
  EXPECT_EQ(outcome.choice.unreachable, "");
  EXPECT_EQ(script.dialed, (std::vector<std::string>{"127.42.0.1:9000"}));
  EXPECT_TRUE(script.closed);  // a probe only
  EXPECT_TRUE(outcome.progress.empty());
}

TEST(AddressChoice, ARefusedDialDoesNotTryTheOtherFamily) {
  ScriptedDialer script;
  script.errors["127.42.0.1"] = asio_code(asio::error::connection_refused);
  const Outcome outcome = choose(script, {"127.42.0.1", "fdc0:42::1"});
  EXPECT_EQ(script.dialed, (std::vector<std::string>{"127.42.0.1:9000"}));
  EXPECT_EQ(outcome.choice.target.authority(), "127.42.0.1:9000");
  EXPECT_EQ(outcome.choice.unreachable, "127.42.0.1:9000: Connection refused");
  EXPECT_EQ(outcome.progress, (std::vector<std::string>{" ↳ 127.42.0.1:9000 is not reachable: Connection refused"}));
  EXPECT_FALSE(script.closed);
}

TEST(AddressChoice, ARefusedIpv6DialWithIpv6PreferredDoesNotTryIpv4) {
  ScriptedDialer script;
  script.errors["fdc0:42::1"] = asio_code(asio::error::connection_refused);
  const Outcome outcome = choose(script, {"fdc0:42::1", "127.42.0.1"});
  EXPECT_EQ(script.dialed, (std::vector<std::string>{"[fdc0:42::1]:9000"}));
  EXPECT_EQ(outcome.choice.unreachable, "[fdc0:42::1]:9000: Connection refused");
}

TEST(AddressChoice, ATimeoutOrAnUnreachableNetworkTriesTheOtherFamily) {
  for (const std::error_code error : {std::error_code(net::Errc::connect_timed_out),
                                      asio_code(asio::error::network_unreachable),
                                      asio_code(asio::error::host_unreachable),
                                      std::error_code(net::Errc::mesh_unreachable),
                                      std::error_code(net::Errc::handshake_timed_out)}) {
    ScriptedDialer script;
    script.errors["127.42.0.1"] = error;
    const Outcome outcome = choose(script, {"127.42.0.1", "fdc0:42::1"});
    EXPECT_EQ(script.dialed, (std::vector<std::string>{"127.42.0.1:9000", "[fdc0:42::1]:9000"})) << error.message();
    EXPECT_EQ(outcome.choice.target.authority(), "[fdc0:42::1]:9000") << error.message();
    EXPECT_EQ(outcome.choice.unreachable, "") << error.message();
    EXPECT_EQ(outcome.progress.size(), 1U) << error.message();
    EXPECT_TRUE(script.closed);
  }
}

TEST(AddressChoice, NeitherAnsweringKeepsTheFirstAndItsError) {
  ScriptedDialer script;
  script.errors["127.42.0.1"] = net::Errc::connect_timed_out;
  script.errors["fdc0:42::1"] = asio_code(asio::error::connection_refused);
  const Outcome outcome = choose(script, {"127.42.0.1", "fdc0:42::1"});
  EXPECT_EQ(script.dialed, (std::vector<std::string>{"127.42.0.1:9000", "[fdc0:42::1]:9000"}));
  EXPECT_EQ(outcome.choice.target.authority(), "127.42.0.1:9000");
  EXPECT_EQ(outcome.choice.unreachable, "127.42.0.1:9000: connection timed out after 5000 ms");
  EXPECT_EQ(outcome.progress,
            (std::vector<std::string>{" ↳ 127.42.0.1:9000 is not reachable: connection timed out after 5000 ms",
                                      " ↳ [fdc0:42::1]:9000 is not reachable: Connection refused"}));
}

TEST(AddressChoice, OnlyARefusalStopsTheFallback) {
  EXPECT_FALSE(worth_trying_other_family(asio_code(asio::error::connection_refused)));
  EXPECT_FALSE(worth_trying_other_family(std::make_error_code(std::errc::connection_refused)));
  EXPECT_TRUE(worth_trying_other_family(net::Errc::connect_timed_out));
  EXPECT_TRUE(worth_trying_other_family(asio_code(asio::error::network_unreachable)));
  EXPECT_TRUE(worth_trying_other_family(asio_code(asio::error::connection_reset)));
  EXPECT_TRUE(worth_trying_other_family(net::Errc::not_registered));
}

}  // namespace
}  // namespace coral::member

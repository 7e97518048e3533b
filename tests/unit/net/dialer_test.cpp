// Targets, and the words dial and listen errors are given for people
// (describe_dial_error, describe_listen_error): the texts the CLI and the
// proxy show, unchanged from when the errors were strings.

#include "net/dialer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <system_error>

#include <boost/asio/error.hpp>

#include "net/error.h"
#include "net/stream.h"

namespace coral::net {
namespace {

// A code as Asio reports it (Boost's categories), as net/ hands it on.
std::error_code asio_code(boost::system::error_code error) { return error; }

using namespace std::chrono_literals;

TEST(Target, AuthorityBracketsIpv6) {
  EXPECT_EQ((Target{"127.42.0.1", 9000}.authority()), "127.42.0.1:9000");
  EXPECT_EQ((Target{"fdc0:42::1", 9000}.authority()), "[fdc0:42::1]:9000");
  EXPECT_EQ((Target{"colony.example", 80}.authority()), "colony.example:80");
  EXPECT_EQ(format_authority("::", 0), "[::]:0");
}

TEST(DescribeDialError, SaysWhatTheSystemSays) {
  const Target target{"127.42.0.1", 9000};
  const std::error_code refused = asio_code(boost::asio::error::connection_refused);
  EXPECT_EQ(describe_dial_error(target, refused, 5000ms), "Connection refused");
  const std::error_code unreachable = asio_code(boost::asio::error::network_unreachable);
  EXPECT_EQ(describe_dial_error(target, unreachable, 5000ms), "Network is unreachable");
}

TEST(DescribeDialError, ATimeoutNamesHowLongItWaited) {
  const Target target{"127.42.0.1", 9000};
  EXPECT_EQ(describe_dial_error(target, Errc::connect_timed_out, 5000ms), "connection timed out after 5000 ms");
  EXPECT_EQ(describe_dial_error(target, Errc::connect_timed_out, 250ms), "connection timed out after 250 ms");
}

TEST(DescribeDialError, AResolverErrorNamesTheHost) {
  const Target target{"colony.invalid", 9000};
  const std::error_code not_found = asio_code(boost::asio::error::host_not_found);
  const std::error_code no_service = asio_code(boost::asio::error::service_not_found);
  EXPECT_TRUE(is_resolve_error(not_found));
  EXPECT_TRUE(is_resolve_error(no_service));
  EXPECT_EQ(describe_dial_error(target, not_found, 5000ms), "cannot resolve colony.invalid: " + not_found.message());
  EXPECT_TRUE(describe_dial_error(target, no_service, 5000ms).starts_with("cannot resolve colony.invalid: "));
  // The system's codes and coral's are not the resolver's.
  EXPECT_FALSE(is_resolve_error(asio_code(boost::asio::error::connection_refused)));
  EXPECT_FALSE(is_resolve_error(Errc::connect_timed_out));
  EXPECT_FALSE(is_resolve_error(std::error_code()));
}

TEST(DescribeDialError, CoralsOwnErrorsSayWhatHappened) {
  const Target target{"10.42.0.1", 9000};
  EXPECT_EQ(describe_dial_error(target, Errc::not_registered, 5000ms),
            "not registered with the colony (no mesh address yet)");
  EXPECT_EQ(describe_dial_error(target, Errc::handshake_timed_out, 5000ms), "WireGuard handshake timed out");
}

TEST(DescribeListenError, NamesTheAddressAndPort) {
  const std::error_code in_use = asio_code(boost::asio::error::address_in_use);
  EXPECT_EQ(describe_listen_error("127.0.0.1", 8080, in_use), "127.0.0.1:8080: Address already in use");
  EXPECT_EQ(describe_listen_error("fdc0:42::1", 9000, Errc::mesh_address_not_local),
            "[fdc0:42::1]:9000: Cannot assign requested address (the host transport needs the mesh address on a "
            "local interface)");
  EXPECT_EQ(describe_listen_error("mesh.example", 9000, Errc::not_an_ip_address),
            "\"mesh.example\" is not an IP address");
  EXPECT_EQ(describe_listen_error("", 9000, Errc::not_an_ip_address), "\"\" is not an IP address");
}

}  // namespace
}  // namespace coral::net

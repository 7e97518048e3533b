// The coral.net error category: its name, the text of each value, and which
// std::errc conditions its values (and the system's codes, as Asio reports
// them) compare equal to. Callers decide on these comparisons, never on
// the text.

#include "net/error.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <system_error>

#include <boost/asio/error.hpp>

namespace coral::net {
namespace {

// A code as Asio reports it (Boost's categories), as net/ hands it on.
std::error_code asio_code(boost::system::error_code error) { return error; }

TEST(NetError, CategoryIsNamedCoralNet) {
  EXPECT_STREQ(net_category().name(), "coral.net");
  EXPECT_EQ(std::error_code(Errc::not_registered).category(), net_category());
  EXPECT_EQ(make_error_code(Errc::no_address).category(), net_category());
}

TEST(NetError, EveryValueIsAnErrorWithItsOwnText) {
  const std::pair<Errc, std::string> texts[] = {
      {Errc::connect_timed_out, "connection timed out"},
      {Errc::no_address, "no address to listen on"},
      {Errc::not_an_ip_address, "not an IP address"},
      {Errc::mesh_address_not_local,
       "Cannot assign requested address (the host transport needs the mesh address on a local interface)"},
      {Errc::mesh_unreachable, "no route to the mesh address (no peer's allowed IPs cover it)"},
      {Errc::handshake_timed_out, "WireGuard handshake timed out"},
      {Errc::not_registered, "not registered with the colony (no mesh address yet)"},
      {Errc::no_address_of_family, "no mesh address of this family"},
      {Errc::source_address_not_local, "the source address is not one of this node's"},
      {Errc::not_supported_by_transport, "not supported by this mesh transport"},
  };
  for (const auto& [value, text] : texts) {
    const std::error_code error = value;
    EXPECT_TRUE(error) << text;
    EXPECT_EQ(error.message(), text);
  }
  EXPECT_EQ(std::error_code(99, net_category()).message(), "unknown coral.net error 99");
}

TEST(NetError, ValuesCompareEqualToTheConditionTheyAre) {
  EXPECT_EQ(std::error_code(Errc::connect_timed_out), std::errc::timed_out);
  EXPECT_EQ(std::error_code(Errc::handshake_timed_out), std::errc::timed_out);
  EXPECT_EQ(std::error_code(Errc::not_an_ip_address), std::errc::invalid_argument);
  EXPECT_EQ(std::error_code(Errc::mesh_address_not_local), std::errc::address_not_available);
  EXPECT_EQ(std::error_code(Errc::mesh_unreachable), std::errc::host_unreachable);
  EXPECT_EQ(std::error_code(Errc::source_address_not_local), std::errc::address_not_available);
  EXPECT_EQ(std::error_code(Errc::not_supported_by_transport), std::errc::operation_not_supported);
  // The values stay apart from each other and from the system's codes.
  EXPECT_NE(std::error_code(Errc::connect_timed_out), std::error_code(Errc::handshake_timed_out));
  EXPECT_NE(std::error_code(Errc::connect_timed_out), std::error_code(ETIMEDOUT, std::system_category()));
  EXPECT_NE(std::error_code(Errc::mesh_address_not_local), Errc::not_an_ip_address);
}

TEST(NetError, ValuesWithoutAnErrnoMatchNoneOfTheConditionsCodeDecidesOn) {
  for (const Errc value : {Errc::no_address, Errc::not_registered, Errc::no_address_of_family}) {
    const std::error_code error = value;
    for (const std::errc condition : {std::errc::connection_refused, std::errc::address_in_use,
                                      std::errc::address_not_available, std::errc::timed_out,
                                      std::errc::host_unreachable, std::errc::invalid_argument}) {
      EXPECT_NE(error, condition) << error.message() << " vs " << std::make_error_condition(condition).message();
    }
  }
  // Nor do the values that are a condition match any other.
  EXPECT_NE(std::error_code(Errc::connect_timed_out), std::errc::connection_refused);
  EXPECT_NE(std::error_code(Errc::mesh_address_not_local), std::errc::address_in_use);
}

// The system's codes reach callers as Asio reports them (Boost's system
// category, converted to std::error_code): they must compare equal to the
// std::errc conditions code decides on, and keep strerror's text.
TEST(NetError, AsioSystemCodesCompareEqualToStdErrc) {
  const std::error_code refused = asio_code(boost::asio::error::connection_refused);
  EXPECT_EQ(refused, std::errc::connection_refused);
  EXPECT_NE(refused, std::errc::address_in_use);
  EXPECT_EQ(refused.message(), std::generic_category().message(ECONNREFUSED));

  const std::error_code in_use = asio_code(boost::asio::error::address_in_use);
  EXPECT_EQ(in_use, std::errc::address_in_use);
  EXPECT_EQ(in_use.message(), std::generic_category().message(EADDRINUSE));

  const std::error_code not_available = asio_code({EADDRNOTAVAIL, boost::system::system_category()});
  EXPECT_EQ(not_available, std::errc::address_not_available);
  EXPECT_EQ(not_available.message(), "Cannot assign requested address");

  const std::error_code aborted = asio_code(boost::asio::error::operation_aborted);
  EXPECT_EQ(aborted, std::errc::operation_canceled);
}

}  // namespace
}  // namespace coral::net

#include "net/dialer.h"

#include <boost/asio/error.hpp>

#include "net/error.h"

namespace coral::net {

std::string Target::authority() const { return format_authority(host, port); }

bool is_resolve_error(std::error_code error) {
  const std::error_category& netdb = boost::asio::error::get_netdb_category();
  const std::error_category& addrinfo = boost::asio::error::get_addrinfo_category();
  return error.category() == netdb || error.category() == addrinfo;
}

std::string describe_dial_error(const Target& target, std::error_code error,
                                std::chrono::milliseconds connect_timeout) {
  if (error == Errc::connect_timed_out) {
    return error.message() + " after " + std::to_string(connect_timeout.count()) + " ms";
  }
  if (is_resolve_error(error)) return "cannot resolve " + target.host + ": " + error.message();
  return error.message();
}

}  // namespace coral::net

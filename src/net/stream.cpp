#include "net/stream.h"

#include "net/error.h"

namespace coral::net {

std::string format_authority(std::string_view host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

std::string describe_listen_error(std::string_view address, std::uint16_t port, std::error_code error) {
  if (error == Errc::not_an_ip_address) return "\"" + std::string(address) + "\" is " + error.message();
  return format_authority(address, port) + ": " + error.message();
}

}  // namespace coral::net

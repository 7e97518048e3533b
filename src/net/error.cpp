#include "net/error.h"

namespace coral::net {

namespace {

class NetCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "coral.net"; }

  // Read mid-sentence after "address:port: ", as strerror's texts are.
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::connect_timed_out: return "connection timed out";
      case Errc::no_address: return "no address to listen on";
      case Errc::not_an_ip_address: return "not an IP address";
      case Errc::mesh_address_not_local:
        return "Cannot assign requested address (the host transport needs the mesh address on a local interface)";
      case Errc::mesh_unreachable: return "no route to the mesh address (no peer's allowed IPs cover it)";
      case Errc::handshake_timed_out: return "WireGuard handshake timed out";
      case Errc::not_registered: return "not registered with the colony (no mesh address yet)";
      case Errc::no_address_of_family: return "no mesh address of this family";
      case Errc::source_address_not_local: return "the source address is not one of this node's";
      case Errc::not_supported_by_transport: return "not supported by this mesh transport";
    }
    return "unknown coral.net error " + std::to_string(value);
  }

  // The std::errc condition each value also is, so that code asking "timed
  // out?" or "address not available?" need not know this category.
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<Errc>(value)) {
      case Errc::connect_timed_out:
      case Errc::handshake_timed_out: return std::errc::timed_out;
      case Errc::not_an_ip_address: return std::errc::invalid_argument;
      case Errc::mesh_address_not_local: return std::errc::address_not_available;
      case Errc::mesh_unreachable: return std::errc::host_unreachable;
      case Errc::source_address_not_local: return std::errc::address_not_available;
      case Errc::not_supported_by_transport: return std::errc::operation_not_supported;
      case Errc::no_address:
      case Errc::not_registered:
      case Errc::no_address_of_family: break;
    }
    return std::error_condition(value, *this);
  }
};

}  // namespace

const std::error_category& net_category() {
  static const NetCategory category;
  return category;
}

std::error_code make_error_code(Errc error) { return {static_cast<int>(error), net_category()}; }

}  // namespace coral::net

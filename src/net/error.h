#pragma once
// Errors of the net layer. Whatever the OS reports stays in the system
// category (std::errc::connection_refused, address_in_use, ...); this
// category, "coral.net", holds what no errno says. Callers decide by value,
// never by the text: `error == std::errc::connection_refused`,
// `error == net::Errc::not_an_ip_address`. Where a value means what an errno
// means, it compares equal to that std::errc condition too (see each value).

#include <string>
#include <system_error>

namespace coral::net {

enum class Errc {
  // 0 is no error, as for every std::error_code.
  // A dial did not complete within its connect timeout (== std::errc::timed_out).
  connect_timed_out = 1,
  // A name resolved to no address to listen on.
  no_address,
  // What must be an IPv4 or IPv6 literal is not one (== std::errc::invalid_argument).
  not_an_ip_address,
  // The host transport cannot bind a mesh address: it is on no interface of
  // this host (== std::errc::address_not_available).
  mesh_address_not_local,
  // A mesh address has no route: no peer's AllowedIPs cover it
  // (== std::errc::host_unreachable). For the WireGuard transports.
  mesh_unreachable,
  // No WireGuard session with the peer that carries the address came up in
  // time (== std::errc::timed_out). For the WireGuard transports.
  handshake_timed_out,
  // This node has no mesh address yet: it has not registered with the colony
  // (MeshService.Register), so it can reach nothing but registration.
  not_registered,
  // This node has no mesh address of the family asked for (IPv4 or IPv6).
  no_address_of_family,
  // A dial from a given source address: the address is not one of this
  // node's (== std::errc::address_not_available).
  source_address_not_local,
  // The mesh transport cannot do this (a link-local registration address,
  // or choosing a dial's source, on the tun transport)
  // (== std::errc::operation_not_supported).
  not_supported_by_transport,
};

const std::error_category& net_category();

std::error_code make_error_code(Errc error);

}  // namespace coral::net

template <>
struct std::is_error_code_enum<coral::net::Errc> : std::true_type {};

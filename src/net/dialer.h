#pragma once
// Opening streams: a target (host and port) and a Dialer that opens a
// ByteStream to it. The host TCP dialer is net::tcp_dialer (net/tcp.h); mesh
// transports bring their own (mesh::Transport::dialer()).

#include <chrono>
#include <compare>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "net/stream.h"

namespace coral::net {

struct Target {
  std::string host;  // name or address, IPv6 without brackets
  std::uint16_t port = 0;
  std::string authority() const;  // "host:port", IPv6 in brackets
  auto operator<=>(const Target&) const = default;
};

// Opens a stream to a target. Errors are the system's (std::errc::
// connection_refused, ...), the resolver's (Asio's netdb and addrinfo
// categories) or net::Errc (connect_timed_out; the mesh transports':
// mesh_unreachable, handshake_timed_out, not_registered, ...).
using Dialer = std::function<Awaitable<std::expected<std::unique_ptr<ByteStream>, std::error_code>>(const Target&)>;

// Whether `error` is the resolver's: the name did not resolve.
bool is_resolve_error(std::error_code error);

// What a dial error says to people, mid-sentence: "Connection refused",
// "cannot resolve colony.example: Host not found (authoritative)",
// "connection timed out after 5000 ms" (`connect_timeout`: the dialer's).
std::string describe_dial_error(const Target& target, std::error_code error,
                                std::chrono::milliseconds connect_timeout);

}  // namespace coral::net

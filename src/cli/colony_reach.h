#pragma once
// How every CLI command that talks to a colony reaches it (`coral status`,
// `agents`, `topology`, `colony status`): one chain, the first way that
// answers wins.
//
//   1. the proxy named by --proxy or $CORAL_PROXY, and only it;
//   2. a live proxy of the colony (its state file, then its health
//      endpoint says it serves the colony);
//   3. directly, when the colony runs on this host (its PID file is held):
//      through its admin socket (colonies/<id>.sock, which serves
//      ColonyService too) when there is one — whatever carries its mesh;
//      else, for a colony on the host transport, its mesh IPv4 address,
//      then its IPv6 one, with host sockets. Mesh addresses of a userspace
//      or tun colony are never dialled from the host network.
//
// "Answers" means GetStatus answered; the answer is kept for the caller.

#include <chrono>
#include <expected>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "cli/context.h"
#include "coral/colony/v1/colony.coral.h"
#include "http/url.h"
#include "mesh/transport.h"
#include "rpc/http_channel.h"

namespace coral::cli {

// Every call the CLI makes (to a colony, through a proxy, to discovery)
// gives up after this long.
inline constexpr std::chrono::seconds kCallTimeout{5};

// A proxy address as --proxy and $CORAL_PROXY take it: "http://HOST:PORT"
// or "HOST:PORT" ("localhost:8000", "[::1]:8000"). Errors say what is
// expected.
std::expected<http::Url, std::string> parse_proxy_address(std::string_view text);

struct ReachedColony {
  enum class Kind { proxy, direct } kind = Kind::proxy;
  std::string address;      // what was dialled: "localhost:8000", "127.42.0.1:9000", the admin socket's path
  std::string description;  // "via proxy at localhost:8000", "directly"
  std::unique_ptr<mesh::Transport> transport;  // direct over the mesh IPs: the host transport the channel dials with
  std::unique_ptr<rpc::HttpChannel> channel;
  rpc::CallOptions call;  // the timeout, and Colony-ID through a proxy
  colony::v1::GetStatusResponse status;
};

struct Unreached {
  enum class Kind {
    no_route,  // no proxy named or live, and the colony does not run here
    no_answer, // a way was tried and the colony did not answer GetStatus
  } kind = Kind::no_route;
  std::string message;  // no_route: "no proxy running for x"; no_answer: which way, and why
  bool via_proxy = false;
};

// `proxy`: the explicit proxy (an already parsed --proxy or $CORAL_PROXY),
// or empty. `name_colony`: with an explicit proxy, send the Colony-ID header
// (a proxy found for the colony is always told).
boost::asio::awaitable<std::expected<ReachedColony, Unreached>> reach_colony(const ColonyTarget& target,
                                                                             std::optional<http::Url> proxy,
                                                                             bool name_colony);

}  // namespace coral::cli

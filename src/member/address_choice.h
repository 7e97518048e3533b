#pragma once
// Which of a colony's mesh addresses a member (the proxy) talks to: the preferred
// family first (IPv4, or IPv6 with --ipv6), the other when the first cannot
// be reached and the other can. Decided on the dial's std::error_code.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include "net/dialer.h"

namespace coral::member {

struct AddressChoice {
  net::Target target;       // the first candidate that answered; else the first candidate
  std::string unreachable;  // "host:port: why" of the first that did not, when none answered
};

// Whether a dial that failed with `error` leaves the other family worth
// trying. Not when refused: the colony's host answered and the colony is
// down, so the other family would not help (and must not be tried blindly:
// a ULA that is on no interface here would leave the machine by the default
// route). Timeouts, unreachable networks and the like: yes.
bool worth_trying_other_family(std::error_code error);

// Dials each candidate address (in order) at `port` and closes what it
// opens, until one answers or worth_trying_other_family() says stop.
// `progress` hears " ↳ host:port is not reachable: why" per failure; dial
// errors are worded with net::describe_dial_error and `connect_timeout`.
// `candidates` is not empty.
net::Awaitable<AddressChoice> choose_address(const net::Dialer& dial, const std::vector<std::string>& candidates,
                                             std::uint16_t port, std::chrono::milliseconds connect_timeout,
                                             const std::function<void(const std::string&)>& progress);

}  // namespace coral::member

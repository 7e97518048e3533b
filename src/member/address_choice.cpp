#include "member/address_choice.h"

namespace coral::member {

bool worth_trying_other_family(std::error_code error) { return error != std::errc::connection_refused; }

net::Awaitable<AddressChoice> choose_address(const net::Dialer& dial, const std::vector<std::string>& candidates,
                                             std::uint16_t port, std::chrono::milliseconds connect_timeout,
                                             const std::function<void(const std::string&)>& progress) {
  AddressChoice choice{.target = net::Target{candidates.front(), port}, .unreachable = {}};
  for (const auto& candidate : candidates) {
    const net::Target probe{candidate, port};
    auto stream = co_await dial(probe);
    if (stream) {
      (*stream)->close();
      choice.target = probe;
      choice.unreachable.clear();
      break;
    }
    const std::string why = net::describe_dial_error(probe, stream.error(), connect_timeout);
    progress(" ↳ " + probe.authority() + " is not reachable: " + why);
    if (choice.unreachable.empty()) choice.unreachable = probe.authority() + ": " + why;
    if (!worth_trying_other_family(stream.error())) break;
  }
  co_return choice;
}

}  // namespace coral::member

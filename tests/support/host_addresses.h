#pragma once
// What the host resolves names to, for tests of listeners that bind every
// address of a name ("localhost"), and a case-folding helper for comparing
// strerror texts.

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>

namespace coral::testing {

inline std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// What getaddrinfo gives for a passive TCP `host`: what listen_tcp must bind.
inline std::set<std::string> resolved_addresses(const std::string& host) {
  addrinfo hints{};
  hints.ai_flags = AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  std::set<std::string> out;
  if (::getaddrinfo(host.c_str(), "0", &hints, &list) != 0) return out;
  for (addrinfo* entry = list; entry != nullptr; entry = entry->ai_next) {
    char text[NI_MAXHOST];
    if (::getnameinfo(entry->ai_addr, entry->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) == 0) {
      out.insert(text);
    }
  }
  ::freeaddrinfo(list);
  return out;
}

}  // namespace coral::testing

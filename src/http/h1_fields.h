#pragma once
// HTTP/1.1 field rules shared by the server and client codecs: which fields
// belong to the connection rather than the message, and how list-valued
// fields are tokenized.
//
// Connection-specific fields (RFC 9110 section 7.6.1) never cross the
// protocol-agnostic boundary in message.h: HTTP/2 forbids them (RFC 9113
// section 8.2.2), and a proxy above the codecs must not forward them.

#include <string>
#include <string_view>

#include "http/message.h"

namespace coral::http::h1 {

// Strips optional whitespace (SP / HTAB) from both ends (RFC 9110 section 5.6.3).
using base::trim;

// Calls `visit(token)` for each non-empty element of a comma-separated list
// (RFC 9110 section 5.6.1), trimmed. `visit` returns false to stop early.
template <class Visit>
void for_each_token(std::string_view list, Visit&& visit) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view element = trim(list.substr(0, comma));
    if (!element.empty() && !visit(element)) return;
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

// Whether a comma-separated list names `token` (case-insensitively).
bool has_token(std::string_view list, std::string_view token);

// Fields that always describe the connection or the framing of one hop:
// connection, keep-alive, proxy-connection, transfer-encoding, upgrade.
// `name` is lower case.
bool is_connection_specific(std::string_view name);

// Removes the connection-specific fields, the fields the Connection header
// names as connection options, and "te" unless its value is "trailers" (the
// only TE value HTTP/2 carries, RFC 9113 section 8.2.2). Names are lower case.
void strip_connection_fields(Fields& fields);

}  // namespace coral::http::h1

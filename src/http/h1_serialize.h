#pragma once
// HTTP/1.1 message serialization shared by the server and client codecs
// (RFC 9112 sections 3, 4, 5 and 7.1). Everything appends to a std::string
// output queue.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"

namespace coral::http::h1 {

// How a message body is delimited on the wire (RFC 9112 section 6.3).
enum class Framing : std::uint8_t {
  none,            // no body at all (204, 304, a request sent with end_stream)
  content_length,  // exactly N bytes
  chunked,         // chunked transfer coding, may end with trailers
  until_close,     // the body ends when the connection closes (HTTP/1.0 peers)
};
std::string_view to_string(Framing framing);

// The registered reason phrase (RFC 9110 section 15), or "" for unknown codes:
// the phrase is informational and may be empty (RFC 9112 section 4).
std::string_view reason_phrase(int status);

// "HTTP/1.1 200 OK\r\n". `status` must be a three-digit code.
void append_status_line(std::string& out, int status);
// "GET /path HTTP/1.1\r\n".
void append_request_line(std::string& out, std::string_view method, std::string_view target);

// True when `name` is a token and `value` holds no CR, LF or NUL: anything
// else could end the header block early and smuggle content into the
// stream (RFC 9110 section 5.5), so such fields are never written.
bool is_safe_field(std::string_view name, std::string_view value);

// "name: value\r\n", skipped when !is_safe_field().
void append_field(std::string& out, std::string_view name, std::string_view value);

// Appends the message's own fields. Skips connection-specific ones, "host"
// and "content-length" (the codec owns framing and writes those itself), and
// "te", which HTTP/1.1 would have to list in Connection (RFC 9110 section
// 10.1.4) and which means nothing in a response.
void append_message_fields(std::string& out, const Fields& fields);

// One chunk: hex size, CRLF, data, CRLF. `data` must not be empty (a zero
// size chunk is the last chunk).
void append_chunk(std::string& out, std::string_view data);

// The last chunk with its trailer section (RFC 9112 section 7.1.2). Trailers
// that could change framing or routing are left out (RFC 9110 section 6.5.1).
void append_last_chunk(std::string& out, const Fields& trailers);

// A Content-Length value: 1*DIGIT without overflow (RFC 9110 section 8.6).
std::optional<std::uint64_t> parse_content_length(std::string_view value);

}  // namespace coral::http::h1

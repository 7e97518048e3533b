#include "http/h1_serialize.h"

#include <charconv>
#include <limits>

#include "http/h1_fields.h"

namespace coral::http::h1 {

namespace {

// tchar (RFC 9110 section 5.6.2).
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void append_decimal(std::string& out, std::uint64_t value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

}  // namespace

std::string_view to_string(Framing framing) {
  switch (framing) {
    case Framing::none: return "none";
    case Framing::content_length: return "content_length";
    case Framing::chunked: return "chunked";
    case Framing::until_close: return "until_close";
  }
  return "?";
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

void append_status_line(std::string& out, int status) {
  out += "HTTP/1.1 ";
  append_decimal(out, static_cast<std::uint64_t>(status));
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
}

void append_request_line(std::string& out, std::string_view method, std::string_view target) {
  out += method;
  out += ' ';
  out += target;
  out += " HTTP/1.1\r\n";
}

bool is_safe_field(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_tchar(c)) return false;
  }
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  if (!is_safe_field(name, value)) return;
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void append_message_fields(std::string& out, const Fields& fields) {
  for (const Field& field : fields) {
    if (is_connection_specific(field.name) || field.name == "host" || field.name == "content-length" ||
        field.name == "te") {
      continue;
    }
    append_field(out, field.name, field.value);
  }
}

void append_chunk(std::string& out, std::string_view data) {
  char digits[20];
  const auto result = std::to_chars(digits, digits + sizeof digits, data.size(), 16);
  out.append(digits, result.ptr);
  out += "\r\n";
  out += data;
  out += "\r\n";
}

void append_last_chunk(std::string& out, const Fields& trailers) {
  out += "0\r\n";
  for (const Field& field : trailers) {
    if (is_connection_specific(field.name) || field.name == "host" || field.name == "content-length" ||
        field.name == "te" || field.name == "trailer") {
      continue;
    }
    append_field(out, field.name, field.value);
  }
  out += "\r\n";
}

std::optional<std::uint64_t> parse_content_length(std::string_view value) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  std::uint64_t result = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (result > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
    result = result * 10 + digit;
  }
  return result;
}

}  // namespace coral::http::h1

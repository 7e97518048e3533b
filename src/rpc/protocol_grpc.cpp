#include "rpc/protocol_grpc.h"

#include <cstdint>

#include "base/text.h"

namespace coral::rpc {
namespace {

using base::to_lower;
using base::trim;

// RFC 9110 tchar.
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Names that belong to gRPC itself, which callers may not override.
bool is_status_field(std::string_view name) {
  return name == kGrpcStatus || name == kGrpcMessage || name == kGrpcStatusDetailsBin;
}

// Fields a client does not report as error metadata: gRPC reserves the
// "grpc-" prefix, and the rest describe the HTTP exchange, not the call.
bool is_protocol_field(std::string_view name) {
  return name.starts_with("grpc-") || name == "content-type" || name == "content-length" || name == "te" ||
         name == "trailer" || name == "transfer-encoding" || name == "connection";
}

std::string sanitize_short(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 32)) {
    out += (c >= 0x20 && c < 0x7F) ? c : '?';
  }
  if (text.size() > 32) out += "...";
  return out;
}

}  // namespace

std::optional<GrpcContentType> parse_grpc_content_type(std::string_view content_type) {
  const std::string media = to_lower(trim(content_type.substr(0, content_type.find(';'))));
  std::string_view rest = media;
  GrpcContentType result;
  if (rest.starts_with("application/grpc-web")) {
    result.web = true;
    rest.remove_prefix(std::string_view("application/grpc-web").size());
  } else if (rest.starts_with("application/grpc")) {
    rest.remove_prefix(std::string_view("application/grpc").size());
  } else {
    return std::nullopt;
  }
  if (rest.empty() || rest == "+proto") result.encoding = Encoding::proto;
  else if (rest == "+json") result.encoding = Encoding::json;
  else return std::nullopt;
  return result;
}

std::string grpc_content_type(bool web, Encoding encoding) {
  if (!web && encoding == Encoding::proto) return "application/grpc";
  std::string out = web ? "application/grpc-web+" : "application/grpc+";
  out += to_string(encoding);
  return out;
}

Result<std::optional<std::chrono::milliseconds>> parse_grpc_timeout(std::optional<std::string_view> header) {
  if (!header || header->empty()) return std::nullopt;
  const std::string_view text = *header;
  const std::string_view digits = text.substr(0, text.size() - 1);
  const bool valid = !digits.empty() && digits.size() <= 8 &&
                     digits.find_first_not_of("0123456789") == std::string_view::npos;
  std::int64_t value = 0;  // at most 99'999'999
  if (valid) {
    for (const char c : digits) value = value * 10 + (c - '0');
  }
  std::int64_t ms = -1;  // stays negative for a bad value or unit
  if (valid) {
    switch (text.back()) {
      case 'H': ms = value * 3'600'000; break;
      case 'M': ms = value * 60'000; break;
      case 'S': ms = value * 1'000; break;
      case 'm': ms = value; break;
      case 'u': ms = (value + 999) / 1'000; break;
      case 'n': ms = (value + 999'999) / 1'000'000; break;
      default: break;
    }
  }
  if (ms < 0) {
    return fail(Code::invalid_argument,
                "invalid grpc-timeout \"" + sanitize_short(text) + "\": want 1 to 8 digits and a unit (HMSmun)");
  }
  return std::chrono::milliseconds(ms);
}

std::string format_grpc_timeout(std::chrono::milliseconds timeout) {
  constexpr std::int64_t kLimit = 100'000'000;  // 8 digits
  const std::int64_t ms = timeout.count();
  if (ms <= 0) return "0m";
  if (ms < kLimit) return std::to_string(ms) + "m";
  const auto ceil_div = [ms](std::int64_t unit) { return ms / unit + (ms % unit != 0 ? 1 : 0); };
  if (const auto s = ceil_div(1'000); s < kLimit) return std::to_string(s) + "S";
  if (const auto m = ceil_div(60'000); m < kLimit) return std::to_string(m) + "M";
  const auto h = ceil_div(3'600'000);
  return std::to_string(h < kLimit ? h : kLimit - 1) + "H";
}

std::string grpc_percent_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7E || c == '%') {
      out += '%';
      base::append_hex(out, c, base::HexCase::upper);
    } else {
      out += ch;
    }
  }
  return out;
}

std::string grpc_percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && text.size() - i >= 3) {
      const auto high = base::hex_digit(text[i + 1]);
      const auto low = base::hex_digit(text[i + 2]);
      if (high && low) {
        out += static_cast<char>(*high * 16 + *low);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

http::Fields grpc_status_trailers(const Error* error, const http::Fields& extra_trailers) {
  http::Fields out;
  out.reserve(2 + extra_trailers.size());
  const Code code = error ? error->code : Code::ok;
  out.push_back({std::string(kGrpcStatus), std::to_string(static_cast<int>(code))});
  if (error) out.push_back({std::string(kGrpcMessage), grpc_percent_encode(error->message)});
  for (const http::Field& field : extra_trailers) {
    if (!is_status_field(field.name)) out.push_back(field);
  }
  return out;
}

Status grpc_status_from_trailers(const http::Fields& trailers_or_headers) {
  const auto status = http::find_field(trailers_or_headers, kGrpcStatus);
  if (!status) return fail(Code::internal, "protocol error: missing grpc-status");
  const std::string_view text = trim(*status);
  if (text == "0") return {};
  std::optional<Code> code;
  if (!text.empty() && text.size() <= 9 && text.find_first_not_of("0123456789") == std::string_view::npos) {
    code = code_from_number(std::stoull(std::string(text)));
  }
  Error error;
  if (code && *code != Code::ok) {
    error.code = *code;
    error.message = grpc_percent_decode(http::find_field(trailers_or_headers, kGrpcMessage).value_or(""));
  } else if (code) {
    return {};  // "00" and the like
  } else {
    error.code = Code::unknown;
    error.message = "protocol error: invalid grpc-status \"" + sanitize_short(*status) + "\"";
    if (const auto message = http::find_field(trailers_or_headers, kGrpcMessage)) {
      error.message += ": " + grpc_percent_decode(*message);
    }
  }
  for (const http::Field& field : trailers_or_headers) {
    if (!is_protocol_field(field.name)) error.metadata.push_back(field);
  }
  return std::unexpected(std::move(error));
}

std::string encode_grpc_web_trailers(const http::Fields& trailers) {
  std::string out;
  for (const http::Field& field : trailers) {
    for (const char c : field.name) out += to_lower(c);
    out += ": ";
    for (const char c : field.value) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
    out += "\r\n";
  }
  return out;
}

Result<http::Fields> parse_grpc_web_trailers(std::string_view block) {
  http::Fields fields;
  while (!block.empty()) {
    const auto newline = block.find('\n');
    std::string_view line = block.substr(0, newline);
    block = newline == std::string_view::npos ? std::string_view() : block.substr(newline + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    const auto colon = line.find(':');
    const std::string_view name = colon == std::string_view::npos ? std::string_view() : line.substr(0, colon);
    bool valid = !name.empty();
    for (const char c : name) valid = valid && is_token_char(c);
    const std::string_view value = valid ? trim(line.substr(colon + 1)) : std::string_view();
    for (const char c : value) {
      const auto u = static_cast<unsigned char>(c);
      valid = valid && (u >= 0x20 || u == '\t') && u != 0x7F;
    }
    if (!valid) {
      return fail(Code::internal, "protocol error: invalid gRPC-Web trailer line \"" + sanitize_short(line) + "\"");
    }
    fields.push_back({to_lower(name), std::string(value)});
  }
  return fields;
}

}  // namespace coral::rpc

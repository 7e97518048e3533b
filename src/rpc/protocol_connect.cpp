#include "rpc/protocol_connect.h"

#include "base/base64.h"
#include "base/json_text.h"
#include "base/text.h"

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace coral::rpc {
namespace {

// ---------------------------------------------------------------------------
// Text helpers

using base::to_lower;
using base::trim;

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}


// A peer's bytes made safe to show in an error message: valid UTF-8 text is
// kept, whitespace becomes a space, other control bytes and invalid
// sequences become U+FFFD. At most `limit` input bytes are looked at.
std::string sanitize(std::string_view text, std::size_t limit) {
  const bool truncated = text.size() > limit;
  if (truncated) text = text.substr(0, limit);
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const unsigned char c = static_cast<unsigned char>(text[0]);
    if (c == '\t' || c == '\n' || c == '\r') {
      out += ' ';
      text.remove_prefix(1);
    } else if (c < 0x20 || c == 0x7F) {
      out += base::kUtf8Replacement;
      text.remove_prefix(1);
    } else if (const std::size_t n = base::utf8_sequence(text); n > 0) {
      out.append(text.substr(0, n));
      text.remove_prefix(n);
    } else {
      out += base::kUtf8Replacement;
      text.remove_prefix(1);
    }
  }
  if (truncated) out += "...";
  return out;
}

// ---------------------------------------------------------------------------
// JSON writing


void append_error_object(std::string& out, const Error& error) {
  out += "{\"code\":";
  base::append_json_string(out, to_string(error.code == Code::ok ? Code::unknown : error.code));
  if (!error.message.empty()) {
    out += ",\"message\":";
    base::append_json_string(out, error.message);
  }
  out += '}';
}

// ---------------------------------------------------------------------------
// JSON reading: a strict RFC 8259 pull parser, just enough for error and
// end-of-stream objects. Callers walk the structure they expect and skip the
// rest, so nothing is materialized beyond the strings they keep.

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : in_(text) {}

  // Consumes `c` if it is the next non-whitespace character.
  bool consume(char c) {
    skip_whitespace();
    if (pos_ < in_.size() && in_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool peek(char c) {
    skip_whitespace();
    return pos_ < in_.size() && in_[pos_] == c;
  }

  bool consume_null() { return consume_literal("null"); }

  // True when only whitespace is left.
  bool at_end() {
    skip_whitespace();
    return pos_ == in_.size();
  }

  // {"key": value, ...}; on_member(std::string&& key) must consume the value.
  template <class OnMember>
  bool object(OnMember&& on_member) {
    if (!consume('{')) return false;
    DepthGuard guard(*this);
    if (!guard.ok()) return false;
    if (consume('}')) return true;
    for (;;) {
      std::string key;
      if (!string(key) || !consume(':') || !on_member(std::move(key))) return false;
      if (consume(',')) continue;
      return consume('}');
    }
  }

  // [value, ...]; on_element() must consume one value.
  template <class OnElement>
  bool array(OnElement&& on_element) {
    if (!consume('[')) return false;
    DepthGuard guard(*this);
    if (!guard.ok()) return false;
    if (consume(']')) return true;
    for (;;) {
      if (!on_element()) return false;
      if (consume(',')) continue;
      return consume(']');
    }
  }

  bool string(std::string& out) {
    out.clear();
    if (!consume('"')) return false;
    while (pos_ < in_.size()) {
      const char c = in_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= in_.size()) return false;
      switch (in_[pos_++]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF && in_.substr(pos_).starts_with("\\u")) {
            const std::size_t saved = pos_;
            pos_ += 2;
            std::uint32_t low = 0;
            if (!hex4(low)) return false;
            if (low >= 0xDC00 && low <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              pos_ = saved;  // not a pair: the second escape stands alone
            }
          }
          // An unpaired surrogate has no UTF-8 form.
          append_utf8(out, cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp);
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  bool skip_value() {
    skip_whitespace();
    if (pos_ >= in_.size()) return false;
    switch (in_[pos_]) {
      case '{': return object([this](std::string&&) { return skip_value(); });
      case '[': return array([this] { return skip_value(); });
      case '"': {
        std::string ignored;
        return string(ignored);
      }
      case 't': return consume_literal("true");
      case 'f': return consume_literal("false");
      case 'n': return consume_literal("null");
      default: return number();
    }
  }

 private:
  // Deep enough for any real error detail, shallow enough for the stack.
  static constexpr int kMaxDepth = 64;

  class DepthGuard {
   public:
    explicit DepthGuard(JsonReader& reader) : reader_(reader) { ++reader_.depth_; }
    ~DepthGuard() { --reader_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    bool ok() const { return reader_.depth_ <= kMaxDepth; }

   private:
    JsonReader& reader_;
  };

  void skip_whitespace() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool consume_literal(std::string_view word) {
    skip_whitespace();
    if (!in_.substr(pos_).starts_with(word)) return false;
    pos_ += word.size();
    return true;
  }

  bool hex4(std::uint32_t& value) {
    if (in_.size() - pos_ < 4) return false;
    value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = in_[pos_++];
      value <<= 4;
      if (c >= '0' && c <= '9') value |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') value |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') value |= static_cast<std::uint32_t>(c - 'A' + 10);
      else return false;
    }
    return true;
  }

  bool digits() {
    const std::size_t start = pos_;
    while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number() {
    if (pos_ < in_.size() && in_[pos_] == '-') ++pos_;
    if (pos_ < in_.size() && in_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      return false;
    }
    if (pos_ < in_.size() && in_[pos_] == '.') {
      ++pos_;
      if (!digits()) return false;
    }
    if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
      if (!digits()) return false;
    }
    return true;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

struct WireError {
  std::optional<Code> code;  // nullopt: missing or not a code we know
  std::string message;
};

// {"code": "...", "message": "...", "details": [...]}; reader is positioned
// at the object.
bool read_error_object(JsonReader& reader, WireError& out) {
  return reader.object([&](std::string&& key) {
    if (key == "code") {
      std::string name;
      if (!reader.string(name)) return false;
      out.code = parse_code(name);
      return true;
    }
    if (key == "message") return reader.string(out.message);
    return reader.skip_value();  // details, and whatever a later spec adds
  });
}

// ---------------------------------------------------------------------------
// Query strings

// application/x-www-form-urlencoded decoding: %XX and '+' for space.
std::optional<std::string> query_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (text.size() - i < 3) return std::nullopt;
      const auto high = base::hex_digit(text[i + 1]);
      const auto low = base::hex_digit(text[i + 2]);
      if (!high || !low) return std::nullopt;
      out += static_cast<char>(*high * 16 + *low);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// The inverse, as Go's url.QueryEscape does it (connect-go's GET client):
// unreserved characters stay, space becomes '+', the rest %XX.
void append_query_escaped(std::string& out, std::string_view text) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += ch;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      base::append_hex(out, c, base::HexCase::upper);
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------

std::optional<ConnectContentType> parse_connect_content_type(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  const std::string media = to_lower(trim(content_type.substr(0, semicolon)));
  std::optional<ConnectContentType> result;
  if (media == "application/proto") result = ConnectContentType{false, Encoding::proto};
  else if (media == "application/json") result = ConnectContentType{false, Encoding::json};
  else if (media == "application/connect+proto") result = ConnectContentType{true, Encoding::proto};
  else if (media == "application/connect+json") result = ConnectContentType{true, Encoding::json};
  if (!result || semicolon == std::string_view::npos) return result;

  std::string_view params = content_type.substr(semicolon + 1);
  while (!params.empty()) {
    const auto next = params.find(';');
    const std::string_view param = trim(params.substr(0, next));
    params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
    if (param.empty()) continue;
    const auto equals = param.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    std::string_view value = trim(param.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (!http::iequals(trim(param.substr(0, equals)), "charset") || !http::iequals(value, "utf-8")) {
      return std::nullopt;
    }
  }
  return result;
}

std::string connect_content_type(bool streaming, Encoding encoding) {
  std::string out = streaming ? "application/connect+" : "application/";
  out += to_string(encoding);
  return out;
}

std::string connect_error_json(const Error& error) {
  std::string out;
  append_error_object(out, error);
  return out;
}

Error parse_connect_error(int http_status, std::string_view body) {
  WireError wire;
  JsonReader reader(body);
  const bool valid = reader.peek('{') && read_error_object(reader, wire) && reader.at_end();
  if (valid && wire.code) return Error{*wire.code, std::move(wire.message), {}};
  const Code code = code_from_http_status(http_status);
  if (valid && !wire.message.empty()) return Error{code, std::move(wire.message), {}};
  std::string message = "HTTP " + std::to_string(http_status);
  if (!body.empty()) {
    message += ": ";
    message += sanitize(body, 200);
  }
  return Error{code, std::move(message), {}};
}

std::string connect_end_stream_json(const Error* error, const http::Fields& trailers) {
  // Group values by name, keeping the order in which names first appear.
  std::vector<std::pair<std::string_view, std::vector<std::string_view>>> groups;
  const auto add = [&](const http::Fields& fields) {
    for (const http::Field& field : fields) {
      auto it = groups.begin();
      while (it != groups.end() && it->first != field.name) ++it;
      if (it == groups.end()) {
        groups.emplace_back(field.name, std::vector<std::string_view>{});
        it = groups.end() - 1;
      }
      it->second.push_back(field.value);
    }
  };
  add(trailers);
  if (error) add(error->metadata);

  std::string out = "{";
  if (error) {
    out += "\"error\":";
    append_error_object(out, *error);
  }
  if (!groups.empty()) {
    if (error) out += ',';
    out += "\"metadata\":{";
    for (std::size_t i = 0; i < groups.size(); ++i) {
      if (i > 0) out += ',';
      base::append_json_string(out, groups[i].first);
      out += ":[";
      for (std::size_t j = 0; j < groups[i].second.size(); ++j) {
        if (j > 0) out += ',';
        base::append_json_string(out, groups[i].second[j]);
      }
      out += ']';
    }
    out += '}';
  }
  out += '}';
  return out;
}

Result<EndStream> parse_connect_end_stream(std::string_view json) {
  EndStream end;
  JsonReader reader(json);
  const bool valid =
      reader.peek('{') &&
      reader.object([&](std::string&& key) {
        if (key == "error") {
          if (reader.consume_null()) return true;
          WireError wire;
          if (!reader.peek('{') || !read_error_object(reader, wire)) return false;
          end.error = Error{wire.code.value_or(Code::unknown), std::move(wire.message), {}};
          return true;
        }
        if (key == "metadata") {
          if (reader.consume_null()) return true;
          return reader.peek('{') && reader.object([&](std::string&& name) {
                   const std::string lowered = to_lower(name);
                   if (reader.consume_null()) return true;
                   return reader.peek('[') && reader.array([&] {
                            std::string value;
                            if (!reader.string(value)) return false;
                            end.metadata.push_back(http::Field{lowered, std::move(value)});
                            return true;
                          });
                 });
        }
        return reader.skip_value();
      }) &&
      reader.at_end();
  if (!valid) {
    return fail(Code::internal, "protocol error: invalid end-of-stream message: " + sanitize(json, 100));
  }
  if (end.error) end.error->metadata = end.metadata;
  return end;
}

Result<std::optional<std::chrono::milliseconds>> parse_connect_timeout(
    std::optional<std::string_view> header) {
  if (!header || header->empty()) return std::nullopt;
  const std::string_view text = *header;
  const bool valid = text.size() <= 10 && text.find_first_not_of("0123456789") == std::string_view::npos;
  if (!valid) {
    return fail(Code::invalid_argument,
                "invalid connect-timeout-ms \"" + sanitize(text, 32) + "\": want 1 to 10 digits");
  }
  std::int64_t value = 0;  // at most 9'999'999'999: no overflow
  for (const char c : text) value = value * 10 + (c - '0');
  return std::chrono::milliseconds(value);
}

Result<ConnectGetRequest> parse_connect_get_query(std::string_view query) {
  std::optional<std::string> message, encoding, base64, compression, connect;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto equals = pair.find('=');
    const auto key = query_unescape(pair.substr(0, equals));
    if (!key) return fail(Code::invalid_argument, "invalid percent-encoding in query");
    std::optional<std::string>* slot = nullptr;
    if (*key == "message") slot = &message;
    else if (*key == "encoding") slot = &encoding;
    else if (*key == "base64") slot = &base64;
    else if (*key == "compression") slot = &compression;
    else if (*key == "connect") slot = &connect;
    if (slot == nullptr || slot->has_value()) continue;
    const std::string_view raw = equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
    *slot = query_unescape(raw);
    if (!*slot) return fail(Code::invalid_argument, "invalid percent-encoding in query parameter " + *key);
  }

  if (connect && *connect != "v1") {
    return fail(Code::invalid_argument, "connect query parameter must be \"v1\": got \"" + sanitize(*connect, 32) + "\"");
  }
  if (!encoding) return fail(Code::invalid_argument, "missing encoding query parameter");
  ConnectGetRequest request;
  if (*encoding == "proto") request.encoding = Encoding::proto;
  else if (*encoding == "json") request.encoding = Encoding::json;
  else return fail(Code::invalid_argument, "invalid message encoding: \"" + sanitize(*encoding, 32) + "\"");
  if (!message) return fail(Code::invalid_argument, "missing message query parameter");
  if (base64 && *base64 == "1") {
    auto decoded = base::base64_decode(*message, base::Base64Alphabet::url);
    if (!decoded) return fail(Code::invalid_argument, "invalid base64 in message query parameter");
    request.message = std::move(*decoded);
  } else {
    request.message = std::move(*message);
  }
  if (compression && !compression->empty() && !http::iequals(*compression, "identity")) {
    request.compression = std::move(*compression);
  }
  return request;
}

std::string encode_connect_get_query(std::string_view message_bytes, Encoding encoding,
                                     std::optional<std::string_view> compression) {
  const bool binary = encoding == Encoding::proto || compression.has_value();
  std::string out = "connect=v1&encoding=";
  out += to_string(encoding);
  if (binary) out += "&base64=1";
  if (compression) {
    out += "&compression=";
    append_query_escaped(out, *compression);
  }
  out += "&message=";
  if (binary) out += base::base64_encode(message_bytes, base::Base64Alphabet::url, false);
  else append_query_escaped(out, message_bytes);
  return out;
}

}  // namespace coral::rpc

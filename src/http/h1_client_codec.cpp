#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/codec.h"
#include "http/h1_fields.h"
#include "http/h1_parser.h"
#include "http/h1_serialize.h"

// Contracts beyond codec.h:
//
// * One request at a time, no pipelining: can_start_request() is false while
//   a response is outstanding and once the connection must close.
// * start_request() on a codec that cannot take one calls on_reset() before
//   returning an inert writer.
// * ResponseHandler callbacks run inside receive() and connection_lost(), and
//   inside RequestWriter calls that end the exchange: reset(), or a body
//   that contradicts the request's content-length, calls on_reset() before
//   returning. A handler may start the next request from on_end().
// * The handler is released right after on_end() / on_reset(); the writer
//   stays inert (not destroyed) until the next receive() / next_output().
// * A response that ends before the request body was fully sent closes the
//   connection: the body left unsent cannot be framed away.
// * wake() is called from RequestWriter methods and start_request() invoked
//   outside receive() and next_output(), at most once per next_output() call.

namespace coral::http {
namespace {

using h1::error_code;
namespace beast_http = h1::beast_http;

// Response header blocks and trailer sections larger than this fail the
// connection.
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

Bytes as_bytes(std::string_view text) { return {reinterpret_cast<const std::byte*>(text.data()), text.size()}; }
std::string_view as_chars(Bytes bytes) { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }

enum class ConnState : std::uint8_t {
  open,     // may start requests
  closing,  // close once the exchange in flight is over
  closed,   // close once the pending output is flushed (error, reset, lost)
};

[[maybe_unused]] std::string_view to_string(ConnState state) {
  switch (state) {
    case ConnState::open: return "open";
    case ConnState::closing: return "closing";
    case ConnState::closed: return "closed";
  }
  return "?";
}

class Client;
struct Exchange;

class Writer final : public RequestWriter {
 public:
  Writer(Client& client, Exchange& exchange) : client_(client), exchange_(exchange) {}
  void send_data(Bytes data, bool end_stream) override;
  void reset() override;
  std::size_t queued_bytes() const override;

 private:
  Client& client_;
  Exchange& exchange_;
};

struct Exchange {
  explicit Exchange(Client& client) : writer(client, *this) {}

  Writer writer;
  std::shared_ptr<ResponseHandler> handler;  // null once on_end / on_reset was called
  h1::Framing framing = h1::Framing::none;
  std::uint64_t remaining = 0;  // content-length bytes still to send
  bool request_done = false;
  bool head_request = false;
  bool keep_alive = true;
  bool drain_pending = false;

  bool ended() const { return !handler; }
};

// RFC 9110 section 8.6: a user agent sends Content-Length for an empty body
// when the method gives content a meaning; these methods do not.
bool method_without_content(std::string_view method) {
  static constexpr std::array<std::string_view, 6> kMethods = {"GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"};
  return std::find(kMethods.begin(), kMethods.end(), method) != kMethods.end();
}

// method = token; request-target = no whitespace or controls (RFC 9112
// section 3). is_safe_field() checks tokens already.
bool valid_request_line(std::string_view method, std::string_view target) {
  if (!h1::is_safe_field(method, "")) return false;
  return std::none_of(target.begin(), target.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7f;
  });
}

struct Flag {
  explicit Flag(bool& flag) : flag_(flag), saved_(std::exchange(flag, true)) {}
  ~Flag() { flag_ = saved_; }
  Flag(const Flag&) = delete;
  Flag& operator=(const Flag&) = delete;
  bool& flag_;
  bool saved_;
};

class Client final : public ClientCodec {
 public:
  explicit Client(Wake wake) : wake_(std::move(wake)) {}

  ~Client() override {
    if (active_ && !active_->ended()) end_exchange(*active_, false, "connection closed");
  }

  std::expected<void, CodecError> receive(Bytes input) override {
    bury();
    if (state_ == ConnState::closed) return std::unexpected(CodecError::closed);
    Flag flag(in_receive_);
    in_ += as_chars(input);
    return pump();
  }

  Bytes next_output() override {
    bury();
    Flag flag(in_next_output_);
    wake_pending_ = false;
    in_flight_.clear();
    std::swap(in_flight_, out_);
    if (!in_flight_.empty() && writer_depth_ == 0 && active_ && !active_->ended() && active_->drain_pending) {
      active_->drain_pending = false;
      std::shared_ptr<ResponseHandler> handler = active_->handler;
      handler->on_drained();
    }
    return as_bytes(in_flight_);
  }

  bool wants_close() const override {
    switch (state_) {
      case ConnState::open: return false;
      case ConnState::closing: return !active_;
      case ConnState::closed: return true;
    }
    return true;
  }

  void shutdown() override {
    if (state_ == ConnState::open) state_ = ConnState::closing;
  }

  bool idle() const override { return !active_; }

  void connection_lost() override {
    state_ = ConnState::closed;
    out_.clear();
    if (active_ && !active_->ended()) {
      // A response without Content-Length or chunking ends with the
      // connection (RFC 9112 section 6.3, rule 8).
      if (parser_ && parser_->is_header_done() && parser_->need_eof() && !interim_) {
        error_code ec;
        parser_->put_eof(ec);
      }
      if (active_ && !active_->ended()) {
        end_exchange(*active_, false, "connection closed before the response completed");
      }
    }
    parser_.reset();
    in_.clear();
    pos_ = 0;
  }

  bool can_start_request() const override { return state_ == ConnState::open && !active_; }

  RequestWriter& start_request(RequestHead head, bool end_stream, std::shared_ptr<ResponseHandler> handler) override {
    auto exchange = std::make_unique<Exchange>(*this);
    Exchange& ex = *exchange;
    ex.handler = std::move(handler);
    if (!can_start_request()) {
      graveyard_.push_back(std::move(exchange));
      end_exchange(ex, false, "the connection cannot start a request");
      return ex.writer;
    }
    const std::string_view target = head.path.empty() ? std::string_view("/") : std::string_view(head.path);
    if (!valid_request_line(head.method, target)) {
      // Whitespace or control characters would let the caller's data
      // rewrite the request line or smuggle a second request.
      graveyard_.push_back(std::move(exchange));
      end_exchange(ex, false, "invalid request method or target");
      return ex.writer;
    }
    active_ = std::move(exchange);
    ex.head_request = head.method == "HEAD";

    std::optional<std::uint64_t> length;
    if (auto value = find_field(head.fields, "content-length")) length = h1::parse_content_length(*value);
    h1::append_request_line(out_, head.method, target);
    h1::append_field(out_, "host", head.authority);
    h1::append_message_fields(out_, head.fields);
    if (length) {
      ex.framing = h1::Framing::content_length;
      ex.remaining = *length;
      h1::append_field(out_, "content-length", std::to_string(*length));
    } else if (end_stream) {
      ex.framing = h1::Framing::none;
      if (!method_without_content(head.method)) out_ += "content-length: 0\r\n";
    } else {
      // The body is streamed and its length unknown (RFC 9112 section 7.1).
      ex.framing = h1::Framing::chunked;
      out_ += "transfer-encoding: chunked\r\n";
    }
    out_ += "\r\n";
    if (end_stream) finish_request(ex);
    notify();
    return ex.writer;
  }

  // ------------------------------------------------------------ writer side

  void send_data(Exchange& ex, Bytes data, bool end_stream) {
    if (ex.ended() || ex.request_done) return;
    Depth depth(*this);
    const std::string_view chars = as_chars(data);
    switch (ex.framing) {
      case h1::Framing::content_length:
        if (chars.size() > ex.remaining) {
          // The excess would reach the server as the next request.
          abort(ex, "request body longer than its content-length");
          notify();
          return;
        }
        ex.remaining -= chars.size();
        out_ += chars;
        break;
      case h1::Framing::chunked:
        if (!chars.empty()) h1::append_chunk(out_, chars);
        break;
      case h1::Framing::none:
      case h1::Framing::until_close: break;
    }
    if (!chars.empty()) ex.drain_pending = true;
    if (end_stream) finish_request(ex);
    notify();
  }

  void reset(Exchange& ex) {
    if (ex.ended()) return;
    Depth depth(*this);
    abort(ex, "request reset");
    notify();
  }

  std::size_t queued_bytes(const Exchange& ex) const { return active_.get() == &ex && !ex.ended() ? out_.size() : 0; }

  // ------------------------------------------------------------ parser sink

  void on_request_line(std::string_view, std::string_view, int, error_code&) {}

  void on_status_line(int status, int, error_code& ec) {
    if (status == 101) {
      // Never asked for: the stream would no longer be HTTP/1.1.
      ec = beast_http::error::bad_status;
      return;
    }
    // RFC 9110 section 15.2: interim responses precede the final one.
    interim_ = status < 200;
    response_ = ResponseHead{};
    response_.status = status;
    trailers_.clear();
    header_bytes_ = 0;
  }

  void on_field(std::string_view name, std::string_view value, error_code& ec) {
    if (interim_) return;
    header_bytes_ += name.size() + value.size() + 4;
    if (header_bytes_ > kMaxHeaderBytes) {
      ec = beast_http::error::header_limit;
      return;
    }
    Fields& fields = parser_->is_header_done() ? trailers_ : response_.fields;
    fields.push_back({base::to_lower(name), std::string(value)});
  }

  void on_header(error_code& ec) {
    if (interim_) return;
    Exchange& ex = *active_;
    ex.keep_alive = parser_->keep_alive();
    h1::strip_connection_fields(response_.fields);
    std::shared_ptr<ResponseHandler> handler = ex.handler;
    handler->on_head(std::move(response_));
    if (ex.ended()) ec = h1::stopped();
  }

  void on_body(std::string_view data, error_code& ec) {
    Exchange& ex = *active_;
    std::shared_ptr<ResponseHandler> handler = ex.handler;
    handler->on_body(as_bytes(data));
    if (ex.ended()) ec = h1::stopped();
  }

  void on_finish(error_code& ec) {
    if (interim_) return;
    Exchange& ex = *active_;
    if (!trailers_.empty()) {
      h1::strip_connection_fields(trailers_);
      std::erase_if(trailers_, [](const Field& field) { return field.name == "content-length"; });
      std::shared_ptr<ResponseHandler> handler = ex.handler;
      handler->on_trailers(std::exchange(trailers_, {}));
      if (ex.ended()) {
        ec = h1::stopped();
        return;
      }
    }
    if (!ex.keep_alive || !ex.request_done) close_after_exchange();
    end_exchange(ex, true, {});
  }

 private:
  using ResponseParser = h1::Parser<false, Client>;

  // Marks the codec as inside a RequestWriter call: exchanges are not
  // destroyed under it.
  struct Depth {
    explicit Depth(Client& client) : client_(client) { ++client_.writer_depth_; }
    ~Depth() { --client_.writer_depth_; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;
    Client& client_;
  };

  std::expected<void, CodecError> pump() {
    std::expected<void, CodecError> result;
    while (pos_ < in_.size()) {
      if (state_ == ConnState::closed) break;
      if (!active_ || active_->ended()) {
        // Nothing is outstanding: a server that closes may say why first
        // (408, say); anything else is broken.
        if (state_ != ConnState::closing) result = fail(CodecError::protocol, "unexpected bytes");
        break;
      }
      if (!parser_) {
        parser_.emplace(*this, kMaxHeaderBytes);
        // RFC 9110 section 9.3.2: a response to HEAD has no content.
        if (active_->head_request) parser_->skip(true);
        interim_ = false;
      }
      error_code ec;
      const std::size_t consumed = parser_->feed(std::string_view(in_).substr(pos_), ec);
      pos_ += consumed;
      if (ec == beast_http::error::need_more) {
        // What is left is one incomplete header block, chunk header or
        // trailer section: bound it.
        if (in_.size() - pos_ > kMaxHeaderBytes) {
          result = fail(parser_->is_header_done() ? CodecError::protocol : CodecError::header_too_large,
                        "response header too large");
        }
        break;
      }
      if (ec == h1::stopped()) {
        parser_.reset();
        continue;
      }
      if (ec) {
        result = fail(ec == beast_http::error::header_limit ? CodecError::header_too_large : CodecError::protocol,
                      "malformed response: " + ec.message());
        break;
      }
      if (parser_->is_done()) {
        parser_.reset();
        continue;
      }
      if (consumed == 0) break;
    }
    if (state_ == ConnState::closed) {
      in_.clear();
      pos_ = 0;
    }
    in_.erase(0, pos_);
    pos_ = 0;
    return result;
  }

  std::expected<void, CodecError> fail(CodecError error, std::string reason) {
    state_ = ConnState::closed;
    parser_.reset();
    in_.clear();
    pos_ = 0;
    if (active_ && !active_->ended()) end_exchange(*active_, false, std::move(reason));
    return std::unexpected(error);
  }

  void finish_request(Exchange& ex) {
    if (ex.framing == h1::Framing::chunked) h1::append_last_chunk(out_, {});
    if (ex.framing == h1::Framing::content_length && ex.remaining > 0) {
      // The server would wait for the missing bytes forever.
      abort(ex, "request body shorter than its content-length");
      return;
    }
    ex.request_done = true;
  }

  // The request cannot be completed: the connection is unusable. May run
  // inside a parser callback, so the parser stays (pump() drops it).
  void abort(Exchange& ex, std::string reason) {
    state_ = ConnState::closed;
    out_.clear();
    end_exchange(ex, false, std::move(reason));
  }

  void close_after_exchange() {
    if (state_ == ConnState::open) state_ = ConnState::closing;
  }

  // Calls on_end() or on_reset() exactly once, and releases the handler. The
  // exchange object waits in the graveyard: its writer may be on the stack.
  void end_exchange(Exchange& ex, bool ok, std::string reason) {
    std::shared_ptr<ResponseHandler> handler = std::move(ex.handler);
    if (active_.get() == &ex) graveyard_.push_back(std::move(active_));
    if (!handler) return;
    if (ok) {
      handler->on_end();
    } else {
      handler->on_reset(std::move(reason));
    }
  }

  void bury() {
    if (writer_depth_ == 0) graveyard_.clear();
  }

  void notify() {
    if (in_receive_ || in_next_output_ || wake_pending_) return;
    wake_pending_ = true;
    if (wake_) wake_();
  }

  Wake wake_;
  ConnState state_ = ConnState::open;

  std::string in_;  // received, not yet consumed; parsing resumes at pos_
  std::size_t pos_ = 0;
  std::string out_;
  std::string in_flight_;

  std::unique_ptr<Exchange> active_;
  std::vector<std::unique_ptr<Exchange>> graveyard_;

  std::optional<ResponseParser> parser_;
  bool interim_ = false;
  ResponseHead response_;
  Fields trailers_;
  std::size_t header_bytes_ = 0;

  bool in_receive_ = false;
  bool in_next_output_ = false;
  bool wake_pending_ = false;
  int writer_depth_ = 0;
};

void Writer::send_data(Bytes data, bool end_stream) { client_.send_data(exchange_, data, end_stream); }
void Writer::reset() { client_.reset(exchange_); }
std::size_t Writer::queued_bytes() const { return client_.queued_bytes(exchange_); }

}  // namespace

std::unique_ptr<ClientCodec> make_h1_client_codec(Wake wake) { return std::make_unique<Client>(std::move(wake)); }

}  // namespace coral::http

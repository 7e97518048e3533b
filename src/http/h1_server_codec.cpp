#include "http/h1_server_codec.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/base64.h"
#include "http/h1_fields.h"
#include "http/h1_parser.h"
#include "http/h1_serialize.h"

// Contracts beyond codec.h / h1_server_codec.h:
//
// * The exchange (handler + writer) is destroyed only from the codec's own
//   control flow: inside receive(), next_output(), connection_lost() or the
//   destructor, never from inside a ResponseWriter call. A handler may thus
//   finish its response from any of its callbacks and keep using itself
//   until the callback returns.
// * wake() is called from ResponseWriter methods invoked outside receive()
//   and next_output(), at most once per next_output() call. If the I/O layer
//   calls next_output() synchronously from wake(), the codec does not start
//   the next pipelined request from that nested call (the writer's caller is
//   still on the stack); it does so on the next receive() / next_output().
// * on_drained() is called from next_output() after pending response bytes
//   were handed out; the handler may call send_data() from it, and those bytes
//   are returned by the next next_output() call.
// * A response that ends before its request was fully read (say the
//   application rejected an oversized body) announces "connection: close"
//   when the request was still incomplete at send_head(), and the connection
//   closes after it unless the rest of the request was already buffered: the
//   codec never reads (and discards) an unbounded body just to keep the
//   connection alive. The handler then gets on_reset().
// * ResponseWriter::reset() closes the connection once the pending output is
//   flushed; the handler gets on_reset() when the codec retires the exchange.

namespace coral::http {
namespace {

using h1::error_code;
namespace beast_http = h1::beast_http;

// The largest body an h2c upgrade request may carry. The whole request is
// buffered before switching (RFC 7540 section 3.2), so larger or chunked
// bodies are served over HTTP/1.1 instead, which is always a valid answer
// to an Upgrade request.
constexpr std::uint64_t kMaxUpgradeBody = 1 << 20;

// Unparsed input buffered behind a response in progress (pipelined
// requests). The codec cannot pause reads, so it bounds the buffer instead.
constexpr std::size_t kMinPipelineBuffer = 1 << 20;

// A pipelined request is not started while this much response output is
// still queued: a client that sends requests and reads no responses would
// otherwise have each of them answered into memory.
constexpr std::size_t kMaxQueuedBeforeNextRequest = 256 * 1024;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kSwitchingProtocols =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

Bytes as_bytes(std::string_view text) { return {reinterpret_cast<const std::byte*>(text.data()), text.size()}; }
std::string_view as_chars(Bytes bytes) { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }

enum class ConnState : std::uint8_t {
  open,      // reading requests
  closing,   // no further requests: close once the current exchange is over
  closed,    // close once the pending output is flushed (error, reset, lost)
  upgraded,  // switched to h2c; the I/O layer takes over with an h2 codec
};

[[maybe_unused]] std::string_view to_string(ConnState state) {
  switch (state) {
    case ConnState::open: return "open";
    case ConnState::closing: return "closing";
    case ConnState::closed: return "closed";
    case ConnState::upgraded: return "upgraded";
  }
  return "?";
}

enum class ResponseState : std::uint8_t {
  none,       // no head sent yet
  streaming,  // head sent, body in progress
  done,       // complete response queued
  reset,      // aborted; the writer is inert
};

[[maybe_unused]] std::string_view to_string(ResponseState state) {
  switch (state) {
    case ResponseState::none: return "none";
    case ResponseState::streaming: return "streaming";
    case ResponseState::done: return "done";
    case ResponseState::reset: return "reset";
  }
  return "?";
}

class Server;
struct Exchange;

class Writer final : public ResponseWriter {
 public:
  Writer(Server& server, Exchange& exchange) : server_(server), exchange_(exchange) {}
  void send_head(ResponseHead head, bool end_stream) override;
  void send_data(Bytes data, bool end_stream) override;
  void send_trailers(Fields trailers) override;
  void reset() override;
  std::size_t queued_bytes() const override;
  void pause_body(bool paused) override;

 private:
  Server& server_;
  Exchange& exchange_;
};

// Stands in when the application returns no handler, so that its response
// (written through the writer) is still served.
class NullHandler final : public RequestHandler {
 public:
  void on_body(Bytes) override {}
  void on_end() override {}
  void on_reset() override {}
};

// One request/response pair, from the request head to its retirement.
struct Exchange {
  explicit Exchange(Server& server) : writer(server, *this) {}

  // Declared before `handler` so that it outlives it, as on_request promises.
  Writer writer;
  std::unique_ptr<RequestHandler> handler;
  ResponseState response = ResponseState::none;
  h1::Framing framing = h1::Framing::none;
  std::uint64_t remaining = 0;  // content-length bytes still to send
  bool request_done = false;    // on_end() delivered
  bool body_expected = false;   // the request head announced a body
  bool abandoned = false;       // response done, rest of the request not read
  bool http10 = false;
  bool drain_pending = false;  // send_data() queued bytes since the last on_drained()
  bool body_paused = false;    // pause_body(true): the connection reads no more of the body

  bool over() const {
    return response == ResponseState::reset || abandoned || (response == ResponseState::done && request_done);
  }
};

// The request head as the parser reports it, before validation.
struct PendingHead {
  std::string method;
  std::string target;
  int version = 11;
  Fields fields;
  std::string host;
  int host_count = 0;
  std::size_t header_bytes = 0;
};

struct Flag {
  explicit Flag(bool& flag) : flag_(flag), saved_(std::exchange(flag, true)) {}
  ~Flag() { flag_ = saved_; }
  Flag(const Flag&) = delete;
  Flag& operator=(const Flag&) = delete;
  bool& flag_;
  bool saved_;
};

class Server final : public H1ServerCodec {
 public:
  Server(Application& app, Wake wake, ServerLimits limits) : app_(app), wake_(std::move(wake)), limits_(limits) {}

  ~Server() override {
    if (exchange_) retire();
  }

  std::expected<void, CodecError> receive(Bytes input) override {
    if (state_ == ConnState::upgraded) {
      // Bytes after the upgrade belong to the h2 codec.
      leftover_ += as_chars(input);
      return {};
    }
    if (wants_close()) return std::unexpected(CodecError::closed);
    Flag flag(in_receive_);
    in_ += as_chars(input);
    return pump();
  }

  Bytes next_output() override {
    Flag flag(in_next_output_);
    wake_pending_ = false;
    // A response may have completed outside receive(): retire it and serve
    // the next pipelined request. A failure here has already queued its
    // error response and set wants_close().
    (void)pump();
    in_flight_.clear();
    std::swap(in_flight_, out_);
    taken_ += in_flight_.size();
    if (!in_flight_.empty() && writer_depth_ == 0 && exchange_ && exchange_->drain_pending && !exchange_->over()) {
      exchange_->drain_pending = false;
      exchange_->handler->on_drained();
    }
    return as_bytes(in_flight_);
  }

  bool wants_close() const override {
    switch (state_) {
      case ConnState::open: return false;
      case ConnState::closing: return !exchange_ || exchange_->over();
      case ConnState::closed: return true;
      case ConnState::upgraded: return false;
    }
    return true;
  }

  void shutdown() override { stop_accepting(); }

  bool idle() const override { return (!exchange_ || exchange_->over()) && !parser_ && pos_ == in_.size(); }

  // A message is being read, and not the next one behind a response in
  // progress.
  bool waiting_for_peer() const override {
    return (parser_.has_value() || pos_ < in_.size()) && (!exchange_ || !exchange_->request_done);
  }

  // From the first byte of a request to the end of its header block. A
  // pipelined request waiting behind a response has no parser yet: that
  // delay is ours, not the peer's.
  bool reading_head() const override {
    if (state_ == ConnState::upgraded || state_ == ConnState::closed) return false;
    return parser_ && !parser_->is_header_done();
  }

  std::size_t buffered_output() const override { return out_.size(); }
  // output_owed() is buffered_output(): what queues behind the write in
  // progress. The chunk being written is not counted, as it goes out in one
  // write of any size, and a slow but steady reader of a large answer makes
  // no visible progress until it ends.
  std::uint64_t output_taken() const override { return taken_; }

  bool reading_body() const override {
    return state_ != ConnState::upgraded && state_ != ConnState::closed && exchange_ && !exchange_->request_done &&
           !exchange_->body_paused && !exchange_->over();
  }

  bool read_paused() const override {
    return state_ != ConnState::upgraded && exchange_ && exchange_->body_paused && !exchange_->request_done &&
           !exchange_->over();
  }

  void connection_lost() override {
    if (state_ != ConnState::upgraded) state_ = ConnState::closed;
    parser_.reset();
    upgrade_.reset();
    in_.clear();
    pos_ = 0;
    out_.clear();
    if (exchange_) retire();
  }

  std::optional<H2cUpgrade> take_upgrade() override {
    if (!upgrade_ready_) return std::nullopt;
    upgrade_ready_ = false;
    std::optional<H2cUpgrade> upgrade = std::move(upgrade_);
    upgrade_.reset();
    return upgrade;
  }

  std::string take_leftover() override { return std::exchange(leftover_, {}); }

  // ------------------------------------------------------------ writer side

  void send_head(Exchange& ex, ResponseHead head, bool end_stream) {
    if (ex.response != ResponseState::none) return;
    Depth depth(*this);
    if (head.status < 200 || head.status > 999) {
      // Interim responses are the codec's business (100 Continue, 101);
      // a final response cannot be told apart from one, so abort.
      abort(ex);
      notify();
      return;
    }
    std::optional<std::uint64_t> length;
    if (auto value = find_field(head.fields, "content-length")) length = h1::parse_content_length(*value);
    const bool no_body = head.status == 204 || head.status == 304;
    if (no_body) {
      ex.framing = h1::Framing::none;
    } else if (length || end_stream) {
      ex.framing = h1::Framing::content_length;
      ex.remaining = length.value_or(0);
    } else if (ex.http10) {
      // HTTP/1.0 has no chunked coding (RFC 9112 section 6.1).
      ex.framing = h1::Framing::until_close;
      stop_accepting();
    } else {
      ex.framing = h1::Framing::chunked;
    }
    // A response that starts before its request is complete, with the rest
    // of the body not even buffered, is an early answer (a refused body,
    // say): the connection will close rather than drain it (see the contract
    // notes), so say so now, while the head can still carry it.
    if (ex.body_expected && !ex.request_done && !request_body_buffered()) stop_accepting();

    h1::append_status_line(out_, head.status);
    h1::append_message_fields(out_, head.fields);
    if (ex.framing == h1::Framing::content_length || (head.status == 304 && length)) {
      h1::append_field(out_, "content-length",
                       std::to_string(ex.framing == h1::Framing::content_length ? ex.remaining : *length));
    } else if (ex.framing == h1::Framing::chunked) {
      out_ += "transfer-encoding: chunked\r\n";
    }
    if (state_ != ConnState::open) {
      out_ += "connection: close\r\n";
    } else if (ex.http10) {
      // HTTP/1.0 closes by default (RFC 9112 section 9.3).
      out_ += "connection: keep-alive\r\n";
    }
    out_ += "\r\n";
    ex.response = ResponseState::streaming;
    if (end_stream) finish_response(ex, nullptr);
    notify();
  }

  void send_data(Exchange& ex, Bytes data, bool end_stream) {
    if (ex.response != ResponseState::streaming) return;
    Depth depth(*this);
    std::string_view chars = as_chars(data);
    switch (ex.framing) {
      case h1::Framing::content_length:
        // Bytes beyond the declared length would be read as the next
        // response; the declared length wins.
        chars = chars.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(ex.remaining, chars.size())));
        ex.remaining -= chars.size();
        out_ += chars;
        break;
      case h1::Framing::chunked:
        if (!chars.empty()) h1::append_chunk(out_, chars);
        break;
      case h1::Framing::until_close: out_ += chars; break;
      case h1::Framing::none: chars = {}; break;
    }
    if (!chars.empty()) ex.drain_pending = true;
    if (end_stream) finish_response(ex, nullptr);
    notify();
  }

  void send_trailers(Exchange& ex, const Fields& trailers) {
    if (ex.response != ResponseState::streaming) return;
    Depth depth(*this);
    finish_response(ex, &trailers);
    notify();
  }

  void reset(Exchange& ex) {
    if (ex.response == ResponseState::reset || ex.over()) return;
    Depth depth(*this);
    abort(ex);
    notify();
  }

  std::size_t queued_bytes(const Exchange& ex) const { return exchange_.get() == &ex && !ex.over() ? out_.size() : 0; }

  // HTTP/1.1 has no per-request flow control: pausing stops reading the
  // connection (read_paused), which is this request's body. Resuming wakes
  // the I/O layer so that it reads again.
  void pause_body(Exchange& ex, bool paused) {
    if (exchange_.get() != &ex || ex.body_paused == paused) return;
    ex.body_paused = paused;
    if (!paused) notify();
  }

  // ------------------------------------------------------------ parser sink

  void on_request_line(std::string_view method, std::string_view target, int version, error_code&) {
    head_.method = method;
    head_.target = target;
    head_.version = version;
    head_.header_bytes = method.size() + target.size() + 12;
  }

  void on_status_line(int, int, error_code&) {}

  void on_field(std::string_view name, std::string_view value, error_code& ec) {
    // Request trailers are dropped (codec.h); Beast bounds them by the
    // input buffer check in pump().
    if (parser_->is_header_done()) return;
    // Beast bounds the unconsumed part of the header only, and consumes
    // complete field lines as they arrive: count the whole block here.
    head_.header_bytes += name.size() + value.size() + 4;
    if (head_.header_bytes > limits_.max_header_bytes) {
      ec = beast_http::error::header_limit;
      return;
    }
    std::string lower = base::to_lower(name);
    if (lower == "host") {
      ++head_.host_count;
      head_.host = value;
      return;
    }
    head_.fields.push_back({std::move(lower), std::string(value)});
  }

  void on_header(error_code& ec) {
    PendingHead& p = head_;
    // RFC 9112 section 3.2: exactly one Host field in HTTP/1.1 requests.
    if (p.host_count > 1 || (p.version == 11 && p.host_count == 0)) {
      ec = beast_http::error::bad_value;
      return;
    }
    // RFC 9112 section 6.1: only "chunked" is supported, and HTTP/1.0 has no
    // transfer codings at all; anything else leaves the framing unknown.
    bool has_transfer_encoding = false;
    bool only_chunked = true;
    for (const Field& field : p.fields) {
      if (field.name != "transfer-encoding") continue;
      has_transfer_encoding = true;
      h1::for_each_token(field.value, [&](std::string_view coding) {
        only_chunked = only_chunked && iequals(coding, "chunked");
        return true;
      });
    }
    if (has_transfer_encoding && (p.version == 10 || !only_chunked || !parser_->chunked())) {
      reject_status_ = p.version == 10 ? 400 : 501;
      ec = beast_http::error::bad_transfer_encoding;
      return;
    }

    RequestHead head;
    head.method = std::move(p.method);
    if (!split_target(p.target, head)) {
      ec = beast_http::error::bad_target;
      return;
    }
    if (head.authority.empty()) head.authority = std::move(p.host);

    // RFC 9110 section 10.1.1; HTTP/1.0 requests must not get a 100.
    bool expect_continue = false;
    std::erase_if(p.fields, [&](const Field& field) {
      if (field.name != "expect" || !iequals(h1::trim(field.value), "100-continue")) return false;
      expect_continue = p.version == 11;
      return true;
    });

    const bool body_expected = !parser_->is_done();
    std::optional<std::string> settings = h2c_settings(p, body_expected);
    h1::strip_connection_fields(p.fields);
    head.fields = std::move(p.fields);

    if (!parser_->keep_alive()) stop_accepting();

    if (settings) {
      upgrade_.emplace();
      upgrade_->head = std::move(head);
      upgrade_->settings = std::move(*settings);
      if (expect_continue && body_expected) out_ += kContinue;
      return;
    }

    exchange_ = std::make_unique<Exchange>(*this);
    Exchange* ex = exchange_.get();
    ex->http10 = p.version == 10;
    ex->body_expected = body_expected;
    std::unique_ptr<RequestHandler> handler = app_.on_request(std::move(head), ex->writer);
    ex->handler = handler ? std::move(handler) : std::make_unique<NullHandler>();
    if (ex->response == ResponseState::reset) {
      ec = h1::stopped();
      return;
    }
    // The client waits for the 100 before sending the body (curl does for
    // bodies over 1 KiB); a final response sent already makes it moot.
    if (expect_continue && body_expected && ex->response == ResponseState::none) out_ += kContinue;
  }

  void on_body(std::string_view data, error_code& ec) {
    if (upgrade_) {
      upgrade_->body += data;
      return;
    }
    Exchange* ex = exchange_.get();
    if (ex->response == ResponseState::reset) {
      ec = h1::stopped();
      return;
    }
    ex->handler->on_body(as_bytes(data));
    if (ex->response == ResponseState::reset) ec = h1::stopped();
  }

  void on_finish(error_code& ec) {
    if (upgrade_) {
      // RFC 7540 section 3.2: the 101 is the last HTTP/1.1 output; the
      // response to the request comes as HTTP/2 stream 1.
      out_ += kSwitchingProtocols;
      state_ = ConnState::upgraded;
      upgrade_ready_ = true;
      return;
    }
    Exchange* ex = exchange_.get();
    ex->request_done = true;
    if (ex->response == ResponseState::reset) {
      ec = h1::stopped();
      return;
    }
    ex->handler->on_end();
    if (ex->response == ResponseState::reset) ec = h1::stopped();
  }

 private:
  using RequestParser = h1::Parser<true, Server>;

  // Marks the codec as inside a ResponseWriter call (see the contract notes
  // at the top of this file).
  struct Depth {
    explicit Depth(Server& server) : server_(server) { ++server_.writer_depth_; }
    ~Depth() { --server_.writer_depth_; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;
    Server& server_;
  };

  // Parses buffered input and advances the exchange state machine as far as
  // it can without new input.
  std::expected<void, CodecError> pump() {
    if (writer_depth_ > 0) return {};
    std::expected<void, CodecError> result;
    for (;;) {
      if (exchange_ && exchange_->over()) {
        retire();
        continue;
      }
      if (state_ == ConnState::closed || state_ == ConnState::upgraded) break;
      if (exchange_ && exchange_->request_done) {
        // Pipelining: the next request waits for this response.
        if (in_.size() - pos_ > std::max(kMinPipelineBuffer, 2 * limits_.max_header_bytes)) {
          result = fail(CodecError::protocol);
        }
        break;
      }
      if (!exchange_ && !parser_ && state_ == ConnState::closing) {
        // RFC 9112 section 9.6: no requests after the one that closes.
        in_.clear();
        pos_ = 0;
        break;
      }
      if (!exchange_ && !parser_ && pos_ < in_.size() && out_.size() > kMaxQueuedBeforeNextRequest) {
        // Resumed from next_output() once the output was handed out.
        break;
      }
      if (pos_ == in_.size()) {
        if (abandon_if_answered()) continue;
        break;
      }
      if (!parser_) {
        parser_.emplace(*this, limits_.max_header_bytes);
        head_ = PendingHead{};
        reject_status_ = 400;
      }
      error_code ec;
      const std::size_t consumed = parser_->feed(std::string_view(in_).substr(pos_), ec);
      pos_ += consumed;
      if (ec == beast_http::error::need_more) {
        // What is left is one incomplete structural element (a header
        // block, chunk header or trailer section): bound it.
        if (in_.size() - pos_ > limits_.max_header_bytes) {
          result = fail(parser_->is_header_done() ? CodecError::protocol : CodecError::header_too_large);
          break;
        }
        if (abandon_if_answered()) continue;
        break;
      }
      if (ec == h1::stopped()) {
        // An exchange reset from a callback; the parser is mid-message.
        parser_.reset();
        continue;
      }
      if (ec) {
        result = fail(ec == beast_http::error::header_limit ? CodecError::header_too_large : CodecError::protocol);
        break;
      }
      if (parser_->is_done()) {
        parser_.reset();
        if (state_ == ConnState::upgraded) {
          leftover_ = in_.substr(pos_);
          in_.clear();
          pos_ = 0;
        }
        continue;
      }
      if (consumed == 0) break;
    }
    if (state_ == ConnState::closed) pos_ = in_.size();  // nothing more will be read
    in_.erase(0, pos_);
    pos_ = 0;
    return result;
  }

  // Whether the rest of the request body is in the input buffer already, so
  // that parsing will complete the request without further input. Called
  // from parser callbacks too, where pos_ lags: an overestimate only costs
  // an unannounced close.
  bool request_body_buffered() const {
    if (!parser_ || !parser_->is_header_done()) return false;
    const auto remaining = parser_->content_length_remaining();
    return remaining && *remaining <= in_.size() - pos_;
  }

  // The response is complete but the request is not, and its remaining
  // bytes have not arrived: stop reading it (see the contract notes).
  bool abandon_if_answered() {
    if (!exchange_ || exchange_->response != ResponseState::done || exchange_->request_done) return false;
    exchange_->abandoned = true;
    parser_.reset();
    stop_accepting();
    return true;
  }

  std::expected<void, CodecError> fail(CodecError error) {
    const bool can_respond = !exchange_ || exchange_->response == ResponseState::none;
    if (exchange_ && !exchange_->over()) exchange_->response = ResponseState::reset;
    if (can_respond) {
      const int status = error == CodecError::header_too_large ? 431 : reject_status_;
      h1::append_status_line(out_, status);
      out_ += "connection: close\r\ncontent-length: 0\r\n\r\n";
    }
    state_ = ConnState::closed;
    parser_.reset();
    upgrade_.reset();
    in_.clear();
    pos_ = 0;
    if (exchange_) retire();
    return std::unexpected(error);
  }

  // Ends the exchange; a handler whose exchange did not complete hears
  // on_reset() first.
  void retire() {
    std::unique_ptr<Exchange> ex = std::move(exchange_);
    if (ex->response != ResponseState::done || !ex->request_done) {
      ex->response = ResponseState::reset;
      if (ex->handler) ex->handler->on_reset();
    }
  }

  void finish_response(Exchange& ex, const Fields* trailers) {
    switch (ex.framing) {
      case h1::Framing::chunked: h1::append_last_chunk(out_, trailers ? *trailers : Fields{}); break;
      case h1::Framing::content_length:
        // A short body leaves the client waiting for bytes that never
        // come; closing is the only way to end the message.
        if (ex.remaining > 0) stop_accepting();
        break;
      case h1::Framing::until_close:
      case h1::Framing::none: break;
    }
    ex.response = ResponseState::done;
  }

  void abort(Exchange& ex) {
    ex.response = ResponseState::reset;
    if (state_ != ConnState::upgraded) state_ = ConnState::closed;
  }

  void stop_accepting() {
    if (state_ == ConnState::open) state_ = ConnState::closing;
  }

  void notify() {
    if (in_receive_ || in_next_output_ || wake_pending_) return;
    wake_pending_ = true;
    if (wake_) wake_();
  }

  // Splits the request-target (RFC 9112 section 3.2) into path and, for the
  // absolute form, scheme and authority, which then override Host.
  static bool split_target(std::string_view target, RequestHead& head) {
    if (target.starts_with('/')) {
      head.path = target;
      return true;
    }
    if (target == "*") {
      if (head.method != "OPTIONS") return false;
      head.path = target;
      return true;
    }
    if (head.method == "CONNECT") {
      head.authority = target;
      return true;
    }
    const std::size_t colon = target.find("://");
    if (colon == std::string_view::npos || colon == 0) return false;
    const std::string scheme = base::to_lower(target.substr(0, colon));
    if (scheme != "http" && scheme != "https") return false;
    target.remove_prefix(colon + 3);
    const std::size_t path_start = target.find_first_of("/?");
    head.scheme = scheme;
    head.authority = target.substr(0, path_start);
    if (path_start == std::string_view::npos) {
      head.path = "/";
    } else {
      head.path = target[path_start] == '?' ? "/" : "";
      head.path += target.substr(path_start);
    }
    return true;
  }

  // The HTTP2-Settings value when `p` asks to switch to h2c (RFC 7540
  // section 3.2): "Upgrade: h2c", exactly one HTTP2-Settings, and both named
  // in Connection. Requests that do not qualify are served over HTTP/1.1,
  // their Upgrade ignored (RFC 9110 section 7.8).
  std::optional<std::string> h2c_settings(const PendingHead& p, bool body_expected) const {
    if (p.version != 11 || state_ != ConnState::open) return std::nullopt;
    bool upgrade_h2c = false;
    bool connection_upgrade = false;
    bool connection_settings = false;
    int settings_count = 0;
    std::string_view settings;
    for (const Field& field : p.fields) {
      if (field.name == "upgrade") {
        upgrade_h2c = upgrade_h2c || h1::has_token(field.value, "h2c");
      } else if (field.name == "connection") {
        connection_upgrade = connection_upgrade || h1::has_token(field.value, "upgrade");
        connection_settings = connection_settings || h1::has_token(field.value, "http2-settings");
      } else if (field.name == "http2-settings") {
        ++settings_count;
        settings = field.value;
      }
    }
    if (!upgrade_h2c || !connection_upgrade || !connection_settings || settings_count != 1) return std::nullopt;
    if (body_expected) {
      const auto length = parser_->content_length();
      if (!length || *length > kMaxUpgradeBody) return std::nullopt;
    }
    // A value that is not a SETTINGS payload (base64url of 6-byte entries)
    // is not an upgrade request either: answered over HTTP/1.1, never 101.
    const std::string value(h1::trim(settings));
    const auto payload = base::base64_decode(value, base::Base64Alphabet::url);
    if (!payload || payload->size() % 6 != 0) return std::nullopt;
    return value;
  }

  Application& app_;
  Wake wake_;
  ServerLimits limits_;
  ConnState state_ = ConnState::open;

  std::string in_;  // received, not yet consumed; parsing resumes at pos_
  std::size_t pos_ = 0;
  std::string out_;        // queued output
  std::string in_flight_;  // returned by the last next_output()
  std::uint64_t taken_ = 0;  // bytes handed to the I/O layer, in all

  std::optional<RequestParser> parser_;  // the message being read
  PendingHead head_;
  int reject_status_ = 400;
  std::unique_ptr<Exchange> exchange_;

  std::optional<H2cUpgrade> upgrade_;  // an upgrade request being read, then taken
  bool upgrade_ready_ = false;
  std::string leftover_;

  bool in_receive_ = false;
  bool in_next_output_ = false;
  bool wake_pending_ = false;
  int writer_depth_ = 0;
};

void Writer::send_head(ResponseHead head, bool end_stream) {
  server_.send_head(exchange_, std::move(head), end_stream);
}
void Writer::send_data(Bytes data, bool end_stream) { server_.send_data(exchange_, data, end_stream); }
void Writer::send_trailers(Fields trailers) { server_.send_trailers(exchange_, trailers); }
void Writer::reset() { server_.reset(exchange_); }
std::size_t Writer::queued_bytes() const { return server_.queued_bytes(exchange_); }
void Writer::pause_body(bool paused) { server_.pause_body(exchange_, paused); }

}  // namespace

std::unique_ptr<H1ServerCodec> make_h1_server_codec(Application& app, Wake wake, ServerLimits limits) {
  return std::make_unique<Server>(app, std::move(wake), limits);
}

}  // namespace coral::http

#include "rpc/http_channel.h"

#include <google/protobuf/message.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "rpc/compression.h"
#include "rpc/envelope.h"
#include "rpc/message_codec.h"
#include "rpc/protocol_connect.h"
#include "rpc/protocol_grpc.h"

namespace coral::rpc {

namespace asio = boost::asio;
using google::protobuf::Message;

// One request/response, seen from the calling coroutine: the codec's
// callbacks record what arrived and wake the coroutine through `signal`.
struct HttpChannel::Exchange final : http::ResponseHandler {
  explicit Exchange(asio::any_io_executor executor, std::size_t max_body)
      : signal(executor, asio::steady_timer::time_point::max()), deadline(executor), limit(max_body) {}

  void on_head(http::ResponseHead response) override {
    head = std::move(response);
    has_head = true;
    wake();
  }
  void on_body(http::Bytes chunk) override {
    if (body.size() + chunk.size() > limit) {
      too_large = true;
      if (writer) writer->reset();
      return;
    }
    body.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    wake();
  }
  void on_trailers(http::Fields fields) override { trailers = std::move(fields); }
  void on_end() override {
    ended = true;
    wake();
  }
  void on_reset(std::string why) override {
    failure = std::move(why);
    ended = true;
    wake();
  }
  void wake() { signal.cancel(); }

  // Sleeps until a callback or the deadline fires.
  Awaitable<void> next_event() {
    boost::system::error_code ec;
    signal.expires_at(asio::steady_timer::time_point::max());
    co_await signal.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  void arm_deadline(std::chrono::milliseconds timeout) {
    deadline.expires_after(timeout);
    deadline.async_wait([this](boost::system::error_code ec) {
      if (ec || ended) return;
      timed_out = true;
      if (writer) writer->reset();
      wake();
    });
  }

  asio::steady_timer signal;
  asio::steady_timer deadline;
  std::size_t limit;
  http::RequestWriter* writer = nullptr;  // valid until ended
  http::ResponseHead head;
  bool has_head = false;
  std::string body;
  http::Fields trailers;
  bool ended = false;
  bool timed_out = false;
  bool too_large = false;
  std::string failure;  // set by on_reset
};

ChannelOptions h2c_proto_options(http::Url url, net::Dialer dialer, std::chrono::milliseconds connect_timeout) {
  return ChannelOptions{.url = std::move(url),
                        .version = http::Version::http2,
                        .encoding = Encoding::proto,
                        .gzip_requests = false,
                        .max_message_bytes = 4 * 1024 * 1024,
                        .connect_timeout = connect_timeout,
                        .dialer = std::move(dialer)};
}

HttpChannel::HttpChannel(asio::any_io_executor executor, ChannelOptions options)
    : executor_(executor),
      options_(std::move(options)),
      client_(executor, http::ClientOptions{options_.version, options_.connect_timeout, options_.dialer}) {}

HttpChannel::~HttpChannel() = default;

std::string HttpChannel::describe() const {
  return "http://" + net::Target{options_.url.host, options_.url.port}.authority() + options_.url.path_prefix;
}

std::string HttpChannel::unreachable_name() const {
  return options_.unreachable_name.empty() ? describe() : options_.unreachable_name;
}

namespace {

std::string_view view(const std::string& text) { return text; }

// "Connection refused" reads better mid-sentence as "connection refused".
std::string lower_first(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = char(text[0] - 'A' + 'a');
  return text;
}

// Turns how an exchange ended without a usable answer into an Error;
// `unreachable_name` names the server when the connection failed.
Error transport_error(const std::string& server, const std::string& unreachable_name, bool timed_out, bool too_large,
                      const std::string& failure) {
  if (timed_out) return Error{Code::deadline_exceeded, "no answer from " + server + " before the deadline", {}};
  if (too_large) return Error{Code::resource_exhausted, "the response from " + server + " is over the size limit", {}};
  return Error{Code::unavailable, unreachable_name + ": " + failure, {}};
}

}  // namespace

Awaitable<Result<std::shared_ptr<HttpChannel::Exchange>>> HttpChannel::start(std::string_view path, bool streaming,
                                                                            std::string body,
                                                                            const CallOptions& options) {
  http::RequestHead head;
  head.method = "POST";
  head.path = options_.url.path_prefix + std::string(path);
  head.fields = {{"content-type", connect_content_type(streaming, options_.encoding)},
                 {"user-agent", "coral/0.1"}};
  if (streaming) {
    head.fields.push_back({"connect-accept-encoding", "gzip"});
    if (options_.gzip_requests) head.fields.push_back({"connect-content-encoding", "gzip"});
  } else {
    head.fields.push_back({"connect-protocol-version", "1"});
    head.fields.push_back({"accept-encoding", "gzip"});
    if (options_.gzip_requests) head.fields.push_back({"content-encoding", "gzip"});
    head.fields.push_back({"content-length", std::to_string(body.size())});
  }
  if (options.timeout) head.fields.push_back({"connect-timeout-ms", std::to_string(options.timeout->count())});
  for (const auto& field : options.headers) head.fields.push_back(field);

  auto exchange = std::make_shared<Exchange>(executor_, options_.max_message_bytes + 5);
  if (options.timeout) exchange->arm_deadline(*options.timeout);
  // A named target: g++ 12 mishandles temporaries inside co_await
  // expressions (destroying them twice).
  const net::Target target{options_.url.host, options_.url.port};
  auto writer = co_await client_.start(target, std::move(head), body.empty(), exchange);
  if (!writer) {
    exchange->deadline.cancel();
    co_return rpc::fail(Code::unavailable, unreachable_name() + " is not reachable: " + lower_first(writer.error()));
  }
  if (exchange->ended) co_return exchange;  // failed at once (e.g. stream refused)
  exchange->writer = *writer;
  if (!body.empty()) (*writer)->send_data(std::as_bytes(std::span(body)), true);
  co_return exchange;
}


Awaitable<Status> HttpChannel::unary(std::string_view path, const Message& request, Message& response,
                                     const CallOptions& options) {
  auto encoded = encode_message(options_.encoding, request);
  if (!encoded) co_return std::unexpected(encoded.error());
  std::string body = std::move(*encoded);
  if (options_.gzip_requests) {
    auto compressed = gzip_compress(body);
    if (!compressed) co_return std::unexpected(compressed.error());
    body = std::move(*compressed);
  }
  auto started = co_await start(path, false, std::move(body), options);
  if (!started) co_return std::unexpected(started.error());
  auto exchange = *started;
  while (!exchange->ended) co_await exchange->next_event();
  exchange->deadline.cancel();
  if (!exchange->failure.empty() || exchange->timed_out || exchange->too_large) {
    co_return std::unexpected(transport_error(describe(), unreachable_name(), exchange->timed_out, exchange->too_large, exchange->failure));
  }
  std::string payload = std::move(exchange->body);
  if (exchange->head.status != 200) {
    // A Connect unary error's metadata are the response's headers.
    Error error = parse_connect_error(exchange->head.status, payload);
    error.metadata = std::move(exchange->head.fields);
    co_return std::unexpected(std::move(error));
  }
  if (const auto encoding = http::find_field(exchange->head.fields, "content-encoding");
      encoding && *encoding != "identity") {
    if (!is_gzip(*encoding)) co_return rpc::fail(Code::internal, "unknown content-encoding " + std::string(*encoding));
    auto inflated = gzip_decompress(payload, options_.max_message_bytes);
    if (!inflated) co_return std::unexpected(inflated.error());
    payload = std::move(*inflated);
  }
  co_return decode_message(options_.encoding, view(payload), response);
}

Awaitable<Status> HttpChannel::server_stream(std::string_view path, const Message& request, Message& scratch,
                                             const std::function<void(const Message&)>& on_message,
                                             const CallOptions& options) {
  auto encoded = encode_message(options_.encoding, request);
  if (!encoded) co_return std::unexpected(encoded.error());
  std::string payload = std::move(*encoded);
  std::uint8_t flags = 0;
  if (options_.gzip_requests) {
    auto compressed = gzip_compress(payload);
    if (!compressed) co_return std::unexpected(compressed.error());
    payload = std::move(*compressed);
    flags = kFlagCompressed;
  }
  std::string body;
  append_envelope(body, flags, payload);
  auto started = co_await start(path, true, std::move(body), options);
  if (!started) co_return std::unexpected(started.error());
  auto exchange = *started;
  // Messages are decoded as they arrive; only the unread tail is buffered.
  exchange->limit = std::numeric_limits<std::size_t>::max();
  EnvelopeReader reader(options_.max_message_bytes);
  bool gzip = false;
  for (;;) {
    if (exchange->has_head && exchange->head.status != 200) {
      while (!exchange->ended) co_await exchange->next_event();
      exchange->deadline.cancel();
      co_return std::unexpected(parse_connect_error(exchange->head.status, exchange->body));
    }
    if (exchange->has_head) {
      gzip = http::find_field(exchange->head.fields, "connect-content-encoding").transform(is_gzip).value_or(false);
    }
    if (!exchange->body.empty()) {
      auto fed = reader.feed(std::as_bytes(std::span(exchange->body)));
      exchange->body.clear();
      if (!fed) {
        if (exchange->writer && !exchange->ended) exchange->writer->reset();
        exchange->deadline.cancel();
        co_return std::unexpected(fed.error());
      }
      while (auto envelope = reader.next()) {
        std::string bytes = std::move(envelope->payload);
        if (envelope->flags & kFlagCompressed) {
          if (!gzip) co_return rpc::fail(Code::internal, "compressed message without connect-content-encoding");
          auto inflated = gzip_decompress(bytes, options_.max_message_bytes);
          if (!inflated) co_return std::unexpected(inflated.error());
          bytes = std::move(*inflated);
        }
        if (envelope->flags & kFlagEndStream) {
          exchange->deadline.cancel();
          auto end = parse_connect_end_stream(bytes);
          if (!end) co_return std::unexpected(end.error());
          if (end->error) co_return std::unexpected(*end->error);
          co_return Status{};
        }
        if (auto decoded = decode_message(options_.encoding, bytes, scratch); !decoded) {
          co_return std::unexpected(decoded.error());
        }
        on_message(scratch);
      }
    }
    if (exchange->ended) break;
    co_await exchange->next_event();
  }
  exchange->deadline.cancel();
  if (!exchange->failure.empty() || exchange->timed_out) {
    co_return std::unexpected(transport_error(describe(), unreachable_name(), exchange->timed_out, false, exchange->failure));
  }
  co_return rpc::fail(Code::internal, describe() + " ended the stream without an end-of-stream message");
}

}  // namespace coral::rpc

// HTTP/2 client codec (h2c with prior knowledge): nghttp2 client session,
// many concurrent requests on one connection.
//
// Cancelling a request (RequestWriter::reset) must not let a proxy, which
// cancels on behalf of many clients over one connection, flood its server
// with RST_STREAM: servers count them as "rapid reset" (CVE-2023-44487) and
// answer with GOAWAY, which fails or refuses every other request on the
// connection. So:
// - a request whose HEADERS are still queued is dropped from nghttp2's
//   queue: nothing goes out (nghttp2 then closes the stream);
// - otherwise RST_STREAM(CANCEL) is sent while the token bucket of
//   H2ClientOptions allows; when it is empty the cancel is deferred: the
//   caller gets on_reset() at once and nothing more, the server's answer is
//   read and dropped, and the RST_STREAM goes out when tokens are back
//   (checked whenever output is produced) unless the stream ended first —
//   as a cancelled unary call usually has. At most max_deferred_resets wait;
//   they do not count against the server's stream limit in
//   can_start_request() (nghttp2 queues a request until a stream ends), so
//   cancels never make the caller open more connections.

#include <algorithm>
#include <memory>
#include <set>
#include <unordered_map>

#include "base/token_bucket.h"
#include "http/h2_client_codec.h"
#include "http/h2_codec.h"
#include "http/h2_session.h"

namespace coral::http {
namespace {

using SteadyClock = std::chrono::steady_clock;

// RST_STREAM budget: a token bucket (H2ClientOptions) on the injected clock.
class ResetBudget {
 public:
  explicit ResetBudget(const H2ClientOptions& options)
      : now_(options.now ? options.now : [] { return SteadyClock::now(); }),
        bucket_(base::TokenRate::per_second(std::max<std::uint32_t>(options.resets_per_second, 1), options.reset_burst),
                now_()) {}

  bool take() { return bucket_.try_take(now_()); }

 private:
  std::function<SteadyClock::time_point()> now_;
  base::TokenBucket<SteadyClock> bucket_;
};

class H2ClientCodec;

struct ClientStream final : RequestWriter {
  H2ClientCodec& codec;
  std::int32_t id = 0;
  std::shared_ptr<ResponseHandler> handler;
  h2::SendBuffer body;
  ResponseHead head;
  Fields trailers;
  bool head_done = false;
  bool finished = false;  // on_end or on_reset delivered
  bool detached = false;  // cancelled, RST_STREAM deferred; the server's answer is dropped
  bool response_paused = false;   // pause_response(true): received DATA is not given back as window
  std::size_t unconsumed = 0;     // bytes received while paused, credited on resume

  ClientStream(H2ClientCodec& c, std::shared_ptr<ResponseHandler> h) : codec(c), handler(std::move(h)) {}

  void send_data(Bytes data, bool end_stream) override;
  void reset() override;
  std::size_t queued_bytes() const override { return body.size(); }
  void pause_response(bool paused) override;

  void finish_ok() {
    if (finished) return;
    finished = true;
    auto h = std::move(handler);
    h->on_end();
  }
  void finish_reset(std::string reason) {
    if (finished) return;
    finished = true;
    auto h = std::move(handler);
    h->on_reset(std::move(reason));
  }
};

class H2ClientCodec final : public ClientCodec, h2::Session {
 public:
  H2ClientCodec(Wake wake, const H2ClientOptions& options)
      : h2::Session(std::move(wake)), resets_(options), max_deferred_(options.max_deferred_resets) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, on_frame_not_send);
    // Flow control by hand: a stream's window is given back only as its
    // caller takes the data (pause_response), the connection's at once.
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    nghttp2_option_set_no_auto_window_update(option, 1);
    nghttp2_session_client_new2(&session_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    submit_settings(100, 64 * 1024);
  }

  std::expected<void, CodecError> receive(Bytes input) override {
    if (failed_) return std::unexpected(CodecError::closed);
    auto result = receive_bytes(input);
    if (!result) {
      failed_ = true;
      fail_all("HTTP/2 protocol error from the server");
    }
    return result;
  }
  Bytes next_output() override {
    send_deferred_resets();
    return next_output_bytes();
  }
  bool wants_close() const override { return failed_ || session_wants_close() || (goaway_ && streams_.empty()); }
  void shutdown() override {
    nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
    output_changed();
  }
  bool idle() const override { return streams_.empty(); }
  void connection_lost() override { fail_all("connection closed before the response completed"); }

  bool can_start_request() const override {
    if (failed_ || goaway_ || !nghttp2_session_want_read(session_)) return false;
    // Cancelled streams waiting for their RST_STREAM do not count: a request
    // started beyond the server's limit waits in nghttp2's queue until one
    // of them ends, rather than making the caller open another connection.
    const auto limit = nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    return streams_.size() - deferred_.size() < limit;
  }

  RequestWriter& start_request(RequestHead head, bool end_stream,
                               std::shared_ptr<ResponseHandler> handler) override {
    auto stream = std::make_unique<ClientStream>(*this, std::move(handler));
    const auto nv = h2::make_nv(
        {{":method", head.method}, {":scheme", head.scheme}, {":authority", head.authority}, {":path", head.path}},
        head.fields);
    nghttp2_data_provider provider = h2::data_provider(stream->body);
    if (end_stream) stream->body.end = true;
    const std::int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(),
                                                   end_stream ? nullptr : &provider, stream.get());
    ClientStream& s = *stream;
    if (id < 0) {
      // Not registered with nghttp2: report and keep it only as a dead writer.
      orphans_.push_back(std::move(stream));
      s.finish_reset(std::string("cannot start HTTP/2 request: ") + nghttp2_strerror(id));
      return s;
    }
    s.id = id;
    streams_.emplace(id, std::move(stream));
    output_changed();
    return s;
  }

  void append(ClientStream& stream, Bytes data, bool end) { Session::append(stream.id, stream.body, data, end); }
  void reset(ClientStream& stream) {
    const bool headers_sent = nghttp2_session_find_stream(session_, stream.id) != nullptr;
    if (headers_sent && !resets_.take() && deferred_.size() < max_deferred_) {
      stream.detached = true;
      deferred_.insert(stream.id);
      stream.finish_reset("request cancelled");
      return;
    }
    // HEADERS still queued: nghttp2 drops them, no frame goes out.
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id, NGHTTP2_CANCEL);
    output_changed();
  }
  void pause_response(ClientStream& stream, bool paused) {
    if (stream.response_paused == paused) return;
    stream.response_paused = paused;
    if (paused || stream.unconsumed == 0) return;
    nghttp2_session_consume_stream(session_, stream.id, stream.unconsumed);
    stream.unconsumed = 0;
    output_changed();  // the WINDOW_UPDATE
  }

 private:
  // Deferred cancels of streams still open, oldest first, while tokens last.
  void send_deferred_resets() {
    while (!deferred_.empty() && resets_.take()) {
      const std::int32_t id = *deferred_.begin();
      deferred_.erase(deferred_.begin());
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
  }

  void fail_all(const std::string& reason) {
    auto streams = std::move(streams_);
    streams_.clear();
    deferred_.clear();
    for (auto& [id, stream] : streams) stream->finish_reset(reason);
  }

  ClientStream* find(std::int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  void notify_drained() override {
    std::vector<std::shared_ptr<ResponseHandler>> handlers;
    for (auto& [id, stream] : streams_) {
      if (stream->body.drained) {
        stream->body.drained = false;
        if (stream->handler) handlers.push_back(stream->handler);
      }
    }
    for (auto& handler : handlers) handler->on_drained();
  }

  static H2ClientCodec& self(void* user_data) { return *static_cast<H2ClientCodec*>(user_data); }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name_bytes,
                       std::size_t name_length, const std::uint8_t* value_bytes, std::size_t value_length,
                       std::uint8_t, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    ClientStream* stream = self(user_data).find(frame->hd.stream_id);
    if (!stream) return 0;
    const std::string_view name(reinterpret_cast<const char*>(name_bytes), name_length);
    std::string value(reinterpret_cast<const char*>(value_bytes), value_length);
    if (name == ":status") {
      stream->head.status = std::atoi(value.c_str());
    } else if (!name.starts_with(':')) {
      (stream->head_done ? stream->trailers : stream->head.fields).push_back({std::string(name), std::move(value)});
    }
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& codec = self(user_data);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      codec.goaway_ = true;
      return 0;
    }
    ClientStream* stream = codec.find(frame->hd.stream_id);
    if (!stream || stream->finished) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
      if (!stream->head_done) {
        if (stream->head.status >= 100 && stream->head.status < 200) {
          stream->head = {};  // interim response
          return 0;
        }
        stream->head_done = true;
        auto handler = stream->handler;  // the call may end the stream (reset from inside)
        handler->on_head(std::move(stream->head));
      } else {
        auto handler = stream->handler;
        handler->on_trailers(std::move(stream->trailers));
      }
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM &&
        (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && stream->handler) {
      stream->finish_ok();
    }
    return 0;
  }

  static int on_data_chunk_recv(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                                const std::uint8_t* data, std::size_t length, void* user_data) {
    nghttp2_session_consume_connection(session, length);
    ClientStream* stream = self(user_data).find(stream_id);
    if (!stream) return 0;
    if (stream->response_paused && !stream->finished) {
      stream->unconsumed += length;
    } else {
      nghttp2_session_consume_stream(session, stream_id, length);
    }
    if (!stream->finished) {
      auto handler = stream->handler;  // the call may end the stream (reset from inside)
      handler->on_body(std::as_bytes(std::span(data, length)));
    }
    return 0;
  }

  // A request whose HEADERS were never sent (cancelled while queued, or
  // refused locally after a GOAWAY) ends here, whether or not nghttp2 also
  // reports a stream close for it (the second report finds nothing).
  static int on_frame_not_send(nghttp2_session*, const nghttp2_frame* frame, int, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    return on_stream_close(nullptr, frame->hd.stream_id, NGHTTP2_REFUSED_STREAM, user_data);
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* user_data) {
    auto& codec = self(user_data);
    auto it = codec.streams_.find(stream_id);
    if (it == codec.streams_.end()) return 0;
    auto stream = std::move(it->second);
    codec.streams_.erase(it);
    codec.deferred_.erase(stream_id);
    stream->finish_reset(error_code == NGHTTP2_REFUSED_STREAM
                             ? "the server refused the stream (retry on a new connection)"
                             : std::string("stream reset by the server: ") + nghttp2_http2_strerror(error_code));
    return 0;
  }

  std::unordered_map<std::int32_t, std::unique_ptr<ClientStream>> streams_;
  std::vector<std::unique_ptr<ClientStream>> orphans_;
  ResetBudget resets_;
  std::size_t max_deferred_;
  std::set<std::int32_t> deferred_;  // ids of the open detached streams (oldest first)
  bool goaway_ = false;
  bool failed_ = false;
};

void ClientStream::send_data(Bytes data, bool end_stream) {
  if (finished || body.end) return;
  codec.append(*this, data, end_stream);
}

void ClientStream::pause_response(bool paused) {
  if (finished) return;
  codec.pause_response(*this, paused);
}

void ClientStream::reset() {
  if (finished) return;
  codec.reset(*this);
}

}  // namespace

std::unique_ptr<ClientCodec> make_h2_client_codec(Wake wake, H2ClientOptions options) {
  return std::make_unique<H2ClientCodec>(std::move(wake), options);
}
std::unique_ptr<ClientCodec> make_h2_client_codec(Wake wake) { return make_h2_client_codec(std::move(wake), {}); }

}  // namespace coral::http

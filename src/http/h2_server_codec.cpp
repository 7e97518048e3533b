// HTTP/2 server codec: nghttp2 server session; one RequestHandler per stream.

#include <memory>
#include <unordered_map>

#include "base/base64.h"
#include "http/h2_codec.h"
#include "http/h2_session.h"

namespace coral::http {
namespace {

class H2ServerCodec;

// One request/response exchange. Owned by H2ServerCodec::streams_.
struct ServerStream final : ResponseWriter {
  H2ServerCodec& codec;
  std::int32_t id;
  RequestHead head;
  std::unique_ptr<RequestHandler> handler;
  h2::SendBuffer body;
  std::size_t header_bytes = 0;  // of the request head so far, as RFC 9113 counts them
  bool request_ended = false;
  bool response_started = false;
  bool closed = false;  // reset or closed: writer calls are no-ops
  bool body_paused = false;          // pause_body(true): received bytes are not given back as credit
  std::size_t unconsumed = 0;        // request body bytes received while paused, credit owed to the peer
  mutable bool watching_connection = false;  // read connection_queued_bytes(): on_drained() when it falls

  ServerStream(H2ServerCodec& c, std::int32_t stream_id, std::uint64_t& taken) : codec(c), id(stream_id) {
    body.taken = &taken;
  }

  // ResponseWriter
  void send_head(ResponseHead response, bool end_stream) override;
  void send_data(Bytes data, bool end_stream) override;
  void send_trailers(Fields trailers) override;
  void reset() override;
  std::size_t queued_bytes() const override { return body.size(); }
  std::size_t connection_queued_bytes() const override;
  void pause_body(bool paused) override;
};

class H2ServerCodec final : public ServerCodec, h2::Session {
 public:
  H2ServerCodec(Application& app, Wake wake, ServerLimits limits, H2cUpgrade* upgrade)
      : h2::Session(std::move(wake)), app_(app), max_header_bytes_(limits.max_header_bytes) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
    // Request body credit is given back as it is consumed (on_data_chunk_recv
    // and pause_body), so that a paused stream stops receiving.
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    nghttp2_option_set_no_auto_window_update(option, 1);
    nghttp2_session_server_new2(&session_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    submit_settings(limits.max_concurrent_streams, std::uint32_t(limits.max_header_bytes));
    if (upgrade) accept_upgrade(*upgrade);
  }

  // Codec
  std::expected<void, CodecError> receive(Bytes input) override {
    if (failed_) return std::unexpected(CodecError::closed);
    auto result = receive_bytes(input);
    if (!result) failed_ = true;
    return result;
  }
  Bytes next_output() override { return next_output_bytes(); }
  bool wants_close() const override { return failed_ || session_wants_close(); }
  void shutdown() override {
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    output_changed();
  }
  bool idle() const override { return streams_.empty(); }
  std::size_t output_owed() const override { return queued_total(); }
  std::uint64_t output_taken() const override { return taken_; }
  // The client's preface and SETTINGS, then each stream's header block.
  bool reading_head() const override {
    if (!settings_received_) return true;
    for (const auto& [id, stream] : streams_) {
      if (!stream->handler && !stream->closed) return true;
    }
    return false;
  }
  bool reading_body() const override {
    for (const auto& [id, stream] : streams_) {
      if (stream->handler && !stream->request_ended && !stream->closed && !stream->body_paused) return true;
    }
    return false;
  }
  bool waiting_for_peer() const override {
    for (const auto& [id, stream] : streams_) {
      if (!stream->request_ended) return true;
    }
    return false;
  }
  void connection_lost() override {
    auto streams = std::move(streams_);
    streams_.clear();
    for (auto& [id, stream] : streams) {
      stream->closed = true;
      if (stream->handler) stream->handler->on_reset();
    }
  }

  void submit_response(ServerStream& stream, ResponseHead& response, bool end_stream) {
    const std::string status = std::to_string(response.status);
    const auto nv = h2::make_nv({{":status", status}}, response.fields);
    if (end_stream) {
      nghttp2_submit_response(session_, stream.id, nv.data(), nv.size(), nullptr);
    } else {
      auto provider = h2::data_provider(stream.body);
      nghttp2_submit_response(session_, stream.id, nv.data(), nv.size(), &provider);
    }
    output_changed();
  }
  void append(ServerStream& stream, Bytes data, bool end) { Session::append(stream.id, stream.body, data, end); }
  void finish(ServerStream& stream, Fields trailers) {
    finish_with_trailers(stream.id, stream.body, std::move(trailers));
  }
  void reset(ServerStream& stream) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id, NGHTTP2_CANCEL);
    output_changed();
  }

  // Response body bytes of every stream, waiting for flow-control credit or
  // for the next next_output().
  std::size_t queued_total() const {
    std::size_t total = 0;
    for (const auto& [id, stream] : streams_) total += stream->body.size();
    return total;
  }

  void pause_body(ServerStream& stream, bool paused) {
    if (stream.body_paused == paused) return;
    stream.body_paused = paused;
    if (paused || stream.unconsumed == 0) return;
    // Give back what was held: the WINDOW_UPDATE goes out with the next output.
    nghttp2_session_consume_stream(session_, stream.id, stream.unconsumed);
    stream.unconsumed = 0;
    output_changed();
  }

 private:
  void accept_upgrade(H2cUpgrade& upgrade) {
    const auto settings = base::base64_decode(upgrade.settings, base::Base64Alphabet::url);
    auto stream = std::make_unique<ServerStream>(*this, 1, taken_);
    if (!settings || nghttp2_session_upgrade2(session_, reinterpret_cast<const std::uint8_t*>(settings->data()),
                                              settings->size(), upgrade.head.method == "HEAD",
                                              stream.get()) != 0) {
      failed_ = true;
      nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    ServerStream& s = *stream;
    streams_.emplace(1, std::move(stream));
    s.head = std::move(upgrade.head);
    s.head.version = Version::http2;
    s.handler = app_.on_request(s.head, s);
    if (!s.closed && !upgrade.body.empty()) s.handler->on_body(std::as_bytes(std::span(upgrade.body)));
    if (!s.closed) s.handler->on_end();
  }

  ServerStream* find(std::int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  void notify_drained() override {
    // Collect first: on_drained may queue more data or reset streams.
    const std::size_t total = queued_total();
    const bool connection_drained = total < last_total_;
    last_total_ = total;
    std::vector<std::int32_t> ids;
    for (auto& [id, stream] : streams_) {
      const bool watcher = connection_drained && stream->watching_connection;
      if (stream->body.drained || watcher) {
        stream->body.drained = false;
        if (watcher) stream->watching_connection = false;
        ids.push_back(id);
      }
    }
    for (std::int32_t id : ids) {
      if (ServerStream* stream = find(id); stream && !stream->closed && stream->handler) {
        stream->handler->on_drained();
      }
    }
  }

  static H2ServerCodec& self(void* user_data) { return *static_cast<H2ServerCodec*>(user_data); }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto& codec = self(user_data);
    auto stream = std::make_unique<ServerStream>(codec, frame->hd.stream_id, codec.taken_);
    stream->head.version = Version::http2;
    nghttp2_session_set_stream_user_data(codec.session_, frame->hd.stream_id, stream.get());
    codec.streams_.emplace(frame->hd.stream_id, std::move(stream));
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name_bytes,
                       std::size_t name_length, const std::uint8_t* value_bytes, std::size_t value_length,
                       std::uint8_t, void* user_data) {
    auto& codec = self(user_data);
    ServerStream* stream = codec.find(frame->hd.stream_id);
    if (!stream || stream->handler) return 0;  // request trailers are dropped
    stream->header_bytes += name_length + value_length + 32;
    if (stream->header_bytes > codec.max_header_bytes_) {
      // nghttp2 resets just this stream.
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    const std::string_view name(reinterpret_cast<const char*>(name_bytes), name_length);
    std::string value(reinterpret_cast<const char*>(value_bytes), value_length);
    RequestHead& head = stream->head;
    if (name == ":method") head.method = std::move(value);
    else if (name == ":path") head.path = std::move(value);
    else if (name == ":authority") head.authority = std::move(value);
    else if (name == ":scheme") head.scheme = std::move(value);
    else if (name == "host") { if (head.authority.empty()) head.authority = std::move(value); }
    else if (!name.starts_with(':')) head.fields.push_back({std::string(name), std::move(value)});
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& codec = self(user_data);
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) codec.settings_received_ = true;
    ServerStream* stream = codec.find(frame->hd.stream_id);
    if (!stream) return 0;
    const bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (frame->hd.type == NGHTTP2_HEADERS && !stream->handler) {
      stream->handler = codec.app_.on_request(stream->head, *stream);
    }
    if (end_stream && (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA)) {
      stream->request_ended = true;
      if (stream->handler && !stream->closed) stream->handler->on_end();
    }
    return 0;
  }

  // A response that ended before its request did (say, a body over the
  // limit) asks the client to stop sending: RST_STREAM(NO_ERROR), as RFC
  // 9113 section 8.1 allows, so that the rest is never transferred.
  static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    ServerStream* stream = self(user_data).find(frame->hd.stream_id);
    if (stream && !stream->request_ended) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  // The connection's credit comes back at once (a paused stream must not
  // starve the others); the stream's only when it is not paused.
  static int on_data_chunk_recv(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                                const std::uint8_t* data, std::size_t length, void* user_data) {
    nghttp2_session_consume_connection(session, length);
    ServerStream* stream = self(user_data).find(stream_id);
    if (stream && stream->handler && !stream->closed) {
      stream->handler->on_body(std::as_bytes(std::span(data, length)));
      // on_body may have paused the stream: then these bytes are held too.
      if (stream->body_paused && !stream->closed) {
        stream->unconsumed += length;
        return 0;
      }
    }
    nghttp2_session_consume_stream(session, stream_id, length);
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* user_data) {
    auto& codec = self(user_data);
    auto it = codec.streams_.find(stream_id);
    if (it == codec.streams_.end()) return 0;
    auto stream = std::move(it->second);
    codec.streams_.erase(it);
    // A stream closed without NO_ERROR, or before our response ended, was
    // cut short: the handler learns it; otherwise the exchange is complete.
    const bool complete = error_code == NGHTTP2_NO_ERROR && stream->body.end && stream->body.size() == 0;
    const bool was_closed = stream->closed;
    stream->closed = true;
    if (!complete && !was_closed && stream->handler) stream->handler->on_reset();
    return 0;
  }

  Application& app_;
  std::size_t max_header_bytes_;
  std::unordered_map<std::int32_t, std::unique_ptr<ServerStream>> streams_;
  std::size_t last_total_ = 0;  // queued_total() after the previous next_output()
  std::uint64_t taken_ = 0;     // response body bytes nghttp2 pulled, all streams
  bool settings_received_ = false;  // the client's first SETTINGS (after its preface)
  bool failed_ = false;
};

void ServerStream::send_head(ResponseHead response, bool end_stream) {
  if (closed || response_started) return;
  response_started = true;
  if (end_stream) body.end = true;
  codec.submit_response(*this, response, end_stream);
}

void ServerStream::send_data(Bytes data, bool end_stream) {
  if (closed || !response_started || body.end) return;
  codec.append(*this, data, end_stream);
}

void ServerStream::send_trailers(Fields trailers) {
  if (closed || !response_started || body.end) return;
  codec.finish(*this, std::move(trailers));
}

std::size_t ServerStream::connection_queued_bytes() const {
  watching_connection = true;
  return codec.queued_total();
}

void ServerStream::pause_body(bool paused) {
  if (closed) return;
  codec.pause_body(*this, paused);
}

void ServerStream::reset() {
  if (closed) return;
  closed = true;
  codec.reset(*this);
}

}  // namespace

std::unique_ptr<ServerCodec> make_h2_server_codec(Application& app, Wake wake, ServerLimits limits,
                                                  H2cUpgrade* upgrade) {
  return std::make_unique<H2ServerCodec>(app, std::move(wake), limits, upgrade);
}

}  // namespace coral::http

#pragma once
// What the HTTP/2 server and client codecs share: one nghttp2 session driven
// through mem_recv / mem_send, its output buffer, per-stream send buffers
// behind nghttp2 data providers, and the wake-up rule for output produced
// outside receive().

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <string>
#include <vector>

#include "http/codec.h"

namespace coral::http::h2 {

// Request or response body bytes waiting for nghttp2 to pull them.
struct SendBuffer {
  std::string bytes;
  std::size_t offset = 0;  // bytes before it were already pulled
  bool end = false;        // the body ends once `bytes` are drained
  bool has_trailers = false;
  Fields trailers;         // sent after the body when has_trailers
  bool drained = false;    // became empty after holding bytes: notify the producer
  std::uint64_t* taken = nullptr;  // when set, counts the bytes nghttp2 pulled

  std::size_t size() const { return bytes.size() - offset; }
};

// Bytes of send buffer a data provider pulls from; nghttp2 calls this with
// the stream's SendBuffer as source.ptr.
// The data provider of every stream with a body.
nghttp2_data_provider data_provider(SendBuffer& buffer);

// Name/value pairs for nghttp2, pointing into `fields` and `pseudo` (which
// must outlive the submit call that uses them). Connection-specific fields,
// which HTTP/2 forbids (RFC 9113 section 8.2.2), are left out.
std::vector<nghttp2_nv> make_nv(const std::vector<std::pair<std::string_view, std::string_view>>& pseudo,
                                const Fields& fields);

class Session {
 public:
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

 protected:
  explicit Session(Wake wake);
  // Deletes the session, which runs no callbacks: streams are not told.
  ~Session();

  std::expected<void, CodecError> receive_bytes(Bytes input);
  Bytes next_output_bytes();
  bool session_wants_close() const;
  // Called from writer methods: schedules output, and wakes the I/O layer
  // unless we are inside receive()/next_output(), which flush anyway.
  void output_changed();
  // Queues data for `stream_id` and tells nghttp2 there is more to pull.
  void append(std::int32_t stream_id, SendBuffer& buffer, Bytes data, bool end);
  void finish_with_trailers(std::int32_t stream_id, SendBuffer& buffer, Fields trailers);
  // Called after each next_output(): streams whose buffer drained.
  virtual void notify_drained() = 0;
  // Our SETTINGS: no push, roomy flow-control windows (the peer's data is
  // consumed at once; bodies are bounded by the application).
  void submit_settings(std::uint32_t max_concurrent_streams, std::uint32_t max_header_list_size);

  nghttp2_session* session_ = nullptr;

 private:
  Wake wake_;
  std::string output_;
  bool busy_ = false;  // inside receive_bytes / next_output_bytes
};

}  // namespace coral::http::h2

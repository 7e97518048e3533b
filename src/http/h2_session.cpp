#include "http/h2_session.h"

#include <cstring>

namespace coral::http::h2 {
namespace {

constexpr std::int32_t kStreamWindow = 1 << 20;          // 1 MiB per stream
constexpr std::int32_t kConnectionWindow = 16 << 20;     // 16 MiB per connection
constexpr std::size_t kOutputBatch = 64 * 1024;          // bytes gathered per next_output()

ssize_t read_send_buffer(nghttp2_session* session, std::int32_t stream_id, std::uint8_t* buf, std::size_t length,
                         std::uint32_t* data_flags, nghttp2_data_source* source, void*) {
  auto& buffer = *static_cast<SendBuffer*>(source->ptr);
  const std::size_t n = std::min(length, buffer.size());
  if (n > 0) {
    std::memcpy(buf, buffer.bytes.data() + buffer.offset, n);
    buffer.offset += n;
    if (buffer.taken) *buffer.taken += n;
    if (buffer.size() == 0) {
      buffer.bytes.clear();
      buffer.offset = 0;
      buffer.drained = true;
    }
  }
  if (buffer.size() == 0) {
    if (!buffer.end) return n > 0 ? ssize_t(n) : ssize_t(NGHTTP2_ERR_DEFERRED);
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (buffer.has_trailers) {
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      const auto nv = make_nv({}, buffer.trailers);
      if (nghttp2_submit_trailer(session, stream_id, nv.data(), nv.size()) != 0) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
    }
  }
  return ssize_t(n);
}

bool is_connection_specific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade" || name == "host";
}

nghttp2_nv nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                    NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

nghttp2_data_provider data_provider(SendBuffer& buffer) {
  nghttp2_data_provider provider{};
  provider.source.ptr = &buffer;
  provider.read_callback = read_send_buffer;
  return provider;
}

std::vector<nghttp2_nv> make_nv(const std::vector<std::pair<std::string_view, std::string_view>>& pseudo,
                                const Fields& fields) {
  std::vector<nghttp2_nv> out;
  out.reserve(pseudo.size() + fields.size());
  for (const auto& [name, value] : pseudo) out.push_back(nv(name, value));
  for (const Field& field : fields) {
    // "te" may only carry "trailers" in HTTP/2.
    if (is_connection_specific(field.name) || (field.name == "te" && field.value != "trailers")) continue;
    out.push_back(nv(field.name, field.value));
  }
  return out;
}

Session::Session(Wake wake) : wake_(std::move(wake)) {}

Session::~Session() { nghttp2_session_del(session_); }

void Session::submit_settings(std::uint32_t max_concurrent_streams, std::uint32_t max_header_list_size) {
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, max_header_list_size},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, std::uint32_t(kStreamWindow)},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
}

std::expected<void, CodecError> Session::receive_bytes(Bytes input) {
  busy_ = true;
  const auto rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(input.data()),
                                           input.size());
  busy_ = false;
  if (rv < 0) return std::unexpected(CodecError::protocol);
  return {};
}

Bytes Session::next_output_bytes() {
  output_.clear();
  busy_ = true;
  while (output_.size() < kOutputBatch) {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(session_, &data);
    if (n <= 0) break;  // a negative value is fatal; wants_close() will say so
    output_.append(reinterpret_cast<const char*>(data), std::size_t(n));
  }
  busy_ = false;
  notify_drained();
  return std::as_bytes(std::span(output_));
}

bool Session::session_wants_close() const {
  return nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

void Session::output_changed() {
  if (!busy_ && wake_) wake_();
}

void Session::append(std::int32_t stream_id, SendBuffer& buffer, Bytes data, bool end) {
  buffer.bytes.append(reinterpret_cast<const char*>(data.data()), data.size());
  buffer.end = buffer.end || end;
  nghttp2_session_resume_data(session_, stream_id);
  output_changed();
}

void Session::finish_with_trailers(std::int32_t stream_id, SendBuffer& buffer, Fields trailers) {
  buffer.end = true;
  buffer.has_trailers = true;
  buffer.trailers = std::move(trailers);
  nghttp2_session_resume_data(session_, stream_id);
  output_changed();
}

}  // namespace coral::http::h2

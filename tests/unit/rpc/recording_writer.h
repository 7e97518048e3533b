#pragma once
// rpc::Server driven without a codec: a ResponseWriter that records what
// the server writes, and the head of a unary EchoService call to hand it.

#include <cstddef>
#include <vector>

#include "http/codec.h"

namespace coral::rpc::harness {

class RecordingWriter final : public http::ResponseWriter {
 public:
  void send_head(http::ResponseHead head, bool) override { heads.push_back(head.status); }
  void send_data(http::Bytes bytes, bool) override {
    ++data;
    queued += bytes.size();
  }
  void send_trailers(http::Fields) override {}
  void reset() override { ++resets; }
  std::size_t queued_bytes() const override { return 0; }
  // As if the connection's other streams held `connection_queued` bytes
  // their client has not taken, besides what this stream was given.
  std::size_t connection_queued_bytes() const override { return connection_queued + queued; }

  std::vector<int> heads;  // statuses of the heads sent
  int data = 0;            // send_data() calls
  int resets = 0;
  std::size_t queued = 0;  // bytes given to send_data()
  std::size_t connection_queued = 0;
};

inline http::RequestHead echo_request() {
  http::RequestHead head;
  head.method = "POST";
  head.path = "/coral.testing.v1.EchoService/Echo";
  head.fields = {{"content-type", "application/json"}};
  head.version = http::Version::http2;
  head.remote = "127.0.0.1:1";
  return head;
}

}  // namespace coral::rpc::harness

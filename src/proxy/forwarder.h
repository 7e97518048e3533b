#pragma once
// The proxy's data path: an http::Application that forwards every request
// to its colony (router.h decides which) over one multiplexed h2c
// connection per colony, dialled through the mesh transport, and streams
// the response back — bodies as they flow, HTTP/2 trailers included, so
// gRPC, gRPC-Web and Connect streaming pass through unchanged.
//
// - Hop-by-hop fields (RFC 9110 §7.6.1: Connection and the fields it
//   names, Keep-Alive, Proxy-Connection, TE except "trailers",
//   Transfer-Encoding, Upgrade) are not forwarded, either way.
// - A colony that cannot be reached gets the client an RPC error in its own
//   protocol (rpc/error_response.h): unavailable, naming the colony, its
//   address and the cause. A Colony-ID the proxy does not serve is
//   not_found. A connection that broke is dialled again by the next request.
// - The proxy's own endpoints (router.h: /-/coral/proxy/...) are answered
//   here: GET /-/coral/proxy/health returns `health_json()`.
// - Request bodies are backpressured: while the upstream request holds more
//   than kBodyHighWatermark bytes the colony has not taken (its flow-control
//   window is closed, or the connection to it is still being dialled), the
//   downstream request body is paused (ResponseWriter::pause_body), and it
//   resumes once the upstream queue drained. The proxy so holds at most the
//   watermark plus what the client had in flight, per request.
// - Response bodies likewise: while the client has more than
//   kResponseHighWatermark bytes of the response unread (a zero HTTP/2
//   window, a slow reader), the colony's response is paused
//   (RequestWriter::pause_response), and resumes once the client drained.
//   A client that still reads nothing after stalled_reader_timeout has the
//   response reset (its colony stream cancelled), so that the colony's
//   queue for the connection shared by every client empties again.
// - A client that resets its request (or goes away) cancels the upstream
//   request; the h2 client codec cancels it without a frame when it was not
//   sent yet, and without RST_STREAM when the request was complete (see
//   http/h2_client_codec.cpp), so that one client's resets do not turn
//   into a reset flood on the colony connection shared by every client.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "http/client.h"
#include "http/codec.h"
#include "net/dialer.h"
#include "rpc/error.h"
#include "proxy/router.h"

namespace coral::proxy {

struct Upstream {
  std::string colony_id;
  net::Target target;  // the colony's mesh address and connect_port
  net::Dialer dialer;  // its mesh transport's
  // Asked before each request: an error is the answer, and the colony is
  // not dialled (the proxy was revoked, its registration refused). May be empty.
  std::function<std::optional<rpc::Error>()> refusal;
};

// Upstream bytes queued per request above which the client's body is paused.
inline constexpr std::size_t kBodyHighWatermark = 256 * 1024;
// Downstream bytes queued per response above which the colony's response is
// paused (no more HTTP/2 window for that stream) until the client read them.
inline constexpr std::size_t kResponseHighWatermark = 256 * 1024;

struct ForwarderStats {
  std::uint64_t requests = 0;
  std::uint64_t failed = 0;  // answered by the proxy: colony unreachable, unknown colony
  std::uint64_t active = 0;  // requests whose downstream or upstream side is still open
  std::uint64_t canceled = 0;  // requests the client reset or left before the colony answered
  std::uint64_t stalled = 0;   // responses reset because their client read nothing for stalled_reader_timeout
};

struct ForwarderOptions {
  // A response paused because its client reads nothing (above) is reset,
  // at both ends, when the client has still read nothing after this long:
  // the rest of the answer waits in the colony, counted against the one
  // connection every client shares, and the colony starts no new calls on
  // it while it holds over 1 MiB of answers (rpc.md, "Backpressure"). Zero:
  // never.
  std::chrono::milliseconds stalled_reader_timeout{2000};
};

struct ForwarderState;

class Forwarder final : public http::Application {
 public:
  // `upstreams` in the router's order (the first is the default colony).
  Forwarder(boost::asio::any_io_executor executor, std::vector<Upstream> upstreams,
            std::function<std::string()> health_json, ForwarderOptions options = {});
  ~Forwarder() override;

  std::unique_ptr<http::RequestHandler> on_request(http::RequestHead head, http::ResponseWriter& writer) override;

  const ForwarderStats& stats() const;
  const std::vector<Upstream>& upstreams() const;
  // Why the last request to upstream `index` failed to reach it; empty once
  // one got through (or none failed).
  const std::string& upstream_error(std::size_t index) const;
  // Closes the upstream connections (shutdown).
  void close();

 private:
  std::shared_ptr<ForwarderState> impl_;
};

// Drops hop-by-hop fields (see above) from `fields`, in place.
void remove_hop_by_hop(http::Fields& fields);

// RFC 9110 §8.6: Content-Length repeated with one value (in several fields
// or as a list, "5, 5") means that value; it is forwarded as one field
// (HTTP/2 peers refuse a repeated content-length). False, fields untouched,
// when the values differ or one is not a number: the request is refused.
bool merge_content_length(http::Fields& fields);

}  // namespace coral::proxy

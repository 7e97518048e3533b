#include "rpc/error_response.h"

#include "rpc/envelope.h"
#include "rpc/protocol_connect.h"
#include "rpc/protocol_grpc.h"

namespace coral::rpc {

void write_error_response(http::ResponseWriter& writer, const http::RequestHead& request, const Error& error) {
  const std::string_view content_type = http::find_field(request.fields, "content-type").value_or("");
  if (const auto grpc = parse_grpc_content_type(content_type)) {
    auto trailers = grpc_status_trailers(&error, {});
    trailers.insert(trailers.end(), error.metadata.begin(), error.metadata.end());
    http::ResponseHead head{200, {{"content-type", grpc_content_type(grpc->web, grpc->encoding)}}};
    if (!grpc->web) {
      head.fields.insert(head.fields.end(), trailers.begin(), trailers.end());
      writer.send_head(std::move(head), true);
      return;
    }
    std::string frame;
    append_envelope(frame, kFlagGrpcWebTrailers, encode_grpc_web_trailers(trailers));
    writer.send_head(std::move(head), false);
    writer.send_data(http::as_bytes(frame), true);
    return;
  }
  if (const auto connect = parse_connect_content_type(content_type); connect && connect->streaming) {
    std::string frame;
    append_envelope(frame, kFlagEndStream, connect_end_stream_json(&error, {}));
    writer.send_head(http::ResponseHead{200, {{"content-type", connect_content_type(true, connect->encoding)}}}, false);
    writer.send_data(http::as_bytes(frame), true);
    return;
  }
  const std::string body = connect_error_json(error);
  http::ResponseHead head{connect_http_status(error.code),
                          {{"content-type", std::string(kConnectErrorContentType)},
                           {"content-length", std::to_string(body.size())}}};
  head.fields.insert(head.fields.end(), error.metadata.begin(), error.metadata.end());
  writer.send_head(std::move(head), false);
  writer.send_data(http::as_bytes(body), true);
}

}  // namespace coral::rpc

#pragma once
// coral's implementation of coral.testing.v1.EchoService, with the same
// semantics as tests/interop/node/server.mjs (see echo.proto).

#include "coral/testing/v1/echo.coral.h"

namespace coral::testing {

class EchoService final : public coral::testing::v1::EchoServiceHandler {
 public:
  rpc::Awaitable<rpc::Result<v1::EchoResponse>> Echo(rpc::Context& context, const v1::EchoRequest& request) override;
  rpc::Awaitable<rpc::Result<v1::FailResponse>> Fail(rpc::Context& context, const v1::FailRequest& request) override;
  rpc::Awaitable<rpc::Result<v1::SleepResponse>> Sleep(rpc::Context& context, const v1::SleepRequest& request) override;
  rpc::Awaitable<rpc::Status> Count(rpc::Context& context, const v1::CountRequest& request,
                                    rpc::ServerWriter<v1::CountResponse>& writer) override;
};

}  // namespace coral::testing

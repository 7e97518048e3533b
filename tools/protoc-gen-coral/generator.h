#pragma once
// protoc-gen-coral: for each x/y/z.proto, writes x/y/z.coral.h and
// x/y/z.coral.cc holding, per service, a handler interface to derive servers
// from (coral::rpc::Service) and a typed client over coral::rpc::Channel.
// docs/codegen.md describes the generated API.

#include <cstdint>
#include <string>

#include <google/protobuf/compiler/code_generator.h>

namespace coral::protoc_gen {

class Generator final : public google::protobuf::compiler::CodeGenerator {
 public:
  bool Generate(const google::protobuf::FileDescriptor* file, const std::string& parameter,
                google::protobuf::compiler::GeneratorContext* context, std::string* error) const override;

  // proto3 `optional` fields need nothing from us, but protoc refuses to run
  // a plugin on such files unless it says so.
  std::uint64_t GetSupportedFeatures() const override { return FEATURE_PROTO3_OPTIONAL; }
};

}  // namespace coral::protoc_gen

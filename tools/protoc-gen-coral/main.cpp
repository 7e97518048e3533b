// protoc-gen-coral: protoc plugin generating coral service handlers and
// clients. Run as `protoc --plugin=protoc-gen-coral=<path> --coral_out=<dir>`.

#include <google/protobuf/compiler/plugin.h>

#include "generator.h"

int main(int argc, char* argv[]) {
  const coral::protoc_gen::Generator generator;
  return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}

#include "generator.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/printer.h>
#include <google/protobuf/io/zero_copy_stream.h>

// protoc's own C++ naming (message -> class name) when its header is
// installed; otherwise the same rules, restated below. Define
// CORAL_PROTOC_GEN_OWN_NAMES to test the fallback.
#if __has_include(<google/protobuf/compiler/cpp/names.h>) && !defined(CORAL_PROTOC_GEN_OWN_NAMES)
#include <google/protobuf/compiler/cpp/names.h>
#define CORAL_PROTOC_GEN_HAVE_CPP_NAMES 1
#endif

namespace coral::protoc_gen {
namespace {

namespace pb = google::protobuf;
using Vars = std::map<std::string, std::string>;

// Identifiers protoc's C++ generator renames by appending '_' (its list, plus
// the keywords C++20 added, which would not compile as names either).
bool is_cpp_keyword(std::string_view name) {
  static const std::set<std::string_view> keywords = {
      "NULL",          "alignas",      "alignof",   "and",      "and_eq",    "asm",
      "auto",          "bitand",       "bitor",     "bool",     "break",     "case",
      "catch",         "char",         "char8_t",   "char16_t", "char32_t",  "class",
      "co_await",      "co_return",    "co_yield",  "compl",    "concept",   "const",
      "consteval",     "constexpr",    "constinit", "const_cast", "continue", "decltype",
      "default",       "delete",       "do",        "double",   "dynamic_cast", "else",
      "enum",          "explicit",     "export",    "extern",   "false",     "float",
      "for",           "friend",       "goto",      "if",       "inline",    "int",
      "long",          "mutable",      "namespace", "new",      "noexcept",  "not",
      "not_eq",        "nullptr",      "operator",  "or",       "or_eq",     "private",
      "protected",     "public",       "register",  "reinterpret_cast", "requires", "return",
      "short",         "signed",       "sizeof",    "static",   "static_assert", "static_cast",
      "struct",        "switch",       "template",  "this",     "thread_local", "throw",
      "true",          "try",          "typedef",   "typeid",   "typename",  "union",
      "unsigned",      "using",        "virtual",   "void",     "volatile",  "wchar_t",
      "while",         "xor",          "xor_eq",
  };
  return keywords.contains(name);
}

std::string resolve_keyword(std::string name) {
  if (is_cpp_keyword(name)) {
    name += '_';
  }
  return name;
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  while (true) {
    const std::size_t end = text.find(separator);
    parts.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) {
      return parts;
    }
    text.remove_prefix(end + 1);
  }
}

// "x/y/z.proto" -> "x/y/z"
std::string strip_proto(const std::string& file_name) {
  for (std::string_view suffix : {".protodevel", ".proto"}) {
    if (file_name.ends_with(suffix)) {
      return file_name.substr(0, file_name.size() - suffix.size());
    }
  }
  return file_name;
}

// The namespace protoc's C++ generator puts a file's classes in:
// "a.b.v1" -> "a::b::v1"; empty without a package.
std::string cpp_namespace(const pb::FileDescriptor* file) {
  std::string result;
  if (file->package().empty()) {
    return result;
  }
  for (const std::string& part : split(file->package(), '.')) {
    if (!result.empty()) {
      result += "::";
    }
    result += resolve_keyword(part);
  }
  return result;
}

#ifndef CORAL_PROTOC_GEN_HAVE_CPP_NAMES
// Nested messages are flattened: Outer.Inner -> Outer_Inner.
std::string class_name(const pb::Descriptor* message) {
  std::string name;
  if (message->containing_type() != nullptr) {
    name = class_name(message->containing_type()) + "_";
  }
  return resolve_keyword(name + message->name());
}
#endif

// Fully qualified C++ class of a message: "::a::b::v1::Outer_Inner".
std::string qualified_class_name(const pb::Descriptor* message) {
#ifdef CORAL_PROTOC_GEN_HAVE_CPP_NAMES
  return pb::compiler::cpp::QualifiedClassName(message);
#else
  const std::string ns = cpp_namespace(message->file());
  return "::" + (ns.empty() ? std::string() : ns + "::") + class_name(message);
#endif
}

template <class Descriptor>
std::string leading_comments(const Descriptor* descriptor) {
  pb::SourceLocation location;
  if (!descriptor->GetSourceLocation(&location)) {
    return {};
  }
  return location.leading_comments;
}

// A proto comment as `//` lines (none for an empty comment).
std::vector<std::string> comment_lines(const std::string& comment) {
  std::vector<std::string> lines;
  for (std::string line : split(comment, '\n')) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.pop_back();
    }
    // A backslash (or the ??/ trigraph) at the end of a `//` line would
    // splice the next line into the comment: -Wcomment.
    if (line.ends_with('\\') || line.ends_with("?\?/")) {
      line += '.';
    }
    if (line.empty()) {
      lines.emplace_back("//");
    } else if (line.front() == ' ') {
      lines.push_back("//" + line);
    } else {
      lines.push_back("// " + line);
    }
  }
  while (!lines.empty() && lines.front() == "//") {
    lines.erase(lines.begin());
  }
  while (!lines.empty() && lines.back() == "//") {
    lines.pop_back();
  }
  return lines;
}

void print_lines(pb::io::Printer& printer, const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    printer.Print("$line$\n", "line", line);
  }
}

struct MethodPlan {
  const pb::MethodDescriptor* descriptor = nullptr;
  std::string cpp_name;       // member function of the handler and the client
  std::string request;        // fully qualified C++ class
  std::string response;
  bool server_streaming = false;
  bool idempotent = false;    // idempotency_level = NO_SIDE_EFFECTS
  std::string path;           // "/a.b.v1.Service/Method"
  std::string path_constant;  // kServiceMethodPath
  std::vector<std::string> comment;

  Vars vars(const Vars& service_vars) const {
    Vars result = service_vars;
    result["method"] = cpp_name;
    result["method_name"] = descriptor->name();
    result["request"] = request;
    result["response"] = response;
    result["path"] = path;
    result["path_constant"] = path_constant;
    result["idempotent"] = idempotent ? "true" : "false";
    return result;
  }
};

struct ServicePlan {
  const pb::ServiceDescriptor* descriptor = nullptr;
  std::string handler;        // ServiceHandler
  std::string client;         // ServiceClient
  std::string name_constant;  // kServiceName
  std::vector<MethodPlan> methods;
  std::vector<std::string> comment;

  Vars vars() const {
    return {
        {"service", descriptor->name()},
        {"service_full_name", descriptor->full_name()},
        {"handler", handler},
        {"client", client},
        {"name_constant", name_constant},
    };
  }
};

struct FilePlan {
  std::string stem;                      // "x/y/z"
  std::string cpp_namespace;             // "a::b::v1"
  std::set<std::string> message_headers;  // .pb.h of every request/response type
  std::vector<ServicePlan> services;
  bool has_unary = false;
  bool has_server_streaming = false;
};

// Works out every generated name, failing on what coral cannot generate.
bool plan_file(const pb::FileDescriptor* file, FilePlan& plan, std::string& error) {
  plan.stem = strip_proto(file->name());
  plan.cpp_namespace = cpp_namespace(file);
  plan.message_headers.insert(plan.stem + ".pb.h");

  const std::string package_prefix = file->package().empty() ? std::string() : file->package() + ".";
  // Names generated at namespace scope must be unique and must not be
  // taken by the package's own messages and enums.
  std::set<std::string> namespace_names;
  auto claim = [&](const std::string& name, const std::string& what) {
    const pb::DescriptorPool* pool = file->pool();
    if (!namespace_names.insert(name).second || pool->FindMessageTypeByName(package_prefix + name) != nullptr ||
        pool->FindEnumTypeByName(package_prefix + name) != nullptr) {
      error = "protoc-gen-coral would generate `" + name + "` for " + what +
              ", but the name is already taken in package \"" + file->package() + "\"";
      return false;
    }
    return true;
  };

  for (int s = 0; s < file->service_count(); ++s) {
    const pb::ServiceDescriptor* service = file->service(s);
    ServicePlan& service_plan = plan.services.emplace_back();
    service_plan.descriptor = service;
    service_plan.handler = service->name() + "Handler";
    service_plan.client = service->name() + "Client";
    service_plan.name_constant = "k" + service->name() + "Name";
    service_plan.comment = comment_lines(leading_comments(service));
    const std::string what = "service " + service->full_name();
    if (!claim(service_plan.handler, what) || !claim(service_plan.client, what) ||
        !claim(service_plan.name_constant, what)) {
      return false;
    }

    for (int m = 0; m < service->method_count(); ++m) {
      const pb::MethodDescriptor* method = service->method(m);
      if (method->client_streaming()) {
        error = "method " + method->full_name() + " is " +
                (method->server_streaming() ? "bidirectional" : "client") +
                "-streaming; coral supports only unary and server-streaming methods";
        return false;
      }
      MethodPlan& method_plan = service_plan.methods.emplace_back();
      method_plan.descriptor = method;
      method_plan.cpp_name = resolve_keyword(method->name());
      method_plan.request = qualified_class_name(method->input_type());
      method_plan.response = qualified_class_name(method->output_type());
      method_plan.server_streaming = method->server_streaming();
      method_plan.idempotent = method->options().idempotency_level() == pb::MethodOptions::NO_SIDE_EFFECTS;
      method_plan.path = "/" + service->full_name() + "/" + method->name();
      method_plan.path_constant = "k" + service->name() + method->name() + "Path";
      method_plan.comment = comment_lines(leading_comments(method));
      if (method->options().deprecated()) {
        if (!method_plan.comment.empty()) {
          method_plan.comment.emplace_back("//");
        }
        method_plan.comment.emplace_back("// Deprecated.");
      }
      plan.message_headers.insert(strip_proto(method->input_type()->file()->name()) + ".pb.h");
      plan.message_headers.insert(strip_proto(method->output_type()->file()->name()) + ".pb.h");
      (method_plan.server_streaming ? plan.has_server_streaming : plan.has_unary) = true;

      if (!claim(method_plan.path_constant, "method " + method->full_name())) {
        return false;
      }
      // Members the generated classes already have.
      const std::string& name = method_plan.cpp_name;
      if (name == "methods" || name == "channel_" || name == service_plan.handler || name == service_plan.client) {
        error = "method " + method->full_name() + " would clash with `" + name +
                "`, a member of the generated " + service_plan.handler + " or " + service_plan.client;
        return false;
      }
    }
  }
  return true;
}

void print_prologue(pb::io::Printer& printer, const pb::FileDescriptor* file) {
  printer.Print(
      "// Generated by protoc-gen-coral. DO NOT EDIT.\n"
      "// source: $file$\n"
      "\n",
      "file", file->name());
}

void open_namespace(pb::io::Printer& printer, const FilePlan& plan) {
  if (!plan.cpp_namespace.empty()) {
    printer.Print("namespace $ns$ {\n\n", "ns", plan.cpp_namespace);
  }
}

void close_namespace(pb::io::Printer& printer, const FilePlan& plan) {
  if (!plan.cpp_namespace.empty()) {
    printer.Print("}  // namespace $ns$\n", "ns", plan.cpp_namespace);
  }
}

void print_header(pb::io::Printer& printer, const pb::FileDescriptor* file, const FilePlan& plan) {
  print_prologue(printer, file);
  printer.Print("#pragma once\n\n");
  if (plan.services.empty()) {
    printer.Print("// $file$ declares no services.\n\n#include \"$pb_h$\"\n", "file", file->name(), "pb_h",
                  plan.stem + ".pb.h");
    return;
  }
  printer.Print(
      "#include <functional>\n"
      "#include <string_view>\n"
      "#include <vector>\n"
      "\n");
  for (const std::string& header : plan.message_headers) {
    printer.Print("#include \"$header$\"\n", "header", header);
  }
  printer.Print(
      "#include \"rpc/channel.h\"\n"
      "#include \"rpc/service.h\"\n"
      "\n");
  open_namespace(printer, plan);

  for (const ServicePlan& service : plan.services) {
    const Vars service_vars = service.vars();
    printer.Print(service_vars,
                  "// Full name of $service_full_name$, and the paths of its methods.\n"
                  "inline constexpr std::string_view $name_constant$ = \"$service_full_name$\";\n");
    for (const MethodPlan& method : service.methods) {
      printer.Print(method.vars(service_vars), "inline constexpr std::string_view $path_constant$ = \"$path$\";\n");
    }
    printer.Print("\n");

    // Server side.
    print_lines(printer, service.comment);
    if (!service.comment.empty()) {
      printer.Print("//\n");
    }
    printer.Print(service_vars,
                  "// Server side of $service$: derive from $handler$, override the methods\n"
                  "// served (the others fail with `unimplemented`) and add it to a\n"
                  "// coral::rpc::Server, which must not outlive it.\n"
                  "class $handler$ : public ::coral::rpc::Service {\n"
                  " public:\n");
    printer.Indent();
    for (const MethodPlan& method : service.methods) {
      print_lines(printer, method.comment);
      if (method.server_streaming) {
        printer.Print(method.vars(service_vars),
                      "virtual ::coral::rpc::Awaitable<::coral::rpc::Status> $method$(\n"
                      "    ::coral::rpc::Context& context, const $request$& request,\n"
                      "    ::coral::rpc::ServerWriter<$response$>& writer);\n");
      } else {
        printer.Print(method.vars(service_vars),
                      "virtual ::coral::rpc::Awaitable<::coral::rpc::Result<$response$>> $method$(\n"
                      "    ::coral::rpc::Context& context, const $request$& request);\n");
      }
      printer.Print("\n");
    }
    printer.Print(
        "// One entry per method, bound to this handler.\n"
        "std::vector<::coral::rpc::Method> methods() override;\n");
    printer.Outdent();
    printer.Print("};\n\n");

    // Client side.
    print_lines(printer, service.comment);
    if (!service.comment.empty()) {
      printer.Print("//\n");
    }
    printer.Print(service_vars,
                  "// Client side of $service$. Each call must be co_awaited at once: it\n"
                  "// keeps references to its arguments. The channel must outlive the client.\n"
                  "class $client$ {\n"
                  " public:\n"
                  "  explicit $client$(::coral::rpc::Channel& channel);\n"
                  "\n");
    printer.Indent();
    for (const MethodPlan& method : service.methods) {
      print_lines(printer, method.comment);
      if (method.server_streaming) {
        if (!method.comment.empty()) {
          printer.Print("//\n");
        }
        printer.Print(method.vars(service_vars),
                      "// Calls `on_message` with each message of the stream (valid during the\n"
                      "// call only), then completes with how the stream ended.\n"
                      "::coral::rpc::Awaitable<::coral::rpc::Status> $method$(\n"
                      "    const $request$& request,\n"
                      "    std::function<void(const $response$&)> on_message,\n"
                      "    const ::coral::rpc::CallOptions& options = {});\n");
      } else {
        printer.Print(method.vars(service_vars),
                      "::coral::rpc::Awaitable<::coral::rpc::Result<$response$>> $method$(\n"
                      "    const $request$& request, const ::coral::rpc::CallOptions& options = {});\n");
      }
      printer.Print("\n");
    }
    printer.Outdent();
    printer.Print(
        " private:\n"
        "  ::coral::rpc::Channel& channel_;\n"
        "};\n"
        "\n");
  }
  close_namespace(printer, plan);
}

void print_invokers(pb::io::Printer& printer, const FilePlan& plan) {
  printer.Print(
      "namespace {\n"
      "\n"
      "// Adapt a handler's typed coroutines to ::coral::rpc::Method's type-erased\n"
      "// invokers. Coroutines of their own rather than coroutine lambdas, whose\n"
      "// frames would refer to the lambda object.\n");
  if (plan.has_unary) {
    printer.Print(
        "template <class Handler, class Request, class Response>\n"
        "::coral::rpc::Awaitable<::coral::rpc::Status> invoke_unary(\n"
        "    Handler* handler,\n"
        "    ::coral::rpc::Awaitable<::coral::rpc::Result<Response>> (Handler::*method)(\n"
        "        ::coral::rpc::Context&, const Request&),\n"
        "    ::coral::rpc::Context& context, const ::google::protobuf::Message& request,\n"
        "    ::google::protobuf::Message& response) {\n"
        "  ::coral::rpc::Result<Response> result =\n"
        "      co_await (handler->*method)(context, static_cast<const Request&>(request));\n"
        "  if (!result) {\n"
        "    co_return std::unexpected(std::move(result.error()));\n"
        "  }\n"
        "  static_cast<Response&>(response) = std::move(*result);\n"
        "  co_return ::coral::rpc::Status{};\n"
        "}\n"
        "\n");
  }
  if (plan.has_server_streaming) {
    printer.Print(
        "template <class Handler, class Request, class Response>\n"
        "::coral::rpc::Awaitable<::coral::rpc::Status> invoke_server_stream(\n"
        "    Handler* handler,\n"
        "    ::coral::rpc::Awaitable<::coral::rpc::Status> (Handler::*method)(\n"
        "        ::coral::rpc::Context&, const Request&, ::coral::rpc::ServerWriter<Response>&),\n"
        "    ::coral::rpc::Context& context, const ::google::protobuf::Message& request,\n"
        "    ::coral::rpc::MessageSink& sink) {\n"
        "  ::coral::rpc::ServerWriter<Response> writer(sink);\n"
        "  co_return co_await (handler->*method)(context, static_cast<const Request&>(request), writer);\n"
        "}\n"
        "\n");
  }
  printer.Print("}  // namespace\n\n");
}

void print_source(pb::io::Printer& printer, const pb::FileDescriptor* file, const FilePlan& plan) {
  print_prologue(printer, file);
  printer.Print("#include \"$header$\"\n", "header", plan.stem + ".coral.h");
  if (plan.services.empty()) {
    printer.Print("\n// $file$ declares no services: nothing to define.\n", "file", file->name());
    return;
  }
  printer.Print(
      "\n"
      "#include <coroutine>\n"
      "#include <expected>\n"
      "#include <utility>\n"
      "\n"
      "#include <google/protobuf/message.h>\n"
      "\n");
  open_namespace(printer, plan);
  print_invokers(printer, plan);

  for (const ServicePlan& service : plan.services) {
    const Vars service_vars = service.vars();
    printer.Print(service_vars, "// $handler$\n\n");
    for (const MethodPlan& method : service.methods) {
      if (method.server_streaming) {
        printer.Print(method.vars(service_vars),
                      "::coral::rpc::Awaitable<::coral::rpc::Status> $handler$::$method$(\n"
                      "    ::coral::rpc::Context& /*context*/, const $request$& /*request*/,\n"
                      "    ::coral::rpc::ServerWriter<$response$>& /*writer*/) {\n"
                      "  co_return std::unexpected(::coral::rpc::unimplemented_method($name_constant$, "
                      "\"$method_name$\"));\n"
                      "}\n"
                      "\n");
      } else {
        printer.Print(method.vars(service_vars),
                      "::coral::rpc::Awaitable<::coral::rpc::Result<$response$>> $handler$::$method$(\n"
                      "    ::coral::rpc::Context& /*context*/, const $request$& /*request*/) {\n"
                      "  co_return std::unexpected(::coral::rpc::unimplemented_method($name_constant$, "
                      "\"$method_name$\"));\n"
                      "}\n"
                      "\n");
      }
    }

    printer.Print(service_vars, "std::vector<::coral::rpc::Method> $handler$::methods() {\n");
    printer.Indent();
    printer.Print("std::vector<::coral::rpc::Method> entries;\n");
    printer.Print("entries.reserve($n$);\n", "n", std::to_string(service.methods.size()));
    for (const MethodPlan& method : service.methods) {
      const Vars vars = method.vars(service_vars);
      printer.Print(vars,
                    "{\n"
                    "  ::coral::rpc::Method& entry = entries.emplace_back();\n"
                    "  entry.service = $name_constant$;\n"
                    "  entry.name = \"$method_name$\";\n"
                    "  entry.idempotent = $idempotent$;\n"
                    "  entry.request_prototype = &$request$::default_instance();\n"
                    "  entry.response_prototype = &$response$::default_instance();\n");
      if (method.server_streaming) {
        printer.Print(vars,
                      "  entry.kind = ::coral::rpc::MethodKind::server_streaming;\n"
                      "  entry.server_streaming = [this](::coral::rpc::Context& context,\n"
                      "                                  const ::google::protobuf::Message& request,\n"
                      "                                  ::coral::rpc::MessageSink& sink) {\n"
                      "    return invoke_server_stream(this, &$handler$::$method$, context, request, sink);\n"
                      "  };\n"
                      "}\n");
      } else {
        printer.Print(vars,
                      "  entry.kind = ::coral::rpc::MethodKind::unary;\n"
                      "  entry.unary = [this](::coral::rpc::Context& context,\n"
                      "                       const ::google::protobuf::Message& request,\n"
                      "                       ::google::protobuf::Message& response) {\n"
                      "    return invoke_unary(this, &$handler$::$method$, context, request, response);\n"
                      "  };\n"
                      "}\n");
      }
    }
    printer.Print("return entries;\n");
    printer.Outdent();
    printer.Print("}\n\n");

    printer.Print(service_vars,
                  "// $client$\n"
                  "\n"
                  "$client$::$client$(::coral::rpc::Channel& channel) : channel_(channel) {}\n"
                  "\n");
    for (const MethodPlan& method : service.methods) {
      if (method.server_streaming) {
        printer.Print(method.vars(service_vars),
                      "::coral::rpc::Awaitable<::coral::rpc::Status> $client$::$method$(\n"
                      "    const $request$& request,\n"
                      "    std::function<void(const $response$&)> on_message,\n"
                      "    const ::coral::rpc::CallOptions& options) {\n"
                      "  $response$ scratch;\n"
                      "  const std::function<void(const ::google::protobuf::Message&)> forward =\n"
                      "      [&on_message](const ::google::protobuf::Message& message) {\n"
                      "        on_message(static_cast<const $response$&>(message));\n"
                      "      };\n"
                      "  co_return co_await channel_.server_stream($path_constant$, request, scratch, forward, "
                      "options);\n"
                      "}\n"
                      "\n");
      } else {
        printer.Print(method.vars(service_vars),
                      "::coral::rpc::Awaitable<::coral::rpc::Result<$response$>> $client$::$method$(\n"
                      "    const $request$& request, const ::coral::rpc::CallOptions& options) {\n"
                      "  $response$ response;\n"
                      "  ::coral::rpc::Status status = co_await channel_.unary($path_constant$, request, response, "
                      "options);\n"
                      "  if (!status) {\n"
                      "    co_return std::unexpected(std::move(status.error()));\n"
                      "  }\n"
                      "  co_return std::move(response);\n"
                      "}\n"
                      "\n");
      }
    }
  }
  close_namespace(printer, plan);
}

}  // namespace

bool Generator::Generate(const pb::FileDescriptor* file, const std::string& parameter,
                         pb::compiler::GeneratorContext* context, std::string* error) const {
  if (!parameter.empty()) {
    *error = "protoc-gen-coral takes no options, got \"" + parameter + "\"";
    return false;
  }
  FilePlan plan;
  if (!plan_file(file, plan, *error)) {
    return false;
  }
  {
    std::unique_ptr<pb::io::ZeroCopyOutputStream> output(context->Open(plan.stem + ".coral.h"));
    pb::io::Printer printer(output.get(), '$');
    print_header(printer, file, plan);
    if (printer.failed()) {
      *error = "protoc-gen-coral: failed to write " + plan.stem + ".coral.h";
      return false;
    }
  }
  {
    std::unique_ptr<pb::io::ZeroCopyOutputStream> output(context->Open(plan.stem + ".coral.cc"));
    pb::io::Printer printer(output.get(), '$');
    print_source(printer, file, plan);
    if (printer.failed()) {
      *error = "protoc-gen-coral: failed to write " + plan.stem + ".coral.cc";
      return false;
    }
  }
  return true;
}

}  // namespace coral::protoc_gen

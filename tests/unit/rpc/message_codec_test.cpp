#include "rpc/message_codec.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/wrappers.pb.h>
#include <gtest/gtest.h>

#include <memory>

namespace coral::rpc {
namespace {

namespace pb = google::protobuf;

// test.v1.Person, built at runtime so the tests need no generated code:
//   proto3: string display_name = 1; int64 big_number = 2; repeated string tags = 3;
//   proto2 test.v1.Strict: required int32 id = 1;
class Dynamic : public ::testing::Test {
 protected:
  void SetUp() override {
    pb::FileDescriptorProto file;
    file.set_name("test/v1/person.proto");
    file.set_package("test.v1");
    file.set_syntax("proto3");
    auto* person = file.add_message_type();
    person->set_name("Person");
    const auto add_field = [](pb::DescriptorProto* message, const char* name, int number,
                              pb::FieldDescriptorProto::Type type, pb::FieldDescriptorProto::Label label) {
      auto* field = message->add_field();
      field->set_name(name);
      field->set_number(number);
      field->set_type(type);
      field->set_label(label);
    };
    add_field(person, "display_name", 1, pb::FieldDescriptorProto::TYPE_STRING, pb::FieldDescriptorProto::LABEL_OPTIONAL);
    add_field(person, "big_number", 2, pb::FieldDescriptorProto::TYPE_INT64, pb::FieldDescriptorProto::LABEL_OPTIONAL);
    add_field(person, "tags", 3, pb::FieldDescriptorProto::TYPE_STRING, pb::FieldDescriptorProto::LABEL_REPEATED);
    ASSERT_TRUE(pool_.BuildFile(file));

    pb::FileDescriptorProto strict_file;
    strict_file.set_name("test/v1/strict.proto");
    strict_file.set_package("test.v1");
    strict_file.set_syntax("proto2");
    auto* strict = strict_file.add_message_type();
    strict->set_name("Strict");
    add_field(strict, "id", 1, pb::FieldDescriptorProto::TYPE_INT32, pb::FieldDescriptorProto::LABEL_REQUIRED);
    ASSERT_TRUE(pool_.BuildFile(strict_file));
  }

  std::unique_ptr<pb::Message> make(const char* name) {
    const pb::Descriptor* descriptor = pool_.FindMessageTypeByName(name);
    EXPECT_NE(descriptor, nullptr);
    return std::unique_ptr<pb::Message>(factory_.GetPrototype(descriptor)->New());
  }

  std::unique_ptr<pb::Message> person(std::string_view display_name, std::int64_t big) {
    auto message = make("test.v1.Person");
    const auto* d = message->GetDescriptor();
    message->GetReflection()->SetString(message.get(), d->FindFieldByName("display_name"), std::string(display_name));
    message->GetReflection()->SetInt64(message.get(), d->FindFieldByName("big_number"), big);
    return message;
  }

  pb::DescriptorPool pool_;
  pb::DynamicMessageFactory factory_;
};

TEST_F(Dynamic, JsonAcceptsBothNameStyles) {
  for (const char* json : {R"({"displayName":"Ada","bigNumber":"42"})", R"({"display_name":"Ada","big_number":42})"}) {
    SCOPED_TRACE(json);
    auto message = make("test.v1.Person");
    ASSERT_TRUE(decode_message(Encoding::json, json, *message));
    auto expected = person("Ada", 42);
    EXPECT_EQ(message->SerializeAsString(), expected->SerializeAsString());
  }
}

TEST_F(Dynamic, JsonIgnoresUnknownFields) {
  auto message = make("test.v1.Person");
  ASSERT_TRUE(decode_message(Encoding::json, R"({"displayName":"Ada","futureField":{"x":[1,2]}})", *message));
  EXPECT_EQ(message->SerializeAsString(), person("Ada", 0)->SerializeAsString());
}

TEST_F(Dynamic, JsonEncodingUsesCamelCaseOmitsDefaultsAndQuotesInt64) {
  auto json = encode_message(Encoding::json, *person("Ada", 9007199254740993));
  ASSERT_TRUE(json) << json.error().message;
  EXPECT_EQ(*json, R"({"displayName":"Ada","bigNumber":"9007199254740993"})");
  auto empty = encode_message(Encoding::json, *make("test.v1.Person"));
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "{}");
}

TEST_F(Dynamic, InvalidJsonNamesTheMessage) {
  for (const char* json : {"{", "not json", R"({"displayName": 5})", R"({"bigNumber":"x"})", "[]"}) {
    SCOPED_TRACE(json);
    auto message = make("test.v1.Person");
    auto status = decode_message(Encoding::json, json, *message);
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, Code::invalid_argument);
    EXPECT_TRUE(status.error().message.starts_with("cannot parse test.v1.Person: ")) << status.error().message;
    EXPECT_GT(status.error().message.size(), std::string_view("cannot parse test.v1.Person: ").size());
  }
}

TEST_F(Dynamic, ProtoRoundTrip) {
  auto original = person("Grace", -7);
  auto bytes = encode_message(Encoding::proto, *original);
  ASSERT_TRUE(bytes);
  auto decoded = make("test.v1.Person");
  ASSERT_TRUE(decode_message(Encoding::proto, *bytes, *decoded));
  EXPECT_EQ(decoded->SerializeAsString(), *bytes);
}

TEST_F(Dynamic, InvalidProtoNamesTheMessage) {
  auto message = make("test.v1.Person");
  // Field 1, length-delimited, length 10, but only 2 bytes follow.
  auto status = decode_message(Encoding::proto, std::string_view("\x0a\x0a" "ab", 4), *message);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, Code::invalid_argument);
  EXPECT_TRUE(status.error().message.starts_with("cannot parse test.v1.Person: ")) << status.error().message;
}

TEST_F(Dynamic, MissingRequiredFields) {
  auto message = make("test.v1.Strict");
  auto status = decode_message(Encoding::proto, "", *message);
  ASSERT_TRUE(status) << "empty body is a valid empty message";
  status = decode_message(Encoding::proto, std::string_view("\x18\x01", 2), *message);  // field 3 only
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, Code::invalid_argument);
  EXPECT_NE(status.error().message.find("id"), std::string::npos) << status.error().message;

  auto encoded = encode_message(Encoding::proto, *make("test.v1.Strict"));
  ASSERT_FALSE(encoded);
  EXPECT_EQ(encoded.error().code, Code::internal);
  EXPECT_NE(encoded.error().message.find("test.v1.Strict"), std::string::npos);
}

TEST_F(Dynamic, DecodeReplacesPreviousContents) {
  auto message = person("Old", 1);
  ASSERT_TRUE(decode_message(Encoding::json, R"({"tags":["a"]})", *message));
  auto json = encode_message(Encoding::json, *message);
  ASSERT_TRUE(json);
  EXPECT_EQ(*json, R"({"tags":["a"]})");
}

TEST(MessageCodec, EmptyBodyIsAnEmptyMessageInBothEncodings) {
  for (Encoding encoding : {Encoding::proto, Encoding::json}) {
    pb::StringValue value;
    value.set_value("stale");
    ASSERT_TRUE(decode_message(encoding, "", value));
    EXPECT_EQ(value.value(), "");
  }
}

TEST(MessageCodec, WellKnownTypesUseTheirJsonForms) {
  pb::Timestamp timestamp;
  timestamp.set_seconds(1700000000);
  auto json = encode_message(Encoding::json, timestamp);
  ASSERT_TRUE(json);
  EXPECT_EQ(*json, R"("2023-11-14T22:13:20Z")");

  pb::Timestamp parsed;
  ASSERT_TRUE(decode_message(Encoding::json, *json, parsed));
  EXPECT_EQ(parsed.seconds(), 1700000000);

  pb::Struct object;
  ASSERT_TRUE(decode_message(Encoding::json, R"({"a":[1,"two",null,{"b":true}]})", object));
  EXPECT_EQ(object.fields().at("a").list_value().values_size(), 4);
  EXPECT_EQ(message_name(object), "google.protobuf.Struct");

  pb::Int64Value wrapped;
  ASSERT_TRUE(decode_message(Encoding::json, R"("123")", wrapped));
  EXPECT_EQ(wrapped.value(), 123);
}

TEST(MessageCodec, BinaryEncodingKnownBytes) {
  pb::StringValue value;
  value.set_value("hi");
  auto bytes = encode_message(Encoding::proto, value);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, std::string_view("\x0a\x02hi", 4));
}

}  // namespace
}  // namespace coral::rpc

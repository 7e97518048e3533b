// Member files (config/member_file.h) and their place in the config
// directory (ConfigDir::save_member, load_member, load_membership).

#include "config/member_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config_dir.h"
#include "file_helpers.h"

namespace coral::config {
namespace {

namespace fs = std::filesystem;
using testfs::mode_of;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

ColonyConfig colony(const std::string& id = "shop-prod-a1b2c3") {
  NewColonyOptions options;
  options.colony_id = id;
  options.discovery_endpoint = "http://discovery.example:8080";
  options.mesh_ipv6_net = base::Cidr::parse("fd5e:1c3a:9b07::/64").value();
  return new_colony("shop", "prod", options).value();
}

class MemberFileTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "coral_member_file_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    temp_ = pattern;
    colony_ = colony();
    member_ = member_view(colony_, {"203.0.113.7:41820", "[2001:db8::7]:41820"});
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(temp_, ignored);
  }

  fs::path write(const std::string& text) {
    const fs::path path = temp_ / "member.yaml";
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }
  // The good file's text with `from` replaced by `to` (which must occur).
  std::string edited(const std::string& from, const std::string& to) {
    std::string text = to_yaml(member_);
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
  }
  // Loading `text` fails with an error that names the file and holds `want`.
  void expect_error(const std::string& text, const std::string& want) {
    const fs::path path = write(text);
    auto loaded = load_member_file(path);
    ASSERT_FALSE(loaded) << "loaded: " << text;
    EXPECT_TRUE(loaded.error().starts_with(path.string() + ": ")) << loaded.error();
    EXPECT_TRUE(contains(loaded.error(), want)) << loaded.error() << "\n  want: " << want;
    EXPECT_FALSE(contains(loaded.error(), member_.colony_secret)) << loaded.error();
  }

  fs::path temp_;
  ColonyConfig colony_;
  MemberConfig member_;
};

TEST_F(MemberFileTest, MemberViewHasTheColonysPublicFactsAndSecretNeverItsPrivateKey) {
  EXPECT_EQ(member_.colony_id, colony_.colony_id);
  EXPECT_EQ(member_.app_name, "shop");
  EXPECT_EQ(member_.environment, "prod");
  EXPECT_EQ(member_.discovery_endpoint, "http://discovery.example:8080");
  EXPECT_EQ(member_.mesh_id, colony_.discovery.mesh_id);
  EXPECT_EQ(member_.colony_public_key, colony_.wireguard.public_key);
  EXPECT_EQ(member_.public_endpoints, (std::vector<std::string>{"203.0.113.7:41820", "[2001:db8::7]:41820"}));
  EXPECT_EQ(member_.mesh_network_ipv4, colony_.wireguard.mesh_network_ipv4);
  EXPECT_EQ(member_.mesh_network_ipv6, colony_.wireguard.mesh_network_ipv6);
  EXPECT_EQ(member_.mesh_ipv4, colony_.wireguard.mesh_ipv4);
  EXPECT_EQ(member_.mesh_ipv6, colony_.wireguard.mesh_ipv6);
  EXPECT_EQ(member_.connect_port, colony_.services.connect_port);
  EXPECT_EQ(member_.colony_secret, colony_.colony_secret);
  const std::string text = to_yaml(member_);
  EXPECT_FALSE(contains(text, colony_.wireguard.private_key.to_base64())) << text;
  EXPECT_FALSE(contains(text, "private_key")) << text;
}

TEST_F(MemberFileTest, RoundTripsWithMode0600) {
  const fs::path path = temp_ / "m.yaml";
  ASSERT_TRUE(save(path, member_));
  EXPECT_EQ(mode_of(path), 0600u);
  auto loaded = load_member_file(path);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(*loaded, member_);

  member_.public_endpoints.clear();  // none: an empty list
  ASSERT_TRUE(save(path, member_));
  EXPECT_EQ(load_member_file(path).value(), member_);
  // Left out entirely: none too.
  const std::string text = edited("    public_endpoints: []\n", "");
  EXPECT_EQ(load_member_file(write(text)).value(), member_);
}

TEST_F(MemberFileTest, EachMissingFieldIsNamed) {
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"kind: member\n", "missing field kind"},
      {"colony_id: " + member_.colony_id + "\n", "missing field colony_id"},
      {"app_name: shop\n", "missing field app_name"},
      {"environment: prod\n", "missing field environment"},
      {"    public_key: " + member_.colony_public_key.to_base64() + "\n", "missing field wireguard.public_key"},
      {"    mesh_ipv4: 10.42.0.1\n", "missing field wireguard.mesh_ipv4"},
      {"    mesh_ipv6: fd5e:1c3a:9b07::1\n", "missing field wireguard.mesh_ipv6"},
      {"    mesh_network_ipv4: 10.42.0.0/16\n", "missing field wireguard.mesh_network_ipv4"},
      {"    mesh_network_ipv6: fd5e:1c3a:9b07::/64\n", "missing field wireguard.mesh_network_ipv6"},
      {"services:\n    connect_port: 9000\n", "missing field services"},
      {"    connect_port: 9000\n", "missing field services"},  // an empty section is a missing one
      {"    endpoint: http://discovery.example:8080\n", "missing field discovery.endpoint"},
      {"    mesh_id: " + member_.mesh_id + "\n", "missing field discovery.mesh_id"},
      {"colony_secret: " + member_.colony_secret + "\n", "missing field colony_secret"},
  };
  for (const auto& [line, want] : fields) {
    SCOPED_TRACE(line);
    expect_error(edited(line, ""), want);
  }
}

TEST_F(MemberFileTest, CorruptFieldsAndWrongTypesAreNamed) {
  const std::string key = member_.colony_public_key.to_base64();
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"kind: member", "kind: colony", "kind: must be \"member\""},
      {"colony_id: " + member_.colony_id, "colony_id: Shop Prod", "colony_id: must be 1-63 characters"},
      {"app_name: shop", "app_name: [a, b]", "app_name: expected a single value, got a list"},
      {"    public_key: " + key, "    public_key: not-a-key", "wireguard.public_key: "},
      {"    public_key: " + key, "    public_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
       "wireguard.public_key: must not be all zeros"},
      {"    mesh_ipv4: 10.42.0.1", "    mesh_ipv4: 10.42.0", "wireguard.mesh_ipv4: \"10.42.0\" is not an IPv4 address"},
      {"    mesh_ipv4: 10.42.0.1", "    mesh_ipv4: 10.43.0.1", "wireguard.mesh_ipv4: 10.43.0.1 is not inside"},
      {"    mesh_ipv6: fd5e:1c3a:9b07::1", "    mesh_ipv6: 10.42.0.1", "wireguard.mesh_ipv6: "},
      {"    mesh_network_ipv4: 10.42.0.0/16", "    mesh_network_ipv4: 10.42.0.0/33", "wireguard.mesh_network_ipv4: "},
      {"    mesh_network_ipv6: fd5e:1c3a:9b07::/64", "    mesh_network_ipv6: 10.0.0.0/8",
       "wireguard.mesh_network_ipv6: "},
      {"        - 203.0.113.7:41820", "        - 203.0.113.7", "wireguard.public_endpoints: \"203.0.113.7\""},
      {"    public_endpoints:\n        - 203.0.113.7:41820\n        - \"[2001:db8::7]:41820\"",
       "    public_endpoints: 203.0.113.7:41820", "wireguard.public_endpoints: expected a list"},
      {"    connect_port: 9000", "    connect_port: 0", "services.connect_port: must be a port number 1-65535"},
      {"    connect_port: 9000", "    connect_port: nine", "services.connect_port: must be a port number"},
      {"    connect_port: 9000", "    connect_port: {a: 1}",
       "services.connect_port: expected a single value, got a mapping"},
      {"    endpoint: http://discovery.example:8080", "    endpoint: https://x", "discovery.endpoint: "},
      {"colony_secret: " + member_.colony_secret, "colony_secret: short", "colony_secret: must be 32-256 characters"},
      {"services:", "services: 9000\nx:", "unknown field x"},
      {"kind: member", "kind: member\nextra: 1", "unknown field extra"},
      {"    connect_port: 9000", "    connect_port: 9000\n    dashboard_port: 3000",
       "unknown field services.dashboard_port"},
  };
  for (const auto& [from, to, want] : cases) {
    SCOPED_TRACE(to);
    expect_error(edited(from, to), want);
  }
  expect_error("kind: member\n  colony_id: [\n", "invalid YAML");
  expect_error("", "the file is empty (expected a member file)");
  expect_error("- a\n- b\n", "expected a mapping of fields");
}

TEST_F(MemberFileTest, AColonyFileIsRefusedAsSuchWithoutShowingItsKey) {
  const fs::path path = temp_ / "colony.yaml";
  ASSERT_TRUE(save(path, colony_));
  auto loaded = load_member_file(path);
  ASSERT_FALSE(loaded);
  EXPECT_TRUE(contains(loaded.error(), "this is a colony file")) << loaded.error();
  EXPECT_FALSE(contains(loaded.error(), colony_.wireguard.private_key.to_base64())) << loaded.error();
}

TEST_F(MemberFileTest, SaveRefusesAnInvalidMember) {
  member_.colony_secret = "short";
  auto saved = save(temp_ / "m.yaml", member_);
  ASSERT_FALSE(saved);
  EXPECT_TRUE(contains(saved.error(), "colony_secret")) << saved.error();
  EXPECT_FALSE(fs::exists(temp_ / "m.yaml"));
}

class MemberDirTest : public MemberFileTest {
 protected:
  ConfigDir dir() const { return ConfigDir(temp_ / "config"); }
};

TEST_F(MemberDirTest, SaveMemberStoresIt0600AndLoadMemberReadsIt) {
  auto saved = dir().save_member(member_);
  ASSERT_TRUE(saved) << saved.error();
  EXPECT_EQ(*saved, dir().member_file(member_.colony_id));
  EXPECT_EQ(*saved, temp_ / "config" / "members" / (member_.colony_id + ".yaml"));
  EXPECT_EQ(mode_of(*saved), 0600u);
  EXPECT_EQ(mode_of(dir().members_dir()), 0700u);
  EXPECT_EQ(dir().load_member(member_.colony_id).value(), member_);
  EXPECT_EQ(dir().list_members().value(), std::vector<std::string>{member_.colony_id});
  EXPECT_TRUE(dir().list_colonies().value().empty());
  // It can be the current colony.
  ASSERT_TRUE(dir().use(member_.colony_id));
  EXPECT_EQ(dir().require_current().value(), member_.colony_id);

  auto missing = dir().load_member("nope");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(contains(missing.error(), "no member entry for nope")) << missing.error();
}

TEST_F(MemberDirTest, SaveMemberRefusesAnotherColonyOfTheSameIdWithoutForce) {
  ASSERT_TRUE(dir().save_member(member_));
  // The same colony again (a new secret after a rotation): replaced.
  MemberConfig rotated = member_;
  rotated.colony_secret = crypto::generate_colony_secret();
  ASSERT_TRUE(dir().save_member(rotated));
  EXPECT_EQ(dir().load_member(member_.colony_id)->colony_secret, rotated.colony_secret);

  // Another colony of the same id: refused, the file unchanged.
  MemberConfig other = member_view(colony(member_.colony_id), {});
  auto refused = dir().save_member(other);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(contains(refused.error(), "already holds another colony")) << refused.error();
  EXPECT_TRUE(contains(refused.error(), "--force")) << refused.error();
  EXPECT_EQ(dir().load_member(member_.colony_id).value(), rotated);
  ASSERT_TRUE(dir().save_member(other, true));
  EXPECT_EQ(dir().load_member(member_.colony_id).value(), other);

  // A file that does not load is not replaced without --force either.
  std::ofstream(dir().member_file(member_.colony_id), std::ios::trunc) << "garbage: [\n";
  auto broken = dir().save_member(member_);
  ASSERT_FALSE(broken);
  EXPECT_TRUE(contains(broken.error(), "does not load")) << broken.error();
}

TEST_F(MemberDirTest, SaveMemberRefusesAnotherKeyThanTheColonyThatLivesHere) {
  ASSERT_TRUE(dir().save_colony(colony_));
  MemberConfig other = member_view(colony(member_.colony_id), {});
  auto refused = dir().save_member(other);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(contains(refused.error(), "lives here")) << refused.error();
  EXPECT_FALSE(fs::exists(dir().member_file(member_.colony_id)));
  ASSERT_TRUE(dir().save_member(member_));  // the same colony: fine
}

TEST_F(MemberDirTest, LoadMembershipPrefersTheMemberFileThenTheColonyFile) {
  EXPECT_EQ(dir().load_membership(member_.colony_id).value(), std::nullopt);
  EXPECT_FALSE(dir().load_membership("Not An Id"));

  colony_.wireguard.public_endpoints = {"198.51.100.1:41820"};
  ASSERT_TRUE(dir().save_colony(colony_));
  auto from_colony = dir().load_membership(colony_.colony_id);
  ASSERT_TRUE(from_colony) << from_colony.error();
  ASSERT_TRUE(from_colony->has_value());
  EXPECT_EQ(**from_colony, member_view(colony_, {"198.51.100.1:41820"}));

  ASSERT_TRUE(dir().save_member(member_));
  auto from_member = dir().load_membership(member_.colony_id);
  ASSERT_TRUE(from_member && from_member->has_value());
  EXPECT_EQ(**from_member, member_);

  // A member file that does not load is an error naming it.
  std::ofstream(dir().member_file(member_.colony_id), std::ios::trunc) << "kind: member\n";
  auto broken = dir().load_membership(member_.colony_id);
  ASSERT_FALSE(broken);
  EXPECT_TRUE(contains(broken.error(), dir().member_file(member_.colony_id).string())) << broken.error();
}

}  // namespace
}  // namespace coral::config

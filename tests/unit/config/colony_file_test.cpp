#include "config/colony_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/address.h"
#include "file_helpers.h"

namespace coral::config {
namespace {

namespace fs = std::filesystem;

using testfs::ScopedUmask;

using std::chrono::milliseconds;
using std::chrono::seconds;

// A fresh directory under the test temp dir, removed afterwards.
class ConfigTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "coral_config_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  static std::string read(const fs::path& path) { return testfs::read_text(path); }

  // A valid colony's file text.
  static std::string valid_yaml() {
    auto config = new_colony("my-shop", "production");
    EXPECT_TRUE(config) << config.error();
    return to_yaml(*config);
  }

  fs::path dir_;
};

// The line of `text` whose trimmed form starts with `key:`, replaced by
// `indent key: value`, or removed when `value` is nullopt.
std::string edit(const std::string& text, const std::string& key, std::optional<std::string> value) {
  std::istringstream in(text);
  std::string out;
  std::string line;
  bool found = false;
  while (std::getline(in, line)) {
    const auto start = line.find_first_not_of(' ');
    if (!found && start != std::string::npos && line.compare(start, key.size() + 1, key + ":") == 0) {
      found = true;
      if (value) out += line.substr(0, start) + key + ": " + *value + "\n";
      continue;
    }
    out += line + "\n";
  }
  EXPECT_TRUE(found) << key;
  return out;
}

// Removes a whole section: its line and its indented lines.
std::string remove_section(const std::string& text, const std::string& section) {
  std::istringstream in(text);
  std::string out;
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line == section + ":") {
      inside = true;
      continue;
    }
    if (inside && line.starts_with(" ")) continue;
    inside = false;
    out += line + "\n";
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_F(ConfigTest, NewColonyHasRfdDefaultsAndFreshIdentity) {
  const auto config = new_colony("my-shop", "production");
  ASSERT_TRUE(config) << config.error();
  // "<app>-<env>-<6 hex digits>".
  ASSERT_EQ(config->colony_id.size(), std::string("my-shop-production-").size() + 6);
  EXPECT_TRUE(config->colony_id.starts_with("my-shop-production-"));
  EXPECT_EQ(config->colony_id.substr(19).find_first_not_of("0123456789abcdef"), std::string::npos) << config->colony_id;
  EXPECT_EQ(config->app_name, "my-shop");
  EXPECT_EQ(config->environment, "production");

  const WireGuardConfig& wg = config->wireguard;
  EXPECT_EQ(wg.public_key, wg.private_key.public_key());
  EXPECT_FALSE(wg.private_key.is_zero());
  EXPECT_EQ(wg.mesh_network_ipv4.to_string(), "10.42.0.0/16");
  EXPECT_EQ(base::format_ipv4(wg.mesh_ipv4), "10.42.0.1");
  EXPECT_TRUE(wg.mesh_network_ipv6.is_ipv6());
  EXPECT_EQ(wg.mesh_network_ipv6.prefix_length(), 64U);
  EXPECT_EQ(wg.mesh_network_ipv6.network_ipv6()[0], 0xfd);
  EXPECT_EQ(wg.mesh_ipv6, *wg.mesh_network_ipv6.ipv6_at(1));
  EXPECT_EQ(wg.listen_port, 41820);

  EXPECT_EQ(config->services.connect_port, 9000);
  EXPECT_EQ(config->services.dashboard_port, 3000);
  EXPECT_EQ(config->discovery.endpoint, "http://localhost:8080");
  EXPECT_EQ(config->discovery.mesh_id, config->colony_id);
  EXPECT_EQ(config->discovery.register_interval, seconds(60));
  EXPECT_TRUE(config->discovery.auto_register);
  EXPECT_EQ(config->colony_secret.size(), crypto::kColonySecretChars);
  EXPECT_TRUE(validate(*config));
}

TEST_F(ConfigTest, EachNewColonyGetsItsOwnUlaKeysSecretAndSuffix) {
  std::set<std::string> prefixes, ids, keys, secrets;
  for (int i = 0; i < 20; ++i) {
    const auto config = new_colony("app", "env");
    ASSERT_TRUE(config) << config.error();
    const base::Cidr& net = config->wireguard.mesh_network_ipv6;
    // RFC 4193: fd00::/8 (L = 1), 40-bit global id, subnet 0, a /64.
    EXPECT_EQ(net.prefix_length(), 64U);
    EXPECT_EQ(net.network_ipv6()[0], 0xfd);
    EXPECT_EQ(net.network_ipv6()[6], 0);
    EXPECT_EQ(net.network_ipv6()[7], 0);
    prefixes.insert(net.to_string());
    ids.insert(config->colony_id);
    keys.insert(config->wireguard.public_key.to_base64());
    secrets.insert(config->colony_secret);
  }
  // 40 random bits: a repeat among 20 would be a broken random source.
  EXPECT_EQ(prefixes.size(), 20U);
  EXPECT_GE(ids.size(), 19U);  // 24 random bits: a rare repeat is possible
  EXPECT_EQ(keys.size(), 20U);
  EXPECT_EQ(secrets.size(), 20U);
}

TEST_F(ConfigTest, RandomUlaPrefixes) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const base::Cidr prefix = random_ula_prefix();
    EXPECT_EQ(prefix.prefix_length(), 64U);
    EXPECT_EQ(prefix.network_ipv6()[0], 0xfd);
    EXPECT_TRUE(prefix.to_string().starts_with("fd")) << prefix.to_string();
    for (std::size_t b = 6; b < 16; ++b) EXPECT_EQ(prefix.network_ipv6()[b], 0) << prefix.to_string();
    seen.insert(prefix.to_string());
  }
  EXPECT_EQ(seen.size(), 100U);
}

TEST_F(ConfigTest, NewColonyOptions) {
  NewColonyOptions options;
  options.colony_id = "shop-1";
  options.mesh_id = "shop-mesh";
  options.discovery_endpoint = "http://127.0.0.1:18080";
  options.mesh_ipv4_net = *base::Cidr::parse("127.42.0.0/16");
  options.mesh_ipv6_net = *base::Cidr::parse("fd42::/64");
  options.connect_port = 19000;
  options.listen_port = 51820;
  options.dashboard_port = 13000;
  options.register_interval = seconds(5);
  options.auto_register = false;
  const auto config = new_colony("shop", "dev", options);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->colony_id, "shop-1");
  EXPECT_EQ(config->discovery.mesh_id, "shop-mesh");
  EXPECT_EQ(config->discovery.endpoint, "http://127.0.0.1:18080");
  EXPECT_EQ(base::format_ipv4(config->wireguard.mesh_ipv4), "127.42.0.1");
  EXPECT_EQ(base::format_ipv6(config->wireguard.mesh_ipv6), "fd42::1");
  EXPECT_EQ(config->services.connect_port, 19000);
  EXPECT_EQ(config->wireguard.listen_port, 51820);
  EXPECT_EQ(config->services.dashboard_port, 13000);
  EXPECT_EQ(config->discovery.register_interval, seconds(5));
  EXPECT_FALSE(config->discovery.auto_register);
}

TEST_F(ConfigTest, NewColonyErrorsNameTheField) {
  EXPECT_TRUE(new_colony("", "prod").error().starts_with("app_name: must not be empty"));
  EXPECT_TRUE(new_colony("app", "").error().starts_with("environment: "));
  NewColonyOptions bad_id;
  bad_id.colony_id = "Bad/Id";
  EXPECT_EQ(new_colony("app", "prod", bad_id).error(),
            "colony_id: must be 1-63 characters of a-z, 0-9, '-', '_' and '.'; got \"Bad/Id\"");
  NewColonyOptions small;
  small.mesh_ipv4_net = *base::Cidr::parse("10.0.0.0/31");
  EXPECT_TRUE(new_colony("app", "prod", small).error().starts_with("wireguard.mesh_network_ipv4: the prefix must be"));
  NewColonyOptions swapped;
  swapped.mesh_ipv6_net = *base::Cidr::parse("10.0.0.0/16");
  EXPECT_EQ(new_colony("app", "prod", swapped).error(),
            "wireguard.mesh_network_ipv6: \"10.0.0.0/16\" is not an IPv6 prefix");
  NewColonyOptions port;
  port.connect_port = 0;
  EXPECT_EQ(new_colony("app", "prod", port).error(), "services.connect_port: must be a port number 1-65535, got 0");
  NewColonyOptions endpoint;
  endpoint.discovery_endpoint = "https://discovery.example.com";
  EXPECT_TRUE(new_colony("app", "prod", endpoint).error().starts_with("discovery.endpoint: invalid URL"));
}

TEST_F(ConfigTest, DerivedColonyIds) {
  EXPECT_EQ(colony_id_prefix("My Shop", "Production"), "my-shop-production");
  EXPECT_EQ(colony_id_prefix("web_api.v2", "prod"), "web_api.v2-prod");
  EXPECT_EQ(colony_id_prefix("shop/ä", "x"), "shop----x");  // each byte of a non-ASCII letter
  const std::string long_prefix = colony_id_prefix(std::string(60, 'a'), "prod");
  EXPECT_EQ(long_prefix.size(), 56U);
  const auto config = new_colony(std::string(60, 'a'), "PROD");
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->colony_id.size(), 63U);
  EXPECT_TRUE(validate_colony_id(config->colony_id));
  const auto spaced = new_colony("My Shop", "Prod");
  ASSERT_TRUE(spaced) << spaced.error();
  EXPECT_TRUE(spaced->colony_id.starts_with("my-shop-prod-")) << spaced->colony_id;
  EXPECT_EQ(spaced->app_name, "My Shop");
}

TEST_F(ConfigTest, SaveThenLoadGivesTheSameConfig) {
  // Many times: keys and secrets that start with '+', '/' or '-' included.
  for (int i = 0; i < 200; ++i) {
    auto config = new_colony("my-shop", "production");
    ASSERT_TRUE(config) << config.error();
    const fs::path path = dir_ / "colony.yaml";
    ASSERT_TRUE(save(path, *config));
    const auto loaded = load(path);
    ASSERT_TRUE(loaded) << loaded.error() << "\n" << read(path);
    EXPECT_EQ(*loaded, *config);
    EXPECT_EQ(loaded->wireguard.private_key, config->wireguard.private_key);
    EXPECT_EQ(loaded->colony_secret, config->colony_secret);
  }
}

TEST_F(ConfigTest, RoundTripOfNamesThatNeedQuoting) {
  for (const char* name : {"null",    "true",       "yes",         "123",         "1.5",    "a: b", "#x",  "~",
                           "My Shop", "\"quoted\"", "back\\slash", "caf\xc3\xa9", "-dash",  "[x]",  "{y}", "*star",
                           "&anchor", "!tag",       "%p",          "@at",         "`tick`", "a #b", "x:"}) {
    auto config = new_colony(name, name);
    ASSERT_TRUE(config) << name << ": " << config.error();
    const fs::path path = dir_ / "quoted.yaml";
    ASSERT_TRUE(save(path, *config));
    const auto loaded = load(path);
    ASSERT_TRUE(loaded) << name << ": " << loaded.error() << "\n" << read(path);
    EXPECT_EQ(loaded->app_name, name);
    EXPECT_EQ(loaded->environment, name);
  }
}

TEST_F(ConfigTest, FileIsMode0600InRfdOrderAndNoTemporaryFileRemains) {
  const ScopedUmask usual_umask(022);  // the usual umask: 0600 must not come from it
  auto config = new_colony("my-shop", "production");
  ASSERT_TRUE(config);
  const fs::path path = dir_ / "colony.yaml";
  ASSERT_TRUE(save(path, *config));
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600U);
  EXPECT_FALSE(permission_warning(path));

  // Replacing keeps 0600 (a new file each time, renamed over the old one).
  ASSERT_TRUE(save(path, *config, base::Overwrite::yes));
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600U);

  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"colony.yaml"});

  const std::string text = read(path);
  const std::vector<std::string> order = {"\ncolony_id: ",
                                          "\napp_name: my-shop\n",
                                          "\nenvironment: production\n\n",
                                          "\nwireguard:\n",
                                          "\n    private_key: ",
                                          "\n    public_key: ",
                                          "\n    mesh_ipv4: 10.42.0.1\n",
                                          "\n    mesh_ipv6: ",
                                          "\n    listen_port: 41820\n",
                                          "\n    mesh_network_ipv4: 10.42.0.0/16\n",
                                          "\n    mesh_network_ipv6: ",
                                          "\nservices:\n",
                                          "\n    connect_port: 9000\n",
                                          "\n    dashboard_port: 3000\n",
                                          "\ndiscovery:\n",
                                          "\n    endpoint: http://localhost:8080\n",
                                          "\n    mesh_id: ",
                                          "\n    register_interval: 60s\n",
                                          "\n    auto_register: true\n",
                                          "\ncolony_secret: "};
  std::size_t at = 0;
  for (const std::string& part : order) {
    const auto found = text.find(part, at);
    ASSERT_NE(found, std::string::npos) << "missing or out of order: " << part << "\n" << text;
    at = found;
  }
}

TEST_F(ConfigTest, OverwriteNoRefusesAnExistingFile) {
  auto first = new_colony("a", "b");
  auto second = new_colony("a", "b");
  ASSERT_TRUE(first && second);
  const fs::path path = dir_ / "colony.yaml";
  ASSERT_TRUE(save(path, *first, base::Overwrite::no));
  const auto again = save(path, *second, base::Overwrite::no);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), path.string() + " already exists");
  EXPECT_EQ(*load(path), *first);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(ConfigTest, SaveRefusesAnInvalidConfigAndWritesNothing) {
  auto config = new_colony("a", "b");
  ASSERT_TRUE(config);
  config->wireguard.listen_port = 0;
  const fs::path path = dir_ / "colony.yaml";
  const auto saved = save(path, *config);
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error(), "refusing to write an invalid colony config to " + path.string() +
                               ": wireguard.listen_port: must be a port number 1-65535, got 0");
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(ConfigTest, SaveIntoAMissingDirectoryNamesIt) {
  auto config = new_colony("a", "b");
  const auto saved = save(dir_ / "nope" / "colony.yaml", *config);
  ASSERT_FALSE(saved);
  EXPECT_TRUE(contains(saved.error(), (dir_ / "nope" / "colony.yaml").string())) << saved.error();
  EXPECT_TRUE(contains(saved.error(), "No such file or directory")) << saved.error();
}

TEST_F(ConfigTest, YamlSyntaxErrorsNameFileLineAndColumn) {
  std::string text = valid_yaml();
  text = edit(text, "connect_port", "[9000");
  const fs::path path = write("broken.yaml", text);
  const auto loaded = load(path);
  ASSERT_FALSE(loaded);
  EXPECT_TRUE(loaded.error().starts_with(path.string() + ": line ")) << loaded.error();
  EXPECT_TRUE(contains(loaded.error(), ", column ")) << loaded.error();
  EXPECT_TRUE(contains(loaded.error(), "invalid YAML")) << loaded.error();

  const fs::path tabs = write("tabs.yaml", "colony_id: a\n  app_name: b\n");
  const auto tab_error = load(tabs);
  ASSERT_FALSE(tab_error);
  EXPECT_TRUE(tab_error.error().starts_with(tabs.string() + ": line 2, column ")) << tab_error.error();
}

TEST_F(ConfigTest, UnreadableEmptyAndOddFiles) {
  const auto missing = load(dir_ / "missing.yaml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), (dir_ / "missing.yaml").string() + ": cannot read: No such file or directory");

  const auto directory = load(dir_);
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error(), dir_.string() + ": cannot read: not a regular file");

  const fs::path empty = write("empty.yaml", "");
  EXPECT_EQ(load(empty).error(), empty.string() + ": the file is empty (expected a colony config)");

  const fs::path list = write("list.yaml", "- a\n- b\n");
  EXPECT_TRUE(load(list).error().starts_with(list.string() + ": expected a mapping of fields"));

  const fs::path scalar = write("scalar.yaml", "hello\n");
  EXPECT_TRUE(load(scalar).error().starts_with(scalar.string() + ": expected a mapping of fields"));

  const fs::path huge = write("huge.yaml", "# " + std::string(100 * 1024, 'x') + "\n");
  EXPECT_TRUE(contains(load(huge).error(), "not a colony config"));
}

TEST_F(ConfigTest, EveryMissingFieldIsNamed) {
  const std::string text = valid_yaml();
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"colony_id", "colony_id"},
      {"app_name", "app_name"},
      {"environment", "environment"},
      {"private_key", "wireguard.private_key"},
      {"public_key", "wireguard.public_key"},
      {"mesh_ipv4", "wireguard.mesh_ipv4"},
      {"mesh_ipv6", "wireguard.mesh_ipv6"},
      {"listen_port", "wireguard.listen_port"},
      {"mesh_network_ipv4", "wireguard.mesh_network_ipv4"},
      {"mesh_network_ipv6", "wireguard.mesh_network_ipv6"},
      {"connect_port", "services.connect_port"},
      {"dashboard_port", "services.dashboard_port"},
      {"endpoint", "discovery.endpoint"},
      {"mesh_id", "discovery.mesh_id"},
      {"register_interval", "discovery.register_interval"},
      {"auto_register", "discovery.auto_register"},
      {"colony_secret", "colony_secret"},
  };
  for (const auto& [key, field] : fields) {
    const fs::path path = write("missing.yaml", edit(text, key, std::nullopt));
    const auto loaded = load(path);
    ASSERT_FALSE(loaded) << field;
    EXPECT_EQ(loaded.error(), path.string() + ": missing field " + field);
  }
  for (const std::string section : {"wireguard", "services", "discovery"}) {
    const fs::path path = write("missing.yaml", remove_section(text, section));
    EXPECT_EQ(load(path).error(), path.string() + ": missing field " + section);
  }
}

struct BadValue {
  std::string key;
  std::string value;
  std::string error;  // after "<file>: "
};

TEST_F(ConfigTest, MeshTransportAndPublicEndpointsAreOptionalAndRoundTrip) {
  // A file without them (as written before they existed): host, none.
  const std::string without = remove_section(edit(valid_yaml(), "mesh", std::nullopt), "unused");
  const auto plain = load(write("plain.yaml", without));
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_EQ(plain->wireguard.mesh, MeshTransport::host);
  EXPECT_TRUE(plain->wireguard.public_endpoints.empty());

  auto config = new_colony("my-shop", "production");
  ASSERT_TRUE(config);
  config->wireguard.mesh = MeshTransport::userspace;
  config->wireguard.public_endpoints = {"203.0.113.7:41820", "[2001:db8::7]:41820"};
  const fs::path path = dir_ / "mesh.yaml";
  ASSERT_TRUE(save(path, *config));
  EXPECT_TRUE(contains(read(path), "    mesh: userspace\n"));
  const auto loaded = load(path);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->wireguard.mesh, MeshTransport::userspace);
  EXPECT_EQ(loaded->wireguard.public_endpoints, config->wireguard.public_endpoints);

  const auto bad_mesh = load(write("bad_mesh.yaml", edit(valid_yaml(), "mesh", "wireguard-go")));
  ASSERT_FALSE(bad_mesh);
  EXPECT_TRUE(contains(bad_mesh.error(), "wireguard.mesh: \"wireguard-go\" is not a mesh transport (host, userspace, tun)"))
      << bad_mesh.error();
  const auto bad_endpoint =
      load(write("bad_endpoint.yaml", edit(valid_yaml(), "mesh", "host\n    public_endpoints: [\"no-port\"]")));
  ASSERT_FALSE(bad_endpoint);
  EXPECT_TRUE(contains(bad_endpoint.error(), "wireguard.public_endpoints: \"no-port\"")) << bad_endpoint.error();
  const auto not_a_list =
      load(write("not_a_list.yaml", edit(valid_yaml(), "mesh", "host\n    public_endpoints: 1.2.3.4:5")));
  ASSERT_FALSE(not_a_list);
  EXPECT_TRUE(contains(not_a_list.error(), "wireguard.public_endpoints: expected a list")) << not_a_list.error();
}

TEST_F(ConfigTest, EveryInvalidFieldIsNamed) {
  const std::string text = valid_yaml();
  const std::vector<BadValue> cases = {
      {"colony_id", "My-Colony", "colony_id: must be 1-63 characters of a-z, 0-9, '-', '_' and '.'; got \"My-Colony\""},
      {"colony_id", std::string(64, 'a'), "colony_id: must be 1-63 characters"},
      {"colony_id", "''", "colony_id: must be 1-63 characters"},
      {"colony_id", "", "colony_id: no value"},
      {"colony_id", "{a: 1}", "colony_id: expected a single value, got a mapping"},
      {"app_name", "''", "app_name: must not be empty"},
      {"app_name", "\"a\\tb\"", "app_name: must not contain control characters, got \"a\\x09b\""},
      {"app_name", std::string(64, 'a'), "app_name: must be at most 63 bytes, got 64"},
      {"environment", "[prod, dev]", "environment: expected a single value, got a list"},
      {"private_key", "abc",
       "wireguard.private_key: must be 32 bytes in base64 (44 characters ending in '='), got 3 characters"},
      {"public_key", "abc",
       "wireguard.public_key: must be 32 bytes in base64 (44 characters ending in '='), got 3 characters; got \"abc\""},
      {"public_key", "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=",
       "wireguard.public_key: does not match wireguard.private_key (whose public key is "},
      {"mesh_ipv4", "10.42.0", "wireguard.mesh_ipv4: \"10.42.0\" is not an IPv4 address"},
      {"mesh_ipv4", "fd42::1", "wireguard.mesh_ipv4: \"fd42::1\" is not an IPv4 address"},
      {"mesh_ipv4", "10.43.0.1",
       "wireguard.mesh_ipv4: 10.43.0.1 is not inside wireguard.mesh_network_ipv4 10.42.0.0/16"},
      {"mesh_ipv4", "10.42.0.0",
       "wireguard.mesh_ipv4: 10.42.0.0 is the network address of 10.42.0.0/16 (the colony usually takes 10.42.0.1)"},
      {"mesh_ipv4", "10.42.255.255", "wireguard.mesh_ipv4: 10.42.255.255 is the broadcast address of 10.42.0.0/16"},
      {"mesh_ipv6", "10.42.0.1", "wireguard.mesh_ipv6: \"10.42.0.1\" is not an IPv6 address"},
      {"mesh_ipv6", "\"fe80::1%eth0\"", "wireguard.mesh_ipv6: \"fe80::1%eth0\" is not an IPv6 address"},
      {"mesh_ipv6", "\"fd00:dead::1\"", "wireguard.mesh_ipv6: fd00:dead::1 is not inside wireguard.mesh_network_ipv6 "},
      {"listen_port", "0", "wireguard.listen_port: must be a port number 1-65535, got \"0\""},
      {"listen_port", "65536", "wireguard.listen_port: must be a port number 1-65535, got \"65536\""},
      {"listen_port", "-1", "wireguard.listen_port: must be a port number 1-65535, got \"-1\""},
      {"listen_port", "41820x", "wireguard.listen_port: must be a port number 1-65535, got \"41820x\""},
      {"mesh_network_ipv4", "10.42.0.1/16",
       "wireguard.mesh_network_ipv4: invalid CIDR \"10.42.0.1/16\": host bits set"},
      {"mesh_network_ipv4", "10.42.0.0", "wireguard.mesh_network_ipv4: invalid CIDR \"10.42.0.0\""},
      {"mesh_network_ipv4", "\"fd42::/64\"", "wireguard.mesh_network_ipv4: \"fd42::/64\" is not an IPv4 prefix"},
      {"mesh_network_ipv4", "10.42.0.0/31", "wireguard.mesh_network_ipv4: the prefix must be /30 or shorter"},
      {"mesh_network_ipv6", "10.42.0.0/16", "wireguard.mesh_network_ipv6: \"10.42.0.0/16\" is not an IPv6 prefix"},
      {"mesh_network_ipv6", "\"fd42::/127\"", "wireguard.mesh_network_ipv6: the prefix must be /126 or shorter"},
      {"connect_port", "http", "services.connect_port: must be a port number 1-65535, got \"http\""},
      {"dashboard_port", "99999", "services.dashboard_port: must be a port number 1-65535, got \"99999\""},
      {"endpoint", "localhost:8080", "discovery.endpoint: invalid URL \"localhost:8080\": must start with http://"},
      {"endpoint", "https://d.example.com",
       "discovery.endpoint: invalid URL \"https://d.example.com\": must start with http://"},
      {"endpoint", "http://", "discovery.endpoint: invalid URL \"http://\": no host"},
      {"endpoint", "http://fd42::1:8080",
       "discovery.endpoint: invalid URL \"http://fd42::1:8080\": IPv6 addresses must be in brackets"},
      {"endpoint", "http://localhost:0", "discovery.endpoint: invalid URL \"http://localhost:0\""},
      {"endpoint", "http://user@host",
       "discovery.endpoint: invalid URL \"http://user@host\": user info is not supported"},
      {"mesh_id", "Has Space", "discovery.mesh_id: must be 1-63 characters"},
      {"register_interval", "5x", "discovery.register_interval: invalid duration \"5x\": unknown unit \"x\""},
      {"register_interval", "0s", "discovery.register_interval: must be between 1s and 24h"},
      {"register_interval", "25h", "discovery.register_interval: must be between 1s and 24h"},
      {"auto_register", "yes", "discovery.auto_register: must be true or false, got \"yes\""},
      {"colony_secret", "short",
       "colony_secret: must be 32-256 characters of A-Z, a-z, 0-9, '-' and '_' (coral init makes 43), got 5 "
       "characters"},
      {"colony_secret", std::string(40, 'a') + "+",
       "colony_secret: must be 32-256 characters of A-Z, a-z, 0-9, '-' and '_' (coral init makes 43), got another "
       "character at position 41"},
  };
  for (const BadValue& c : cases) {
    const fs::path path = write("bad.yaml", edit(text, c.key, c.value));
    const auto loaded = load(path);
    ASSERT_FALSE(loaded) << c.key << ": " << c.value;
    EXPECT_TRUE(loaded.error().starts_with(path.string() + ": " + c.error))
        << c.key << ": " << c.value << "\n got: " << loaded.error() << "\nwant: " << c.error;
  }
}

TEST_F(ConfigTest, SecretsNeverAppearInErrors) {
  const std::string text = valid_yaml();
  const std::string bad_private = "SECRETSECRETSECRETSECRETSECRETSECRETSECRET";  // 42 characters
  const fs::path path = write("bad.yaml", edit(text, "private_key", bad_private));
  EXPECT_FALSE(contains(load(path).error(), bad_private));
  const std::string bad_secret = "SECRET+SECRET+SECRET+SECRET+SECRET+SECRET";
  const fs::path path2 = write("bad2.yaml", edit(text, "colony_secret", bad_secret));
  EXPECT_FALSE(contains(load(path2).error(), bad_secret)) << load(path2).error();
}

// issue 16: "colony_secret:value" (no space) made the whole line one
// unknown key, and the error printed it, secret and all.
TEST_F(ConfigTest, MissingSpaceAfterColonNeverEchoesTheValue) {
  const std::string text = valid_yaml();
  const auto config = load(write("good.yaml", text));
  ASSERT_TRUE(config) << config.error();
  const std::string secret = config->colony_secret;
  const std::string private_key = config->wireguard.private_key.to_base64();

  std::string squeezed = text;
  squeezed.replace(squeezed.find("colony_secret: "), 15, "colony_secret:");
  const fs::path path = write("squeezed.yaml", squeezed);
  const auto loaded = load(path);
  ASSERT_FALSE(loaded);
  EXPECT_FALSE(contains(loaded.error(), secret)) << loaded.error();
  EXPECT_FALSE(contains(loaded.error(), secret.substr(0, 8))) << loaded.error();
  EXPECT_TRUE(contains(loaded.error(), "colony_secret")) << loaded.error();
  EXPECT_TRUE(contains(loaded.error(), "space after the colon")) << loaded.error();

  std::string squeezed_key = text;
  squeezed_key.replace(squeezed_key.find("private_key: "), 13, "private_key:");
  const fs::path path2 = write("squeezed2.yaml", squeezed_key);
  const auto loaded2 = load(path2);
  ASSERT_FALSE(loaded2);
  // (Inside a section, yaml-cpp refuses the line itself: "illegal map value".)
  EXPECT_FALSE(contains(loaded2.error(), private_key.substr(0, 12))) << loaded2.error();

  // Any other unknown line that is not a plain name is not shown either.
  const fs::path path3 = write("junk.yaml", text + secret + "+x/y: 1\n");
  const auto loaded3 = load(path3);
  ASSERT_FALSE(loaded3);
  EXPECT_FALSE(contains(loaded3.error(), secret)) << loaded3.error();
  EXPECT_TRUE(contains(loaded3.error(), "unknown field (not shown)")) << loaded3.error();
}

// Found by colony_config_fuzz: a stray quote makes a value run on through
// the lines after it, the colony secret's included; the IPv4, CIDR and
// duration errors quoted it whole.
TEST_F(ConfigTest, ValueRunningIntoTheSecretIsNotQuoted) {
  const std::string text = valid_yaml();
  const std::size_t at = text.find("colony_secret: ");
  ASSERT_NE(at, std::string::npos);
  const std::string secret = text.substr(at + 15, text.find('\n', at) - at - 15);
  for (const std::string field : {"mesh_ipv4", "mesh_network_ipv6", "register_interval"}) {
    std::string edited = text;
    const std::size_t line = edited.find(field + ": ");
    ASSERT_NE(line, std::string::npos) << field;
    edited.insert(line + field.size() + 2, "\"");
    edited += "\"\n";
    const fs::path path = write("run_on.yaml", edited);
    const auto loaded = load(path);
    ASSERT_FALSE(loaded) << field;
    EXPECT_FALSE(contains(loaded.error(), secret)) << loaded.error();
    EXPECT_TRUE(contains(loaded.error(), field + ": ")) << loaded.error();
  }
}

// Found by colony_config_fuzz: an app name that is not UTF-8, or an
// endpoint with control characters, loaded, and to_yaml wrote a file that
// loaded as another config (and discovery's protobuf strings must be UTF-8).
TEST_F(ConfigTest, NamesAreUtf8AndEndpointsPrintable) {
  const std::string text = valid_yaml();
  const fs::path bad_name = write("name.yaml", edit(text, "app_name", "my-\xcc\xccshop"));
  const auto name_error = load(bad_name);
  ASSERT_FALSE(name_error);
  EXPECT_EQ(name_error.error(), bad_name.string() + ": app_name: must be UTF-8 text; byte 4 is not");
  EXPECT_TRUE(load(write("accented.yaml", edit(text, "app_name", "caf\xc3\xa9"))));

  const fs::path bad_endpoint = write("endpoint.yaml", edit(text, "endpoint", "\"http://local\\x02host:8080\""));
  const auto endpoint_error = load(bad_endpoint);
  ASSERT_FALSE(endpoint_error);
  EXPECT_TRUE(contains(endpoint_error.error(), "discovery.endpoint: invalid URL")) << endpoint_error.error();
  EXPECT_TRUE(contains(endpoint_error.error(), "only printable ASCII is allowed")) << endpoint_error.error();
}

TEST_F(ConfigTest, UnknownAndDuplicateFields) {
  const std::string text = valid_yaml();
  const fs::path typo = write("typo.yaml", edit(text, "connect_port", "9000\n    conect_port: 9001"));
  const auto typo_error = load(typo);
  ASSERT_FALSE(typo_error);
  EXPECT_TRUE(typo_error.error().starts_with(typo.string() + ": unknown field services.conect_port (line "))
      << typo_error.error();
  EXPECT_TRUE(contains(typo_error.error(), "services has: connect_port, dashboard_port")) << typo_error.error();

  const fs::path top = write("top.yaml", text + "extra: 1\n");
  EXPECT_TRUE(load(top).error().starts_with(top.string() + ": unknown field extra (line ")) << load(top).error();

  const fs::path duplicate = write("dup.yaml", edit(text, "mesh_ipv4", "10.42.0.1\n    mesh_ipv4: 10.42.0.2"));
  const auto duplicate_error = load(duplicate);
  ASSERT_FALSE(duplicate_error);
  EXPECT_TRUE(duplicate_error.error().starts_with(duplicate.string() + ": duplicate field wireguard.mesh_ipv4 (lines "))
      << duplicate_error.error();

  const fs::path section = write("section.yaml", remove_section(text, "services") + "services: 9000\n");
  EXPECT_TRUE(load(section).error().starts_with(section.string() + ": services: expected a mapping of fields"))
      << load(section).error();
}

TEST_F(ConfigTest, LoadAcceptsOtherSpellingsAndSavesCanonicalOnes) {
  std::string text = valid_yaml();
  text = edit(text, "register_interval", "5m");
  text = edit(text, "auto_register", "False");
  text = edit(text, "connect_port", "\"9001\"");
  text = edit(text, "mesh_network_ipv6", "\"FD42:0::/64\"");
  text = edit(text, "mesh_ipv6", "\"fd42:0:0::1\"");
  const fs::path path = write("spellings.yaml", text);
  const auto loaded = load(path);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->discovery.register_interval, std::chrono::minutes(5));
  EXPECT_FALSE(loaded->discovery.auto_register);
  EXPECT_EQ(loaded->services.connect_port, 9001);
  EXPECT_EQ(loaded->wireguard.mesh_network_ipv6.to_string(), "fd42::/64");
  const std::string saved = to_yaml(*loaded);
  EXPECT_TRUE(contains(saved, "    register_interval: 300s\n"));
  EXPECT_TRUE(contains(saved, "    auto_register: false\n"));
  EXPECT_TRUE(contains(saved, "    mesh_ipv6: fd42::1\n"));
  EXPECT_TRUE(contains(saved, "    mesh_network_ipv6: fd42::/64\n"));
  auto sub_second = *loaded;
  sub_second.discovery.register_interval = milliseconds(1500);
  EXPECT_TRUE(contains(to_yaml(sub_second), "    register_interval: 1s500ms\n"));
}

TEST_F(ConfigTest, PermissionWarning) {
  auto config = new_colony("a", "b");
  const fs::path path = dir_ / "colony.yaml";
  ASSERT_TRUE(save(path, *config));
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  const auto warning = permission_warning(path);
  ASSERT_TRUE(warning);
  EXPECT_EQ(*warning, path.string() +
                          " holds secrets but is accessible to group and others (mode 0644): run chmod 600 " +
                          path.string());
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_TRUE(contains(*permission_warning(path), "accessible to group (mode 0640)"));
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_FALSE(permission_warning(path));
  EXPECT_FALSE(permission_warning(dir_ / "missing.yaml"));
}

TEST_F(ConfigTest, ValidateChecksFieldsSetInCode) {
  auto config = new_colony("a", "b");
  ASSERT_TRUE(config);
  auto zero_key = *config;
  zero_key.wireguard.private_key = crypto::SecretKey();
  EXPECT_EQ(validate(zero_key).error(), "wireguard.private_key: is not set (all zeros)");
  auto other_key = *config;
  other_key.wireguard.private_key = crypto::SecretKey::generate();
  EXPECT_TRUE(validate(other_key).error().starts_with("wireguard.public_key: does not match"));
  auto no_secret = *config;
  no_secret.colony_secret.clear();
  EXPECT_TRUE(validate(no_secret).error().starts_with("colony_secret: must be 32-256 characters"));
  auto no_mesh_id = *config;
  no_mesh_id.discovery.mesh_id.clear();
  EXPECT_TRUE(validate(no_mesh_id).error().starts_with("discovery.mesh_id: "));
}

TEST(ConfigRules, DiscoveryEndpoints) {
  for (const char* good : {"http://localhost:8080", "http://localhost", "http://127.0.0.1:8080/", "http://[::1]:8080",
                           "http://[fd42::1]", "http://discovery.example.com/coral", "http://d:1/a/b"}) {
    EXPECT_TRUE(validate_discovery_endpoint(good)) << good << ": " << validate_discovery_endpoint(good).error();
  }
  for (const char* bad : {"", "localhost", "http:/x", "http://[::1", "http://host:99999", "http://host:", "http://a b",
                          "http://host/?q=1", "http://999.1.1.1"}) {
    EXPECT_FALSE(validate_discovery_endpoint(bad)) << bad;
  }
}

}  // namespace
}  // namespace coral::config

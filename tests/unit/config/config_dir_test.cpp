#include "config/config_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "file_helpers.h"

namespace coral::config {
namespace {

namespace fs = std::filesystem;

using testfs::mode_of;
using testfs::ScopedUmask;
std::string read(const fs::path& path) { return testfs::read_text(path); }

// Sets or unsets an environment variable for the scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class ConfigDirTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "coral_config_dir_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    temp_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(temp_, ignored);
  }

  // A colony with the given id, saved in `dir`.
  static ColonyConfig make(const ConfigDir& dir, const std::string& id) {
    NewColonyOptions options;
    options.colony_id = id;
    auto config = new_colony("shop", "prod", options);
    EXPECT_TRUE(config) << config.error();
    auto saved = dir.save_colony(*config);
    EXPECT_TRUE(saved) << saved.error();
    return *config;
  }

  fs::path temp_;
};

TEST_F(ConfigDirTest, ResolveUsesCoralConfigDirThenHome) {
  {
    ScopedEnv env(std::string(kConfigDirEnv).c_str(), (temp_ / "custom").string());
    ScopedEnv home("HOME", "/home/nobody-here");
    const auto dir = ConfigDir::resolve();
    ASSERT_TRUE(dir) << dir.error();
    EXPECT_EQ(dir->root(), temp_ / "custom");
    EXPECT_FALSE(fs::exists(temp_ / "custom"));  // resolving creates nothing
  }
  {
    ScopedEnv env(std::string(kConfigDirEnv).c_str(), "");  // empty: as if unset
    ScopedEnv home("HOME", temp_.string());
    const auto dir = ConfigDir::resolve();
    ASSERT_TRUE(dir) << dir.error();
    EXPECT_EQ(dir->root(), temp_ / ".coral");
  }
  {
    ScopedEnv env(std::string(kConfigDirEnv).c_str(), std::nullopt);
    ScopedEnv home("HOME", temp_.string());
    EXPECT_EQ(ConfigDir::resolve()->root(), temp_ / ".coral");
  }
  {
    // Relative: made absolute, so that a daemon that changes directory
    // still finds it.
    ScopedEnv env(std::string(kConfigDirEnv).c_str(), "rel/dir");
    const auto dir = ConfigDir::resolve();
    ASSERT_TRUE(dir);
    EXPECT_TRUE(dir->root().is_absolute());
    EXPECT_EQ(dir->root(), fs::current_path() / "rel" / "dir");
  }
}

TEST_F(ConfigDirTest, PathsOfEverything) {
  const ConfigDir dir(temp_ / "c");
  EXPECT_EQ(dir.config_file(), temp_ / "c" / "config.yaml");
  EXPECT_EQ(dir.colonies_dir(), temp_ / "c" / "colonies");
  EXPECT_EQ(dir.colony_file("shop-1"), temp_ / "c" / "colonies" / "shop-1.yaml");
  EXPECT_EQ(dir.colony_state("shop-1"), temp_ / "c" / "colonies" / "shop-1.db");
  EXPECT_EQ(dir.proxies_dir(), temp_ / "c" / "proxies");
}

TEST_F(ConfigDirTest, CreateMakesPrivateDirectories) {
  const ScopedUmask usual_umask(022);
  const ConfigDir dir(temp_ / "a" / "b" / ".coral");
  ASSERT_TRUE(dir.create());
  EXPECT_EQ(mode_of(dir.root()), 0700U);
  EXPECT_EQ(mode_of(dir.colonies_dir()), 0700U);
  EXPECT_EQ(mode_of(dir.proxies_dir()), 0700U);
  EXPECT_EQ(mode_of(temp_ / "a"), 0700U);
  ASSERT_TRUE(dir.create());  // again: nothing to do

  // An existing directory keeps its mode.
  const ConfigDir open_dir(temp_ / "open");
  fs::create_directory(open_dir.root());
  ::chmod(open_dir.root().c_str(), 0755);
  ASSERT_TRUE(open_dir.create());
  EXPECT_EQ(mode_of(open_dir.root()), 0755U);

  std::ofstream(temp_ / "file") << "x";
  const auto not_dir = ConfigDir(temp_ / "file").create();
  ASSERT_FALSE(not_dir);
  EXPECT_EQ(not_dir.error(), (temp_ / "file").string() + " exists but is not a directory");
}

TEST_F(ConfigDirTest, SaveCreatesTheColonyFile0600AndLoadReadsItBack) {
  const ConfigDir dir(temp_ / ".coral");
  auto config = new_colony("my-shop", "production");
  ASSERT_TRUE(config);
  const auto path = dir.save_colony(*config);
  ASSERT_TRUE(path) << path.error();
  EXPECT_EQ(*path, dir.colony_file(config->colony_id));
  EXPECT_EQ(mode_of(*path), 0600U);
  EXPECT_EQ(mode_of(dir.root()), 0700U);
  const auto loaded = dir.load_colony(config->colony_id);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(*loaded, *config);
}

TEST_F(ConfigDirTest, RefusesToOverwriteWithoutForce) {
  const ConfigDir dir(temp_);
  const ColonyConfig first = make(dir, "shop-1");
  NewColonyOptions options;
  options.colony_id = "shop-1";
  const auto second = new_colony("shop", "prod", options);
  ASSERT_TRUE(second);
  const auto refused = dir.save_colony(*second);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), dir.colony_file("shop-1").string() +
                                 " already exists: colony shop-1 was created before; use --force to replace it "
                                 "(its keys and colony secret will be lost)");
  EXPECT_EQ(*dir.load_colony("shop-1"), first);

  ASSERT_TRUE(dir.save_colony(*second, /*force=*/true));
  EXPECT_EQ(*dir.load_colony("shop-1"), *second);
  EXPECT_EQ(mode_of(dir.colony_file("shop-1")), 0600U);
}

TEST_F(ConfigDirTest, ListsColoniesSorted) {
  const ConfigDir dir(temp_ / "c");
  EXPECT_EQ(*dir.list_colonies(), std::vector<std::string>{});  // no directory yet
  make(dir, "zeta");
  make(dir, "alpha");
  make(dir, "mid.dle_1");
  // Not colonies: other extensions, state files, hidden and temporary files,
  // directories, names that are not ids.
  std::ofstream(dir.colony_state("alpha")) << "";
  std::ofstream(dir.colonies_dir() / ".hidden.yaml") << "";
  std::ofstream(dir.colonies_dir() / ".alpha.yaml.tmp-0011aabbccdd") << "";
  std::ofstream(dir.colonies_dir() / "Upper.yaml") << "";
  std::ofstream(dir.colonies_dir() / "notes.txt") << "";
  fs::create_directory(dir.colonies_dir() / "dir.yaml");
  EXPECT_EQ(*dir.list_colonies(), (std::vector<std::string>{"alpha", "mid.dle_1", "zeta"}));
}

TEST_F(ConfigDirTest, LoadColonyErrors) {
  const ConfigDir dir(temp_);
  const auto none = dir.load_colony("x");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(),
            "no colony named x; there are none in " + dir.colonies_dir().string() + " yet: create one with coral init");
  make(dir, "a");
  make(dir, "b");
  EXPECT_EQ(dir.load_colony("x").error(), "no colony named x; known: a, b");
  EXPECT_EQ(dir.load_colony("../etc/passwd").error(),
            "invalid colony id: must be 1-63 characters of a-z, 0-9, '-', '_' and '.'; got \"../etc/passwd\"");

  // A file whose colony_id is not its name.
  fs::copy_file(dir.colony_file("a"), dir.colony_file("c"));
  EXPECT_EQ(dir.load_colony("c").error(), dir.colony_file("c").string() +
                                              ": colony_id: is \"a\", but the file is named after \"c\" (rename the "
                                              "file or fix colony_id)");

  // Corrupt files: colony_file.h's errors, with the file.
  std::ofstream(dir.colony_file("d")) << "colony_id: d\napp_name: [\n";
  EXPECT_TRUE(dir.load_colony("d").error().starts_with(dir.colony_file("d").string() + ": line 3"))
      << dir.load_colony("d").error();
}

TEST_F(ConfigDirTest, CurrentAndUse) {
  const ConfigDir dir(temp_ / "c");
  EXPECT_EQ(*dir.current(), std::nullopt);
  EXPECT_EQ(dir.require_current().error(), "no colony yet: create one with coral init");
  EXPECT_EQ(dir.use("nope").error(), "no colony named nope; there are none in " + dir.colonies_dir().string() +
                                         " yet: create one with coral init");
  EXPECT_FALSE(fs::exists(dir.config_file()));

  make(dir, "a");
  make(dir, "b");
  EXPECT_EQ(dir.require_current().error(), "no current colony: pick one with coral colony use <id>; known: a, b");
  EXPECT_EQ(dir.use("x").error(), "no colony named x; known: a, b");
  EXPECT_EQ(dir.use("Bad Id").error(),
            "invalid colony id: must be 1-63 characters of a-z, 0-9, '-', '_' and '.'; got \"Bad Id\"");

  ASSERT_TRUE(dir.use("b"));
  EXPECT_EQ(*dir.current(), "b");
  EXPECT_EQ(*dir.require_current(), "b");
  EXPECT_EQ(mode_of(dir.config_file()), 0600U);
  EXPECT_NE(read(dir.config_file()).find("current_colony: b\n"), std::string::npos);
  ASSERT_TRUE(dir.use("a"));
  EXPECT_EQ(*dir.current(), "a");

  // The current colony's file went away.
  fs::remove(dir.colony_file("a"));
  EXPECT_EQ(*dir.current(), "a");
  EXPECT_EQ(dir.require_current().error(), "the current colony, a (" + dir.config_file().string() + "), has no file " +
                                               dir.colony_file("a").string() +
                                               "; known: b; pick another with coral colony use <id>");
}

TEST_F(ConfigDirTest, UseKeepsOtherSettingsAndNeverReplacesAnUnreadableFile) {
  const ConfigDir dir(temp_);
  make(dir, "a");
  std::ofstream(dir.config_file()) << "# mine\ncurrent_colony: old\nproxy_port: 8000\n";
  EXPECT_EQ(*dir.current(), "old");
  ASSERT_TRUE(dir.use("a"));
  const std::string text = read(dir.config_file());
  EXPECT_NE(text.find("current_colony: a"), std::string::npos) << text;
  EXPECT_NE(text.find("proxy_port: 8000"), std::string::npos) << text;

  const std::string corrupt = "current_colony: [a\n";
  std::ofstream(dir.config_file()) << corrupt;
  const auto used = dir.use("a");
  ASSERT_FALSE(used);
  EXPECT_TRUE(used.error().starts_with(dir.config_file().string() + ": line 2, column 1: invalid YAML"))
      << used.error();
  EXPECT_EQ(read(dir.config_file()), corrupt);
  EXPECT_TRUE(dir.current().error().starts_with(dir.config_file().string() + ": line "));

  std::ofstream(dir.config_file()) << "current_colony: Not/An/Id\n";
  EXPECT_EQ(dir.current().error(), dir.config_file().string() +
                                       ": current_colony: must be 1-63 characters of a-z, 0-9, '-', '_' and '.'; "
                                       "got \"Not/An/Id\"");
  std::ofstream(dir.config_file()) << "- a\n";
  EXPECT_TRUE(dir.current().error().starts_with(dir.config_file().string() + ": expected a mapping"));
  std::ofstream(dir.config_file()) << "";
  EXPECT_EQ(*dir.current(), std::nullopt);
  std::ofstream(dir.config_file()) << "other: 1\n";
  EXPECT_EQ(*dir.current(), std::nullopt);
}

TEST_F(ConfigDirTest, EndToEndInitFlow) {
  // What `coral init` does: resolve, make, save, use.
  ScopedEnv env(std::string(kConfigDirEnv).c_str(), (temp_ / "home" / ".coral").string());
  const auto dir = ConfigDir::resolve();
  ASSERT_TRUE(dir);
  NewColonyOptions options;
  options.mesh_ipv4_net = *base::Cidr::parse("127.42.0.0/16");
  const auto config = new_colony("my-shop", "production", options);
  ASSERT_TRUE(config);
  const auto path = dir->save_colony(*config);
  ASSERT_TRUE(path) << path.error();
  ASSERT_TRUE(dir->use(config->colony_id));
  EXPECT_EQ(*dir->require_current(), config->colony_id);
  EXPECT_EQ(*dir->load_colony(*dir->require_current()), *config);
  EXPECT_EQ(*dir->list_colonies(), std::vector<std::string>{config->colony_id});
  EXPECT_EQ(mode_of(temp_ / "home" / ".coral"), 0700U);
}

// issue 16: a group- or world-writable config directory was used without a
// word.
TEST_F(ConfigDirTest, WarnsAboutDirectoriesOthersCanWriteTo) {
  const ConfigDir dir(temp_ / "coral");
  ASSERT_TRUE(dir.create());
  EXPECT_TRUE(dir.permission_warnings().empty());
  ASSERT_EQ(::chmod(dir.root().c_str(), 0777), 0);
  ASSERT_EQ(::chmod(dir.colonies_dir().c_str(), 0720), 0);
  const auto warnings = dir.permission_warnings();
  ASSERT_EQ(warnings.size(), 2U);
  EXPECT_EQ(warnings[0], dir.root().string() +
                             " is writable by group and others (mode 0777): they could replace colony files or plant "
                             "PID files; run chmod 700 " + dir.root().string());
  EXPECT_TRUE(warnings[1].starts_with(dir.colonies_dir().string() + " is writable by group (mode 0720)")) << warnings[1];
  // Readable by others is not the point here (files inside are 0600).
  ASSERT_EQ(::chmod(dir.root().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dir.colonies_dir().c_str(), 0700), 0);
  EXPECT_TRUE(dir.permission_warnings().empty());
}

// issue 16: after ENOSPC or EROFS the hints pointed at the wrong cause
// ("stop it with: coral colony stop"). The hint follows the error's value.
TEST(StorageHint, FollowsTheErrorValue) {
  const fs::path where = "/x/.coral/colonies";
  const auto code = [](int value) { return std::error_code(value, std::generic_category()); };
  EXPECT_EQ(storage_hint(code(ENOSPC), where),
            "the file system holding /x/.coral/colonies is full (or over quota): free some space (df -h "
            "/x/.coral/colonies), then try again");
  EXPECT_EQ(storage_hint(code(EDQUOT), where), storage_hint(code(ENOSPC), where));
  EXPECT_EQ(storage_hint(code(EROFS), where),
            "/x/.coral/colonies is on a read-only file system: remount it read-write, or use another config "
            "directory (CORAL_CONFIG_DIR)");
  EXPECT_EQ(storage_hint(code(EACCES), where),
            "no permission to write in /x/.coral/colonies: check its owner and mode (ls -ld /x/.coral/colonies)");
  EXPECT_EQ(storage_hint(code(EPERM), where), storage_hint(code(EACCES), where));
  // The system category's values compare equal too.
  EXPECT_EQ(storage_hint(std::error_code(ENOSPC, std::system_category()), where), storage_hint(code(ENOSPC), where));
  for (const int other : {0, EIO, ENOENT, EEXIST, EWOULDBLOCK}) {
    EXPECT_EQ(storage_hint(code(other), where), "") << other;
  }
}

}  // namespace
}  // namespace coral::config

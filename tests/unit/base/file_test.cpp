// Atomic file writes and the writability probe (base/file.h).

#include "base/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "file_helpers.h"

namespace coral::base {
namespace {

namespace fs = std::filesystem;

using testfs::mode_of;
using testfs::ScopedUmask;
std::string read(const fs::path& path) { return testfs::read_text(path); }

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  return names;
}

class FileTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "coral_file_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    temp_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(temp_, ignored);
  }

  fs::path temp_;
};

TEST_F(FileTest, WritesWithTheModeFromTheStartAndLeavesNoTemporaryFile) {
  const ScopedUmask usual_umask(022);  // the mode must not come from the umask
  const fs::path path = temp_ / "state.yaml";
  ASSERT_TRUE(write_file_atomically(path, "a: 1\n"));
  EXPECT_EQ(read(path), "a: 1\n");
  EXPECT_EQ(mode_of(path), 0600U);

  // Replacing: a new file renamed over the old one, with the mode asked for.
  ASSERT_TRUE(write_file_atomically(path, "a: 2\n", 0640, Overwrite::yes));
  EXPECT_EQ(read(path), "a: 2\n");
  EXPECT_EQ(mode_of(path), 0640U);
  EXPECT_EQ(names_in(temp_), std::vector<std::string>{"state.yaml"});
}

TEST_F(FileTest, OverwriteNoRefusesAnExistingFile) {
  const fs::path path = temp_ / "colony.yaml";
  ASSERT_TRUE(write_file_atomically(path, "first\n", 0600, Overwrite::no));
  const auto again = write_file_atomically(path, "second\n", 0600, Overwrite::no);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), path.string() + " already exists");
  EXPECT_EQ(read(path), "first\n");
  EXPECT_EQ(names_in(temp_), std::vector<std::string>{"colony.yaml"});
}

TEST_F(FileTest, ErrorsNameThePathAndTheSystemError) {
  const fs::path missing = temp_ / "nope" / "file.yaml";
  const auto written = write_file_atomically(missing, "x");
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().find("cannot write " + missing.string() + ": "), std::string::npos) << written.error();
  EXPECT_NE(written.error().find("No such file or directory"), std::string::npos) << written.error();
  EXPECT_FALSE(fs::exists(temp_ / "nope"));

  const auto not_a_file = write_file_atomically(temp_ / "", "x");
  ASSERT_FALSE(not_a_file);
  EXPECT_NE(not_a_file.error().find("not a file name"), std::string::npos) << not_a_file.error();
}

TEST_F(FileTest, ProbeWritableSaysWhyNot) {
  EXPECT_FALSE(probe_writable(temp_));
  EXPECT_EQ(probe_writable(temp_ / "missing"), std::errc::no_such_file_or_directory);
  // (A full or read-only file system needs root to make; storage_hint's
  // test covers those values.) Root writes through modes.
  if (::geteuid() != 0) {
    ASSERT_EQ(::chmod(temp_.c_str(), 0500), 0);
    EXPECT_EQ(probe_writable(temp_), std::errc::permission_denied);
    ASSERT_EQ(::chmod(temp_.c_str(), 0700), 0);
  }
}

}  // namespace
}  // namespace coral::base

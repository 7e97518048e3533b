// The proxy's runtime state file: what load_state accepts and refuses.

#include "proxy/state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace coral::proxy {
namespace {

namespace fs = std::filesystem;

class StateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("coral-state-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  fs::path dir_;
};

ProxyState sample() {
  return ProxyState{.colony_id = "my-shop-production-a3f2e1",
                    .listen = "localhost:8000",
                    .colony_mesh_ipv4 = "10.42.0.1",
                    .colony_mesh_ipv6 = "fd42::1",
                    .colony_connect_port = 9000,
                    .forwarding_to = "10.42.0.1:9000",
                    .mesh_ipv4 = "10.42.0.15",
                    .mesh_ipv6 = "fd42::f",
                    .transport = "host",
                    .status = "connected",
                    .pid = 12345,
                    .started_at = "2026-11-24T23:24:28Z"};
}

TEST_F(StateTest, WrittenStateLoadsBack) {
  const auto loaded = load_state(write("a.yaml", to_yaml(sample())));
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->colony_id, "my-shop-production-a3f2e1");
  EXPECT_EQ(loaded->forwarding_to, "10.42.0.1:9000");
  EXPECT_EQ(loaded->colony_connect_port, 9000);
  EXPECT_EQ(loaded->pid, 12345);
}

// Found by proxy_state_fuzz: a hand-edited state file with bytes that are
// not UTF-8 loaded, and `coral proxy list` would print them (or an escape
// sequence) to the terminal as they are; the same state, written back, did
// not load to the same values.
TEST_F(StateTest, ControlCharactersAndBrokenUtf8AreRefused) {
  const std::string text = to_yaml(sample());
  for (const std::string& bad : {std::string("10.42.0.1:\xff\xff"), std::string("\"\\e[31mred\""),
                                 std::string("\"a\\x07b\""), std::string("\"\\u0085\"")}) {
    std::string edited = text;
    const std::string line = "forwarding_to: 10.42.0.1:9000";
    edited.replace(edited.find(line), line.size(), "forwarding_to: " + bad);
    const fs::path path = write("bad.yaml", edited);
    const auto loaded = load_state(path);
    ASSERT_FALSE(loaded) << bad;
    EXPECT_EQ(loaded.error(), path.string() + ": forwarding_to: not printable UTF-8 text");
  }
  std::string accented = text;
  accented.replace(accented.find("status: connected"), 17, "status: connecté");
  const auto loaded = load_state(write("ok.yaml", accented));
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->status, "connecté");
}

// The stop report: what `coral proxy stop` tells the user about
// unregistering comes from here, so each outcome must survive the trip.
TEST_F(StateTest, StopReportRoundTrips) {
  for (const StopReport& report :
       {StopReport{.pid = 42, .unregister = StopReport::Unregister::unregistered, .error = {}},
        StopReport{.pid = 43, .unregister = StopReport::Unregister::not_registered, .error = {}},
        StopReport{.pid = 44, .unregister = StopReport::Unregister::failed,
                   .error = "http://127.42.0.1:9000 is not reachable: connection refused"}}) {
    const fs::path path = write("x.stopped", to_yaml(report));
    const auto loaded = load_stop_report(path);
    ASSERT_TRUE(loaded) << loaded.error();
    EXPECT_EQ(loaded->pid, report.pid);
    EXPECT_EQ(loaded->unregister, report.unregister);
    EXPECT_EQ(loaded->error, report.error);
  }
  EXPECT_EQ(stop_report_file("/p", "a"), fs::path("/p/a.stopped"));
  EXPECT_FALSE(load_stop_report(write("bad.stopped", "pid: 1\nunregister: maybe\n")));
  EXPECT_FALSE(load_stop_report(write("junk.stopped", "[")));
  EXPECT_FALSE(load_stop_report(dir_ / "absent.stopped"));
}

}  // namespace
}  // namespace coral::proxy

#include "proxy/health.h"

#include <gtest/gtest.h>

namespace coral::proxy {
namespace {

v1::ProxyHealth sample() {
  v1::ProxyHealth health;
  health.set_status("ok");
  health.set_pid(4242);
  health.set_listen("127.0.0.1:8000");
  health.set_started_at("2026-12-07T18:00:00Z");
  health.set_uptime_seconds(65);
  health.set_requests(12);
  health.set_failed(0);
  health.set_active(1);
  health.set_canceled(2);
  v1::ColonyHealth& colony = *health.add_colonies();
  colony.set_colony_id("alpha");
  colony.set_forwarding_to("127.42.0.1:9000");
  colony.set_colony_mesh_ipv4("127.42.0.1");
  colony.set_colony_mesh_ipv6("fdc0:42::1");
  colony.set_mesh_ipv4("");
  colony.set_mesh_ipv6("");
  colony.set_discovery("http://127.0.0.1:8080");
  colony.set_colony_connect_port(9000);
  colony.set_status("connected");
  return health;
}

// The document as the hand-built writer before it produced it, byte for
// byte, and the tunnel fields appended after it: scripts and docs/proxy.md
// read these names, in this order, with zeros and empty strings present and
// integers as JSON numbers.
TEST(HealthJson, WritesTheDocumentAsBefore) {
  EXPECT_EQ(write_health_json(sample()),
            R"({"status":"ok","pid":4242,"listen":"127.0.0.1:8000","started_at":"2026-12-07T18:00:00Z",)"
            R"("uptime_seconds":65,"requests":12,"failed":0,"active":1,"canceled":2,"colonies":[)"
            R"({"colony_id":"alpha","forwarding_to":"127.42.0.1:9000","colony_mesh_ipv4":"127.42.0.1",)"
            R"("colony_mesh_ipv6":"fdc0:42::1","mesh_ipv4":"","mesh_ipv6":"","discovery":"http://127.0.0.1:8080",)"
            R"("colony_connect_port":9000,"status":"connected","transport":"","registration":"","problem":"",)"
            R"("tunnel_endpoint":"","latest_handshake":"","tunnel_rx_bytes":0,"tunnel_tx_bytes":0,)"
            R"("tunnel_listen_port":0}]})");
}

TEST(HealthJson, WritesZerosAndAnEmptyColonyList) {
  v1::ProxyHealth health;
  health.set_status("ok");
  EXPECT_EQ(write_health_json(health),
            R"({"status":"ok","pid":0,"listen":"","started_at":"","uptime_seconds":0,"requests":0,"failed":0,)"
            R"("active":0,"canceled":0,"colonies":[]})");
}

TEST(HealthJson, LargeCountersStayNumbers) {
  v1::ProxyHealth health;
  health.set_requests(static_cast<double>(std::uint64_t{1} << 40));
  const std::string json = write_health_json(health);
  EXPECT_NE(json.find(R"("requests":1099511627776,)"), std::string::npos) << json;
}

TEST(HealthJson, KeepsTheDocumentValidWhateverTheText) {
  v1::ProxyHealth health = sample();
  health.mutable_colonies(0)->set_status("unreachable: \"quoted\"\n\x01 broken \xff end");
  const std::string json = write_health_json(health);
  auto back = read_health_json(json);
  ASSERT_TRUE(back) << json;
  EXPECT_EQ(back->colonies(0).status(), "unreachable: \"quoted\"\n\x01 broken \xEF\xBF\xBD end");
}

TEST(HealthJson, RoundTrips) {
  auto back = read_health_json(write_health_json(sample()));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->SerializeAsString(), sample().SerializeAsString());
}

TEST(HealthJson, ReadsWhatOlderAndNewerProxiesWrite) {
  // Integers for the counters (the hand-built writer), a field this reader
  // does not know, and fields left out.
  auto read = read_health_json(
      R"({"status":"ok","pid":7,"requests":5,"failed":1,"later":{"x":[1,2]},"colonies":[{"colony_id":"a","status":"connected","new":true}]})");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->pid(), 7u);
  EXPECT_EQ(read->requests(), 5);
  EXPECT_EQ(read->failed(), 1);
  EXPECT_EQ(read->uptime_seconds(), 0u);
  ASSERT_EQ(read->colonies_size(), 1);
  EXPECT_EQ(read->colonies(0).colony_id(), "a");
  EXPECT_EQ(read->colonies(0).status(), "connected");
}

TEST(HealthJson, RefusesWhatIsNotTheDocument) {
  for (std::string_view body : {"", "<html>", "{\"pid\":", "[1,2]", "{\"pid\":\"x\"}", "{\"colonies\":5}"}) {
    EXPECT_FALSE(read_health_json(body)) << body;
  }
}

}  // namespace
}  // namespace coral::proxy

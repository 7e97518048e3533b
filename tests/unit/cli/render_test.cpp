// The --json documents of proto/coral/cli/v1/documents.proto as proto_json
// prints them: the keys scripts read, present whenever the CLI sets them,
// even when false, 0 or empty, and absent otherwise.

#include "cli/render.h"

#include <gtest/gtest.h>

#include "coral/cli/v1/documents.pb.h"

namespace coral::cli {
namespace {

TEST(ColonyListJson, AnArrayOfEntriesWithFalseAndErrorsKept) {
  v1::ColonyList list;
  EXPECT_EQ(proto_json_array(list.colonies()), "[]");

  v1::ColonyListEntry& loaded = *list.add_colonies();
  loaded.set_colony_id("shop-prod-a1ec02");
  loaded.set_current(false);
  loaded.set_app_name("shop");
  loaded.set_environment("prod");
  loaded.set_mesh("10.42.0.1 / fd5e:3fec:bffa::1");
  loaded.set_process("running (pid 42)");
  v1::ColonyListEntry& broken = *list.add_colonies();
  broken.set_colony_id("bad-x-000001");
  broken.set_current(true);
  broken.set_process("stopped");
  broken.set_error("bad-x-000001.yaml: invalid YAML");
  EXPECT_EQ(proto_json_array(list.colonies()),
            R"j([{"colony_id":"shop-prod-a1ec02","current":false,"app_name":"shop","environment":"prod",)j"
            R"j("mesh":"10.42.0.1 / fd5e:3fec:bffa::1","process":"running (pid 42)"},)j"
            R"j({"colony_id":"bad-x-000001","current":true,"process":"stopped",)j"
            R"j("error":"bad-x-000001.yaml: invalid YAML"}])j");
}

TEST(ProxyListJson, UptimeOnlyWhenTheProxyAnswered) {
  v1::ProxyList list;
  EXPECT_EQ(proto_json_array(list.proxies()), "[]");

  v1::ProxyListEntry& up = *list.add_proxies();
  up.set_colony_id("shop-prod-a1ec02");
  up.set_listen("localhost:8000");
  up.set_status("connected");
  up.set_pid(4242);
  up.set_uptime_seconds(0);  // just started: a number, not left out
  v1::ProxyListEntry& stale = *list.add_proxies();
  stale.set_colony_id("broken");
  stale.set_listen("");  // an invalid state file: still there, empty
  stale.set_status("stale");
  stale.set_pid(0);
  EXPECT_EQ(proto_json_array(list.proxies()),
            R"j([{"colony_id":"shop-prod-a1ec02","listen":"localhost:8000","status":"connected","pid":4242,)j"
            R"j("uptime_seconds":0},{"colony_id":"broken","listen":"","status":"stale","pid":0}])j");
}

TEST(ColonyStatusJson, StoppedColonyKeepsRunningFalseAndTheEndpoint) {
  v1::ColonyStatus status;
  status.set_colony_id("shop-prod-a1ec02");
  status.set_process("stopped");
  status.set_running(false);
  status.set_discovery_endpoint("");
  status.set_discovery_error("connection refused");
  EXPECT_EQ(proto_json(status),
            R"j({"colony_id":"shop-prod-a1ec02","process":"stopped","running":false,"discovery_endpoint":"",)j"
            R"j("discovery_error":"connection refused"})j");
}

TEST(ColonyStatusJson, RunningColonyNestsItsAnswersAsTheyArePrinted) {
  v1::ColonyStatus status;
  status.set_colony_id("shop-prod-a1ec02");
  status.set_process("running (pid 42)");
  status.set_running(true);
  status.set_pid(42);
  status.set_reached_at("127.42.0.1:9000");
  status.set_reached_via("direct");
  status.mutable_status()->set_colony_id("shop-prod-a1ec02");
  status.mutable_status()->set_status("running");
  status.mutable_agents();  // answered, no agents
  status.set_discovery_endpoint("http://localhost:8080");
  v1::Registration& registration = *status.mutable_registration();
  registration.set_state("refused");
  registration.set_code("already_exists");
  registration.set_reason("another WireGuard key");
  registration.set_proven(false);
  registration.set_since("2026-01-01T00:00:00Z");
  status.mutable_discovery()->set_connect_port(9000);
  status.set_discovery_key_matches(false);
  // GetStatusResponse, ListAgentsResponse and LookupColonyResponse leave
  // their defaults out, as `coral status --json` prints them.
  EXPECT_EQ(proto_json(status),
            R"j({"colony_id":"shop-prod-a1ec02","process":"running (pid 42)","running":true,"pid":42,)j"
            R"j("reached_at":"127.42.0.1:9000","reached_via":"direct",)j"
            R"j("status":{"colony_id":"shop-prod-a1ec02","status":"running"},"agents":{},)j"
            R"j("discovery_endpoint":"http://localhost:8080",)j"
            R"j("registration":{"state":"refused","code":"already_exists","reason":"another WireGuard key",)j"
            R"j("proven":false,"since":"2026-01-01T00:00:00Z"},)j"
            R"j("discovery":{"connect_port":9000},"discovery_key_matches":false})j");
}

}  // namespace
}  // namespace coral::cli

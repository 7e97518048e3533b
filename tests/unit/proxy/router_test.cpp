// Which colony a request through the local proxy is for (path prefix,
// Colony-ID header, default), and which fields never cross it (hop-by-hop).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/forwarder.h"
#include "proxy/router.h"

namespace coral::proxy {
namespace {

constexpr std::string_view kStatusPath = "/coral.colony.v1.ColonyService/GetStatus";

http::RequestHead request(std::string path, http::Fields fields = {}) {
  http::RequestHead head;
  head.method = "POST";
  head.path = std::move(path);
  head.fields = std::move(fields);
  head.fields.push_back({"content-type", "application/proto"});
  return head;
}

const Router& router() {
  static const Router instance({"alpha", "beta"});
  return instance;
}

TEST(RouterTest, PlainPathGoesToTheDefaultColonyUnchanged) {
  const auto route = router().route(request(std::string(kStatusPath)));
  ASSERT_TRUE(route) << route.error();
  EXPECT_EQ(route->colony, 0u);
  EXPECT_EQ(route->path, kStatusPath);
  EXPECT_EQ(route->by, Route::By::default_colony);
}

TEST(RouterTest, ServedColonyPrefixPicksItAndIsStripped) {
  const auto beta = router().route(request("/beta" + std::string(kStatusPath)));
  ASSERT_TRUE(beta) << beta.error();
  EXPECT_EQ(beta->colony, 1u);
  EXPECT_EQ(beta->path, kStatusPath);
  EXPECT_EQ(beta->by, Route::By::path_prefix);

  const auto alpha = router().route(request("/alpha" + std::string(kStatusPath)));
  ASSERT_TRUE(alpha) << alpha.error();
  EXPECT_EQ(alpha->colony, 0u);
  EXPECT_EQ(alpha->path, kStatusPath);
  EXPECT_EQ(alpha->by, Route::By::path_prefix);
}

TEST(RouterTest, PrefixKeepsTheRestOfThePathAndQuery) {
  const auto route = router().route(request("/beta/coral.testing.v1.EchoService/Echo?encoding=json&message=%7B%7D"));
  ASSERT_TRUE(route) << route.error();
  EXPECT_EQ(route->colony, 1u);
  EXPECT_EQ(route->path, "/coral.testing.v1.EchoService/Echo?encoding=json&message=%7B%7D");
}

TEST(RouterTest, FirstSegmentThatIsNoServedColonyStaysInThePath) {
  // A service path whose first segment merely looks like an id.
  for (const std::string path : {"/gamma/coral.colony.v1.ColonyService/GetStatus", "/betamax/x/y", "/bet/x",
                                 "/beta", "/alpha?x=/y"}) {
    const auto route = router().route(request(path));
    ASSERT_TRUE(route) << path << ": " << route.error();
    EXPECT_EQ(route->colony, 0u) << path;
    EXPECT_EQ(route->path, path);
    EXPECT_EQ(route->by, Route::By::default_colony) << path;
  }
}

TEST(RouterTest, ColonyIdHeaderPicksAServedColony) {
  const auto route = router().route(request(std::string(kStatusPath), {{"colony-id", "beta"}}));
  ASSERT_TRUE(route) << route.error();
  EXPECT_EQ(route->colony, 1u);
  EXPECT_EQ(route->path, kStatusPath);
  EXPECT_EQ(route->by, Route::By::header);
}

TEST(RouterTest, ColonyIdHeaderNamingTheDefaultIsByHeader) {
  const auto route = router().route(request(std::string(kStatusPath), {{"colony-id", "alpha"}}));
  ASSERT_TRUE(route) << route.error();
  EXPECT_EQ(route->colony, 0u);
  EXPECT_EQ(route->by, Route::By::header);
}

TEST(RouterTest, UnknownColonyIdIsAnErrorNamingItAndTheServedOnes) {
  const auto route = router().route(request(std::string(kStatusPath), {{"colony-id", "gamma"}}));
  ASSERT_FALSE(route) << "routed to colony " << route->colony;
  EXPECT_NE(route.error().find("\"gamma\""), std::string::npos) << route.error();
  EXPECT_NE(route.error().find("alpha, beta"), std::string::npos) << route.error();
}

TEST(RouterTest, UnknownColonyIdIsNeverSilentlyTheDefault) {
  // Case matters: ids are compared exactly.
  const auto route = router().route(request(std::string(kStatusPath), {{"colony-id", "Alpha"}}));
  EXPECT_FALSE(route);
}

TEST(RouterTest, PathPrefixWinsOverTheHeader) {
  const auto route = router().route(request("/alpha" + std::string(kStatusPath), {{"colony-id", "beta"}}));
  ASSERT_TRUE(route) << route.error();
  EXPECT_EQ(route->colony, 0u);
  EXPECT_EQ(route->path, kStatusPath);
  EXPECT_EQ(route->by, Route::By::path_prefix);
}

TEST(RouterTest, SingleColonyServesEverythingByDefault) {
  const Router single({"only"});
  const auto route = single.route(request("/x/y"));
  ASSERT_TRUE(route) << route.error();
  EXPECT_EQ(route->colony, 0u);
  EXPECT_EQ(route->path, "/x/y");
  ASSERT_EQ(single.colonies().size(), 1u);
  EXPECT_EQ(single.colonies()[0], "only");

  const auto wrong = single.route(request("/x/y", {{"colony-id", "other"}}));
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().find("\"other\""), std::string::npos) << wrong.error();
  EXPECT_NE(wrong.error().find("only"), std::string::npos) << wrong.error();
}

TEST(RouterTest, ProxyPaths) {
  EXPECT_TRUE(is_proxy_path("/-/coral/proxy/health"));
  EXPECT_TRUE(is_proxy_path("/-/coral/proxy/health?verbose=1"));
  EXPECT_TRUE(is_proxy_path("/-/coral/proxy/"));
  EXPECT_FALSE(is_proxy_path("/-/coral/proxy"));
  EXPECT_FALSE(is_proxy_path("/-/coral/other"));
  EXPECT_FALSE(is_proxy_path(kStatusPath));
  EXPECT_FALSE(is_proxy_path("/alpha/-/coral/proxy/health"));
  EXPECT_FALSE(is_proxy_path(""));
}

// ------------------------------------------------------------ hop-by-hop

std::vector<std::string> names(const http::Fields& fields) {
  std::vector<std::string> out;
  for (const auto& field : fields) out.push_back(field.name);
  return out;
}

TEST(HopByHopTest, DropsTheFixedSetAndKeepsTheRestInOrder) {
  http::Fields fields{{"content-type", "application/grpc"}, {"connection", "keep-alive"},
                      {"keep-alive", "timeout=5"},          {"grpc-timeout", "1S"},
                      {"proxy-connection", "keep-alive"},   {"transfer-encoding", "chunked"},
                      {"upgrade", "h2c"},                   {"x-custom", "1"},
                      {"http2-settings", "AAMAAABkAAQAAP__"}};
  remove_hop_by_hop(fields);
  // http2-settings is not in the fixed set: it is hop-by-hop only when
  // Connection names it.
  EXPECT_EQ(names(fields), (std::vector<std::string>{"content-type", "grpc-timeout", "x-custom", "http2-settings"}));
}

TEST(HopByHopTest, DropsFieldsConnectionNames) {
  http::Fields fields{{"connection", "Upgrade, HTTP2-Settings ,\tx-hop"},
                      {"http2-settings", "AAMAAABkAAQAAP__"},
                      {"x-hop", "1"},
                      {"x-keep", "2"},
                      {"upgrade", "h2c"}};
  remove_hop_by_hop(fields);
  ASSERT_EQ(names(fields), (std::vector<std::string>{"x-keep"}));
  EXPECT_EQ(fields[0].value, "2");
}

TEST(HopByHopTest, ConnectionListedFieldsFromSeveralConnectionHeaders) {
  http::Fields fields{{"connection", "x-one"}, {"x-one", "1"}, {"x-two", "2"}, {"connection", "x-two,,"},
                      {"x-three", "3"}};
  remove_hop_by_hop(fields);
  EXPECT_EQ(names(fields), (std::vector<std::string>{"x-three"}));
}

TEST(HopByHopTest, KeepsTeTrailersForGrpcAndDropsOtherTe) {
  http::Fields trailers_only{{"te", "trailers"}, {"content-type", "application/grpc"}};
  remove_hop_by_hop(trailers_only);
  EXPECT_EQ(names(trailers_only), (std::vector<std::string>{"te", "content-type"}));

  http::Fields upper{{"te", "Trailers"}};
  remove_hop_by_hop(upper);
  EXPECT_EQ(names(upper), (std::vector<std::string>{"te"}));

  http::Fields other{{"te", "gzip"}, {"x-keep", "1"}, {"te", "deflate, trailers"}};
  remove_hop_by_hop(other);
  EXPECT_EQ(names(other), (std::vector<std::string>{"x-keep"}));
}

TEST(HopByHopTest, TeTrailersSurvivesConnectionTe) {
  // An HTTP/1.1 client sending "TE: trailers" must list TE in Connection;
  // the h2c upstream still needs "te: trailers" (the only TE h2 allows).
  http::Fields fields{{"connection", "TE"}, {"te", "trailers"}, {"content-type", "application/grpc"}};
  remove_hop_by_hop(fields);
  EXPECT_EQ(names(fields), (std::vector<std::string>{"te", "content-type"}));
}

TEST(HopByHopTest, NothingToDropLeavesFieldsAlone) {
  http::Fields fields{{"content-type", "application/json"}, {"connect-protocol-version", "1"}, {"x-a", "b"}};
  const http::Fields before = fields;
  remove_hop_by_hop(fields);
  ASSERT_EQ(fields.size(), before.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    EXPECT_EQ(fields[i].name, before[i].name);
    EXPECT_EQ(fields[i].value, before[i].value);
  }

  http::Fields empty;
  remove_hop_by_hop(empty);
  EXPECT_TRUE(empty.empty());
}

}  // namespace
}  // namespace coral::proxy

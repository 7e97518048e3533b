// The helpers every binary's main shares (cli/app.h, suggest.h,
// completion.h) and the CLI's proxy address parsing.

#include "cli/app.h"

#include <gtest/gtest.h>

#include "cli/colony_reach.h"
#include "cli/completion.h"
#include "cli/context.h"
#include "cli/suggest.h"
#include "cli/version.h"

namespace coral::cli {
namespace {

TEST(Closest, SuggestsOnlyCloseWords) {
  const std::vector<std::string> commands{"init", "colony", "proxy", "status", "agents", "topology"};
  EXPECT_EQ(closest("statsu", commands), "status");  // a swap
  EXPECT_EQ(closest("stauts", commands), "status");
  EXPECT_EQ(closest("colny", commands), "colony");   // a deletion
  EXPECT_EQ(closest("proxyy", commands), "proxy");   // an insertion
  EXPECT_EQ(closest("zzz", commands), std::nullopt);
  EXPECT_EQ(closest("status", commands), std::nullopt);  // not a typo
  EXPECT_EQ(closest("a", {"b"}), std::nullopt);  // one edit of one letter is not "close"
  EXPECT_EQ(did_you_mean("statsu", commands), " — did you mean 'status'?");
  EXPECT_EQ(did_you_mean("xyz", commands), "");
}

TEST(ParseProxyAddress, TakesAUrlOrHostPort) {
  auto url = parse_proxy_address("http://localhost:8000");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->host, "localhost");
  EXPECT_EQ(url->port, 8000);
  url = parse_proxy_address("localhost:8000");  // was taken for a URL and failed
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->host, "localhost");
  EXPECT_EQ(url->port, 8000);
  url = parse_proxy_address("[::1]:8001");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 8001);
  for (const char* garbage : {"", "localhost", "not a proxy", "localhost:99999", "http://"}) {
    const auto bad = parse_proxy_address(garbage);
    ASSERT_FALSE(bad) << garbage;
    EXPECT_NE(bad.error().find("expected http://HOST:PORT or HOST:PORT"), std::string::npos) << bad.error();
  }
}

TEST(Count, PicksSingularOrPlural) {
  EXPECT_EQ(count(0, "agent", "agents"), "0 agents");
  EXPECT_EQ(count(1, "agent", "agents"), "1 agent");
  EXPECT_EQ(count(2, "colony", "colonies"), "2 colonies");
  EXPECT_EQ(count(1, "colony", "colonies"), "1 colony");
}

TEST(VersionText, NamesTheBinaryAndVersion) {
  const std::string text = version_text("coral-discovery");
  EXPECT_TRUE(text.starts_with("coral-discovery " + std::string(kVersion))) << text;
}

int parse(CLI::App& app, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  const auto code = parse_args(app, static_cast<int>(argv.size()), argv.data());
  return code ? *code : -1;
}

TEST(ParseArgs, UsageErrorsAreExit2HelpAndVersionExit0) {
  CLI::App app{"test", "coral"};
  setup_app(app, "coral");
  app.add_subcommand("status", "");
  app.require_subcommand(1);
  testing::internal::CaptureStderr();
  EXPECT_EQ(parse(app, {"coral", "statsu"}), kExitUsage);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("error: unknown command 'statsu' — did you mean 'status'?"), std::string::npos) << err;
  testing::internal::CaptureStderr();
  EXPECT_EQ(parse(app, {"coral", "--nope"}), kExitUsage);
  EXPECT_TRUE(testing::internal::GetCapturedStderr().starts_with("error: "));
  testing::internal::CaptureStdout();
  EXPECT_EQ(parse(app, {"coral", "--version"}), kExitOk);
  EXPECT_EQ(testing::internal::GetCapturedStdout(), version_text("coral") + "\n");
  EXPECT_EQ(parse(app, {"coral", "status"}), -1);  // good: no exit code
}

TEST(Completion, BashScriptListsCommandsAndFlags) {
  CLI::App app{"test", "coral"};
  auto* colony = app.add_subcommand("colony", "");
  colony->add_subcommand("start", "")->add_option("--grace", "");
  auto script = completion_script(app, "bash");
  ASSERT_TRUE(script) << script.error();
  EXPECT_NE(script->find("\"\") words=\"colony --help\""), std::string::npos) << *script;
  EXPECT_NE(script->find("\" colony\") words=\"start --help\""), std::string::npos) << *script;
  EXPECT_NE(script->find("\" colony start\") words=\"--help --grace\""), std::string::npos) << *script;
  EXPECT_NE(script->find("complete -F _coral coral"), std::string::npos);
  EXPECT_FALSE(completion_script(app, "fish"));
}

}  // namespace
}  // namespace coral::cli

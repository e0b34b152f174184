// A third-party client: Node's `ws` (tests/node) against a real server.
#include "test_paths.hpp"
#include "gateway/gateway_support.hpp"

#include <cstdlib>
#include <filesystem>

namespace jobwatch::test {
namespace {

TEST(NodeClientTest, TheWsPackageSpeaksTheProtocol)
{
    auto const dir = jobwatch::test::source_dir() / "tests" / "node";
    ASSERT_TRUE(std::filesystem::exists(dir / "node_modules" / "ws"))
        << "run scripts/setup.sh first (it runs npm ci in tests/node)";
    test_server srv;
    // `timeout` bounds the child even if the script's own deadline fails.
    auto const cmd = "timeout 60 node " + (dir / "ws_e2e.mjs").string() + " " + std::to_string(srv.port()) + " 2>&1";
    auto const rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << cmd;
}

}  // namespace
}  // namespace jobwatch::test

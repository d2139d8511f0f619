#include <fstream>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "core/config.h"
#include "test_models.h"

using kiln::Settings;
using kiln::SettingSource;

namespace {

std::string write_file(const std::string & text) {
    auto path = kiln::test::temp_dir() / "config.toml";
    std::ofstream(path) << text;
    return path.string();
}

}  // namespace

TEST(Settings, DefaultsWhenNoFile) {
    unsetenv("KILN_PORT");
    auto s = Settings::load("/nonexistent/kiln.toml");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->get("server.port"), "11434");
    EXPECT_EQ(s->get("server.host"), "127.0.0.1");
    EXPECT_EQ(s->source("server.port"), SettingSource::default_value);
}

TEST(Settings, PrecedenceFlagOverEnvOverFile) {
    const auto path = write_file("[server]\nport = 9000\nhost = \"0.0.0.0\"\n");
    unsetenv("KILN_PORT");
    unsetenv("KILN_HOST");
    auto s = Settings::load(path);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(s->get("server.port"), "9000");
    EXPECT_EQ(s->source("server.port"), SettingSource::file);

    setenv("KILN_PORT", "9100", 1);
    s = Settings::load(path);
    EXPECT_EQ(s->get("server.port"), "9100");
    EXPECT_EQ(s->source("server.port"), SettingSource::env);
    EXPECT_EQ(s->get("server.host"), "0.0.0.0");

    s->set_flag("server.port", "9200");
    EXPECT_EQ(*s->get_int("server.port"), 9200);
    EXPECT_EQ(s->source("server.port"), SettingSource::flag);
    unsetenv("KILN_PORT");
}

TEST(Settings, UnknownKeyAndBadSyntaxAreErrors) {
    auto s = Settings::load(write_file("[server]\nprot = 1\n"));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("server.prot"), std::string::npos);

    s = Settings::load(write_file("[server\nport = 1\n"));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("line"), std::string::npos);
}

TEST(Settings, BadIntegerNamesItsSource) {
    setenv("KILN_CTX_SIZE", "lots", 1);
    auto s = Settings::load("");
    ASSERT_TRUE(s.ok());
    auto v = s->get_int("model.ctx_size");
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.error().message.find("KILN_CTX_SIZE"), std::string::npos);
    unsetenv("KILN_CTX_SIZE");
}

// The registry of backend kinds: every name a preset may give is one entry,
// and what kiln does with a model is asked of its entry.
#include <gtest/gtest.h>

#include "router/backend_kinds.h"
#include "router/backend_loader.h"

using namespace kiln::router;

TEST(BackendKinds, EachNameIsOneEntryWithWhatItNeeds) {
    ASSERT_NE(find_backend_kind("llama"), nullptr);
    EXPECT_TRUE(find_backend_kind("llama")->in_process);
    EXPECT_FALSE(find_backend_kind("process")->in_process);
    EXPECT_TRUE(find_backend_kind("process")->runs_command);
    EXPECT_FALSE(find_backend_kind("remote")->runs_command);
    EXPECT_EQ(find_backend_kind("mlx"), nullptr);
    for (const auto & k : backend_kinds()) {
        EXPECT_NE(k.estimate, nullptr) << k.name;
        EXPECT_NE(k.load, nullptr) << k.name;
    }
    EXPECT_EQ(backend_kind_names(), "\"llama\", \"process\" or \"remote\"");
}

TEST(BackendKinds, ASpecIsInProcessUnlessItNamesAnotherKind) {
    ModelSpec spec;
    EXPECT_TRUE(kind_of(spec).in_process);  // the default backend
    spec.backend = "remote";
    EXPECT_STREQ(kind_of(spec).name, "remote");
}

TEST(BackendKinds, ALoaderRefusesAnUnknownKind) {
    kiln::router::ModelSpec spec;
    spec.id      = "x";
    spec.backend = "mlx";
    auto b       = BackendLoader().load(spec, 0);
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message.find("unknown backend 'mlx'"), std::string::npos);
}

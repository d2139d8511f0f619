#include <gtest/gtest.h>

#include "api/ollama_chat.h"

using namespace kiln::api::ollama;

// Found by fuzz_ollama: a context with no prompt read an empty optional.
// Ollama continues the context with an empty prompt, and so does kiln.
TEST(OllamaParse, AContextWithoutAPromptContinuesIt) {
    auto call = parse_generate(R"({"model":"m","context":[1,2],"system":"s"})");
    ASSERT_TRUE(call) << call.error().message;
    EXPECT_FALSE(call->load_only);
    ASSERT_EQ(call->messages.messages.size(), 2u);
    EXPECT_EQ(call->messages.messages[1].role, "user");
    EXPECT_EQ(call->messages.messages[1].content, "");
    EXPECT_EQ(call->messages.context, (std::vector<int32_t>{1, 2}));
}

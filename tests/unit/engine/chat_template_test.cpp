#include <gtest/gtest.h>

#include "engine/chat_template.h"
#include "engine/model.h"
#include "test_models.h"

using kiln::engine::ChatTemplate;
using kiln::engine::Model;

TEST(ChatTemplate, ModelChatMLTemplateRendersConversation) {
    auto model = Model::load(kiln::test::tiny_model("qwen2"));
    ASSERT_TRUE(model) << model.error().message;
    auto tmpl = ChatTemplate::create(**model);
    ASSERT_TRUE(tmpl) << tmpl.error().message;
    auto out = (*tmpl)->apply({{"system", "Be brief."}, {"user", "Hi"}}, true);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->prompt,
              "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");

    auto no_gen = (*tmpl)->apply({{"user", "Hi"}}, false);
    ASSERT_TRUE(no_gen);
    EXPECT_EQ(no_gen->prompt, "<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, OverrideTemplateIsUsed) {
    auto model = Model::load(kiln::test::tiny_model("qwen2"));
    ASSERT_TRUE(model);
    auto tmpl = ChatTemplate::create(**model, "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}");
    ASSERT_TRUE(tmpl) << tmpl.error().message;
    auto out = (*tmpl)->apply({{"user", "one"}, {"assistant", "two"}}, false);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->prompt, "[user] one\n[assistant] two\n");
}

TEST(ChatTemplate, BrokenTemplateIsAnErrorNotACrash) {
    auto model = Model::load(kiln::test::tiny_model("qwen2"));
    ASSERT_TRUE(model);
    auto tmpl = ChatTemplate::create(**model, "{% for m in messages %}{{ m.role ");
    if (tmpl) {
        auto out = (*tmpl)->apply({{"user", "x"}}, true);
        EXPECT_FALSE(out.ok());
    } else {
        EXPECT_EQ(tmpl.error().code, kiln::ErrorCode::invalid_request);
    }
}

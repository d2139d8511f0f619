#include <gtest/gtest.h>

#include "store/modelfile.h"

using kiln::store::modelfile_preset;
using kiln::store::parse_modelfile;

TEST(Modelfile, ParsesEveryInstructionAndItsQuoting) {
    auto mf = parse_modelfile("# comment\n"
                              "from org/repo:Q4_K_M\n"
                              "PARAMETER temperature 0.7\n"
                              "PARAMETER stop \"<|end|>\"\n"
                              "PARAMETER stop \"say \\\"bye\\\"\"\n"
                              "SYSTEM \"\"\"Two\nlines\"\"\"\n"
                              "\n"
                              "MESSAGE user Hi there\n"
                              "MESSAGE assistant \"Hello!\"\n"
                              "LICENSE MIT\n");
    ASSERT_TRUE(mf) << mf.error().message;
    EXPECT_EQ(mf->from, "org/repo:Q4_K_M");
    ASSERT_EQ(mf->parameters.size(), 3u);
    EXPECT_EQ(mf->parameters[2].second, "say \"bye\"");
    EXPECT_EQ(mf->system, "Two\nlines");
    ASSERT_EQ(mf->messages.size(), 2u);
    EXPECT_EQ(mf->messages[0].second, "Hi there");
    EXPECT_EQ(mf->license, "MIT");

    auto t = modelfile_preset("m", *mf, nullptr);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->values.at("model"), "org/repo:Q4_K_M");
    EXPECT_EQ(t->values.at("temperature"), "0.7");
    EXPECT_EQ(t->lists.at("stop").size(), 2u);
    EXPECT_EQ(t->lists.at("messages")[1], "assistant: Hello!");
    // And back: the Modelfile /api/show gives reads the same.
    auto round = parse_modelfile(kiln::store::preset_modelfile(*t));
    ASSERT_TRUE(round) << round.error().message;
    EXPECT_EQ(round->system, mf->system);
    EXPECT_EQ(round->messages, mf->messages);
}

TEST(Modelfile, ErrorsNameTheLine) {
    auto e = parse_modelfile("FROM x\n\nPARAMETER\n");
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().message.find("line 3"), std::string::npos) << e.error().message;
    EXPECT_FALSE(parse_modelfile("SYSTEM hi\n")) << "FROM is required";
    EXPECT_FALSE(parse_modelfile("FROM x\nADAPTER lora.gguf\n"));
    EXPECT_FALSE(parse_modelfile("FROM x\nMESSAGE tool hi\n"));
    EXPECT_FALSE(parse_modelfile("FROM x\nSYSTEM \"open\n"));
    auto go = parse_modelfile("FROM x\nTEMPLATE \"{{ .Prompt }}\"\n");
    ASSERT_TRUE(go);
    EXPECT_FALSE(modelfile_preset("m", *go, nullptr)) << "Go templates are refused";
    auto num_ctx = parse_modelfile("FROM x\nPARAMETER num_ctx 4096\nPARAMETER num_gpu 99\n");
    ASSERT_TRUE(num_ctx);
    auto t = modelfile_preset("m", *num_ctx, nullptr);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->values.at("ctx_size"), "4096");
    EXPECT_EQ(t->values.count("num_gpu"), 0u) << "GPU settings mean nothing here";
}

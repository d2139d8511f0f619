// What `auto` flash attention becomes (this build has no GPU backend).
#include <gtest/gtest.h>

#include "engine/context.h"

using kiln::engine::ContextParams;
using kiln::engine::resolve_flash_attn;
using FA = ContextParams::FlashAttn;

namespace {

ContextParams generation(uint32_t n_ctx, uint32_t n_batch = 512) {
    ContextParams p;
    p.n_ctx   = n_ctx;
    p.n_batch = n_batch;
    return p;
}

}  // namespace

TEST(FlashAttn, AutoIsOffOnTheCpuWhileTheScoreBufferIsSmall) {
    // 512 x 8192 x 16 heads x 4 bytes: 256 MiB.
    EXPECT_EQ(resolve_flash_attn(generation(8192), 16, true), FA::off);
    // 512 x 16384 x 32 heads x 4 bytes: 1 GiB exactly, still off.
    EXPECT_EQ(resolve_flash_attn(generation(16384), 32, true), FA::off);
}

TEST(FlashAttn, AutoStaysLlamaCppsChoiceForBigContextsQuantizedKvAndEmbeddings) {
    // 512 x 32768 x 32 x 4 bytes: 2 GiB of scores.
    EXPECT_EQ(resolve_flash_attn(generation(32768), 32, true), FA::auto_);
    auto q = generation(4096);
    q.kv_type = GGML_TYPE_Q8_0;  // quantized V needs flash attention
    EXPECT_EQ(resolve_flash_attn(q, 16, true), FA::auto_);
    auto e = generation(4096);
    e.embeddings = true;
    EXPECT_EQ(resolve_flash_attn(e, 16, true), FA::auto_);
    EXPECT_EQ(resolve_flash_attn(generation(4096), 0, true), FA::auto_);  // heads unknown
    // Cached prefixes staying in the pool would widen every step's scores.
    EXPECT_EQ(resolve_flash_attn(generation(8192), 16, false), FA::auto_);
}

TEST(FlashAttn, AnExplicitChoiceIsKept) {
    auto on = generation(8192);
    on.flash_attn = FA::on;
    EXPECT_EQ(resolve_flash_attn(on, 16, true), FA::on);
    auto off = generation(32768);
    off.flash_attn = FA::off;
    EXPECT_EQ(resolve_flash_attn(off, 32, true), FA::off);
}

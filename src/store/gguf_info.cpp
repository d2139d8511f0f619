#include "store/gguf_info.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "core/utf8.h"
#include "ggml.h"
#include "gguf.h"
#include "llama.h"

namespace kiln::store {
namespace {

struct GgufFree {
    void operator()(gguf_context * c) const { gguf_free(c); }
};
using GgufPtr = std::unique_ptr<gguf_context, GgufFree>;

std::string get_str(const gguf_context * ctx, const std::string & key) {
    const int64_t id = gguf_find_key(ctx, key.c_str());
    if (id < 0 || gguf_get_kv_type(ctx, id) != GGUF_TYPE_STRING) return {};
    return gguf_get_val_str(ctx, id);
}

// Any unsigned or signed integer value, as u64; 0 when absent.
uint64_t get_uint(const gguf_context * ctx, const std::string & key) {
    const int64_t id = gguf_find_key(ctx, key.c_str());
    if (id < 0) return 0;
    switch (gguf_get_kv_type(ctx, id)) {
        case GGUF_TYPE_UINT8:  return gguf_get_val_u8(ctx, id);
        case GGUF_TYPE_UINT16: return gguf_get_val_u16(ctx, id);
        case GGUF_TYPE_UINT32: return gguf_get_val_u32(ctx, id);
        case GGUF_TYPE_UINT64: return gguf_get_val_u64(ctx, id);
        case GGUF_TYPE_INT8:   return static_cast<uint64_t>(std::max<int8_t>(0, gguf_get_val_i8(ctx, id)));
        case GGUF_TYPE_INT16:  return static_cast<uint64_t>(std::max<int16_t>(0, gguf_get_val_i16(ctx, id)));
        case GGUF_TYPE_INT32:  return static_cast<uint64_t>(std::max<int32_t>(0, gguf_get_val_i32(ctx, id)));
        case GGUF_TYPE_INT64:  return static_cast<uint64_t>(std::max<int64_t>(0, gguf_get_val_i64(ctx, id)));
        default:               return 0;
    }
}

bool has_key(const gguf_context * ctx, const std::string & key) { return gguf_find_key(ctx, key.c_str()) >= 0; }

const char * ftype_name(uint64_t ftype) {
    switch (ftype) {
        case LLAMA_FTYPE_ALL_F32:         return "F32";
        case LLAMA_FTYPE_MOSTLY_F16:      return "F16";
        case LLAMA_FTYPE_MOSTLY_BF16:     return "BF16";
        case LLAMA_FTYPE_MOSTLY_Q4_0:     return "Q4_0";
        case LLAMA_FTYPE_MOSTLY_Q4_1:     return "Q4_1";
        case LLAMA_FTYPE_MOSTLY_Q5_0:     return "Q5_0";
        case LLAMA_FTYPE_MOSTLY_Q5_1:     return "Q5_1";
        case LLAMA_FTYPE_MOSTLY_Q8_0:     return "Q8_0";
        case LLAMA_FTYPE_MOSTLY_Q2_K:     return "Q2_K";
        case LLAMA_FTYPE_MOSTLY_Q2_K_S:   return "Q2_K_S";
        case LLAMA_FTYPE_MOSTLY_Q3_K_S:   return "Q3_K_S";
        case LLAMA_FTYPE_MOSTLY_Q3_K_M:   return "Q3_K_M";
        case LLAMA_FTYPE_MOSTLY_Q3_K_L:   return "Q3_K_L";
        case LLAMA_FTYPE_MOSTLY_Q4_K_S:   return "Q4_K_S";
        case LLAMA_FTYPE_MOSTLY_Q4_K_M:   return "Q4_K_M";
        case LLAMA_FTYPE_MOSTLY_Q5_K_S:   return "Q5_K_S";
        case LLAMA_FTYPE_MOSTLY_Q5_K_M:   return "Q5_K_M";
        case LLAMA_FTYPE_MOSTLY_Q6_K:     return "Q6_K";
        case LLAMA_FTYPE_MOSTLY_IQ1_S:    return "IQ1_S";
        case LLAMA_FTYPE_MOSTLY_IQ1_M:    return "IQ1_M";
        case LLAMA_FTYPE_MOSTLY_IQ2_XXS:  return "IQ2_XXS";
        case LLAMA_FTYPE_MOSTLY_IQ2_XS:   return "IQ2_XS";
        case LLAMA_FTYPE_MOSTLY_IQ2_S:    return "IQ2_S";
        case LLAMA_FTYPE_MOSTLY_IQ2_M:    return "IQ2_M";
        case LLAMA_FTYPE_MOSTLY_IQ3_XXS:  return "IQ3_XXS";
        case LLAMA_FTYPE_MOSTLY_IQ3_XS:   return "IQ3_XS";
        case LLAMA_FTYPE_MOSTLY_IQ3_S:    return "IQ3_S";
        case LLAMA_FTYPE_MOSTLY_IQ3_M:    return "IQ3_M";
        case LLAMA_FTYPE_MOSTLY_IQ4_NL:   return "IQ4_NL";
        case LLAMA_FTYPE_MOSTLY_IQ4_XS:   return "IQ4_XS";
        case LLAMA_FTYPE_MOSTLY_TQ1_0:    return "TQ1_0";
        case LLAMA_FTYPE_MOSTLY_TQ2_0:    return "TQ2_0";
        case LLAMA_FTYPE_MOSTLY_MXFP4_MOE: return "MXFP4_MOE";
        default:                          return nullptr;
    }
}

bool contains(const std::string & s, const char * what) { return s.find(what) != std::string::npos; }

}  // namespace

Result<GgufInfo> read_gguf_info(const std::filesystem::path & path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return make_error(ErrorCode::not_found, "no model file " + path.filename().string());
    }
    // Check the magic first: gguf_init_from_file logs loudly on non-GGUF input.
    {
        std::unique_ptr<FILE, int (*)(FILE *)> f(std::fopen(path.c_str(), "rb"), std::fclose);
        char magic[4] = {};
        if (!f || std::fread(magic, 1, 4, f.get()) != 4 || std::memcmp(magic, "GGUF", 4) != 0) {
            return make_error(ErrorCode::invalid_request, path.filename().string() + " is not a GGUF file");
        }
    }
    gguf_init_params params{};
    params.no_alloc = true;
    params.ctx      = nullptr;
    GgufPtr ctx(gguf_init_from_file(path.c_str(), params));
    if (!ctx) {
        return make_error(ErrorCode::invalid_request,
                          path.filename().string() + " has a truncated or corrupt GGUF header");
    }
    const gguf_context * g = ctx.get();

    GgufInfo info;
    info.architecture = get_str(g, "general.architecture");
    info.name         = get_str(g, "general.name");
    info.license      = get_str(g, "general.license");
    info.chat_template = get_str(g, "tokenizer.chat_template");
    info.split_count  = static_cast<uint16_t>(get_uint(g, "split.count"));
    info.projector    = info.architecture == "clip" || get_str(g, "general.type") == "mmproj";
    const std::string arch = info.architecture;
    info.context_length   = static_cast<uint32_t>(get_uint(g, arch + ".context_length"));
    info.embedding_length = static_cast<uint32_t>(get_uint(g, arch + ".embedding_length"));
    info.block_count      = static_cast<uint32_t>(get_uint(g, arch + ".block_count"));

    std::map<int, uint64_t> by_type;  // elements per tensor type
    for (int64_t i = 0; i < gguf_get_n_tensors(g); ++i) {
        const int64_t * ne = gguf_get_tensor_ne(g, i);
        uint64_t n = 1;
        for (int d = 0; d < GGML_MAX_DIMS; ++d) n *= static_cast<uint64_t>(ne[d]);
        info.n_params += n;
        by_type[gguf_get_tensor_type(g, i)] += n;
    }
    if (has_key(g, "general.file_type")) {
        if (const char * q = ftype_name(get_uint(g, "general.file_type"))) info.quant = q;
    }
    if (info.quant.empty() && !by_type.empty()) {
        auto most = by_type.begin();
        for (auto it = by_type.begin(); it != by_type.end(); ++it) {
            if (it->second > most->second) most = it;
        }
        info.quant = utf8::ascii_upper(ggml_type_name(static_cast<ggml_type>(most->first)));
    }

    if (!info.projector) {
        const bool embedding = get_uint(g, arch + ".pooling_type") > 0 || contains(arch, "bert") ||
                               (!has_key(g, arch + ".pooling_type") && arch == "t5encoder");
        info.capabilities.push_back(embedding ? "embedding" : "completion");
        if (!embedding) {
            const auto & t = info.chat_template;
            if (contains(t, "tools") || contains(t, "tool_call")) info.capabilities.push_back("tools");
            if (contains(t, "<think>") || contains(t, "enable_thinking") || contains(t, "reasoning_content")) {
                info.capabilities.push_back("thinking");
            }
            if (has_key(g, "tokenizer.ggml.fim_pre_token_id")) info.capabilities.push_back("insert");
        }
    }
    return info;
}

std::string format_params(uint64_t n) {
    char buf[32];
    if (n >= 1'000'000'000ULL) std::snprintf(buf, sizeof buf, "%.1fB", static_cast<double>(n) / 1e9);
    else if (n >= 1'000'000ULL) std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(n) / 1e6);
    else if (n >= 1'000ULL) std::snprintf(buf, sizeof buf, "%.1fK", static_cast<double>(n) / 1e3);
    else std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
    std::string s = buf;
    // "7.0B" reads as "7B"
    if (const auto dot = s.find(".0"); dot != std::string::npos && dot + 3 == s.size()) s.erase(dot, 2);
    return s;
}

}  // namespace kiln::store

#include "store/sha256.h"

#include <cstdio>
#include <vector>

#include <openssl/evp.h>

namespace kiln::store {

struct Sha256::State {
    EVP_MD_CTX * ctx = EVP_MD_CTX_new();
    ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : s_(std::make_unique<State>()) { EVP_DigestInit_ex(s_->ctx, EVP_sha256(), nullptr); }

Sha256::~Sha256() = default;

void Sha256::update(const void * data, size_t n) { EVP_DigestUpdate(s_->ctx, data, n); }

std::string Sha256::finish() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int  len = 0;
    EVP_DigestFinal_ex(s_->ctx, digest, &len);
    static const char * hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

Result<std::string> sha256_file(const std::filesystem::path & path, const std::function<bool(uint64_t)> & progress) {
    std::unique_ptr<FILE, int (*)(FILE *)> f(std::fopen(path.c_str(), "rb"), std::fclose);
    if (!f) return make_error(ErrorCode::not_found, "cannot read " + path.filename().string());
    Sha256            h;
    std::vector<char> buf(1 << 20);
    uint64_t          done = 0;
    for (;;) {
        const size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
        if (n > 0) {
            h.update(buf.data(), n);
            done += n;
            if (progress && !progress(done)) return make_error(ErrorCode::cancelled, "stopped");
        }
        if (n < buf.size()) {
            if (std::ferror(f.get())) return make_error(ErrorCode::io, "read error in " + path.filename().string());
            break;
        }
    }
    return h.finish();
}

}  // namespace kiln::store

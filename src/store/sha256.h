// SHA-256 of bytes as they stream by (downloads) and of whole files (verify).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"

namespace kiln::store {

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256 &) = delete;
    Sha256 & operator=(const Sha256 &) = delete;

    void        update(const void * data, size_t n);
    // Lower-case hex of everything given so far; the hasher is spent after.
    std::string finish();

  private:
    struct State;
    std::unique_ptr<State> s_;
};

// Hashes a file, calling progress(bytes_done) now and then; progress may
// return false to stop (the result is then an Error of code cancelled).
Result<std::string> sha256_file(const std::filesystem::path & path,
                                const std::function<bool(uint64_t)> & progress = {});

}  // namespace kiln::store

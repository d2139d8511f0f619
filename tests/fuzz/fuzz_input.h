// Helpers the fuzz targets share: input split into a selector and the rest,
// and a file holding bytes for readers that take a path.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::fuzz {

// The first byte picks which reader a target runs; the rest is its input.
struct Picked {
    uint8_t          which = 0;
    std::string_view rest;
};

inline Picked pick(const uint8_t * data, size_t size) {
    if (size == 0) return {};
    return {data[0], std::string_view(reinterpret_cast<const char *>(data + 1), size - 1)};
}

// An in-memory file (memfd) holding `bytes`, named by a /proc path; closed
// when it goes out of scope. No disk, no leftovers between runs.
class MemFile {
  public:
    explicit MemFile(std::string_view bytes) : fd_(::memfd_create("kiln-fuzz", MFD_CLOEXEC)) {
        for (size_t done = 0; fd_ >= 0 && done < bytes.size();) {
            const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
            if (n <= 0) break;
            done += static_cast<size_t>(n);
        }
    }
    ~MemFile() {
        if (fd_ >= 0) ::close(fd_);
    }
    MemFile(const MemFile &)             = delete;
    MemFile & operator=(const MemFile &) = delete;
    std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

  private:
    int fd_;
};

}  // namespace kiln::fuzz

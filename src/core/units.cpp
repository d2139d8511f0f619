#include "core/units.h"

#include <cstdio>

namespace kiln {

std::string format_bytes(double bytes) {
    const char * units[] = {"B", "KB", "MB", "GB"};
    int          u       = 0;
    while (bytes >= 1000 && u < 3) {
        bytes /= 1000;
        ++u;
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
}

}  // namespace kiln

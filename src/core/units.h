// Sizes for people: "512 B", "4.1 MB", "1.6 GB" (decimal units, as disks
// and Hugging Face count them; GB is the largest unit).
#pragma once

#include <cstdint>
#include <string>

namespace kiln {

std::string format_bytes(double bytes);

}  // namespace kiln

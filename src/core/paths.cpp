#include "core/paths.h"

#include <cstdlib>

namespace kiln::paths {
namespace {

std::filesystem::path env_path(const char * name) {
    const char * v = std::getenv(name);
    return (v && *v) ? std::filesystem::path(v) : std::filesystem::path();
}

std::filesystem::path user_home() {
    auto h = env_path("HOME");
    return h.empty() ? std::filesystem::path("/tmp") : h;
}

}  // namespace

std::filesystem::path home() {
    if (auto p = env_path("KILN_HOME"); !p.empty()) return p;
    if (auto p = env_path("XDG_DATA_HOME"); !p.empty()) return p / "kiln";
    return user_home() / ".local" / "share" / "kiln";
}

std::filesystem::path config_file() {
    if (auto p = env_path("KILN_CONFIG"); !p.empty()) return p;
    if (auto p = env_path("XDG_CONFIG_HOME"); !p.empty()) return p / "kiln" / "config.toml";
    return user_home() / ".config" / "kiln" / "config.toml";
}

std::filesystem::path models_dir() { return home() / "models"; }

std::filesystem::path demo_model() { return models_dir() / "kiln" / "demo" / "kiln-demo.gguf"; }

}  // namespace kiln::paths

// Where kiln keeps its files. Every path honours its environment override.
#pragma once

#include <filesystem>

namespace kiln::paths {

// $KILN_HOME, else $XDG_DATA_HOME/kiln, else ~/.local/share/kiln.
std::filesystem::path home();
// $KILN_CONFIG, else $XDG_CONFIG_HOME/kiln/config.toml, else ~/.config/kiln/config.toml.
std::filesystem::path config_file();
// home()/models
std::filesystem::path models_dir();
// Where `make serve` puts the demo model made by kiln-make-model.
std::filesystem::path demo_model();

}  // namespace kiln::paths

// Ollama's Modelfile, and the preset it becomes: FROM (a catalog name, a
// GGUF path or another created preset), PARAMETER, SYSTEM, TEMPLATE (a
// Jinja chat template; Ollama's Go templates are refused with a reason),
// MESSAGE and LICENSE. kiln create and Ollama's /api/create keep presets in
// $KILN_HOME/presets.toml as `[models.NAME]` tables, the config file's form.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/result.h"

namespace kiln::store {

struct Modelfile {
    std::string                                      from;
    std::vector<std::pair<std::string, std::string>> parameters;  // in order; stop may repeat
    std::string                                      system;
    std::string                                      chat_template;
    std::string                                      license;
    std::vector<std::pair<std::string, std::string>> messages;  // role, content
};

// Parses a Modelfile's text. Errors name the line.
Result<Modelfile> parse_modelfile(std::string_view text);

// The preset table of `name` made from `mf`, over `base` (the table of the
// created preset FROM names, when it names one; else FROM is the model).
// Ollama's parameter names map to kiln's (num_ctx: ctx_size, num_predict:
// max_tokens, num_thread: threads, num_batch: batch_size); others that
// kiln has no use for are an error naming them.
Result<PresetTable> modelfile_preset(const std::string & name, const Modelfile & mf, const PresetTable * base);

// The Modelfile text a preset table stands for (for /api/show).
std::string preset_modelfile(const PresetTable & t);

// Ollama's Go template syntax ({{ .Prompt }}, {{ range .Messages }}), which
// kiln cannot run, as opposed to a Jinja chat template.
bool is_go_template(const std::string & text);

// $KILN_HOME/presets.toml and what it holds.
std::filesystem::path    presets_path(const std::filesystem::path & home);
Result<std::vector<PresetTable>> created_presets(const std::filesystem::path & home);
// Adds or replaces `t` (by name, any case).
Status save_preset(const std::filesystem::path & home, const PresetTable & t);
// False when there is no created preset of that name.
Result<bool> remove_preset(const std::filesystem::path & home, const std::string & name);

}  // namespace kiln::store

#include "store/modelfile.h"

#include <algorithm>
#include <cctype>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/utf8.h"

namespace kiln::store {
namespace fs = std::filesystem;

namespace {

Error bad_line(size_t line, const std::string & what) {
    return make_error(ErrorCode::invalid_request, "Modelfile line " + std::to_string(line) + ": " + what, "modelfile");
}

std::string trim(std::string_view s) {
    size_t a = 0, b = s.size();
    while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
    return std::string(s.substr(a, b - a));
}

// A value: """multi-line""", "quoted" (with \" and \\), or the rest of the line.
// `pos` is at the value's start; it ends past the value.
Result<std::string> read_value(std::string_view text, size_t & pos, size_t & line) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    if (text.compare(pos, 3, R"(""")") == 0) {
        const size_t start = pos + 3;
        const size_t end   = text.find(R"(""")", start);
        if (end == std::string_view::npos) return bad_line(line, "a \"\"\" value is not closed");
        std::string v(text.substr(start, end - start));
        line += static_cast<size_t>(std::count(v.begin(), v.end(), '\n'));
        pos = end + 3;
        return v;
    }
    if (pos < text.size() && text[pos] == '"') {
        std::string v;
        for (++pos; pos < text.size() && text[pos] != '"'; ++pos) {
            if (text[pos] == '\n') return bad_line(line, "a quoted value is not closed on its line");
            if (text[pos] == '\\' && pos + 1 < text.size()) ++pos;
            v += text[pos];
        }
        if (pos >= text.size()) return bad_line(line, "a quoted value is not closed");
        ++pos;
        return v;
    }
    const size_t end = std::min(text.find('\n', pos), text.size());
    std::string  v   = trim(text.substr(pos, end - pos));
    pos              = end;
    return v;
}

// Ollama's parameter names and kiln's preset keys.
struct Param {
    const char * ollama;
    const char * kiln;
};
constexpr Param kParams[] = {
    {"num_ctx", "ctx_size"},           {"num_predict", "max_tokens"},         {"num_thread", "threads"},
    {"num_batch", "batch_size"},       {"temperature", "temperature"},        {"top_k", "top_k"},
    {"top_p", "top_p"},                {"min_p", "min_p"},                    {"repeat_penalty", "repeat_penalty"},
    {"repeat_last_n", "repeat_last_n"}, {"presence_penalty", "presence_penalty"}, {"frequency_penalty", "frequency_penalty"},
    {"seed", "seed"},
};
// Ollama's parameters that mean nothing on this server (GPU layers, memory
// mapping): taken and left out, as Ollama on a CPU does.
constexpr const char * kIgnored[] = {"num_gpu", "main_gpu", "use_mmap", "use_mlock", "numa", "num_keep", "low_vram"};

}  // namespace

bool is_go_template(const std::string & t) {
    for (const char * marker : {"{{ .", "{{- .", "{{.", "{{ range", "{{- range", "{{ if .", "{{- if ."}) {
        if (t.find(marker) != std::string::npos) return true;
    }
    return false;
}

Result<Modelfile> parse_modelfile(std::string_view text) {
    Modelfile mf;
    size_t    pos = 0, line = 1;
    while (pos < text.size()) {
        while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r')) ++pos;
        if (pos < text.size() && text[pos] == '\n') {
            ++pos;
            ++line;
            continue;
        }
        if (pos >= text.size()) break;
        if (text[pos] == '#') {
            pos = std::min(text.find('\n', pos), text.size());
            continue;
        }
        size_t      end  = pos;
        while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
        std::string word = utf8::ascii_lower(std::string(text.substr(pos, end - pos)));
        pos              = end;
        if (word == "parameter") {
            while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
            size_t name_end = pos;
            while (name_end < text.size() && !std::isspace(static_cast<unsigned char>(text[name_end]))) ++name_end;
            std::string name = utf8::ascii_lower(std::string(text.substr(pos, name_end - pos)));
            pos              = name_end;
            if (name.empty()) return bad_line(line, "PARAMETER needs a name and a value");
            KILN_TRY(std::string value, read_value(text, pos, line));
            if (value.empty()) return bad_line(line, "PARAMETER " + name + " needs a value");
            mf.parameters.emplace_back(std::move(name), std::move(value));
        } else if (word == "message") {
            while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
            size_t role_end = pos;
            while (role_end < text.size() && !std::isspace(static_cast<unsigned char>(text[role_end]))) ++role_end;
            std::string role = utf8::ascii_lower(std::string(text.substr(pos, role_end - pos)));
            pos              = role_end;
            if (role != "system" && role != "user" && role != "assistant") {
                return bad_line(line, "MESSAGE takes a role (system, user or assistant) and its content");
            }
            KILN_TRY(std::string value, read_value(text, pos, line));
            mf.messages.emplace_back(std::move(role), std::move(value));
        } else if (word == "from" || word == "system" || word == "template" || word == "license") {
            KILN_TRY(std::string value, read_value(text, pos, line));
            if (word == "from") mf.from = std::move(value);
            else if (word == "system") mf.system = std::move(value);
            else if (word == "template") mf.chat_template = std::move(value);
            else mf.license = std::move(value);
        } else if (word == "adapter") {
            return bad_line(line, "ADAPTER (LoRA adapters) is not supported yet");
        } else {
            return bad_line(line, "unknown instruction '" + word.substr(0, 40) +
                                      "' (FROM, PARAMETER, SYSTEM, TEMPLATE, MESSAGE, LICENSE)");
        }
        // The rest of the line must be empty.
        while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r')) ++pos;
        if (pos < text.size() && text[pos] != '\n') return bad_line(line, "unexpected text after the value");
    }
    if (mf.from.empty()) return make_error(ErrorCode::invalid_request, "the Modelfile has no FROM line", "modelfile");
    return mf;
}

Result<PresetTable> modelfile_preset(const std::string & name, const Modelfile & mf, const PresetTable * base) {
    PresetTable t;
    if (base) t = *base;
    t.name = name;
    if (!base) t.values["model"] = mf.from;
    for (const auto & kv : mf.parameters) {
        // Plain references: lambdas below capture them (clang 14 cannot
        // capture structured bindings).
        const std::string & param = kv.first;
        const std::string & value = kv.second;
        if (param == "stop") {
            auto & stops = t.lists["stop"];
            if (stops.size() >= 16) return make_error(ErrorCode::invalid_request, "more than 16 stop parameters", "parameters");
            stops.push_back(value);
            continue;
        }
        if (std::find_if(std::begin(kIgnored), std::end(kIgnored), [&](const char * p) { return param == p; }) !=
            std::end(kIgnored)) {
            continue;
        }
        auto p = std::find_if(std::begin(kParams), std::end(kParams), [&](const Param & k) { return param == k.ollama; });
        if (p == std::end(kParams)) {
            return make_error(ErrorCode::invalid_request,
                              "PARAMETER " + param.substr(0, 40) + " is not one kiln takes (num_ctx, num_predict, "
                              "temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n, presence_penalty, "
                              "frequency_penalty, seed, stop, num_thread, num_batch)",
                              "parameters");
        }
        t.values[p->kiln] = value;
    }
    if (!mf.system.empty()) t.values["system"] = mf.system;
    if (!mf.chat_template.empty()) {
        if (is_go_template(mf.chat_template)) {
            return make_error(ErrorCode::invalid_request,
                              "TEMPLATE is an Ollama Go template, which kiln does not run: give a Jinja chat template "
                              "(as in a GGUF's tokenizer.chat_template), or leave TEMPLATE out to use the model's own",
                              "template");
        }
        t.values["chat_template"] = mf.chat_template;
    }
    if (!mf.license.empty()) t.values["license"] = mf.license;
    if (!mf.messages.empty()) {
        auto & list = t.lists["messages"];
        list.clear();
        for (const auto & [role, content] : mf.messages) list.push_back(role + ": " + content);
    }
    return t;
}

std::string preset_modelfile(const PresetTable & t) {
    auto quoted = [](const std::string & v) {
        if (v.find('\n') != std::string::npos && v.find(R"(""")") == std::string::npos) return R"(""")" + v + R"(""")";
        std::string q = "\"";
        for (char c : v) {
            if (c == '"' || c == '\\') q += '\\';
            q += c == '\n' ? ' ' : c;
        }
        return q + "\"";
    };
    std::string out;
    if (auto it = t.values.find("model"); it != t.values.end()) out += "FROM " + it->second.text() + "\n";
    for (const auto & k : kParams) {
        if (auto it = t.values.find(k.kiln); it != t.values.end()) out += std::string("PARAMETER ") + k.ollama + " " + it->second.text() + "\n";
    }
    if (auto it = t.lists.find("stop"); it != t.lists.end()) {
        for (const auto & s : it->second) out += "PARAMETER stop " + quoted(s) + "\n";
    }
    if (auto it = t.values.find("system"); it != t.values.end()) out += "SYSTEM " + quoted(it->second.text()) + "\n";
    if (auto it = t.values.find("chat_template"); it != t.values.end()) out += "TEMPLATE " + quoted(it->second.text()) + "\n";
    if (auto it = t.lists.find("messages"); it != t.lists.end()) {
        for (const auto & m : it->second) {
            const size_t colon = m.find(": ");
            if (colon != std::string::npos) out += "MESSAGE " + m.substr(0, colon) + " " + quoted(m.substr(colon + 2)) + "\n";
        }
    }
    if (auto it = t.values.find("license"); it != t.values.end()) out += "LICENSE " + quoted(it->second.text()) + "\n";
    return out;
}

fs::path presets_path(const fs::path & home) { return home / "presets.toml"; }

Result<std::vector<PresetTable>> created_presets(const fs::path & home) { return read_preset_file(presets_path(home).string()); }

namespace {

// Writers take turns (the server's requests, and kiln create in another
// process): an exclusive lock on presets.lock around read, change, write.
class PresetsLock {
  public:
    explicit PresetsLock(const fs::path & home) {
        std::error_code ec;
        fs::create_directories(home, ec);
        fd_ = ::open((home / "presets.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ >= 0) ::flock(fd_, LOCK_EX);
    }
    ~PresetsLock() {
        if (fd_ >= 0) ::close(fd_);  // releases the lock
    }
    PresetsLock(const PresetsLock &) = delete;
    PresetsLock & operator=(const PresetsLock &) = delete;

  private:
    int fd_ = -1;
};

}  // namespace

Status save_preset(const fs::path & home, const PresetTable & t) {
    PresetsLock lock(home);
    KILN_TRY(auto all, created_presets(home));
    auto same = [&](const PresetTable & p) { return utf8::ascii_lower(p.name) == utf8::ascii_lower(t.name); };
    all.erase(std::remove_if(all.begin(), all.end(), same), all.end());
    all.push_back(t);
    return write_preset_file(presets_path(home).string(), all);
}

Result<bool> remove_preset(const fs::path & home, const std::string & name) {
    PresetsLock lock(home);
    KILN_TRY(auto all, created_presets(home));
    const size_t before = all.size();
    all.erase(std::remove_if(all.begin(), all.end(),
                             [&](const PresetTable & p) { return utf8::ascii_lower(p.name) == utf8::ascii_lower(name); }),
              all.end());
    if (all.size() == before) return false;
    KILN_CHECK(write_preset_file(presets_path(home).string(), all));
    return true;
}

}  // namespace kiln::store

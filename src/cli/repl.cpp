#include "cli/repl.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <editline/readline.h>

#include "cli/markdown.h"
#include "core/utf8.h"

namespace kiln::cli {
namespace {

namespace fs = std::filesystem;
using json   = nlohmann::json;

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) { g_interrupted.store(true); }

// SIGINT sets a flag (an answer stops; at the prompt, the line is dropped)
// instead of ending the process.
void catch_sigint() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns
    sigaction(SIGINT, &sa, nullptr);
}

// Input that is already waiting (the rest of a paste), within a moment.
bool more_input() {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    return ::poll(&p, 1, 15) > 0 && (p.revents & POLLIN) != 0;
}

int terminal_width() {
    struct winsize w {};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0) return w.ws_col;
    return 80;
}

void out(const std::string & s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
}

const std::vector<std::pair<std::string, std::string>> & commands() {
    static const std::vector<std::pair<std::string, std::string>> c = {
        {"/help", "this list"},
        {"/set", "PARAM VALUE: temperature, top_p, top_k, min_p, repeat_penalty, seed, num_ctx, max_tokens; "
                 "verbose | quiet, wordwrap | nowordwrap; alone: show them"},
        {"/system", "TEXT: the system prompt (alone: show it)"},
        {"/show", "the model and where it runs"},
        {"/model", "NAME: go on with another model"},
        {"/clear", "forget the conversation (the system prompt stays)"},
        {"/history", "the conversation so far"},
        {"/save", "NAME: keep this session in $KILN_HOME/sessions"},
        {"/load", "NAME: go back to a saved session"},
        {"/bye", "leave (also /quit, /exit, Ctrl-D)"},
    };
    return c;
}

bool valid_session_name(const std::string & n) {
    if (n.empty() || n.size() > 64) return false;
    return std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_' || c == '.'; }) &&
           n.find("..") == std::string::npos;
}

class Repl {
  public:
    Repl(std::unique_ptr<ChatClient> client, ReplOptions o, const ClientFactory & open)
        : client_(std::move(client)), o_(std::move(o)), open_(open), system_(o_.system) {}

    int run() {
        catch_sigint();
        const std::string history = (o_.home / "history").string();
        using_history();
        read_history(history.c_str());
        out(fmt::format("{} · {} · /help for commands, /bye or Ctrl-D to leave\n", client_->model(), client_->where()));
        for (;;) {
            auto line = read_input();
            if (!line) break;  // Ctrl-D
            if (line->empty()) continue;
            add_history(line->c_str());
            write_history(history.c_str());
            if ((*line)[0] == '/') {
                if (!command(*line)) break;
                continue;
            }
            chat(*line);
        }
        write_history(history.c_str());
        out("\n");
        return 0;
    }

  private:
    // A line, a """ block, or lines continued with a trailing backslash.
    // nullopt on Ctrl-D.
    std::optional<std::string> read_input() {
        std::string text;
        bool        block = false;
        if (pending_) {
            std::string line = std::move(*pending_);
            pending_.reset();
            return line;
        }
        for (;;) {
            g_interrupted = false;
            char * raw    = readline(text.empty() && !block ? ">>> " : "... ");
            if (!raw) {
                if (g_interrupted.exchange(false)) {  // Ctrl-C: drop what was typed
                    out("\n");
                    text.clear();
                    block = false;
                    continue;
                }
                if (!text.empty() || block) return text;
                return std::nullopt;
            }
            std::string line = raw;
            std::free(raw);
            if (!block && text.empty() && line.rfind(R"(""")", 0) == 0) {
                line  = line.substr(3);
                block = true;
                if (line.size() >= 3 && line.compare(line.size() - 3, 3, R"(""")") == 0) {
                    return line.substr(0, line.size() - 3);
                }
                text = line;
                continue;
            }
            if (block) {
                if (line.size() >= 3 && line.compare(line.size() - 3, 3, R"(""")") == 0) {
                    text += (text.empty() ? "" : "\n") + line.substr(0, line.size() - 3);
                    return text;
                }
                text += (text.empty() ? "" : "\n") + line;
                continue;
            }
            if (!line.empty() && line.back() == '\\') {
                text += line.substr(0, line.size() - 1) + "\n";
                continue;
            }
            text += line;
            // A paste of several lines: the rest is already waiting; one
            // message. (A command is never part of one: typed ahead, it
            // runs on its own.)
            while (line.rfind('/', 0) != 0 && more_input()) {
                char * next = readline("");
                if (!next) break;
                std::string more = next;
                std::free(next);
                if (more.rfind('/', 0) == 0) {
                    pending_ = std::move(more);
                    break;
                }
                text += "\n" + more;
            }
            return text;
        }
    }

    std::vector<engine::ChatMessage> conversation(const std::string & next) const {
        std::vector<engine::ChatMessage> m;
        if (!system_.empty()) m.emplace_back("system", system_);
        m.insert(m.end(), turns_.begin(), turns_.end());
        if (!next.empty()) m.emplace_back("user", next);
        return m;
    }

    // Drops the oldest turns until the conversation and an answer fit.
    bool fit(const std::string & next) {
        const int32_t ctx = client_->context();
        if (ctx <= 0) return true;
        const int32_t room = std::min<int32_t>(o_.settings.max_tokens > 0 ? o_.settings.max_tokens : 512, ctx / 4);
        size_t dropped = 0;
        for (;;) {
            auto n = client_->count_tokens(conversation(next));
            if (!n) return true;  // cannot count: the server says if it does not fit
            if (*n + room <= ctx) break;
            if (turns_.empty()) {
                out(fmt::format("that message takes {} tokens; with room for an answer it does not fit the model's "
                                "context of {} (shorten it, or /set num_ctx)\n", *n, ctx));
                return false;
            }
            turns_.erase(turns_.begin(), turns_.begin() + std::min<size_t>(2, turns_.size()));
            ++dropped;
        }
        if (dropped > 0) {
            out(fmt::format("(the {} oldest exchange{} no longer fit the context of {} tokens and {} dropped)\n", dropped,
                            dropped == 1 ? "" : "s", ctx, dropped == 1 ? "was" : "were"));
        }
        return true;
    }

    void chat(const std::string & text) {
        if (!fit(text)) return;
        auto              messages = conversation(text);
        MarkdownStream    md({o_.color, o_.wrap ? terminal_width() : 0});
        std::string       answer;
        g_interrupted = false;
        auto st = client_->send(messages, o_.settings, [&](const std::string & piece) {
            answer += piece;
            out(md.push(piece));
        }, g_interrupted);
        out(md.finish());
        if (!answer.empty() && answer.back() != '\n') out("\n");
        if (!st) {
            out("error: " + st.error().message + "\n");
            return;
        }
        if (st->finish == "cancelled") out("(stopped)\n");
        turns_.emplace_back("user", text);
        turns_.emplace_back("assistant", answer);
        if (o_.verbose) out(stats_line(*st) + "\n");
        out("\n");
    }

    // False when the user leaves.
    bool command(const std::string & line) {
        std::istringstream in(line);
        std::string        cmd, rest;
        in >> cmd;
        std::getline(in, rest);
        rest.erase(0, rest.find_first_not_of(' '));
        if (cmd == "/bye" || cmd == "/quit" || cmd == "/exit") return false;
        if (cmd == "/help" || cmd == "/?") {
            for (const auto & [c, what] : commands()) out(fmt::format("  {:<9} {}\n", c, what));
            out("  \"\"\"      begins and ends a message of several lines\n");
        } else if (cmd == "/clear") {
            turns_.clear();
            out("(the conversation is cleared)\n");
        } else if (cmd == "/system") {
            if (rest.empty()) {
                out(system_.empty() ? "(no system prompt)\n" : system_ + "\n");
            } else {
                system_ = rest;
                out("(system prompt set)\n");
            }
        } else if (cmd == "/set") {
            set(rest);
        } else if (cmd == "/show") {
            out(client_->describe());
            show_settings();
        } else if (cmd == "/model") {
            if (rest.empty()) {
                out("usage: /model NAME\n");
            } else if (auto c = open_(rest); c) {
                client_ = std::move(*c);
                out(fmt::format("(now {} · {}; the conversation goes on)\n", client_->model(), client_->where()));
            } else {
                out("error: " + c.error().message + "\n");
            }
        } else if (cmd == "/history") {
            if (!system_.empty()) out("system: " + system_ + "\n");
            for (const auto & t : turns_) out(t.role + ": " + t.content + "\n");
            if (turns_.empty()) out("(nothing yet)\n");
        } else if (cmd == "/save") {
            save(rest);
        } else if (cmd == "/load") {
            load(rest);
        } else {
            std::string best;
            size_t      best_d = 3;
            for (const auto & [c, what] : commands()) {
                const size_t d = utf8::edit_distance(cmd, c);
                if (d < best_d) {
                    best_d = d;
                    best   = c;
                }
            }
            out("unknown command " + cmd + (best.empty() ? "" : "; did you mean " + best + "?") + " (/help lists them)\n");
        }
        return true;
    }

    void show_settings() {
        using F = engine::SamplingParams;
        const auto & s = o_.settings.sampling;
        auto field = [&](const char * name, uint32_t bit, const std::string & v) {
            out(fmt::format("  {:<15} {}\n", name, (s.set & bit) ? v : "(the model's default)"));
        };
        field("temperature", F::temperature_set, fmt::format("{}", s.temperature));
        field("top_p", F::top_p_set, fmt::format("{}", s.top_p));
        field("top_k", F::top_k_set, fmt::format("{}", s.top_k));
        field("min_p", F::min_p_set, fmt::format("{}", s.min_p));
        field("repeat_penalty", F::repeat_penalty_set, fmt::format("{}", s.repeat_penalty));
        out(fmt::format("  {:<15} {}\n", "seed", s.seed ? std::to_string(*s.seed) : "(random)"));
        out(fmt::format("  {:<15} {}\n", "num_ctx", o_.settings.num_ctx > 0 ? std::to_string(o_.settings.num_ctx) : "(the model's)"));
        out(fmt::format("  {:<15} {}\n", "max_tokens", o_.settings.max_tokens >= 0 ? std::to_string(o_.settings.max_tokens) : "(no limit)"));
        out(fmt::format("  {:<15} {}\n", "verbose", o_.verbose ? "on" : "off"));
        out(fmt::format("  {:<15} {}\n", "wordwrap", o_.wrap ? "on" : "off"));
    }

    void set(const std::string & args) {
        std::istringstream in(args);
        std::string        name, value;
        in >> name >> value;
        if (name.empty()) return show_settings();
        if (name == "verbose" || name == "quiet") {
            o_.verbose = name == "verbose";
            return out(o_.verbose ? "(stats after each answer)\n" : "(no stats)\n");
        }
        if (name == "wordwrap" || name == "nowordwrap") {
            o_.wrap = name == "wordwrap";
            return out(o_.wrap ? "(word wrap on)\n" : "(word wrap off)\n");
        }
        if (value.empty()) return out("usage: /set " + name + " VALUE\n");
        char *       end = nullptr;
        const double v   = std::strtod(value.c_str(), &end);
        if (*end != '\0') return out("'" + value + "' is not a number\n");
        if (name == "seed") {
            o_.settings.sampling.seed = static_cast<uint32_t>(v);
        } else if (name == "num_ctx") {
            o_.settings.num_ctx = static_cast<int32_t>(v);
        } else if (name == "max_tokens" || name == "num_predict") {
            o_.settings.max_tokens = static_cast<int32_t>(v);
        } else {
            const auto & fields = engine::sampling_fields();
            auto it = std::find_if(fields.begin(), fields.end(), [&](const engine::SamplingField & f) { return name == f.name; });
            if (it == fields.end()) {
                return out("unknown setting '" + name + "' (temperature, top_p, top_k, min_p, repeat_penalty, seed, num_ctx, "
                           "max_tokens, verbose, quiet, wordwrap, nowordwrap)\n");
            }
            if (v < it->lo || v > it->hi) return out(fmt::format("{} goes from {} to {}\n", name, it->lo, it->hi));
            engine::set_sampling(o_.settings.sampling, *it, v);
        }
        out(fmt::format("(set {} to {})\n", name, value));
    }

    fs::path session_path(const std::string & name) const { return o_.home / "sessions" / (name + ".json"); }

    void save(const std::string & name) {
        if (!valid_session_name(name)) return out("usage: /save NAME (letters, digits, '-', '_', '.')\n");
        json turns = json::array();
        for (const auto & t : turns_) turns.push_back({{"role", t.role}, {"content", t.content}});
        json j = {{"model", client_->model()}, {"system", system_}, {"messages", turns}};
        std::error_code ec;
        fs::create_directories(o_.home / "sessions", ec);
        const fs::path path = session_path(name);
        const fs::path tmp  = path.string() + ".tmp";
        {
            std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
            f << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
            if (!f) return out("error: cannot write " + tmp.string() + "\n");
        }
        fs::rename(tmp, path, ec);
        if (ec) return out("error: cannot write " + path.string() + ": " + ec.message() + "\n");
        out("(saved to " + path.string() + ")\n");
    }

    void load(const std::string & name) {
        if (!valid_session_name(name)) return out("usage: /load NAME\n");
        std::ifstream f(session_path(name));
        if (!f) {
            std::string names;
            std::error_code ec;
            for (const auto & e : fs::directory_iterator(o_.home / "sessions", ec)) {
                if (e.path().extension() == ".json") names += (names.empty() ? "" : ", ") + e.path().stem().string();
            }
            return out("no session '" + name + "'" + (names.empty() ? std::string() : " (there are: " + names + ")") + "\n");
        }
        json j = json::parse(f, nullptr, false);
        if (!j.is_object() || !j.contains("messages") || !j["messages"].is_array()) return out("error: that session file is damaged\n");
        const std::string model = j.value("model", "");
        if (!model.empty() && model != client_->model()) {
            auto c = open_(model);
            if (!c) return out("error: the session's model " + model + ": " + c.error().message + "\n");
            client_ = std::move(*c);
        }
        turns_.clear();
        for (const auto & m : j["messages"]) {
            if (m.is_object() && m.value("role", "") != "" && m.contains("content") && m["content"].is_string()) {
                turns_.emplace_back(m.value("role", ""), m["content"].get<std::string>());
            }
        }
        system_ = j.value("system", "");
        out(fmt::format("(loaded {}: {} messages with {})\n", name, turns_.size(), client_->model()));
    }

    std::unique_ptr<ChatClient>      client_;
    ReplOptions                      o_;
    const ClientFactory &            open_;
    std::string                      system_;
    std::vector<engine::ChatMessage> turns_;
    std::optional<std::string>       pending_;  // a command typed ahead of a paste's end
};

}  // namespace

std::string stats_line(const TurnStats & st) {
    const double gen_tps = st.generation_ms > 0 ? 1000.0 * st.completion_tokens / st.generation_ms : 0;
    std::string  line    = fmt::format("prompt: {} tokens", st.prompt_tokens);
    if (st.cached_tokens > 0) line += fmt::format(" ({} cached)", st.cached_tokens);
    if (st.prompt_ms > 0) line += fmt::format(", {:.1f} tok/s", 1000.0 * (st.prompt_tokens - st.cached_tokens) / st.prompt_ms);
    line += fmt::format(" | generated: {} tokens, {:.1f} tok/s | first token: {:.0f} ms | finish: {}", st.completion_tokens,
                        gen_tps, st.ttft_ms, st.finish);
    return line;
}

int run_repl(std::unique_ptr<ChatClient> client, ReplOptions options, const ClientFactory & open) {
    Repl repl(std::move(client), std::move(options), open);
    return repl.run();
}

int answer_once(ChatClient & client, const std::vector<engine::ChatMessage> & messages, const ChatSettings & settings,
                bool verbose, bool wrap, bool color) {
    catch_sigint();
    const bool     tty = isatty(STDOUT_FILENO);
    MarkdownStream md({color, wrap ? terminal_width() : 0});
    std::string    last;
    auto st = client.send(messages, settings, [&](const std::string & piece) {
        last = piece;
        out(tty ? md.push(piece) : piece);
    }, g_interrupted);
    if (tty) out(md.finish());
    out("\n");
    if (!st) {
        std::fprintf(stderr, "kiln run: %s\n", st.error().message.c_str());
        return 1;
    }
    if (verbose) std::fprintf(stderr, "%s\n", stats_line(*st).c_str());
    return st->finish == "cancelled" ? 130 : 0;
}

}  // namespace kiln::cli

// kiln run's interactive chat: line editing with history (libedit), """
// blocks, slash commands, sessions, streamed markdown, and a conversation
// kept within the model's context (the oldest turns go, and the user is
// told). Ctrl-C stops an answer, Ctrl-D leaves.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "cli/chat_client.h"

namespace kiln::cli {

struct ReplOptions {
    std::filesystem::path home;        // $KILN_HOME: history and sessions/
    std::string           system;      // the first system prompt
    ChatSettings          settings;
    bool                  verbose = false;
    bool                  wrap    = true;
    bool                  color   = true;  // off with NO_COLOR
};

// Another model for /model and /load (the same kind of client).
using ClientFactory = std::function<Result<std::unique_ptr<ChatClient>>(const std::string & model)>;

int run_repl(std::unique_ptr<ChatClient> client, ReplOptions options, const ClientFactory & open);

// One answer to stdout (markdown on a terminal, raw text when piped), then
// the stats on stderr with `verbose`. Ctrl-C stops it (exit 130).
int answer_once(ChatClient & client, const std::vector<engine::ChatMessage> & messages, const ChatSettings & settings,
                bool verbose, bool wrap, bool color);

// The stats line after an answer.
std::string stats_line(const TurnStats & st);

}  // namespace kiln::cli

#include "backend/llama_backend.h"

#include <algorithm>
#include <chrono>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "engine/chat_output.h"
#include "engine/text_stream.h"
#include "gguf.h"

namespace kiln::backend {
namespace fs = std::filesystem;

Result<std::unique_ptr<LlamaBackend>> LlamaBackend::create(const LlamaOptions & o, bool start_now) {
    std::unique_ptr<LlamaBackend> b(new LlamaBackend());
    const auto t0 = std::chrono::steady_clock::now();

    engine::ModelParams params;
    params.cancel = o.cancel;
    auto model    = engine::Model::load(o.model_path, params);
    if (!model) return model.error();
    b->model_ = std::move(*model);

    b->template_timeout_ = std::chrono::seconds(o.template_timeout);
    auto tmpl            = engine::ChatTemplate::create(*b->model_, o.chat_template, b->template_timeout_);
    if (!tmpl) return tmpl.error();
    b->template_ = std::move(*tmpl);

    const int32_t     n_train = b->model_->n_ctx_train();
    const std::string arch    = b->model_->meta("general.architecture");
    const std::string pooling = b->model_->meta(arch + ".pooling_type");
    b->info_.embedding        = !pooling.empty() && pooling != "0";
    b->info_.reranker         = pooling == "4";  // LLAMA_POOLING_TYPE_RANK
    if (Status st = b->info_.embedding ? b->start_embedding(o, n_train) : b->start_generation(o, n_train); !st) {
        return st.error();
    }

    b->sampling_defaults_ = o.sampling;
    b->preset_            = {o.system, o.messages, o.stop, o.max_tokens};
    ModelInfo & i = b->info_;
    i.file_name   = o.model_path.filename().string();
    i.id          = !o.alias.empty() ? o.alias : o.model_path.stem().string();
    i.arch        = b->model_->meta("general.architecture");
    // llama.cpp describes a model as "<arch> <size> <file type>".
    const std::string desc = b->model_->description();
    i.quant       = desc.substr(desc.find_last_of(' ') + 1);
    i.n_ctx       = static_cast<int32_t>(b->context_->n_ctx());
    i.n_ctx_seq   = b->scheduler_ ? b->scheduler_->n_ctx_seq() : n_train;
    i.slots       = b->scheduler_ ? std::max(1, o.slots) : 0;
    i.n_embd      = llama_model_n_embd(b->model_->get());
    i.n_ctx_train = n_train;
    i.n_params    = b->model_->n_params();
    i.chat_template = b->template_->source();
    i.size_bytes  = b->model_->size_bytes();
    struct stat st{};
    if (::stat(o.model_path.c_str(), &st) == 0) i.created = st.st_mtime;
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i.embedding) {
        log::info("loaded embedding model {} ({}, {:.1f}M params, {:.1f} MiB) in {:.0f} ms; {} dimensions, inputs up to {} tokens",
                  i.id, i.arch, static_cast<double>(i.n_params) / 1e6,
                  static_cast<double>(i.size_bytes) / (1024.0 * 1024.0), ms, i.n_embd, i.n_ctx_seq);
    } else {
        log::info("loaded {} ({}, {:.1f}M params, {:.1f} MiB) in {:.0f} ms; KV pool {} tokens, {} per request, {} slots, "
                  "flash attention {}",
                  i.id, i.arch, static_cast<double>(i.n_params) / 1e6,
                  static_cast<double>(i.size_bytes) / (1024.0 * 1024.0), ms, i.n_ctx, i.n_ctx_seq, i.slots,
                  i.flash_attn);
    }
    if (start_now) b->start();
    return b;
}

void LlamaBackend::start() {
    if (thread_.joinable()) return;
    if (embedder_) {
        thread_ = std::thread([this] { embedder_->run(); });
    } else {
        thread_ = std::thread([this] { scheduler_->run(); });
    }
}

uint64_t default_host_cache_bytes() {
    const long     pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    const uint64_t ram   = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
    return std::min<uint64_t>(ram / 4, uint64_t{8192} << 20);
}

namespace {

// The scheduler and context a generation model runs with.
struct GenerationParams {
    scheduler::SchedulerOptions scheduler;
    engine::ContextParams       context;
};

GenerationParams generation_params(const LlamaOptions & o, int32_t n_train, uint32_t n_head) {
    GenerationParams g;
    scheduler::SchedulerOptions & so = g.scheduler;
    so.slots            = std::max(1, o.slots);
    so.max_queue        = std::max(0, o.max_queue);
    so.max_batch_tokens = std::max(1, o.n_batch);
    so.n_ctx_seq        = o.n_ctx_seq;
    // Sequence ids for cached conversations: twice the slots, within
    // llama.cpp's 256. KV memory, not this, bounds what stays cached.
    so.cache_seqs       = std::min(std::max(8, 2 * so.slots), 256 - so.slots);
    so.host_cache_bytes = o.cache_ram_mib >= 0 ? o.cache_ram_mib << 20 : static_cast<int64_t>(default_host_cache_bytes());

    engine::ContextParams & cp = g.context;
    const int32_t n_ctx = o.n_ctx > 0 ? o.n_ctx : std::min(n_train, LlamaOptions::max_default_ctx);
    cp.n_ctx      = static_cast<uint32_t>(n_ctx);
    cp.n_batch    = static_cast<uint32_t>(so.max_batch_tokens);
    cp.n_seq_max  = static_cast<uint32_t>(so.slots + so.cache_seqs);
    cp.n_threads  = o.n_threads;
    cp.flash_attn = o.flash_attn;
    cp.kv_type    = o.kv_type;
    cp.flash_attn = engine::resolve_flash_attn(cp, n_head, so.host_cache_bytes > 0);
    return g;
}

// Non-causal models see each input whole, in one micro-batch: the batch
// holds the longest input the model takes, and several shorter ones.
engine::ContextParams embedding_params(const LlamaOptions & o, int32_t n_train, int32_t n_seqs) {
    engine::ContextParams cp;
    cp.n_batch    = static_cast<uint32_t>(std::max(o.n_batch, std::min(n_train, 8192)));
    cp.n_ctx      = cp.n_batch;
    cp.n_seq_max  = static_cast<uint32_t>(n_seqs);
    cp.n_threads  = o.n_threads;
    cp.embeddings = true;
    return cp;
}

// Whether the GGUF is an embedding model (pooling metadata), and its trained
// context, from the header alone.
struct HeaderFacts {
    bool     embedding = false;
    int32_t  n_train   = 0;
    uint32_t n_head    = 0;  // 0 when per layer (an array)
};

Result<HeaderFacts> header_facts(const std::filesystem::path & path) {
    gguf_init_params params{};
    params.no_alloc = true;
    std::unique_ptr<gguf_context, void (*)(gguf_context *)> g(gguf_init_from_file(path.c_str(), params), gguf_free);
    if (!g) return make_error(ErrorCode::invalid_request, "cannot read " + path.filename().string() + ": not a GGUF file");
    auto str = [&](const std::string & key) -> std::string {
        const int64_t id = gguf_find_key(g.get(), key.c_str());
        return id >= 0 && gguf_get_kv_type(g.get(), id) == GGUF_TYPE_STRING ? gguf_get_val_str(g.get(), id) : "";
    };
    auto u32 = [&](const std::string & key) -> uint32_t {
        const int64_t id = gguf_find_key(g.get(), key.c_str());
        return id >= 0 && gguf_get_kv_type(g.get(), id) == GGUF_TYPE_UINT32 ? gguf_get_val_u32(g.get(), id) : 0;
    };
    const std::string arch = str("general.architecture");
    HeaderFacts f;
    f.embedding = u32(arch + ".pooling_type") > 0;
    f.n_train   = static_cast<int32_t>(u32(arch + ".context_length"));
    f.n_head    = u32(arch + ".attention.head_count");
    return f;
}

Delta to_delta(engine::AnswerDelta d) {
    Delta e;
    e.text           = std::move(d.content);
    e.reasoning      = std::move(d.reasoning);
    e.tool_index     = d.tool_index;
    e.tool.id        = std::move(d.tool_id);
    e.tool.name      = std::move(d.tool_name);
    e.tool.arguments = std::move(d.tool_arguments);
    return e;
}

// One answer from its tokens to its channel, on the run-loop thread: text
// (EOS, stop strings), then the chat format's parser when there is one
// (thinking, tool calls), and each token's log-probability, given to the
// first event its text shows up in.
class AnswerWriter {
  public:
    AnswerWriter(const engine::Model & model, std::shared_ptr<Channel> channel, std::vector<std::string> stops,
                 bool ignore_eos, std::vector<llama_token> shown, std::shared_ptr<const engine::ChatFormat> format,
                 std::vector<std::string> given_stops)
        : model_(model), channel_(std::move(channel)), text_(model, std::move(stops), ignore_eos),
          given_(std::move(given_stops)) {
        text_.show(std::move(shown));
        if (format) parsed_.emplace(std::move(format));
    }

    // With return_context, the done event gets the prompt and the answer's tokens.
    void keep_context(std::vector<llama_token> prompt) {
        context_      = std::move(prompt);
        keep_context_ = true;
    }

    // True when the answer is complete.
    bool token(llama_token t, const engine::TokenLogprobs * lp) {
        if (keep_context_ && !model_.is_eog(t)) context_.push_back(t);
        auto step = text_.push(t);
        if (lp && !model_.is_eog(t)) pending_.push_back(logprob_of(*lp));
        emit(std::move(step.text));
        return step.stop;
    }

    void done(scheduler::Finish f, const scheduler::JobStats & st, const Error * error) {
        if (error) {  // a failed decode, or shutdown
            channel_->push(Event::fail(*error));
            return;
        }
        Done done;
        if (f != scheduler::Finish::cancelled) {
            emit(text_.finish());
            if (parsed_) {
                send(parsed_->finish());
                done.reasoning  = parsed_->answer().reasoning;
                done.tool_calls = parsed_->answer().tool_calls;
            }
        }
        if (keep_context_) done.context.assign(context_.begin(), context_.end());
        done.finish = f == scheduler::Finish::length      ? FinishReason::length
                      : f == scheduler::Finish::cancelled ? FinishReason::cancelled
                      : !done.tool_calls.empty()          ? FinishReason::tool_calls
                                                          : FinishReason::stop;
        const std::string & matched = text_.stop_string();
        if (!matched.empty() && std::find(given_.begin(), given_.end(), matched) != given_.end()) done.stop_sequence = matched;
        done.usage.prompt_tokens     = st.n_prompt;
        done.usage.completion_tokens = st.n_generated;
        done.usage.cached_tokens     = st.n_cached;
        done.timings.prompt_ms       = st.prompt_ms;
        done.timings.generation_ms   = st.generation_ms;
        channel_->push(std::move(done));
    }

  private:
    TokenLogprob logprob_of(const engine::TokenLogprobs & lp) const {
        TokenLogprob out{model_.token_to_piece(lp.chosen.id, true), lp.chosen.logprob, {}};
        for (const auto & alt : lp.top) out.top.emplace_back(model_.token_to_piece(alt.id, true), alt.logprob);
        return out;
    }

    void emit(std::string piece) {
        if (!parsed_) {
            if (!piece.empty()) send(std::vector<Delta>{Delta::of_text(std::move(piece))});
            return;
        }
        send(parsed_->push(piece));
    }
    void send(std::vector<engine::AnswerDelta> deltas) {
        std::vector<Delta> evs;
        for (auto & d : deltas) evs.push_back(to_delta(std::move(d)));
        send(std::move(evs));
    }
    void send(std::vector<Delta> evs) {
        if (evs.empty()) return;
        evs.front().logprobs = std::move(pending_);
        pending_.clear();
        for (auto & e : evs) channel_->push(std::move(e));
    }

    const engine::Model &                  model_;
    std::shared_ptr<Channel>               channel_;
    engine::TextStream                     text_;
    std::optional<engine::ChatOutput>      parsed_;
    std::vector<std::string>               given_;
    std::vector<TokenLogprob>              pending_;
    bool                                   keep_context_ = false;
    std::vector<llama_token>               context_;
};

}  // namespace

Status LlamaBackend::start_generation(const LlamaOptions & o, int32_t n_train) {
    if (o.n_ctx <= 0 && n_train > LlamaOptions::max_default_ctx) {
        log::info("context: {} tokens (the model is trained for {}; set --ctx-size for more)",
                  LlamaOptions::max_default_ctx, n_train);
    }
    const auto       n_head = static_cast<uint32_t>(std::max(0, llama_model_n_head(model_->get())));
    GenerationParams g      = generation_params(o, n_train, n_head);
    auto ctx     = engine::Context::create(*model_, g.context);
    if (!ctx) return ctx.error();
    context_    = std::move(*ctx);
    info_.flash_attn = engine::flash_attn_name(g.context.flash_attn);
    engine_    = std::make_unique<LlamaEngine>(*context_);
    scheduler_ = std::make_unique<scheduler::Scheduler>(*engine_, g.scheduler);
    return {};
}

Status LlamaBackend::start_embedding(const LlamaOptions & o, int32_t n_train) {
    auto ctx      = engine::Context::create(*model_, embedding_params(o, n_train, kEmbedSeqs));
    if (!ctx) return ctx.error();
    context_  = std::move(*ctx);
    embedder_ = std::make_unique<EmbedRunner>(*context_, kEmbedSeqs);
    return {};
}

Result<LlamaFootprint> LlamaBackend::estimate(const LlamaOptions & o) {
    KILN_TRY(HeaderFacts facts, header_facts(o.model_path));
    LlamaFootprint out;
    out.embedding = facts.embedding;
    engine::ContextParams cp;
    if (facts.embedding) {
        cp = embedding_params(o, facts.n_train, kEmbedSeqs);
    } else {
        GenerationParams g = generation_params(o, facts.n_train, facts.n_head);
        cp             = g.context;
        out.host_cache = static_cast<uint64_t>(g.scheduler.host_cache_bytes);
    }
    out.n_ctx = static_cast<int32_t>(cp.n_ctx);
    KILN_TRY(out.memory, engine::estimate_memory(o.model_path, {}, cp));
    return out;
}

LlamaBackend::~LlamaBackend() {
    shutdown();
    if (thread_.joinable()) thread_.join();
}

Error LlamaBackend::wrong_kind() const {
    return info_.embedding
               ? make_error(ErrorCode::invalid_request,
                            "model '" + info_.id + "' is an embedding model; use /v1/embeddings", "model")
               : make_error(ErrorCode::invalid_request, "model '" + info_.id + "' does not produce embeddings", "model");
}

int32_t LlamaBackend::embed_limit() const {
    return std::min<int32_t>(model_->n_ctx_train(), static_cast<int32_t>(context_->n_batch()));
}

Result<std::vector<llama_token>> LlamaBackend::embed_tokens(const std::string & text, size_t index,
                                                            const char * field) const {
    const auto  limit  = embed_limit();
    auto        tokens = model_->tokenize(text, true, false);
    std::string param  = std::string(field) + "[" + std::to_string(index) + "]";
    if (text.empty() || tokens.empty()) return make_error(ErrorCode::invalid_request, "'" + param + "' is empty", field);
    if (static_cast<int32_t>(tokens.size()) > limit) {
        return make_error(ErrorCode::context_exceeded,
                          "'" + param + "' has " + std::to_string(tokens.size()) +
                              " tokens (n_prompt_tokens) but the model takes " + std::to_string(limit) + " (n_ctx)",
                          field);
    }
    return tokens;
}

Result<std::shared_ptr<Channel>> LlamaBackend::submit(EmbedRequest request) {
    if (!embedder_ || info_.reranker) {
        return info_.reranker ? make_error(ErrorCode::invalid_request,
                                           "model '" + info_.id + "' is a reranker; use /v1/rerank", "model")
                              : wrong_kind();
    }
    if (request.inputs.empty()) return make_error(ErrorCode::invalid_request, "'input' must not be empty", "input");
    std::vector<std::vector<llama_token>> inputs;
    for (size_t i = 0; i < request.inputs.size(); ++i) {
        KILN_TRY(auto tokens, embed_tokens(request.inputs[i], i, "input"));
        inputs.push_back(std::move(tokens));
    }
    auto channel = std::make_shared<Channel>();
    embedder_->submit(std::move(inputs), request.normalize, channel);
    return channel;
}

Result<std::shared_ptr<Channel>> LlamaBackend::submit(RerankRequest request) {
    if (!info_.reranker) {
        return make_error(ErrorCode::invalid_request, "model '" + info_.id + "' is not a reranker", "model");
    }
    if (request.documents.empty()) {
        return make_error(ErrorCode::invalid_request, "'documents' must not be empty", "documents");
    }
    // One pair per document, as cross-encoders were trained: the query with
    // the model's special tokens ([CLS] query [SEP]), then document [SEP].
    const llama_token sep = llama_vocab_sep(model_->vocab());
    std::vector<std::vector<llama_token>> inputs;
    for (size_t i = 0; i < request.documents.size(); ++i) {
        auto pair = model_->tokenize(request.query, true, false);
        auto doc  = model_->tokenize(request.documents[i], false, false);
        if (request.documents[i].empty() || doc.empty()) {
            return make_error(ErrorCode::invalid_request, "'documents[" + std::to_string(i) + "]' is empty", "documents");
        }
        pair.insert(pair.end(), doc.begin(), doc.end());
        if (sep != LLAMA_TOKEN_NULL) pair.push_back(sep);
        const int32_t limit = embed_limit();
        if (static_cast<int32_t>(pair.size()) > limit) {
            return make_error(ErrorCode::context_exceeded,
                              "query and 'documents[" + std::to_string(i) + "]' have " + std::to_string(pair.size()) +
                                  " tokens (n_prompt_tokens) but the model takes " + std::to_string(limit) + " (n_ctx)",
                              "documents");
        }
        inputs.push_back(std::move(pair));
    }
    auto channel = std::make_shared<Channel>();
    embedder_->submit(std::move(inputs), false, channel, true);
    return channel;
}

Result<engine::RenderedChat> LlamaBackend::render(const ChatRequest & request) const {
    if (request.messages.empty()) {
        return make_error(ErrorCode::invalid_request, "messages must not be empty", "messages");
    }
    auto messages = request.messages;
    with_preset_turns(messages);
    KILN_TRY(auto tmpl, template_for(request));
    return tmpl->apply(messages, request.options);
}

Result<std::vector<llama_token>> LlamaBackend::chat_tokens(const ChatRequest & request,
                                                           engine::RenderedChat * rendered) const {
    KILN_TRY(auto r, render(request));
    // Control tokens the template wrote as text become their ids. Templates
    // that write BOS themselves would get a second one from add_special.
    auto tokens = model_->tokenize(r.prompt, true, true);
    if (rendered) *rendered = std::move(r);
    const llama_token bos = llama_vocab_bos(model_->vocab());
    if (tokens.size() >= 2 && tokens[0] == bos && tokens[1] == bos) tokens.erase(tokens.begin());
    return tokens;
}

Result<std::shared_ptr<const engine::ChatTemplate>> LlamaBackend::template_for(const ChatRequest & request) const {
    // the model's own lives as long as the backend: shared without owning
    if (request.chat_template.empty()) return std::shared_ptr<const engine::ChatTemplate>(std::shared_ptr<void>(), template_.get());
    {
        std::lock_guard lock(request_templates_mutex_);
        for (auto it = request_templates_.begin(); it != request_templates_.end(); ++it) {
            if (it->first != request.chat_template) continue;
            std::rotate(request_templates_.begin(), it, it + 1);  // most recent first
            return request_templates_.front().second;
        }
    }
    // Made outside the lock: a slow template (rendered to learn its
    // capabilities) holds up no other request's.
    auto made = engine::ChatTemplate::create(*model_, request.chat_template, template_timeout_);
    if (!made) {
        Error e = made.error();
        e.param = "template";
        return e;
    }
    std::shared_ptr<const engine::ChatTemplate> tmpl(std::move(*made));
    std::lock_guard lock(request_templates_mutex_);
    request_templates_.insert(request_templates_.begin(), {request.chat_template, tmpl});
    if (request_templates_.size() > 4) request_templates_.pop_back();
    return tmpl;
}

Status LlamaBackend::check_tokens(const std::vector<int32_t> & tokens, const char * field) const {
    const int32_t n_vocab = model_->n_vocab();
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            return make_error(ErrorCode::invalid_request,
                              std::string("'") + field + "[" + std::to_string(i) + "]' is " + std::to_string(tokens[i]) +
                                  ", outside the vocabulary (0 to " + std::to_string(n_vocab - 1) + ")",
                              field);
        }
    }
    return {};
}

// Ollama's context: the earlier exchange's tokens, then this prompt's (without a second BOS).
Result<std::vector<llama_token>> LlamaBackend::after_context(const std::vector<int32_t> & context,
                                                             std::vector<llama_token> prompt) const {
    if (context.empty()) return prompt;
    KILN_CHECK(check_tokens(context, "context"));
    const llama_token bos = llama_vocab_bos(model_->vocab());
    if (!prompt.empty() && prompt.front() == bos) prompt.erase(prompt.begin());
    std::vector<llama_token> out(context.begin(), context.end());
    out.insert(out.end(), prompt.begin(), prompt.end());
    return out;
}

void LlamaBackend::with_preset_turns(std::vector<engine::ChatMessage> & messages) const {
    if (preset_.system.empty() && preset_.messages.empty()) return;
    const bool has_system = !messages.empty() && messages.front().role == "system";
    auto       at         = messages.begin() + (has_system ? 1 : 0);
    at                    = messages.insert(at, preset_.messages.begin(), preset_.messages.end());
    if (!has_system && !preset_.system.empty()) messages.insert(messages.begin(), engine::ChatMessage("system", preset_.system));
}

Result<std::shared_ptr<Channel>> LlamaBackend::submit(ChatRequest request) {
    if (!scheduler_) return wrong_kind();
    const size_t         user_stops = request.params.stop.size();
    engine::RenderedChat rendered;
    KILN_TRY(auto rendered_tokens, chat_tokens(request, &rendered));
    KILN_TRY(auto tokens, after_context(request.context, std::move(rendered_tokens)));
    for (auto & s : rendered.additional_stops) request.params.stop.push_back(std::move(s));
    GenerateParams & p = request.params;
    const bool wants_tools = !request.options.tools.empty() && request.options.tool_choice != engine::ToolChoice::none;
    if (request.must_think && !rendered.thinks) {
        return make_error(ErrorCode::invalid_request, "model '" + info_.id + "' does not support thinking", "think");
    }
    if (wants_tools && rendered.grammar.gbnf.empty()) {
        return make_error(ErrorCode::invalid_request,
                          "model '" + info_.id + "' does not support tools: its chat template has no tool-call format "
                          "(give it one with a preset's chat_template)",
                          "tools");
    }
    if (!rendered.grammar.gbnf.empty()) {
        if (!p.json_schema.empty()) {
            return make_error(ErrorCode::invalid_request, "'response_format' cannot be combined with tools", "response_format");
        }
        p.sampling.grammar                  = std::move(rendered.grammar.gbnf);
        p.sampling.grammar_lazy             = rendered.grammar.lazy;
        p.sampling.grammar_trigger_patterns = std::move(rendered.grammar.trigger_patterns);
        p.sampling.grammar_trigger_tokens.assign(rendered.grammar.trigger_tokens.begin(), rendered.grammar.trigger_tokens.end());
        p.sampling.grammar_prefix = std::move(rendered.grammar.prefix);
    }
    log::debug("chat: {} prompt tokens, tool grammar {} bytes{}, {} parser", tokens.size(), p.sampling.grammar.size(),
               p.sampling.grammar_lazy ? " (lazy)" : "", rendered.format ? "with a" : "no");
    AnswerFormat answer;
    answer.format = std::move(rendered.format);
    for (const auto & t : rendered.preserved_tokens) {
        auto ids = model_->tokenize(t, false, true);
        if (ids.size() == 1) answer.shown.push_back(ids[0]);
    }
    return enqueue(std::move(tokens), std::move(request.params), user_stops, std::move(answer));
}

Result<std::vector<int32_t>> LlamaBackend::tokenize(const std::string & text, bool add_special) {
    auto tokens = model_->tokenize(text, add_special, true);
    return std::vector<int32_t>(tokens.begin(), tokens.end());
}

Result<std::string> LlamaBackend::detokenize(const std::vector<int32_t> & tokens) {
    const int32_t n_vocab = model_->n_vocab();
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            return make_error(ErrorCode::invalid_request,
                              "'tokens[" + std::to_string(i) + "]' is " + std::to_string(tokens[i]) +
                                  ", outside the vocabulary (0 to " + std::to_string(n_vocab - 1) + ")",
                              "tokens");
        }
    }
    return model_->detokenize(std::vector<llama_token>(tokens.begin(), tokens.end()), true);
}

Result<std::string> LlamaBackend::apply_template(const ChatRequest & request) {
    KILN_TRY(auto rendered, render(request));
    return rendered.prompt;
}

Result<int32_t> LlamaBackend::count_tokens(const ChatRequest & request) {
    if (!scheduler_) return wrong_kind();
    KILN_TRY(auto tokens, chat_tokens(request, nullptr));
    return static_cast<int32_t>(tokens.size());
}

Result<std::shared_ptr<Channel>> LlamaBackend::submit(CompletionRequest request) {
    if (!scheduler_) return wrong_kind();
    const size_t user_stops = request.params.stop.size();
    if (!request.tokens.empty()) {
        KILN_CHECK(check_tokens(request.tokens, "prompt"));
        return enqueue({request.tokens.begin(), request.tokens.end()}, std::move(request.params), user_stops);
    }
    if (!request.suffix.empty()) {
        // Fill in the middle, prefix-suffix-middle: the model writes what goes between.
        const llama_vocab * v = model_->vocab();
        const llama_token   pre = llama_vocab_fim_pre(v), suf = llama_vocab_fim_suf(v), mid = llama_vocab_fim_mid(v);
        if (pre == LLAMA_TOKEN_NULL || suf == LLAMA_TOKEN_NULL || mid == LLAMA_TOKEN_NULL) {
            return make_error(ErrorCode::invalid_request,
                              "model '" + info_.id + "' has no fill-in-the-middle tokens, so it cannot take a 'suffix'", "suffix");
        }
        std::vector<llama_token> prompt;
        if (llama_vocab_get_add_bos(v)) prompt.push_back(llama_vocab_bos(v));
        prompt.push_back(pre);
        for (auto t : model_->tokenize(request.prompt, false, false)) prompt.push_back(t);
        prompt.push_back(suf);
        for (auto t : model_->tokenize(request.suffix, false, false)) prompt.push_back(t);
        prompt.push_back(mid);
        return enqueue(std::move(prompt), std::move(request.params), user_stops);
    }
    // Raw text: special tokens in it stay text, as in llama-server's default.
    KILN_TRY(auto tokens, after_context(request.context, model_->tokenize(request.prompt, true, false)));
    return enqueue(std::move(tokens), std::move(request.params), user_stops);
}

Result<std::shared_ptr<Channel>> LlamaBackend::enqueue(std::vector<llama_token> prompt, GenerateParams params,
                                                       size_t user_stops, AnswerFormat answer) {
    if (!params.json_schema.empty()) {
        KILN_TRY(params.sampling.grammar, engine::json_schema_grammar(params.json_schema));
    }
    // A preset's defaults, for what the request leaves out.
    if (params.max_tokens < 0) params.max_tokens = preset_.max_tokens;
    if (user_stops == 0 && !preset_.stop.empty()) {
        params.stop.insert(params.stop.begin(), preset_.stop.begin(), preset_.stop.end());
        user_stops = preset_.stop.size();
    }
    auto channel           = std::make_shared<Channel>();
    channel->prompt_tokens = static_cast<int32_t>(prompt.size());
    std::vector<std::string> given(params.stop.begin(), params.stop.begin() + static_cast<std::ptrdiff_t>(std::min(user_stops, params.stop.size())));
    auto job     = std::make_unique<scheduler::Job>();
    engine::apply_defaults(params.sampling, sampling_defaults_);
    for (const auto & [token, bias] : params.sampling.logit_bias) {
        if (token < 0 || token >= model_->n_vocab()) {
            return make_error(ErrorCode::invalid_request,
                              "'logit_bias' names token " + std::to_string(token) + ", outside the vocabulary (0 to " +
                                  std::to_string(model_->n_vocab() - 1) + ")",
                              "logit_bias");
        }
    }
    auto sampling = std::make_unique<LlamaSampling>(*model_, params.sampling);
    if (!sampling->sampler.valid()) {
        return make_error(ErrorCode::invalid_request, "the output grammar could not be built for this model",
                          params.sampling.grammar_prefix.empty() && !params.sampling.grammar_lazy ? "response_format" : "tools");
    }
    for (llama_token t : prompt) sampling->sampler.accept(t);  // penalties look back into the prompt
    job->prompt     = std::move(prompt);
    job->max_tokens = params.max_tokens;
    // A seed asks for the same answer every time; greedy decoding gives it anyway.
    job->reproducible = params.sampling.seed.has_value() && params.sampling.temperature > 0.0f;
    job->sampling   = std::move(sampling);
    job->cancelled  = channel->cancel_flag();

    // Both callbacks run on the scheduler's thread, one request at a time.
    auto writer = std::make_shared<AnswerWriter>(*model_, channel, std::move(params.stop), params.ignore_eos,
                                                 std::move(answer.shown), std::move(answer.format), std::move(given));
    if (params.return_context) writer->keep_context(job->prompt);
    const engine::Sampler * sampler = params.sampling.n_probs >= 0 ? &static_cast<LlamaSampling &>(*job->sampling).sampler : nullptr;
    job->on_token = [writer, sampler](scheduler::Token t) {
        return writer->token(t, sampler ? &sampler->last_logprobs() : nullptr) ? scheduler::Verdict::stop
                                                                                : scheduler::Verdict::more;
    };
    job->on_done = [writer](scheduler::Finish f, const scheduler::JobStats & st, const Error * error) {
        writer->done(f, st, error);
    };
    if (Status st = scheduler_->submit(std::move(job)); !st) {
        Error e = st.error();
        if (e.code == ErrorCode::context_exceeded) e.param = "messages";
        return e;
    }
    return channel;
}

void LlamaBackend::shutdown() {
    if (scheduler_) scheduler_->stop();
    if (embedder_) embedder_->stop();
}

}  // namespace kiln::backend

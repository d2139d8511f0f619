#include "engine/chat_template.h"

#include <exception>

#include "chat.h"
#include "engine/model.h"

namespace kiln::engine {

Result<std::unique_ptr<ChatTemplate>> ChatTemplate::create(const Model & model, const std::string & override_template) {
    std::unique_ptr<ChatTemplate> t(new ChatTemplate());
    try {
        t->tmpls_ = common_chat_templates_init(model.get(), override_template).release();
    } catch (const std::exception & e) {
        return make_error(ErrorCode::invalid_request, std::string("invalid chat template: ") + e.what());
    }
    if (!t->tmpls_) return make_error(ErrorCode::invalid_request, "invalid chat template");
    return t;
}

ChatTemplate::~ChatTemplate() {
    if (tmpls_) common_chat_templates_free(tmpls_);
}

Result<RenderedChat> ChatTemplate::apply(const std::vector<ChatMessage> & messages, bool add_generation_prompt) const {
    common_chat_templates_inputs in;
    in.use_jinja             = true;
    in.add_generation_prompt = add_generation_prompt;
    for (const auto & m : messages) {
        common_chat_msg msg;
        msg.role    = m.role;
        msg.content = m.content;
        in.messages.push_back(std::move(msg));
    }
    try {
        std::lock_guard       lock(mutex_);
        common_chat_params    p = common_chat_templates_apply(tmpls_, in);
        return RenderedChat{std::move(p.prompt), std::move(p.additional_stops)};
    } catch (const std::exception & e) {
        return make_error(ErrorCode::invalid_request, std::string("chat template failed: ") + e.what(), "messages");
    }
}

std::string ChatTemplate::source() const {
    std::lock_guard lock(mutex_);
    return common_chat_templates_source(tmpls_);
}

}  // namespace kiln::engine

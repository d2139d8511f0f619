#include "backend/proxy_backend.h"

#include <arpa/inet.h>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <mutex>
#include <set>
#include <thread>
#include <unistd.h>

#include <cpp-httplib/httplib.h>

#include "core/log.h"

extern char ** environ;

namespace kiln::backend {

using namespace std::chrono_literals;

namespace {

// Every runner's process group, for kill_all_runners().
std::mutex       g_runners_mutex;
std::set<pid_t> g_runners;

void track_runner(pid_t pid, bool running) {
    std::lock_guard lock(g_runners_mutex);
    if (running) {
        g_runners.insert(pid);
    } else {
        g_runners.erase(pid);
    }
}

}  // namespace

void kill_all_runners() {
    std::lock_guard lock(g_runners_mutex);
    for (pid_t pid : g_runners) ::kill(-pid, SIGKILL);
}
using Clock = std::chrono::steady_clock;

std::vector<std::string> split_command(const std::string & line) {
    std::vector<std::string> out;
    std::string              word;
    bool                     in_word = false;
    char                     quote   = 0;
    for (char c : line) {
        if (quote) {
            if (c == quote) quote = 0;
            else word += c;
            continue;
        }
        if (c == '"' || c == '\'') {
            quote   = c;
            in_word = true;
        } else if (c == ' ' || c == '\t' || c == '\n') {
            if (in_word) out.push_back(std::move(word));
            word.clear();
            in_word = false;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word) out.push_back(std::move(word));
    return out;
}

namespace {

// A port nobody listens on now (the child binds it right after).
int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family      = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len        = sizeof addr;
    int       port       = -1;
    if (::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
}

std::string substitute(std::string s, const std::map<std::string, std::string> & vars) {
    for (const auto & [k, v] : vars) {
        const std::string key = "${" + k + "}";
        for (size_t at = s.find(key); at != std::string::npos; at = s.find(key, at + v.size())) s.replace(at, key.size(), v);
    }
    return s;
}

// Restarts after a crash wait 0.25 s, 0.5 s, 1 s, ... up to 30 s.
std::chrono::milliseconds backoff(int failures) {
    if (failures <= 0) return 0ms;
    return std::min<std::chrono::milliseconds>(30s, 250ms * (1 << std::min(failures - 1, 7)));
}

}  // namespace

ProxyBackend::ProxyBackend(ProxyOptions options) : options_(std::move(options)) {
    info_.id    = options_.id;
    info_.n_ctx = options_.n_ctx;
    info_.arch  = options_.command.empty() ? "remote" : "process";
    info_.slots = options_.max_concurrent;
}

Result<std::unique_ptr<ProxyBackend>> ProxyBackend::create(ProxyOptions options) {
    if (options.command.empty() && options.url.empty()) {
        return make_error(ErrorCode::invalid_request, "model '" + options.id + "' needs a command (process) or a url (remote)");
    }
    std::unique_ptr<ProxyBackend> b(new ProxyBackend(std::move(options)));
    std::lock_guard               lock(b->mutex_);
    if (b->options_.command.empty()) {
        if (!b->healthy(b->options_.url)) {
            return b->unavailable("the upstream does not answer " + b->options_.health_path + " at " + b->options_.url);
        }
        return b;
    }
    KILN_CHECK(b->start_locked());
    return b;
}

ProxyBackend::~ProxyBackend() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    stop_locked();
}

Error ProxyBackend::unavailable(const std::string & why) const {
    return make_error(ErrorCode::unavailable, "model '" + options_.id + "': " + why);
}

std::string ProxyBackend::log_tail() const {
    std::ifstream in(options_.log_path, std::ios::binary);
    if (!in) return {};
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::streamoff>(in.tellg());
    in.seekg(std::max<std::streamoff>(0, size - 600));
    std::string tail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
    if (const auto nl = tail.rfind('\n', tail.size() > 300 ? tail.size() - 300 : 0); nl != std::string::npos && size > 600) {
        tail.erase(0, nl + 1);
    }
    return tail;
}

bool ProxyBackend::healthy(const std::string & base) const {
    httplib::Client http(base);
    http.set_connection_timeout(1);
    http.set_read_timeout(5);
    httplib::Headers headers;
    if (!options_.api_key.empty()) headers.emplace("Authorization", "Bearer " + options_.api_key);
    auto res = http.Get(options_.health_path, headers);
    return res && res->status == 200;
}

Status ProxyBackend::start_locked() {
    // A runner that is kiln may read the same config and start runners of
    // its own: a chain deeper than this is a loop in the config.
    constexpr int kMaxDepth = 4;
    const char *  depth_env = std::getenv("KILN_RUNNER_DEPTH");
    const int     depth     = depth_env ? std::atoi(depth_env) : 0;
    if (depth >= kMaxDepth) {
        return make_error(ErrorCode::invalid_request,
                          "model '" + options_.id + "': runners starting runners " + std::to_string(depth) +
                              " deep; does its command start a kiln that serves it again?");
    }
    const int port = free_port();
    if (port < 0) return unavailable("no free port on 127.0.0.1");
    auto vars    = options_.vars;
    vars["PORT"] = std::to_string(port);
    vars["HOST"] = "127.0.0.1";
    std::vector<std::string> argv;
    for (const auto & a : options_.command) argv.push_back(substitute(a, vars));

    std::error_code ec;
    if (!options_.log_path.empty()) std::filesystem::create_directories(options_.log_path.parent_path(), ec);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
    const std::string log = options_.log_path.empty() ? "/dev/null" : options_.log_path.string();
    posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own process group (stopped as a whole), and the signals serve
    // blocks for itself unblocked and at their defaults again.
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGUSR1);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char *> cargv;
    for (auto & a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char ** e = environ; *e; ++e) {
        if (std::strncmp(*e, "KILN_RUNNER_DEPTH=", 18) != 0) env_strings.emplace_back(*e);
    }
    env_strings.push_back("KILN_RUNNER_DEPTH=" + std::to_string(depth + 1));
    std::vector<char *> cenv;
    for (auto & e : env_strings) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    pid_t     pid = -1;
    const int rc  = posix_spawnp(&pid, cargv[0], &files, &attr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        return make_error(ErrorCode::invalid_request,
                          "model '" + options_.id + "': cannot start '" + argv[0] + "': " + std::strerror(rc));
    }
    pid_        = pid;
    track_runner(pid, true);
    base_       = "http://127.0.0.1:" + std::to_string(port);
    started_at_ = Clock::now();
    log::info("{}: started {} (pid {}) on port {}", options_.id, argv[0], pid, port);

    const auto deadline = Clock::now() + options_.ready_timeout;
    while (Clock::now() < deadline) {
        if (options_.cancel && options_.cancel->load()) {
            stop_locked();
            return make_error(ErrorCode::cancelled, "model '" + options_.id + "': starting its runner was cancelled");
        }
        if (reap_locked()) {
            // Its last words go to kiln's log, not to the client: they may
            // hold the machine's paths and a stack trace.
            const std::string tail = log_tail();
            if (!tail.empty()) log::warn("{}: the runner's last output: {}", options_.id, tail);
            return unavailable("the runner exited before it was ready; its output is in its log (" +
                               options_.log_path.filename().string() + ")");
        }
        if (healthy(base_)) {
            log::info("{}: ready after {:.1f} s", options_.id,
                      std::chrono::duration<double>(Clock::now() - started_at_).count());
            return {};
        }
        std::this_thread::sleep_for(100ms);  // polling the child's health endpoint
    }
    stop_locked();
    return unavailable("the runner was not healthy (" + options_.health_path + ") within " +
                       std::to_string(options_.ready_timeout.count() / 1000) + " s");
}

bool ProxyBackend::reap_locked() {
    if (pid_ <= 0) return true;
    int         status = 0;
    const pid_t r      = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return false;
    if (WIFSIGNALED(status)) {
        log::warn("{}: runner (pid {}) was killed by signal {}", options_.id, pid_, WTERMSIG(status));
    } else {
        log::warn("{}: runner (pid {}) exited with code {}", options_.id, pid_, WEXITSTATUS(status));
    }
    ::kill(-pid_, SIGKILL);  // whatever it left in its group
    track_runner(pid_, false);
    pid_ = -1;
    // A runner that dies soon after starting is restarted ever more slowly.
    failures_   = Clock::now() - started_at_ < 30s ? failures_ + 1 : 0;
    next_start_ = Clock::now() + backoff(failures_);
    return true;
}

void ProxyBackend::stop_locked() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGTERM);
    const auto deadline = Clock::now() + options_.stop_grace;
    int        status   = 0;
    while (Clock::now() < deadline) {
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            log::info("{}: runner stopped", options_.id);
            track_runner(pid_, false);
            pid_ = -1;
            return;
        }
        std::this_thread::sleep_for(20ms);  // waiting for the child to exit on SIGTERM
    }
    log::warn("{}: runner did not stop within {} ms of SIGTERM; killing it", options_.id, options_.stop_grace.count());
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    track_runner(pid_, false);
    pid_ = -1;
}

Result<std::string> ProxyBackend::ready() {
    std::unique_lock lock(mutex_);
    if (stopped_) return unavailable("shutting down");
    if (options_.command.empty()) return options_.url;
    if (!reap_locked()) return base_;
    if (const auto now = Clock::now(); now < next_start_) {
        log::info("{}: restarting the runner in {} ms", options_.id,
                  std::chrono::duration_cast<std::chrono::milliseconds>(next_start_ - now).count());
        std::this_thread::sleep_until(next_start_);  // backoff; other requests wait behind the lock
    }
    if (stopped_) return unavailable("shutting down");
    KILN_CHECK(start_locked());
    return base_;
}

std::shared_ptr<void> ProxyBackend::admit() {
    if (options_.max_concurrent <= 0) return std::make_shared<int>(0);
    std::unique_lock lock(admit_mutex_);
    admit_cv_.wait(lock, [&] { return in_flight_ < options_.max_concurrent; });
    ++in_flight_;
    return std::shared_ptr<void>(new int(0), [this](void * token) {
        delete static_cast<int *>(token);
        std::lock_guard l(admit_mutex_);
        --in_flight_;
        admit_cv_.notify_one();
    });
}

void ProxyBackend::failed() {
    std::lock_guard lock(mutex_);
    if (options_.command.empty() || reap_locked()) return;  // a dead child is started again by the next ready()
    // Killed a moment ago, it may not be reapable yet: give it a second
    // to exit, unless it answers its health check after all.
    for (int i = 0; i < 20; ++i) {
        if (reap_locked() || healthy(base_)) return;
        std::this_thread::sleep_for(50ms);  // waiting for the child's exit to be reported
    }
}

pid_t ProxyBackend::pid() const {
    std::lock_guard lock(mutex_);
    return pid_;
}

void ProxyBackend::shutdown() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
}

namespace {

Error not_translated(const std::string & id) {
    return make_error(ErrorCode::invalid_request,
                      "model '" + id + "' runs on an external server, reached through the OpenAI routes (/v1/...) only",
                      "model");
}

}  // namespace

Result<std::shared_ptr<Channel>> ProxyBackend::submit(ChatRequest request) {
    if (!options_.chat_codec) return not_translated(info_.id);
    const std::string model = request.model.empty() ? info_.id : request.model;
    return bridges_.submit(*this, info_.id, options_.chat_codec, request, model);
}

Result<std::shared_ptr<VerbatimAnswer>> ProxyBackend::submit_verbatim(const VerbatimRequest & request) {
    return exchange(*this, info_.id, request, admit());
}

Result<std::shared_ptr<Channel>> ProxyBackend::submit(CompletionRequest) { return not_translated(info_.id); }
Result<std::shared_ptr<Channel>> ProxyBackend::submit(EmbedRequest) { return not_translated(info_.id); }
Result<std::shared_ptr<Channel>> ProxyBackend::submit(RerankRequest) { return not_translated(info_.id); }

}  // namespace kiln::backend

#include "server/connections.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <system_error>
#include <thread>
#include <vector>

namespace kiln::server {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How often a wait looks up from its socket to see whether the server stops.
constexpr milliseconds kSlice{50};

void address_of(const sockaddr_storage & ss, std::string & ip, int & port) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        const auto & a = reinterpret_cast<const sockaddr_in &>(ss);
        inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
        port = ntohs(a.sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const auto & a = reinterpret_cast<const sockaddr_in6 &>(ss);
        inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof buf);
        port = ntohs(a.sin6_port);
    }
    ip = buf;
    // An IPv4 client of a dual-stack socket is the same client as over IPv4.
    if (ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos) ip = ip.substr(7);
}

void peer_address(int sock, std::string & ip, int & port) {
    sockaddr_storage ss{};
    socklen_t        len = sizeof ss;
    if (::getpeername(sock, reinterpret_cast<sockaddr *>(&ss), &len) == 0) address_of(ss, ip, port);
}

void local_address(int sock, std::string & ip, int & port) {
    sockaddr_storage ss{};
    socklen_t        len = sizeof ss;
    if (::getsockname(sock, reinterpret_cast<sockaddr *>(&ss), &len) == 0) address_of(ss, ip, port);
}

// Waits until `sock` has `events`, the deadline passes (0), the server
// stops (-1) or the socket fails (-1). Looks up every slice.
int wait_for(int sock, short events, Clock::time_point deadline, const std::atomic<socket_t> & server) {
    for (;;) {
        if (server.load() == INVALID_SOCKET) return -1;
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return 0;
        pollfd p{sock, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(std::min(left, kSlice).count()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n > 0) return (p.revents & (events | POLLHUP | POLLERR)) ? 1 : -1;
    }
}

// One request's stream over a connection's socket. Reads stop at the
// request's deadlines: its line and headers within header_timeout of its
// first byte, its body within body_timeout of the end of the headers. Once
// the answer starts, reads have no deadline (none are expected). Writes wait
// at most send_timeout for room in the socket's buffer, so a client that
// stops reading a stream is dropped and its generation cancelled.
class DeadlineStream final : public httplib::Stream {
  public:
    DeadlineStream(int sock, const ConnectionLimits & limits, const std::atomic<socket_t> & server,
                   ConnectionStats & stats, const std::string & remote, int remote_port, const std::string & local,
                   int local_port)
        : sock_(sock), limits_(limits), server_(server), stats_(stats), remote_(remote), local_(local),
          remote_port_(remote_port), local_port_(local_port), start_(Clock::now()),
          deadline_(start_ + limits.header_timeout), buffer_(16 * 1024) {}

    bool is_readable() const override { return off_ < size_; }

    bool wait_readable() const override {
        return wait_for(sock_, POLLIN, read_deadline(), server_) > 0;
    }

    bool wait_writable() const override {
        return wait_for(sock_, POLLOUT, Clock::now() + limits_.send_timeout, server_) > 0;
    }

    bool is_peer_alive() const override {
        pollfd p{sock_, POLLIN, 0};
        const int n = ::poll(&p, 1, 0);
        if (n == 0) return true;
        if (n < 0 || (p.revents & (POLLERR | POLLNVAL))) return false;
        char c;
        return ::recv(sock_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
    }

    ssize_t read(char * ptr, size_t size) override {
        if (off_ == size_) {
            const int ready = wait_for(sock_, POLLIN, read_deadline(), server_);
            if (ready <= 0) {
                if (ready == 0 && !answering_) {
                    stats_.timed_out.fetch_add(1);
                    timed_out_ = true;
                }
                error_ = ready == 0 ? httplib::Error::Timeout : httplib::Error::Read;
                return -1;
            }
            ssize_t n;
            do {
                n = ::recv(sock_, buffer_.data(), buffer_.size(), 0);
            } while (n < 0 && errno == EINTR);
            if (n <= 0) {
                error_ = n == 0 ? httplib::Error::ConnectionClosed : httplib::Error::Read;
                return n;
            }
            off_  = 0;
            size_ = static_cast<size_t>(n);
        }
        const size_t n = std::min(size, size_ - off_);
        std::memcpy(ptr, buffer_.data() + off_, n);
        consume_buffered(n);
        return static_cast<ssize_t>(n);
    }

    ssize_t write(const char * ptr, size_t size) override {
        // "100 Continue" is not the answer yet: the body's deadline holds.
        if (size < 12 || std::memcmp(ptr, "HTTP/1.1 100", 12) != 0) answering_ = true;
        const int ready = wait_for(sock_, POLLOUT, Clock::now() + limits_.send_timeout, server_);
        if (ready <= 0) {
            if (ready == 0) {
                stats_.timed_out.fetch_add(1);
                timed_out_ = true;
            }
            return -1;
        }
        ssize_t n;
        do {
            n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        return n;
    }

    void get_remote_ip_and_port(std::string & ip, int & port) const override {
        ip   = remote_;
        port = remote_port_;
    }
    void get_local_ip_and_port(std::string & ip, int & port) const override {
        ip   = local_;
        port = local_port_;
    }
    socket_t socket() const override { return sock_; }
    time_t   duration() const override {
        return std::chrono::duration_cast<milliseconds>(Clock::now() - start_).count();
    }

    // A deadline ended this request's reading: the connection goes too
    // (cpp-httplib may have answered 400 and would read on).
    bool timed_out() const { return timed_out_; }

    const char * buffered_data(size_t & size) const override {
        size = size_ - off_;
        return size ? buffer_.data() + off_ : nullptr;
    }

    void consume_buffered(size_t size) override {
        note(buffer_.data() + off_, size);
        off_ += size;
    }

  private:
    Clock::time_point read_deadline() const {
        // After the answer began, a read is cpp-httplib looking at the
        // connection: the idle wait bounds it.
        return answering_ ? Clock::now() + limits_.idle_timeout : deadline_;
    }

    // Watches the bytes handed out for the blank line that ends the headers;
    // from there the body's deadline applies.
    void note(const char * p, size_t n) {
        for (size_t i = 0; i < n && !body_; ++i) {
            tail_ = (tail_ << 8) | static_cast<uint8_t>(p[i]);
            if ((tail_ & 0xffffffffu) == 0x0d0a0d0au || (tail_ & 0xffffu) == 0x0a0au) {
                body_     = true;
                deadline_ = Clock::now() + limits_.body_timeout;
            }
        }
    }

    int                             sock_;
    const ConnectionLimits &        limits_;
    const std::atomic<socket_t> &   server_;
    ConnectionStats &               stats_;
    const std::string &             remote_;
    const std::string &             local_;
    int                             remote_port_;
    int                             local_port_;
    Clock::time_point               start_;
    Clock::time_point               deadline_;
    std::vector<char>               buffer_;
    size_t                          off_  = 0;
    size_t                          size_ = 0;
    uint32_t                        tail_ = 0;
    bool                            body_      = false;
    bool                            answering_ = false;
    bool                            timed_out_ = false;
};

// A thread per connection, up to a cap: a socket that sends nothing holds
// its own thread, never one another client's request waits for.
class ConnectionThreads final : public httplib::TaskQueue {
  public:
    explicit ConnectionThreads(size_t max) : max_(max) {}
    ~ConnectionThreads() override { shutdown(); }

    bool enqueue(std::function<void()> fn) override {
        std::lock_guard lock(mutex_);
        if (shutdown_ || running_ >= max_) return false;
        try {
            std::thread([this, fn = std::move(fn)] {
                fn();
                std::lock_guard done(mutex_);
                if (--running_ == 0) idle_.notify_all();
            }).detach();
        } catch (const std::system_error &) {
            return false;  // no thread to be had: the socket is closed
        }
        ++running_;
        return true;
    }

    // Returns once every connection's thread ended (they look up at least
    // every slice, once the server socket is gone).
    void shutdown() override {
        std::unique_lock lock(mutex_);
        shutdown_ = true;
        idle_.wait(lock, [this] { return running_ == 0; });
    }

  private:
    const size_t            max_;
    std::mutex              mutex_;
    std::condition_variable idle_;
    size_t                  running_  = 0;
    bool                    shutdown_ = false;
};

// A cap's answer, written without waiting on the client.
void refuse(int sock) {
    static const std::string body =
        R"({"error":{"message":"too many open connections; close idle ones or retry","type":"server_error","param":null,"code":"too_many_connections"}})";
    const std::string text = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                             "Connection: close\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body;
    (void)::send(sock, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

GuardedServer::GuardedServer(ConnectionLimits limits, std::shared_ptr<ConnectionStats> stats)
    : limits_(limits), stats_(std::move(stats)) {
    // Over the cap, a connection still gets a thread for its 503; past that
    // slack it is closed unanswered.
    const size_t threads = static_cast<size_t>(std::max(limits_.max_total, 1)) + 64;
    new_task_queue       = [threads] { return new ConnectionThreads(threads); };
    // cpp-httplib sets SO_REUSEPORT, with which a second server binds the
    // same port and the kernel splits clients between the two. SO_REUSEADDR
    // alone still rebinds past TIME_WAIT, but not over a live listener.
    set_socket_options([](socket_t sock) {
        int one = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    });
    const auto send_ms = limits_.send_timeout.count();
    set_write_timeout(static_cast<time_t>(send_ms / 1000), static_cast<time_t>(send_ms % 1000 * 1000));
    set_keep_alive_timeout(std::max<time_t>(1, static_cast<time_t>(limits_.idle_timeout.count() / 1000)));
}

GuardedServer::~GuardedServer() = default;

bool GuardedServer::admit(const std::string & address) {
    std::lock_guard lock(mutex_);
    auto &          mine = per_client_[address];
    if (total_ >= limits_.max_total || mine >= limits_.max_per_client) {
        if (mine == 0) per_client_.erase(address);
        return false;
    }
    ++total_;
    ++mine;
    return true;
}

void GuardedServer::release(const std::string & address) {
    std::lock_guard lock(mutex_);
    --total_;
    if (auto it = per_client_.find(address); it != per_client_.end() && --it->second == 0) per_client_.erase(it);
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
    std::string remote, local;
    int         remote_port = 0, local_port = 0;
    peer_address(sock, remote, remote_port);
    local_address(sock, local, local_port);
    if (!admit(remote)) {
        stats_->refused.fetch_add(1);
        refuse(sock);
        ::shutdown(sock, SHUT_RDWR);
        ::close(sock);
        return false;
    }
    stats_->accepted.fetch_add(1);
    stats_->open.fetch_add(1);

    bool ret = serve_guarded([&] {
        bool   ok    = false;
        size_t count = keep_alive_max_count_;
        // The first request, and each kept-alive one after it, must start
        // within the idle timeout.
        while (count > 0 && wait_for(sock, POLLIN, Clock::now() + limits_.idle_timeout, svr_sock_) > 0) {
            DeadlineStream strm(sock, limits_, svr_sock_, *stats_, remote, remote_port, local, local_port);
            bool           closed = false;
            ok = process_request(strm, remote, remote_port, local, local_port, count == 1, closed, nullptr);
            if (!ok || closed || strm.timed_out()) break;
            --count;
        }
        return ok;
    });

    release(remote);
    stats_->open.fetch_sub(1);
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ret;
}

}  // namespace kiln::server

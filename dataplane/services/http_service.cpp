#include "dataplane/services/http_service.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <string>

#include "dataplane/services/pattern.hpp"

namespace sluice::services {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool has_token(std::string_view list, std::string_view token) {
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        if (iequals(trim(list.substr(0, comma)), token))
            return true;
        if (comma == std::string_view::npos)
            break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

HttpService::Request HttpService::parse(std::string_view head, std::uint64_t default_body) {
    Request r;
    const std::size_t line_end = head.find("\r\n");
    const std::string_view line = head.substr(0, line_end);
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1)
        return r;
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (target.empty() || version.size() != 8 || version.substr(0, 7) != "HTTP/1.")
        return r;
    r.valid = true;
    r.head = method == "HEAD";
    r.supported_method = method == "GET" || r.head;
    r.keep_alive = version[7] != '0';  // HTTP/1.1 and later keep alive by default
    r.body_bytes = default_body;
    if (target.substr(0, 7) == "/bytes/") {
        std::uint64_t n = 0;
        const std::string_view digits = target.substr(7);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (ec != std::errc{} || end != digits.data() + digits.size() || n > kMaxBodyBytes) {
            r.valid = false;
            return r;
        }
        r.body_bytes = n;
    }
    std::string_view rest =
        line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
    while (!rest.empty()) {
        const std::size_t end = rest.find("\r\n");
        const std::string_view field = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 2);
        const std::size_t colon = field.find(':');
        if (colon == std::string_view::npos)
            continue;
        const std::string_view name = field.substr(0, colon);
        const std::string_view value = trim(field.substr(colon + 1));
        if (iequals(name, "Connection")) {
            if (has_token(value, "close"))
                r.keep_alive = false;
            if (has_token(value, "keep-alive"))
                r.keep_alive = true;
        } else if (iequals(name, "Content-Length")) {
            std::int64_t n = -1;
            auto [e, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec != std::errc{} || e != value.data() + value.size() || n < 0) {
                r.valid = false;
                return r;
            }
            r.content_length = n;
        } else if (iequals(name, "Transfer-Encoding")) {
            r.valid = false;  // request bodies in chunks are not supported: 400
            return r;
        }
    }
    return r;
}

api::ConnectionHandler* HttpService::on_accept(api::Connection c) {
    responses_[c.slot()] = Response{};
    (void)c.set_nodelay(true);  // responses are whole; Nagle would only delay the last segment
    return this;
}

bool HttpService::send_all(api::Connection c, std::string_view text) {
    // Headers are small: they fit unless the send buffer is nearly full, which serve() avoids.
    auto n = c.send(std::as_bytes(std::span(text.data(), text.size())));
    return n && *n == text.size();
}

bool HttpService::send_body(api::Connection c, Response& r) {
    while (r.body_left > 0) {
        const auto chunk = pattern_at(
            r.body_offset, static_cast<std::size_t>(std::min<std::uint64_t>(r.body_left, 65536)));
        auto n = c.send(chunk);
        if (!n || *n == 0)
            return false;  // on_writable resumes
        r.body_left -= *n;
        r.body_offset += *n;
    }
    return true;
}

void HttpService::serve(api::Connection c) {
    Response& r = responses_[c.slot()];
    for (;;) {
        if (!send_body(c, r))
            return;
        if (r.close_after) {
            (void)c.close();
            return;
        }
        // A request body (never used) is read past.
        while (r.skip_request_body > 0 && c.readable() > 0) {
            std::array<std::byte, 4096> sink;
            r.skip_request_body -= c.read(std::span(sink).first(static_cast<std::size_t>(
                std::min<std::uint64_t>(r.skip_request_body, sink.size()))));
        }
        if (r.skip_request_body > 0)
            return;
        // Leave room for a response's headers before taking the next request.
        if (c.send_space() < 512)
            return;

        std::array<char, kMaxHeaderBytes> head;
        const std::size_t n = c.peek(std::as_writable_bytes(std::span(head)));
        const std::string_view text(head.data(), n);
        const std::size_t end = text.find("\r\n\r\n");
        if (end == std::string_view::npos) {
            if (n >= head.size()) {
                (void)send_all(c,
                               "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                               "Content-Length: 0\r\nConnection: close\r\n\r\n");
                (void)c.close();
            } else if (c.peer_closed()) {
                (void)c.close();  // a partial request and then FIN: nothing more will come
            }
            return;
        }
        std::array<std::byte, kMaxHeaderBytes> consumed;
        (void)c.read(std::span(consumed).first(end + 4));
        const Request req = parse(text.substr(0, end + 2), body_bytes_);
        ++requests_;
        if (!req.valid || !req.supported_method) {
            (void)send_all(c, req.valid ? "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n"
                                          "Connection: close\r\n\r\n"
                                        : "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                          "Connection: close\r\n\r\n");
            (void)c.close();
            return;
        }
        char header[256];
        const int len = std::snprintf(header, sizeof header,
                                      "HTTP/1.1 200 OK\r\nServer: sluice\r\n"
                                      "Content-Type: application/octet-stream\r\n"
                                      "Content-Length: %llu\r\n%s\r\n",
                                      static_cast<unsigned long long>(req.body_bytes),
                                      req.keep_alive ? "" : "Connection: close\r\n");
        if (!send_all(c, std::string_view(header, static_cast<std::size_t>(len)))) {
            c.abort();
            return;
        }
        r.body_left = req.head ? 0 : req.body_bytes;
        r.body_offset = 0;
        r.close_after = !req.keep_alive;
        r.skip_request_body = static_cast<std::uint64_t>(req.content_length);
    }
}

}  // namespace sluice::services

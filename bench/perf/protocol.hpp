// How the server and client processes talk to the orchestrator: one line per message on stdout,
// a word naming the message and then `key=value` fields, e.g.
//
//   ready port=40123
//   progress phase=measure elapsed=3.50 rate=1234567.0
//   result value=1234567.0 cpu=87.5 ...
//
// Plain text rather than JSON, so that a person reading a child's output (or a failure message that
// quotes it) can follow it, and so that the orchestrator needs no JSON parser.
#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::perf {

class MessageWriter {
  public:
    explicit MessageWriter(std::string_view kind) : text_(kind) {}

    MessageWriter& field(std::string_view key, std::string_view value) {
        text_ += ' ';
        text_ += key;
        text_ += '=';
        text_ += value;
        return *this;
    }
    MessageWriter& field(std::string_view key, double value) {
        char buffer[64];
        std::snprintf(buffer, sizeof buffer, "%.6g", value);
        return field(key, std::string_view(buffer));
    }
    MessageWriter& field(std::string_view key, std::uint64_t value) {
        return field(key, std::string_view(std::to_string(value)));
    }

    // Writes the line and flushes: the orchestrator reads it as it comes.
    void send(std::FILE* out = stdout) const {
        std::fprintf(out, "%s\n", text_.c_str());
        std::fflush(out);
    }
    const std::string& text() const { return text_; }

  private:
    std::string text_;
};

struct Message {
    std::string kind;
    std::map<std::string, std::string, std::less<>> fields;

    std::optional<double> number(std::string_view key) const;
    std::string text(std::string_view key) const;
};

// Nothing when the line is not a message (EAL and the engine's logs share the stream).
std::optional<Message> parse_message(std::string_view line);

}  // namespace sluice::perf

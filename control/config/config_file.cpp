#include "control/config/config_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>

#include <rte_cfgfile.h>

namespace sluice::control {

namespace {

// rte_cfgfile_load() reads a line into CFG_NAME_LEN + CFG_VALUE_LEN + 4 bytes and refuses one that
// does not fit with its newline; names and values longer than their fields are cut short.
constexpr std::size_t kMaxLine = CFG_NAME_LEN + CFG_VALUE_LEN + 4 - 2;
constexpr std::size_t kMaxValue = CFG_VALUE_LEN - 1;
constexpr char kComment = CFG_DEFAULT_COMMENT_CHARACTER;

struct ScannedEntry {
    std::string key;
    int line;
};

struct ScannedSection {
    std::string name;
    int line;
    std::vector<ScannedEntry> entries;
};

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string_view strip(std::string_view s) {
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

std::string at_line(const std::string& path, int line) {
    return path + ":" + std::to_string(line) + ": ";
}

// The small helper rte_cfgfile lacks: where each section and key is. It reads every line as
// rte_cfgfile_load() does (DPDK 22.11 lib/cfgfile: cut at the first unescaped ';', strip, '['
// opens a section, the first '=' splits key from value), so the n-th section and entry here are
// the n-th there. What rte_cfgfile would refuse, or skip without a word, is refused here, with
// its line.
Result<std::vector<ScannedSection>, std::string> scan(const std::string& path,
                                                      std::string_view text) {
    std::vector<ScannedSection> sections;
    int line = 0;
    while (!text.empty()) {
        ++line;
        const std::size_t newline = text.find('\n');
        std::string_view raw = text.substr(0, newline);
        text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
        const std::string here = at_line(path, line);

        if (raw.find('\0') != std::string_view::npos) {
            return Unexpected{here + "contains a NUL byte; is this a text file?"};
        }
        if (raw.size() > kMaxLine) {
            return Unexpected{here + "longer than " + std::to_string(kMaxLine) + " characters"};
        }
        if (const std::size_t c = raw.find(kComment);
            c != std::string_view::npos && (c == 0 || raw[c - 1] != '\\')) {
            raw = raw.substr(0, c);
        }
        const std::string_view content = strip(raw);
        if (content.empty())
            continue;

        if (content.front() == '[') {
            const std::size_t close = content.find(']');
            if (close == std::string_view::npos) {
                return Unexpected{here + "'" + std::string(content) +
                                  "': expected ']' to end the section name"};
            }
            if (!strip(content.substr(close + 1)).empty()) {
                return Unexpected{here + "'" + std::string(content) +
                                  "': expected nothing after ']' but a ';' comment"};
            }
            sections.push_back({std::string(strip(content.substr(1, close - 1))), line, {}});
            continue;
        }
        const std::size_t equals = content.find('=');
        if (equals == std::string_view::npos) {
            std::string hint = content.front() == '#' ? "; comments start with ';'" : "";
            return Unexpected{here + "'" + std::string(content) +
                              "': expected [section] or key = value" + hint};
        }
        const std::string key(strip(content.substr(0, equals)));
        const std::string_view value = strip(content.substr(equals + 1));
        if (key.empty()) {
            return Unexpected{here + "'" + std::string(content) + "': expected a key before '='"};
        }
        if (sections.empty()) {
            return Unexpected{here + key + " '" + std::string(value) +
                              "': outside any section; keys go under [engine], [arp], [tcp], "
                              "[services] or [client]"};
        }
        if (value.size() > kMaxValue) {
            return Unexpected{here + "[" + sections.back().name + "] " + key +
                              ": the value is longer than " + std::to_string(kMaxValue) +
                              " characters"};
        }
        sections.back().entries.push_back({key, line});
    }
    return sections;
}

// Reads the whole file, for scan(); the message names the path and errno's text.
Result<std::string, std::string> read_text(const std::string& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "r"), std::fclose);
    const auto cannot = [&path](int error) {
        return Unexpected{"--config '" + path + "': cannot read it: " + std::strerror(error)};
    };
    if (!f)
        return cannot(errno);
    std::string text;
    char block[4096];
    std::size_t n;
    while ((n = std::fread(block, 1, sizeof block, f.get())) > 0)
        text.append(block, n);
    if (std::ferror(f.get()))
        return cannot(errno);
    return text;
}

std::string known_sections() {
    std::string list;
    std::string_view last;
    for (const Setting& s : settings()) {
        if (s.section == last)
            continue;
        last = s.section;
        list += (list.empty() ? "[" : ", [") + std::string(s.section) + "]";
    }
    return list;
}

std::string known_keys(std::string_view section) {
    std::string list;
    for (const Setting& s : settings()) {
        if (s.section == section)
            list += (list.empty() ? "" : ", ") + std::string(s.key);
    }
    return list;
}

const Setting* find_setting(std::string_view section, std::string_view key) {
    for (const Setting& s : settings()) {
        if (s.section == section && s.key == key)
            return &s;
    }
    return nullptr;
}

}  // namespace

Result<std::vector<ConfigEntry>, std::string> read_config_file(const std::string& path) {
    auto text = read_text(path);
    if (!text)
        return Unexpected{text.error()};
    auto scanned = scan(path, *text);
    if (!scanned)
        return Unexpected{scanned.error()};

    // Empty values are passed on, so that `vlan =` is refused by the same check as `--vlan ''`.
    std::unique_ptr<rte_cfgfile, int (*)(rte_cfgfile*)> cfg(
        rte_cfgfile_load(path.c_str(), CFG_FLAG_EMPTY_VALUES), rte_cfgfile_close);
    if (!cfg) {
        return Unexpected{"--config '" + path +
                          "': rte_cfgfile cannot read it: " + std::strerror(errno)};
    }
    const auto changed =
        Unexpected{"--config '" + path + "': the file changed while it was being read; try again"};
    if (rte_cfgfile_num_sections(cfg.get(), nullptr, 0) != static_cast<int>(scanned->size())) {
        return changed;
    }

    std::vector<ConfigEntry> entries;
    std::vector<const ScannedSection*> seen;
    for (std::size_t index = 0; index < scanned->size(); ++index) {
        const ScannedSection& section = (*scanned)[index];
        const std::string here = at_line(path, section.line);
        if (known_keys(section.name).empty()) {
            return Unexpected{here + "[" + section.name + "]: unknown section; the sections are " +
                              known_sections()};
        }
        for (const ScannedSection* earlier : seen) {
            if (earlier->name == section.name) {
                return Unexpected{here + "[" + section.name + "]: already begun on line " +
                                  std::to_string(earlier->line) + "; give each section once"};
            }
        }
        seen.push_back(&section);

        char name[CFG_NAME_LEN];
        const int count =
            rte_cfgfile_section_num_entries_by_index(cfg.get(), name, static_cast<int>(index));
        if (count != static_cast<int>(section.entries.size()))
            return changed;
        std::vector<rte_cfgfile_entry> values(section.entries.size());
        if (rte_cfgfile_section_entries_by_index(cfg.get(), static_cast<int>(index), name,
                                                 values.data(), count) != count) {
            return changed;
        }

        for (std::size_t i = 0; i < section.entries.size(); ++i) {
            const ScannedEntry& e = section.entries[i];
            const std::string value = values[i].value;
            const std::string where = at_line(path, e.line) + "[" + section.name + "] " + e.key;
            const Setting* setting = find_setting(section.name, e.key);
            if (setting == nullptr) {
                return Unexpected{where + ": unknown key; [" + section.name + "] takes " +
                                  known_keys(section.name)};
            }
            if (!setting->repeatable()) {
                for (std::size_t j = 0; j < i; ++j) {
                    if (section.entries[j].key == e.key) {
                        return Unexpected{where + " '" + value + "': already set on line " +
                                          std::to_string(section.entries[j].line)};
                    }
                }
            }
            entries.push_back({setting, value, where});
        }
    }
    return entries;
}

}  // namespace sluice::control

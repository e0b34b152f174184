#ifndef JOBWATCH_SCHEMA_DETAIL_ECMA_PATTERN_HPP
#define JOBWATCH_SCHEMA_DETAIL_ECMA_PATTERN_HPP

/** @file
    JSON Schema `pattern` at run time: ECMA-262 (`u` mode) parsed and rewritten
    for `std::wregex`, as jobwatch-codegen does at build time
    (codegen/jobwatch_codegen/ecma_regex.py). Both must accept and refuse the
    same patterns and match them the same way, so this is a line-by-line
    reading of that module in C++, not a regex engine of its own: every class
    (`.`, `\s`, `\d`, `\w`, `[...]`) becomes explicit code point ranges, and
    what `std::wregex` cannot carry over faithfully (lookbehind,
    backreferences, `\p{...}`) is refused with the generator's words.
*/

#include <jobwatch/detail/codec_read.hpp>
#include <jobwatch/detail/utf8.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <locale>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace jobwatch::schema::detail {

/// Code point ranges, inclusive, as ecma_regex.py's `ranges`.
using code_ranges = std::vector<std::pair<char32_t, char32_t>>;

inline constexpr char32_t max_code_point = 0x10FFFF;

inline code_ranges normalize(code_ranges ranges)
{
    std::sort(ranges.begin(), ranges.end());
    code_ranges out;
    for (auto [lo, hi] : ranges) {
        if (!out.empty() && lo <= out.back().second + 1)
            out.back().second = std::max(out.back().second, hi);
        else
            out.emplace_back(lo, hi);
    }
    return out;
}

inline code_ranges complement(code_ranges const& ranges)
{
    code_ranges out;
    char32_t next_lo = 0;
    for (auto [lo, hi] : normalize(ranges)) {
        if (lo > next_lo)
            out.emplace_back(next_lo, lo - 1);
        next_lo = hi + 1;
    }
    if (next_lo <= max_code_point)
        out.emplace_back(next_lo, max_code_point);
    return out;
}

/** @brief One node of a parsed pattern (ecma_regex.py's tuples). */
struct regex_node
{
    enum class kind
    {
        alt,
        seq,
        set,
        group,
        look,
        repeat,
        bol,
        eol,
        word_boundary
    };
    kind k = kind::seq;
    std::vector<regex_node> children;  ///< alt: alternatives; seq: terms; group, look, repeat: one
    code_ranges ranges;                ///< set
    bool flag = false;    ///< group: capturing; look, word_boundary: negative; repeat: lazy
    std::size_t min = 0;  ///< repeat
    std::optional<std::size_t> max;  ///< repeat; empty is unbounded

    static regex_node make(kind k, bool flag = false)
    {
        regex_node n;
        n.k = k;
        n.flag = flag;
        return n;
    }
};

/// Why a pattern was refused (the generator's RegexError text).
struct regex_error
{
    std::string message;
};

/** @brief The parser of ecma_regex.py, over code points.

    Failures unwind with `regex_error`, caught by `parse_ecma_pattern`, so each
    of the grammar's refusals stays one line as in the Python it mirrors.
*/
class ecma_parser
{
public:
    explicit ecma_parser(std::wstring src) : src_(std::move(src)) {}

    regex_node parse()
    {
        auto node = disjunction();
        if (pos_ != src_.size())
            fail("unmatched " + quoted(src_[pos_]));
        return node;
    }

    /// Deepest group nesting accepted (the generator has none; a bound keeps
    /// this parser's recursion, and std::regex's, finite).
    static constexpr std::size_t max_nesting = 64;
    /// Largest `{n,m}` bound accepted (std::regex expands counted repeats).
    static constexpr std::size_t max_count = 10000;

private:
    static constexpr char32_t end = 0xFFFFFFFF;

    [[noreturn]] void fail(std::string why) const
    {
        throw regex_error{why + " at offset " + std::to_string(pos_)};
    }

    static std::string utf8(char32_t c)
    {
        std::string out;
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (c < 0x800) {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out += static_cast<char>(0xE0 | (c >> 12));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (c >> 18));
            out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
        return out;
    }

    /// Python's repr of a one-character string, as the generator's messages show it.
    static std::string quoted(wchar_t c)
    {
        if (c == L'\'')
            return "\"'\"";
        if (c == L'\\')
            return "'\\\\'";
        return "'" + utf8(static_cast<char32_t>(c)) + "'";
    }

    char32_t peek(std::size_t ahead = 0) const
    {
        return pos_ + ahead < src_.size() ? static_cast<char32_t>(src_[pos_ + ahead]) : end;
    }

    bool starts_with(std::wstring_view s) const
    {
        return std::wstring_view{src_}.substr(pos_).starts_with(s);
    }

    char32_t take()
    {
        if (pos_ >= src_.size())
            fail("unexpected end of pattern");
        return static_cast<char32_t>(src_[pos_++]);
    }

    static bool ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
    static bool ascii_alpha(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
    static bool hex_digit(char32_t c)
    {
        return ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }
    static unsigned hex_value(char32_t c)
    {
        return ascii_digit(c) ? c - '0' : (c >= 'a' ? c - 'a' + 10 : c - 'A' + 10);
    }

    regex_node disjunction()
    {
        if (++depth_ > max_nesting)
            fail("groups nested deeper than " + std::to_string(max_nesting) + " levels");
        auto alt = regex_node::make(regex_node::kind::alt);
        alt.children.push_back(alternative());
        while (peek() == '|') {
            ++pos_;
            alt.children.push_back(alternative());
        }
        --depth_;
        if (alt.children.size() == 1)
            return std::move(alt.children.front());
        return alt;
    }

    regex_node alternative()
    {
        auto seq = regex_node::make(regex_node::kind::seq);
        while (pos_ < src_.size() && peek() != '|' && peek() != ')')
            seq.children.push_back(term());
        return seq;
    }

    regex_node term()
    {
        char32_t const c = peek();
        if (c == '^') {
            ++pos_;
            return regex_node::make(regex_node::kind::bol);
        }
        if (c == '$') {
            ++pos_;
            return regex_node::make(regex_node::kind::eol);
        }
        if (starts_with(L"\\b") || starts_with(L"\\B")) {
            pos_ += 2;
            return regex_node::make(regex_node::kind::word_boundary, src_[pos_ - 1] == L'B');
        }
        if (starts_with(L"(?=") || starts_with(L"(?!")) {
            bool const negative = src_[pos_ + 2] == L'!';
            pos_ += 3;
            auto look = regex_node::make(regex_node::kind::look, negative);
            look.children.push_back(disjunction());
            close_group();
            // u mode: a lookahead takes no quantifier.
            char32_t const q = peek();
            if (q == '*' || q == '+' || q == '?' || q == '{')
                fail("a lookahead cannot be quantified");
            return look;
        }
        if (starts_with(L"(?<=") || starts_with(L"(?<!"))
            fail("lookbehind is not supported (std::regex has none)");
        return quantified(atom());
    }

    void close_group()
    {
        if (peek() != ')')
            fail("missing )");
        ++pos_;
    }

    std::optional<std::size_t> number()
    {
        std::size_t const start = pos_;
        std::size_t n = 0;
        while (ascii_digit(peek())) {
            n = std::min<std::size_t>(n * 10 + (peek() - '0'), max_count + 1);
            ++pos_;
        }
        if (pos_ == start)
            return std::nullopt;
        return n;
    }

    regex_node quantified(regex_node atom)
    {
        char32_t const c = peek();
        std::size_t lo = 0;
        std::optional<std::size_t> hi;
        if (c == '*') {
            ++pos_;
        } else if (c == '+') {
            lo = 1;
            ++pos_;
        } else if (c == '?') {
            hi = 1;
            ++pos_;
        } else if (c == '{') {
            std::size_t const start = pos_;
            ++pos_;
            auto const first = number();
            if (!first) {
                pos_ = start;
                fail("a lone { is not allowed in u mode");
            }
            lo = *first;
            hi = lo;
            if (peek() == ',') {
                ++pos_;
                hi = number();
            }
            if (peek() != '}') {
                pos_ = start;
                fail("a lone { is not allowed in u mode");
            }
            ++pos_;
            if (hi && *hi < lo)
                fail("numbers out of order in {} quantifier");
            if (lo > max_count || (hi && *hi > max_count))
                fail("a {} quantifier above " + std::to_string(max_count) + " is not supported");
        } else {
            return atom;
        }
        bool lazy = false;
        if (peek() == '?') {
            lazy = true;
            ++pos_;
        }
        auto r = regex_node::make(regex_node::kind::repeat, lazy);
        r.min = lo;
        r.max = hi;
        r.children.push_back(std::move(atom));
        return r;
    }

    static regex_node set(code_ranges r)
    {
        auto n = regex_node::make(regex_node::kind::set);
        n.ranges = std::move(r);
        return n;
    }

    regex_node atom()
    {
        char32_t const c = take();
        if (c == '.')
            return set(complement({{0x0A, 0x0A}, {0x0D, 0x0D}, {0x2028, 0x2029}}));
        if (c == '(') {
            if (starts_with(L"?:")) {
                pos_ += 2;
                auto g = regex_node::make(regex_node::kind::group, false);
                g.children.push_back(disjunction());
                close_group();
                return g;
            }
            if (starts_with(L"?<")) {
                pos_ += 2;
                std::wstring name;
                while (peek() != '>' && peek() != end)
                    name += static_cast<wchar_t>(take());
                auto const name_start = [](char32_t ch) {
                    return ascii_alpha(ch) || ch == '_' || ch == '$' || ch > 0x7F;
                };
                bool ok = !name.empty() && name_start(static_cast<char32_t>(name.front()));
                for (wchar_t ch : name)
                    ok = ok && (name_start(static_cast<char32_t>(ch)) ||
                                ascii_digit(static_cast<char32_t>(ch)));
                if (!ok)
                    fail("invalid group name");
                if (std::find(names_.begin(), names_.end(), name) != names_.end()) {
                    std::string text;
                    for (wchar_t ch : name)
                        text += utf8(static_cast<char32_t>(ch));
                    fail("duplicate group name '" + text + "'");
                }
                names_.push_back(name);
                ++pos_;
            } else if (peek() == '?') {
                fail("invalid group");
            }
            auto g = regex_node::make(regex_node::kind::group, true);
            g.children.push_back(disjunction());
            close_group();
            return g;
        }
        if (c == '[')
            return set(char_class());
        if (c == '\\')
            return atom_escape();
        if (c == ')' || c == ']' || c == '{' || c == '}' || c == '|' || c == '*' || c == '+' ||
            c == '?') {
            --pos_;
            if (c == '*' || c == '+' || c == '?')
                fail(quoted(static_cast<wchar_t>(c)) + " has nothing to apply to");
            fail("a lone " + quoted(static_cast<wchar_t>(c)) + " is not allowed in u mode");
        }
        return set({{c, c}});
    }

    regex_node atom_escape()
    {
        char32_t const c = peek();
        if (ascii_digit(c) && c != '0')
            fail("backreferences are not supported (std::regex does not match one to a group that "
                 "did not "
                 "take part as ECMA-262 does)");
        if (c == 'k')
            fail("backreferences are not supported");
        if (auto cls = class_escape())
            return set(std::move(*cls));
        char32_t const cp = character_escape();
        return set({{cp, cp}});
    }

    /// `\d \D \s \S \w \W` as ranges, or nothing (position unchanged).
    std::optional<code_ranges> class_escape()
    {
        char32_t const c = peek();
        code_ranges table;
        switch (c) {
        case 'd':
        case 'D':
            table = {{0x30, 0x39}};
            break;
        case 's':
        case 'S':
            // ECMA-262 WhiteSpace and LineTerminator.
            table = {{0x09, 0x0D},     {0x20, 0x20},     {0xA0, 0xA0},     {0x1680, 0x1680},
                     {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
                     {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
            break;
        case 'w':
        case 'W':
            table = {{0x30, 0x39}, {0x41, 0x5A}, {0x5F, 0x5F}, {0x61, 0x7A}};
            break;
        case 'p':
        case 'P':
            fail("Unicode property escapes (\\p{...}) are not supported; spell the ranges out");
        default:
            return std::nullopt;
        }
        ++pos_;
        auto ranges = normalize(std::move(table));
        return c == 'D' || c == 'S' || c == 'W' ? complement(ranges) : ranges;
    }

    char32_t character_escape()
    {
        char32_t const c = take();
        switch (c) {
        case 'f':
            return 0x0C;
        case 'n':
            return 0x0A;
        case 'r':
            return 0x0D;
        case 't':
            return 0x09;
        case 'v':
            return 0x0B;
        default:
            break;
        }
        if (c == 'c') {
            char32_t const letter = peek();
            if (!ascii_alpha(letter))
                fail("\\c must be followed by a letter");
            ++pos_;
            return letter % 32;
        }
        if (c == '0') {
            if (ascii_digit(peek()))
                fail("\\0 followed by a digit is not allowed in u mode");
            return 0;
        }
        if (c == 'x')
            return hex_digits(2);
        if (c == 'u') {
            if (peek() == '{') {
                ++pos_;
                std::size_t const start = pos_;
                while (peek() != '}' && peek() != end)
                    ++pos_;
                bool ok = peek() == '}' && pos_ > start;
                char32_t cp = 0;
                for (std::size_t i = start; ok && i < pos_; ++i) {
                    ok = hex_digit(static_cast<char32_t>(src_[i]));
                    if (ok)
                        cp = std::min<char32_t>(cp * 16 + hex_value(static_cast<char32_t>(src_[i])),
                                                max_code_point + 1);
                }
                if (!ok || cp > max_code_point)
                    fail("invalid \\u{...} escape");
                ++pos_;
                return cp;
            }
            char32_t const cp = hex_digits(4);
            // u mode: an escaped surrogate pair is one code point.
            if (cp >= 0xD800 && cp <= 0xDBFF && starts_with(L"\\u")) {
                std::size_t const save = pos_;
                pos_ += 2;
                std::optional<char32_t> low;
                if (pos_ + 4 <= src_.size() &&
                    std::all_of(src_.begin() + static_cast<std::ptrdiff_t>(pos_),
                                src_.begin() + static_cast<std::ptrdiff_t>(pos_ + 4),
                                [](wchar_t h) { return hex_digit(static_cast<char32_t>(h)); }))
                    low = hex_digits(4);
                if (low && *low >= 0xDC00 && *low <= 0xDFFF)
                    return 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
                pos_ = save;
            }
            return cp;
        }
        if (std::u32string_view{U"^$\\.*+?()[]{}|/"}.find(c) != std::u32string_view::npos)
            return c;
        --pos_;
        std::string text = "\\";
        text += utf8(c);
        fail("invalid escape " + text + " in u mode");
    }

    char32_t hex_digits(std::size_t n)
    {
        if (pos_ + n > src_.size())
            fail("invalid hexadecimal escape");
        char32_t v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            auto const h = static_cast<char32_t>(src_[pos_ + i]);
            if (!hex_digit(h))
                fail("invalid hexadecimal escape");
            v = v * 16 + hex_value(h);
        }
        pos_ += n;
        return v;
    }

    code_ranges char_class()
    {
        bool negate = false;
        if (peek() == '^') {
            negate = true;
            ++pos_;
        }
        code_ranges ranges;
        for (;;) {
            if (pos_ >= src_.size())
                fail("missing ]");
            if (peek() == ']') {
                ++pos_;
                break;
            }
            auto [lo_set, lo] = class_atom();
            if (peek() == '-' && peek(1) != ']' && peek(1) != end) {
                ++pos_;
                auto [hi_set, hi] = class_atom();
                if (lo_set || hi_set)
                    fail("a class escape cannot bound a range in u mode");
                if (hi < lo)
                    fail("range out of order in character class");
                ranges.emplace_back(lo, hi);
            } else if (lo_set) {
                ranges.insert(ranges.end(), lo_set->begin(), lo_set->end());
            } else {
                ranges.emplace_back(lo, lo);
            }
        }
        ranges = normalize(std::move(ranges));
        return negate ? complement(ranges) : ranges;
    }

    /// (ranges, 0) for a class escape, or (nothing, code point).
    std::pair<std::optional<code_ranges>, char32_t> class_atom()
    {
        char32_t const c = take();
        if (c != '\\')
            return {std::nullopt, c};
        if (auto cls = class_escape())
            return {std::move(cls), 0};
        if (peek() == 'b') {
            ++pos_;
            return {std::nullopt, 0x08};
        }
        if (peek() == '-') {
            ++pos_;
            return {std::nullopt, '-'};
        }
        if (ascii_digit(peek()) && peek() != '0')
            fail("a decimal escape is not allowed in a class in u mode");
        return {std::nullopt, character_escape()};
    }

    std::wstring src_;
    std::size_t pos_ = 0;
    std::size_t depth_ = 0;
    std::vector<std::wstring> names_;
};

/// Writes one code point for std::wregex (ecma_regex.py `_std_char`).
inline void write_std_char(std::wstring& out, char32_t cp, bool in_class)
{
    std::wstring_view const special = in_class ? L"\\]^-[" : L"^$\\.*+?()[]{}|/";
    if (cp < 0x80 && special.find(static_cast<wchar_t>(cp)) != std::wstring_view::npos) {
        out += L'\\';
        out += static_cast<wchar_t>(cp);
    } else if (cp >= 0x20 && cp < 0x7F) {
        out += static_cast<wchar_t>(cp);
    } else if (cp <= 0xFFFF) {
        static constexpr wchar_t hex[] = L"0123456789ABCDEF";
        out += L"\\u";
        for (int shift = 12; shift >= 0; shift -= 4)
            out += hex[(cp >> shift) & 0xF];
    } else {
        // Astral code points: std::wregex reads them as one wchar_t each.
        out += static_cast<wchar_t>(cp);
    }
}

/// The pattern for std::wregex (ECMAScript grammar) over UTF-32 (`to_std_regex`).
inline void write_std_regex(std::wstring& out, regex_node const& n)
{
    using k = regex_node::kind;
    switch (n.k) {
    case k::alt:
        for (std::size_t i = 0; i < n.children.size(); ++i) {
            if (i)
                out += L'|';
            write_std_regex(out, n.children[i]);
        }
        return;
    case k::seq:
        for (auto const& c : n.children)
            write_std_regex(out, c);
        return;
    case k::set:
        if (n.ranges.size() == 1 && n.ranges[0].first == n.ranges[0].second) {
            write_std_char(out, n.ranges[0].first, false);
        } else if (n.ranges.empty()) {
            // Matches nothing.
            out += L"[^\\u0000-";
            out += static_cast<wchar_t>(max_code_point);
            out += L']';
        } else {
            out += L'[';
            for (auto [lo, hi] : n.ranges) {
                write_std_char(out, lo, true);
                if (lo != hi) {
                    out += L'-';
                    write_std_char(out, hi, true);
                }
            }
            out += L']';
        }
        return;
    case k::group:
        out += n.flag ? L"(" : L"(?:";
        write_std_regex(out, n.children.front());
        out += L')';
        return;
    case k::look:
        out += n.flag ? L"(?!" : L"(?=";
        write_std_regex(out, n.children.front());
        out += L')';
        return;
    case k::repeat: {
        auto const& inner = n.children.front();
        bool const wrap = inner.k != k::set && inner.k != k::group;
        if (wrap)
            out += L"(?:";
        write_std_regex(out, inner);
        if (wrap)
            out += L')';
        if (n.min == 0 && !n.max)
            out += L'*';
        else if (n.min == 1 && !n.max)
            out += L'+';
        else if (n.min == 0 && n.max == 1)
            out += L'?';
        else if (n.max == n.min)
            out += L'{' + std::to_wstring(n.min) + L'}';
        else
            out += L'{' + std::to_wstring(n.min) + L',' + (n.max ? std::to_wstring(*n.max) : L"") +
                   L'}';
        if (n.flag)
            out += L'?';
        return;
    }
    case k::bol:
        out += L'^';
        return;
    case k::eol:
        out += L'$';
        return;
    case k::word_boundary:
        out += n.flag ? L"\\B" : L"\\b";
        return;
    }
}

/** @brief A compiled `pattern`: matched unanchored over code points.

    Patterns of the form `^[class]{m,n}$` over ASCII (optionally followed by
    `(?!\n)`) are checked with a table, as the generated code does
    (`simple_class_pattern`): same decision, no regex engine, and no deep
    recursion inside std::regex on long strings.
*/
class compiled_pattern
{
public:
    /// Parses, rewrites and compiles `text`; fails with the generator's wording.
    static std::variant<compiled_pattern, regex_error> compile(std::string_view text)
    {
        compiled_pattern p;
        p.text_.assign(text);
        regex_node tree;
        try {
            tree = ecma_parser{jobwatch::detail::utf8_to_wide(text)}.parse();
        } catch (regex_error const& e) {
            return e;
        }
        if (p.simple(tree))
            return p;
        std::wstring rewritten;
        write_std_regex(rewritten, tree);
        try {
            p.re_.imbue(std::locale::classic());
            p.re_.assign(rewritten, std::regex::ECMAScript | std::regex::optimize);
        } catch (std::regex_error const& e) {
            return regex_error{std::string("std::regex refused it: ") + e.what()};
        }
        return p;
    }

    /// ECMA-262 `pattern`: a match anywhere in `s` counts.
    bool search(std::string_view s) const
    {
        if (table_) {
            if (s.size() < min_ || s.size() > max_)
                return false;
            for (char c : s) {
                auto const u = static_cast<unsigned char>(c);
                if (u >= 128 || !(*table_)[u])
                    return false;
            }
            return true;
        }
        return std::regex_search(jobwatch::detail::utf8_to_wide(s), re_);
    }

    /// The pattern as the schema wrote it.
    std::string const& text() const noexcept { return text_; }

private:
    bool simple(regex_node const& tree)
    {
        using k = regex_node::kind;
        if (tree.k != k::seq)
            return false;
        auto terms = tree.children.size();
        if (terms == 4) {
            auto const& look = tree.children[3];
            bool const newline_lookahead =
                look.k == k::look && look.flag && look.children.size() == 1 &&
                look.children[0].k == k::seq && look.children[0].children.size() == 1 &&
                look.children[0].children[0].k == k::set &&
                look.children[0].children[0].ranges == code_ranges{{0x0A, 0x0A}};
            if (newline_lookahead)
                terms = 3;
        }
        if (terms != 3 || tree.children[0].k != k::bol || tree.children[2].k != k::eol ||
            tree.children[1].k != k::repeat)
            return false;
        auto const& atom = tree.children[1].children.front();
        if (atom.k != k::set || atom.ranges.empty())
            return false;
        for (auto [lo, hi] : atom.ranges)
            if (hi > 0x7F)
                return false;
        std::array<bool, 128> in{};
        for (auto [lo, hi] : atom.ranges)
            for (char32_t c = lo; c <= hi; ++c)
                in[c] = true;
        table_ = in;
        min_ = tree.children[1].min;
        max_ = tree.children[1].max.value_or(std::numeric_limits<std::size_t>::max());
        return true;
    }

    std::string text_;
    std::optional<std::array<bool, 128>> table_;
    std::size_t min_ = 0;
    std::size_t max_ = 0;
    std::wregex re_;
};

}  // namespace jobwatch::schema::detail

#endif

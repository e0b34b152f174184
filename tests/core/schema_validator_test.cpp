// Test that the header is self-contained.
#include <jobwatch/schema/validator.hpp>

#include "test_paths.hpp"

#include <jobwatch/codec.hpp>
#include <jobwatch/messages/job_event.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;
using jobwatch::schema::compile;
using jobwatch::schema::validator;

std::string read_text(std::filesystem::path const& p)
{
    std::ifstream in(p, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read " + p.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Parses JSON as the generated parsers' DOM path does (exact doubles, depth 64).
json::value parse_doc(std::string_view text)
{
    json::error_code ec;
    auto v = jobwatch::detail::parse_json(text, ec, {}, 64);
    if (ec)
        throw std::runtime_error("bad JSON in test: " + std::string(text));
    return v;
}

validator compiled(std::string_view schema_text)
{
    auto v = compile(parse_doc(schema_text));
    if (!v)
        throw std::runtime_error("schema refused: " + v.error().path + ": " + v.error().message);
    return *v;
}

/// The compile error of a schema that must be refused, as "path: message".
std::string refusal(std::string_view schema_text, jobwatch::schema::limits lim = {})
{
    json::error_code ec;
    auto const schema = jobwatch::detail::parse_json(schema_text, ec, {}, 1000);
    if (ec)
        throw std::runtime_error("bad JSON in test: " + std::string(schema_text));
    auto v = compile(schema, lim);
    if (v)
        return "(accepted)";
    return v.error().path + ": " + v.error().message;
}

/// The generated parser's words for a document, without the list of
/// user-defined event types it appends to "must be one of" when some are
/// registered (other tests of this process register some; docs/events.md).
std::string builtin_words(std::string message)
{
    auto const at = message.find(", or a registered event type (");
    if (at != std::string::npos)
        message.resize(at);
    return message;
}

/// "ok", or the validation error as "path: message".
std::string verdict(validator const& v, std::string_view doc)
{
    auto e = v.validate(parse_doc(doc));
    return e ? e->path + ": " + e->message : "ok";
}

validator const& job_event_validator()
{
    static validator const v =
        compiled(read_text(jobwatch::test::source_dir() / "schemas" / "job_event.schema.json"));
    return v;
}

// ---------------------------------------------------------------------------
// The differential test: the schema compiled at run time against the parser
// generated from it at build time.

struct case_t
{
    char const* what;  ///< the one rule the document breaks, or "valid: ..."
    std::string doc;
};

std::string repeat(char c, std::size_t n)
{
    return std::string(n, c);
}

std::vector<case_t> job_event_corpus()
{
    std::string const q = R"("type":"job.queued","job_id":"j-1","queue":"emails")";
    std::string const s = R"("type":"job.started","job_id":"j-1","queue":"emails")";
    std::string const p = R"("type":"job.progress","job_id":"j-1","queue":"emails")";
    std::string const l = R"("type":"job.log","job_id":"j-1","queue":"emails")";
    std::string const c = R"("type":"job.completed","job_id":"j-1","queue":"emails")";
    std::string const f = R"("type":"job.failed","job_id":"j-1","queue":"emails")";
    std::string const x = R"("type":"job.cancelled","job_id":"j-1","queue":"emails")";
    std::string const r = R"("type":"job.retrying","job_id":"j-1","queue":"emails")";
    return {
        // Valid, one per type and then some.
        {"valid: minimal queued", "{" + q + "}"},
        {"valid: queued with every field",
         "{" + q +
             R"(,"run_id":"nightly-2024-05-01","tenant_id":"acme","user_id":"alice@example.com",)"
             R"("job_type":"thumbnail","id":"9b2f6d1e","time":"2024-05-01T12:30:00.250Z","priority":-5,)"
             R"("max_attempts":3,"timeout_ms":0,"payload":{"a":[1,2,{"b":null}]}})"},
        {"valid: started", "{" + s + R"(,"attempt":1,"worker":"host:42"})"},
        {"valid: progress",
         "{" + p +
             R"(,"percent":50.5,"step":"reading","current":1,"total":2,"counters":{"rows":3}})"},
        {"valid: log", "{" + l + R"(,"level":"info","message":"hello","fields":{"k":"v"}})"},
        {"valid: completed", "{" + c + R"(,"duration_ms":12.5,"result":null})"},
        {"valid: failed",
         "{" + f + R"(,"error":"boom","attempt":2,"will_retry":false,"error_code":"E1"})"},
        {"valid: cancelled", "{" + x + R"(,"reason":"user asked"})"},
        {"valid: retrying", "{" + r + R"(,"attempt":2,"delay_ms":1000,"error":"boom"})"},
        {"valid: offset time", "{" + q + R"(,"time":"2024-05-01T14:30:00+02:00"})"},
        {"valid: integer written 1.0", "{" + s + R"(,"attempt":1.0})"},
        {"valid: integer percent", "{" + p + R"(,"percent":100})"},
        {"valid: priority 1e3", "{" + q + R"(,"priority":1e3})"},
        {"valid: members in any order", R"({"queue":"emails","job_id":"j-1","type":"job.queued"})"},
        {"valid: 200-character id", "{" + q + R"(,"run_id":")" + repeat('a', 200) + R"("})"},
        // The document itself.
        {"not an object", "[]"},
        {"null document", "null"},
        {"string document", R"("job.queued")"},
        // The discriminator.
        {"no type", R"({"job_id":"j-1","queue":"emails"})"},
        {"type not a string", R"({"type":5,"job_id":"j-1","queue":"emails"})"},
        {"unknown type", R"({"type":"job.exploded","job_id":"j-1","queue":"emails"})"},
        // required
        {"no job_id", R"({"type":"job.queued","queue":"emails"})"},
        {"no queue", R"({"type":"job.queued","job_id":"j-1"})"},
        {"no attempt (started)", "{" + s + "}"},
        {"no level (log)", "{" + l + R"(,"message":"m"})"},
        {"no message (log)", "{" + l + R"(,"level":"info"})"},
        {"no percent (progress)", "{" + p + "}"},
        {"no will_retry (failed)", "{" + f + R"(,"error":"e","attempt":1})"},
        // additionalProperties: false
        {"unknown property", "{" + q + R"(,"extra":1})"},
        {"unknown property with / in its name", "{" + q + R"(,"a/b":1})"},
        {"unknown property with ~ in its name", "{" + q + R"(,"~x":1})"},
        {"property of another type", "{" + q + R"(,"attempt":1})"},
        // Strings: lengths, pattern, type.
        {"empty job_id", R"({"type":"job.queued","job_id":"","queue":"emails"})"},
        {"job_id of 201 characters",
         R"({"type":"job.queued","job_id":")" + repeat('a', 201) + R"(","queue":"q"})"},
        {"job_id with a space", R"({"type":"job.queued","job_id":"a b","queue":"emails"})"},
        {"job_id with a trailing newline",
         R"({"type":"job.queued","job_id":"a\n","queue":"emails"})"},
        {"queue not ASCII", R"({"type":"job.queued","job_id":"j","queue":"\u00e9"})"},
        {"job_id a number", R"({"type":"job.queued","job_id":7,"queue":"emails"})"},
        {"empty id", "{" + q + R"(,"id":""})"},
        {"worker of 201 characters",
         "{" + s + R"(,"attempt":1,"worker":")" + repeat('w', 201) + R"("})"},
        {"step of 501 characters",
         "{" + p + R"(,"percent":1,"step":")" + repeat('s', 501) + R"("})"},
        {"message of 8193 characters",
         "{" + l + R"(,"level":"info","message":")" + repeat('m', 8193) + R"("})"},
        {"empty error (failed)", "{" + f + R"(,"error":"","attempt":1,"will_retry":true})"},
        {"error_code an array",
         "{" + f + R"(,"error":"e","attempt":1,"will_retry":true,"error_code":[]})"},
        // date-time
        {"time not a date-time", "{" + q + R"(,"time":"yesterday"})"},
        {"time on February 30", "{" + q + R"(,"time":"2024-02-30T00:00:00Z"})"},
        {"time without an offset", "{" + q + R"(,"time":"2024-05-01T12:00:00"})"},
        // Integers and numbers.
        {"priority above 1000", "{" + q + R"(,"priority":1001})"},
        {"priority below -1000", "{" + q + R"(,"priority":-1001})"},
        {"priority with a fraction", "{" + q + R"(,"priority":1.5})"},
        {"priority a string", "{" + q + R"(,"priority":"1"})"},
        {"max_attempts 0", "{" + q + R"(,"max_attempts":0})"},
        {"timeout_ms negative", "{" + q + R"(,"timeout_ms":-1})"},
        {"timeout_ms above 2^53-1", "{" + q + R"(,"timeout_ms":9007199254740992})"},
        {"timeout_ms beyond int64", "{" + q + R"(,"timeout_ms":18446744073709551615})"},
        {"percent above 100", "{" + p + R"(,"percent":100.5})"},
        {"percent below 0", "{" + p + R"(,"percent":-0.1})"},
        {"percent a string", "{" + p + R"(,"percent":"50"})"},
        {"attempt 1001 (failed)", "{" + f + R"(,"error":"e","attempt":1001,"will_retry":true})"},
        {"duration_ms negative", "{" + c + R"(,"duration_ms":-1})"},
        {"delay_ms a boolean", "{" + r + R"(,"attempt":2,"delay_ms":true})"},
        {"will_retry a string", "{" + f + R"(,"error":"e","attempt":1,"will_retry":"no"})"},
        // The counters map.
        {"negative counter", "{" + p + R"(,"percent":1,"counters":{"rows":-1}})"},
        {"fractional counter", "{" + p + R"(,"percent":1,"counters":{"ok":1,"rows":1.5}})"},
        {"counters an array", "{" + p + R"(,"percent":1,"counters":[]})"},
        {"counter key with /", "{" + p + R"(,"percent":1,"counters":{"a/b":null}})"},
        // enum
        {"unknown level", "{" + l + R"(,"level":"fatal","message":"m"})"},
        {"level a number", "{" + l + R"(,"level":3,"message":"m"})"},
        // Which error comes first: document order, then missing members.
        {"unknown property before a bad value", R"({"type":"job.queued","zzz":1,"job_id":""})"},
        {"bad value before a missing member", "{" + s + R"(,"worker":""})"},
        {"bad value after the tag, tag last", R"({"job_id":"","queue":"q","type":"job.queued"})"},
    };
}

TEST(SchemaValidatorTest, AgreesWithTheGeneratedParserOnJobEvents)
{
    auto const& v = job_event_validator();
    auto const corpus = job_event_corpus();
    ASSERT_GE(corpus.size(), 40u);
    std::size_t valid = 0;
    for (auto const& c : corpus) {
        SCOPED_TRACE(c.what);
        auto const doc = parse_doc(c.doc);
        auto const generated = jobwatch::parse_value<jobwatch::job_event>(doc);
        auto const runtime = v.validate(doc);
        bool const expect_valid = std::string_view{c.what}.starts_with("valid:");
        EXPECT_EQ(bool(generated), expect_valid)
            << (generated ? "" : generated.error().path + ": " + generated.error().message);
        ASSERT_EQ(bool(generated), !runtime)
            << (runtime ? runtime->path + ": " + runtime->message : "ok");
        if (generated) {
            ++valid;
            continue;
        }
        EXPECT_EQ(runtime->path, generated.error().path);
        EXPECT_EQ(runtime->message, builtin_words(generated.error().message));
    }
    EXPECT_GT(valid, 10u);
    EXPECT_GT(corpus.size() - valid, 40u);
}

TEST(SchemaValidatorTest, AcceptsEverySampleJobEvent)
{
    auto const& v = job_event_validator();
    auto const samples = parse_doc(
        read_text(jobwatch::test::source_dir() / "tests" / "data" / "samples" / "job_event.json"));
    ASSERT_GT(samples.as_array().size(), 5u);
    for (auto const& doc : samples.as_array()) {
        EXPECT_TRUE(jobwatch::parse_value<jobwatch::job_event>(doc)) << json::serialize(doc);
        auto const e = v.validate(doc);
        EXPECT_FALSE(e) << json::serialize(doc) << " -> " << e->path << ": " << e->message;
    }
}

TEST(SchemaValidatorTest, ReportsTheGeneratedParsersWords)
{
    auto const& v = job_event_validator();
    EXPECT_EQ(verdict(v, R"({"type":"job.queued","queue":"q"})"),
              R"(: missing required property "job_id")");
    EXPECT_EQ(verdict(v, R"({"type":"job.queued","job_id":"j","queue":"q","x":1})"),
              "/x: unknown property");
    EXPECT_EQ(verdict(v, R"({"type":"job.queued","job_id":"j","queue":"q","priority":"1"})"),
              "/priority: expected integer, got string");
    EXPECT_EQ(verdict(v, R"({"type":"job.queued","job_id":"j","queue":"q","priority":2000})"),
              "/priority: must be <= 1000");
    EXPECT_EQ(verdict(v, R"({"type":"job.log","job_id":"j","queue":"q","level":"x","message":""})"),
              R"(/level: must be one of "debug", "info", "warn", "error")");
    EXPECT_EQ(verdict(v, R"({"type":"job.queued","job_id":"a b","queue":"q"})"),
              R"(/job_id: must match pattern ^[A-Za-z0-9._:@-]+$(?!\n))");
}

/// python3-jsonschema's decisions (the oracle corpus, made at build time) on
/// the schemas that hold no reference to another file.
TEST(SchemaValidatorTest, DecidesAsTheOracleCorpus)
{
    auto const corpus_path = jobwatch::test::binary_dir() / "oracle_corpus.jsonl";
    if (!std::filesystem::exists(corpus_path))
        GTEST_SKIP() << "no oracle corpus: build the oracle_corpus target";
    auto const src = jobwatch::test::source_dir();
    std::map<std::string, validator> validators;
    for (auto const& [stem, file] :
         {std::pair{"job_event", src / "schemas" / "job_event.schema.json"},
          std::pair{"common", src / "codegen/tests/fixtures/common.schema.json"},
          std::pair{"vocabulary", src / "codegen/tests/fixtures/vocabulary.schema.json"}})
        validators.emplace(stem, compiled(read_text(file)));
    std::ifstream in(corpus_path);
    std::size_t total = 0;
    std::size_t compared = 0;
    std::vector<std::string> mismatches;
    for (std::string line; std::getline(in, line);) {
        if (line.empty())
            continue;
        auto const entry = json::parse(line).as_object();
        auto const it = validators.find(std::string(entry.at("schema").as_string()));
        if (it == validators.end())
            continue;
        std::string doc;
        std::string_view const hex = entry.at("doc_hex").as_string();
        for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
            doc.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
        json::error_code ec;
        auto const jv = jobwatch::detail::parse_json(doc, ec, {}, 64);
        auto const error = ec ? std::nullopt : it->second.validate(jv);
        bool const actual = !ec && !error;
        bool const expected = entry.at("valid").as_bool();
        ++total;
        // Job events: the same pointer and words as the generated parser, too.
        if (!ec && it->first == "job_event") {
            auto const generated = jobwatch::parse_value<jobwatch::job_event>(jv);
            std::string const g =
                generated ? "ok" : generated.error().path + ": " + builtin_words(generated.error().message);
            std::string const r = error ? error->path + ": " + error->message : "ok";
            if (g != r && mismatches.size() < 25)
                mismatches.push_back("job_event " + std::string(entry.at("mutation").as_string()) +
                                     ": generated " + g + ", run time " + r);
            compared += 1;
        }
        if (actual != expected && mismatches.size() < 25)
            mismatches.push_back(it->first + " " + std::string(entry.at("mutation").as_string()) +
                                 ": oracle " + (expected ? "accepts" : "rejects") + ": " +
                                 doc.substr(0, 300));
    }
    for (auto const& m : mismatches)
        ADD_FAILURE() << m;
    EXPECT_GT(total, 500u);
    EXPECT_GT(compared, 200u);
    std::cout << total << " documents, " << compared
              << " job events compared with the generated parser\n";
}

/// The same over the random schemas of tests/oracle/random_schemas.py: the
/// whole vocabulary the generator supports, in combinations nobody wrote by
/// hand, each compiled at run time and decided against python3-jsonschema.
TEST(SchemaValidatorTest, DecidesAsTheOracleOnRandomSchemas)
{
    auto const dir = jobwatch::test::binary_dir() / "random_schemas";
    if (!std::filesystem::exists(dir / "random_corpus.jsonl"))
        GTEST_SKIP() << "no random schemas: build the codec_random_tests target";
    std::map<std::string, std::optional<validator>> validators;
    std::vector<std::string> problems;
    std::ifstream in(dir / "random_corpus.jsonl");
    std::size_t total = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.empty())
            continue;
        auto const entry = json::parse(line).as_object();
        auto const stem = std::string(entry.at("schema").as_string());
        auto it = validators.find(stem);
        if (it == validators.end()) {
            auto v = compile(parse_doc(read_text(dir / (stem + ".schema.json"))));
            if (!v && problems.size() < 25)
                problems.push_back(stem + " refused: " + v.error().path + ": " + v.error().message);
            it = validators.emplace(stem, v ? std::optional<validator>(*v) : std::nullopt).first;
        }
        if (!it->second)
            continue;
        std::string doc;
        std::string_view const hex = entry.at("doc_hex").as_string();
        for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
            doc.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
        json::error_code ec;
        auto const jv = jobwatch::detail::parse_json(doc, ec, {}, 64);
        bool const actual = !ec && !it->second->validate(jv);
        bool const expected = entry.at("valid").as_bool();
        ++total;
        if (actual != expected && problems.size() < 25)
            problems.push_back(stem + " " + std::string(entry.at("mutation").as_string()) +
                               ": oracle " + (expected ? "accepts" : "rejects") + ": " +
                               doc.substr(0, 300));
    }
    for (auto const& m : problems)
        ADD_FAILURE() << m;
    EXPECT_GE(validators.size(), 100u);
    EXPECT_GT(total, 2000u);
    std::cout << validators.size() << " schemas, " << total << " documents\n";
}

/// Every schema of the project and of the generator's fixtures compiles at
/// run time, or is refused only because it refers to another file.
TEST(SchemaValidatorTest, CompilesTheProjectsOwnSchemas)
{
    auto const src = jobwatch::test::source_dir();
    std::size_t compiled_count = 0;
    for (auto const& dir : {src / "schemas", src / "codegen" / "tests" / "fixtures"}) {
        for (auto const& entry : std::filesystem::directory_iterator(dir)) {
            if (!entry.path().string().ends_with(".schema.json"))
                continue;
            SCOPED_TRACE(entry.path().string());
            auto const v = compile(parse_doc(read_text(entry.path())));
            if (v) {
                ++compiled_count;
                continue;
            }
            EXPECT_NE(v.error().message.find("the referenced schema is not this document"),
                      std::string::npos)
                << v.error().path << ": " << v.error().message;
        }
    }
    EXPECT_GE(compiled_count, 3u);
}

/// Patterns whose meaning ECMA-262 and Python's re do not share (Unicode \s,
/// ASCII \d and \w, `.` and line terminators, `$` before a final newline,
/// \cX, [^], \u{...}): the hand-written expectations that the generated code
/// is held to (EcmaPatternTest), here with the patterns compiled at run time.
TEST(SchemaValidatorTest, PatternsDecideAsEcma262)
{
    auto const dir = jobwatch::test::source_dir() / "codegen" / "tests" / "ecma";
    auto const schema = parse_doc(read_text(dir / "ecma_patterns.schema.json"));
    auto const v = compiled(read_text(dir / "ecma_patterns.schema.json"));
    auto const cases = json::parse(read_text(dir / "ecma_patterns.cases.json"));
    std::map<std::string, std::string> property_of;
    for (auto const& kv : schema.at("properties").as_object())
        property_of[std::string(kv.value().at("pattern").as_string())] = std::string(kv.key());
    std::size_t n = 0;
    for (auto const& c : cases.at("cases").as_array()) {
        auto const pattern = std::string(c.at("pattern").as_string());
        ASSERT_TRUE(property_of.count(pattern)) << pattern;
        json::object doc;
        doc[property_of[pattern]] = c.at("string");
        auto const e = v.validate(doc);
        EXPECT_EQ(!e, c.at("matches").as_bool())
            << "pattern " << pattern << " on " << json::serialize(c.at("string"))
            << (e ? ": " + e->message : "");
        ++n;
    }
    EXPECT_GT(n, 50u);
}

// ---------------------------------------------------------------------------
// One test per keyword.

TEST(SchemaValidatorTest, Type)
{
    auto const v = compiled(R"({"type":"object","properties":{
        "s":{"type":"string"},"i":{"type":"integer"},"n":{"type":"number"},"b":{"type":"boolean"},
        "z":{"type":"null"},"a":{"type":"array"},"o":{"type":"object"},"any":{}}})");
    EXPECT_EQ(verdict(v, R"({"s":"x","i":1,"n":1.5,"b":true,"z":null,"a":[],"o":{},"any":[1]})"),
              "ok");
    EXPECT_EQ(verdict(v, R"({"s":1})"), "/s: expected string, got integer");
    EXPECT_EQ(verdict(v, R"({"i":1.5})"), "/i: expected integer, got number with a fraction");
    EXPECT_EQ(verdict(v, R"({"i":2.0})"), "ok");
    EXPECT_EQ(verdict(v, R"({"n":"1"})"), "/n: expected number, got string");
    EXPECT_EQ(verdict(v, R"({"b":0})"), "/b: expected boolean, got integer");
    EXPECT_EQ(verdict(v, R"({"z":false})"), "/z: expected null, got boolean");
    EXPECT_EQ(verdict(v, R"({"a":{}})"), "/a: expected array, got object");
    EXPECT_EQ(verdict(v, R"({"o":[]})"), "/o: expected object, got array");
    EXPECT_EQ(verdict(v, "[]"), ": expected object, got array");
}

TEST(SchemaValidatorTest, TypeListsAndNull)
{
    auto const v = compiled(R"({"type":["string","integer"],"minLength":2,"maximum":5})");
    EXPECT_EQ(verdict(v, R"("ab")"), "ok");
    EXPECT_EQ(verdict(v, "5"), "ok");
    EXPECT_EQ(verdict(v, R"("a")"), ": must be at least 2 characters");
    EXPECT_EQ(verdict(v, "6"), ": must be <= 5");
    EXPECT_EQ(verdict(v, "true"), ": expected string or integer, got boolean");
    EXPECT_EQ(verdict(v, "null"), ": expected string or integer, got null");
    auto const n = compiled(R"({"type":["null","integer","number"]})");
    EXPECT_EQ(verdict(n, "null"), "ok");
    EXPECT_EQ(verdict(n, "1.5"), "ok");
    EXPECT_EQ(verdict(n, "[]"), ": expected number, got array");
}

TEST(SchemaValidatorTest, PropertiesRequiredAdditionalProperties)
{
    auto const closed = compiled(R"({"type":"object","properties":{"a":{"type":"integer"},"b":{}},
                                     "required":["b","a"],"additionalProperties":false})");
    EXPECT_EQ(verdict(closed, R"({"a":1,"b":null})"), "ok");
    // Missing members are reported in properties order, not required order.
    EXPECT_EQ(verdict(closed, "{}"), R"(: missing required property "a")");
    EXPECT_EQ(verdict(closed, R"({"a":1})"), R"(: missing required property "b")");
    EXPECT_EQ(verdict(closed, R"({"a":1,"b":2,"c":3})"), "/c: unknown property");
    EXPECT_EQ(verdict(closed, R"({"a":"x","b":2})"), "/a: expected integer, got string");

    auto const typed_rest = compiled(R"({"type":"object","properties":{"a":{"type":"integer"}},
                                         "required":["a","x"],"additionalProperties":{"type":"string"}})");
    EXPECT_EQ(verdict(typed_rest, R"({"a":1,"x":"y","z":"w"})"), "ok");
    EXPECT_EQ(verdict(typed_rest, R"({"a":1,"x":"y","z":5})"), "/z: expected string, got integer");
    EXPECT_EQ(verdict(typed_rest, R"({"a":1,"x":5})"), "/x: expected string, got integer");
    EXPECT_EQ(verdict(typed_rest, R"({"a":1})"), R"(: missing required property "x")");

    auto const map =
        compiled(R"({"type":"object","additionalProperties":{"type":"integer","minimum":0}})");
    EXPECT_EQ(verdict(map, R"({"x":1,"y/z~":-1})"), "/y~1z~0: must be >= 0");

    auto const open = compiled(R"({"type":"object","properties":{"a":{"type":"string"}}})");
    EXPECT_EQ(verdict(open, R"({"b":[1]})"), "ok");
    EXPECT_EQ(verdict(open, R"({"a":[1]})"), "/a: expected string, got array");

    auto const quoted = compiled(R"({"type":"object","required":["say \"hi\""]})");
    EXPECT_EQ(verdict(quoted, "{}"), R"(: missing required property "say \"hi\"")");
}

TEST(SchemaValidatorTest, EnumAndConst)
{
    auto const strings = compiled(R"({"enum":["a","b"]})");
    EXPECT_EQ(verdict(strings, R"("b")"), "ok");
    EXPECT_EQ(verdict(strings, R"("c")"), R"(: must be one of "a", "b")");
    EXPECT_EQ(verdict(strings, "1"), ": expected string, got integer");

    auto const nullable = compiled(R"({"type":["string","null"],"enum":["a",null]})");
    EXPECT_EQ(verdict(nullable, "null"), "ok");
    EXPECT_EQ(verdict(nullable, R"("x")"), R"(: must be one of "a")");

    auto const mixed = compiled(R"({"enum":["a",1,2.5,true,null,{"k":[1]}]})");
    EXPECT_EQ(verdict(mixed, "1.0"), "ok");
    EXPECT_EQ(verdict(mixed, R"({"k":[1.0]})"), "ok");
    EXPECT_EQ(verdict(mixed, "false"), R"(: must be one of "a", 1, 2.5, true, null, {"k":[1]})");

    // Values the other keywords rule out are dropped from the set.
    auto const filtered = compiled(R"({"type":"string","enum":["a","bb",3],"maxLength":1})");
    EXPECT_EQ(verdict(filtered, R"("bb")"), R"(: must be one of "a")");

    auto const c = compiled(R"({"type":"object","properties":{"k":{"const":"x"},"n":{"const":1.0},
                                "o":{"const":{"a":null}}},"required":["k"]})");
    EXPECT_EQ(verdict(c, R"({"k":"x","n":1,"o":{"a":null}})"), "ok");
    EXPECT_EQ(verdict(c, R"({"k":"y"})"), R"(/k: must be "x")");
    EXPECT_EQ(verdict(c, R"({"k":1})"), R"(/k: must be "x")");
    EXPECT_EQ(verdict(c, R"({"k":"x","n":2})"), "/n: must be 1.0");
    EXPECT_EQ(verdict(c, R"({"k":"x","o":{}})"), R"(/o: must be {"a":null})");
}

TEST(SchemaValidatorTest, NumericBounds)
{
    auto const v = compiled(R"({"type":"object","properties":{
        "min":{"type":"number","minimum":1.5},"max":{"type":"integer","maximum":10},
        "xmin":{"type":"number","exclusiveMinimum":0},"xmax":{"type":"number","exclusiveMaximum":1e20},
        "m2":{"type":"integer","multipleOf":2},"mh":{"type":"number","multipleOf":0.5}}})");
    EXPECT_EQ(verdict(v, R"({"min":1.5,"max":10,"xmin":0.1,"m2":-4,"mh":2.5})"), "ok");
    EXPECT_EQ(verdict(v, R"({"min":1})"), "/min: must be >= 1.5");
    EXPECT_EQ(verdict(v, R"({"max":11})"), "/max: must be <= 10");
    EXPECT_EQ(verdict(v, R"({"xmin":0})"), "/xmin: must be > 0");
    EXPECT_EQ(verdict(v, R"({"xmax":1e20})"), "/xmax: must be < 1e+20");
    EXPECT_EQ(verdict(v, R"({"m2":3})"), "/m2: must be a multiple of 2");
    EXPECT_EQ(verdict(v, R"({"mh":0.3})"), "/mh: must be a multiple of 0.5");
    EXPECT_EQ(verdict(v, R"({"max":9223372036854775808})"), "/max: integer out of range");
}

TEST(SchemaValidatorTest, StringLengthsCountCodePoints)
{
    auto const v = compiled(R"({"type":"string","minLength":2,"maxLength":3})");
    EXPECT_EQ(verdict(v, R"("\u00e9\u00e9")"), "ok");  // 4 bytes, 2 code points
    EXPECT_EQ(verdict(v, R"("\u00e9")"), ": must be at least 2 characters");
    EXPECT_EQ(verdict(v, R"("\u00e9\u00e9\u00e9\u00e9")"), ": must be at most 3 characters");
}

TEST(SchemaValidatorTest, PatternIsEcmaScriptUnanchored)
{
    auto const v = compiled(R"({"type":"string","pattern":"\\d{2}-\\w+"})");
    EXPECT_EQ(verdict(v, R"("xx12-ab yy")"), "ok");  // unanchored: a match anywhere
    EXPECT_EQ(verdict(v, R"("1-ab")"), R"(: must match pattern \d{2}-\w+)");
    // \d is ASCII only (ECMA-262), not every Unicode digit.
    EXPECT_EQ(verdict(v, R"("\u0661\u0662-ab")"), R"(: must match pattern \d{2}-\w+)");
    auto const dot = compiled(R"({"type":"string","pattern":"^.$"})");
    EXPECT_EQ(verdict(dot, R"("\ud83d\ude00")"), "ok");  // one code point, two UTF-16 units
    EXPECT_EQ(verdict(dot, R"("\n")"), R"(: must match pattern ^.$)");
    auto const ident = compiled(R"j({"type":"string","pattern":"^[a-z]{2,3}$(?!\\n)"})j");
    EXPECT_EQ(verdict(ident, R"("abc")"), "ok");
    EXPECT_EQ(verdict(ident, R"("abcd")"), R"(: must match pattern ^[a-z]{2,3}$(?!\n))");
    EXPECT_EQ(verdict(ident, R"("ab\n")"), R"(: must match pattern ^[a-z]{2,3}$(?!\n))");
    auto const alt = compiled(R"({"type":"string","pattern":"^(?:cat|dog)s?$|^\\u{1F600}$"})");
    EXPECT_EQ(verdict(alt, R"("dogs")"), "ok");
    EXPECT_EQ(verdict(alt, R"("\ud83d\ude00")"), "ok");
    EXPECT_EQ(verdict(alt, R"("cow")"), R"(: must match pattern ^(?:cat|dog)s?$|^\u{1F600}$)");
}

TEST(SchemaValidatorTest, FormatDateTimeIsCheckedOthersAreAnnotations)
{
    auto const v =
        compiled(R"({"type":"object","properties":{"t":{"type":"string","format":"date-time"},
                                "e":{"type":"string","format":"email"}}})");
    EXPECT_EQ(verdict(v, R"({"t":"2024-02-29T23:59:60.5+01:00","e":"not an email"})"), "ok");
    EXPECT_EQ(verdict(v, R"({"t":"2023-02-29T00:00:00Z"})"), "/t: must be an RFC 3339 date-time");
}

TEST(SchemaValidatorTest, ItemsAndCounts)
{
    auto const v = compiled(
        R"({"type":"array","items":{"type":"integer","minimum":0},"minItems":1,"maxItems":3})");
    EXPECT_EQ(verdict(v, "[0,1,2]"), "ok");
    EXPECT_EQ(verdict(v, "[]"), ": must have at least 1 items");
    EXPECT_EQ(verdict(v, "[1,2,3,4]"), ": must have at most 3 items");
    EXPECT_EQ(verdict(v, "[0,1,-2]"), "/2: must be >= 0");
    auto const nested =
        compiled(R"({"type":"array","items":{"type":"array","items":{"type":"string"}}})");
    EXPECT_EQ(verdict(nested, R"([[],["a",1]])"), "/1/1: expected string, got integer");
}

TEST(SchemaValidatorTest, RefToDefsWithEscapes)
{
    auto const v = compiled(R"({"type":"object","properties":{
        "a":{"$ref":"#/$defs/a~1b~0c"},"p":{"$ref":"#/$defs/percent%25field"},"s":{"$ref":"#/$defs/alias"}},
        "$defs":{"a/b~c":{"type":"integer"},"percent%field":{"type":"boolean"},"alias":{"$ref":"#/$defs/a~1b~0c"}}})");
    EXPECT_EQ(verdict(v, R"({"a":1,"p":true,"s":2})"), "ok");
    EXPECT_EQ(verdict(v, R"({"a":"x"})"), "/a: expected integer, got string");
    EXPECT_EQ(verdict(v, R"({"p":1})"), "/p: expected boolean, got integer");
    EXPECT_EQ(verdict(v, R"({"s":1.5})"), "/s: expected integer, got number with a fraction");
    // A reference by the document's own $id.
    auto const by_id =
        compiled(R"({"$id":"https://example.com/s/t.schema.json","$ref":"t.schema.json#/$defs/x",
                                    "$defs":{"x":{"type":"string"}}})");
    EXPECT_EQ(verdict(by_id, "1"), ": expected string, got integer");
}

TEST(SchemaValidatorTest, TaggedUnions)
{
    auto const v =
        compiled(R"({"oneOf":[{"$ref":"#/$defs/circle"},{"$ref":"#/$defs/square","title":"sq"}],
        "$defs":{
          "circle":{"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number"}},
                    "required":["kind","r"],"additionalProperties":false},
          "square":{"type":"object","properties":{"kind":{"const":"square"},"side":{"type":"number"}},
                    "required":["kind","side"]}}})");
    EXPECT_EQ(verdict(v, R"({"kind":"circle","r":1})"), "ok");
    EXPECT_EQ(verdict(v, R"({"side":2,"kind":"square","extra":1})"), "ok");
    EXPECT_EQ(verdict(v, R"({"r":1})"), R"(: missing required property "kind")");
    EXPECT_EQ(verdict(v, R"({"kind":1})"), "/kind: expected string, got integer");
    EXPECT_EQ(verdict(v, R"({"kind":"triangle"})"), R"(/kind: must be one of "circle", "square")");
    EXPECT_EQ(verdict(v, R"({"kind":"circle"})"), R"(: missing required property "r")");
    EXPECT_EQ(verdict(v, "[]"), ": expected object, got array");
    // anyOf with the same shape decides the same way; "type" wins over others.
    auto const any =
        compiled(R"({"type":"object","anyOf":[{"$ref":"#/$defs/a"},{"$ref":"#/$defs/b"}],"$defs":{
        "a":{"type":"object","properties":{"type":{"const":"a"},"z":{"const":"1"}},"required":["z","type"]},
        "b":{"type":"object","properties":{"type":{"const":"b"},"z":{"const":"1"}},"required":["z","type"]}}})");
    EXPECT_EQ(verdict(any, R"({"type":"c","z":"1"})"), R"(/type: must be one of "a", "b")");
}

TEST(SchemaValidatorTest, AnnotationsAndExtensionsAreAccepted)
{
    auto const v = compiled(
        R"({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"x","$comment":"c",
        "title":"t","description":"d","type":"object","examples":[{}],"deprecated":false,
        "properties":{"a":{"type":"integer","default":"not even an integer","readOnly":true,
                           "x-cpp-type":"milliseconds","x-ui":{"widget":"slider"}},
                      "b":{"type":"array","minContains":1}}})");
    EXPECT_EQ(verdict(v, R"({"a":5,"b":[]})"), "ok");
    EXPECT_EQ(verdict(v, R"({"a":"5"})"), "/a: expected integer, got string");
}

TEST(SchemaValidatorTest, InstancePointersAreEscaped)
{
    auto const v = compiled(R"({"type":"object","properties":{"a/b":{"type":"object","properties":{
        "c~d":{"type":"array","items":{"type":"boolean"}}}}}})");
    EXPECT_EQ(verdict(v, R"({"a/b":{"c~d":[true,1]}})"),
              "/a~1b/c~0d/1: expected boolean, got integer");
}

// ---------------------------------------------------------------------------
// Refusals: named keyword, and the pointer into the schema.

TEST(SchemaValidatorTest, RefusesKeywordsTheGeneratorRefuses)
{
    EXPECT_EQ(refusal(R"({"type":"object","properties":{"a":{"allOf":[{}]}}})"),
              "/properties/a/allOf: unsupported keyword 'allOf': a value cannot be several C++ "
              "types at once; "
              "merge the subschemas into one schema");
    EXPECT_EQ(refusal(R"({"not":{"type":"string"}})"),
              "/not: unsupported keyword 'not': a negation has no type; say what is allowed "
              "instead (enum, pattern, "
              "bounds)");
    EXPECT_EQ(refusal(R"({"$defs":{"x":{"type":"string","if":{}}}})"),
              "/$defs/x/if: unsupported keyword 'if': a conditional has no single type; use a "
              "oneOf whose branches "
              "are tagged by a const property");
    for (char const* k :
         {"uniqueItems", "patternProperties", "propertyNames", "prefixItems", "contains",
          "minProperties", "maxProperties", "dependentRequired", "dependentSchemas",
          "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$dynamicAnchor",
          "additionalItems", "dependencies", "then", "else"}) {
        auto const text = refusal(std::string(R"({"type":"array","items":{")") + k + R"(":true}})");
        EXPECT_TRUE(
            text.starts_with(std::string("/items/") + k + ": unsupported keyword '" + k + "': "))
            << text;
    }
}

TEST(SchemaValidatorTest, RefusesUnknownKeywords)
{
    EXPECT_EQ(refusal(R"({"type":"object","properties":{"name":{"type":"string","maxLenght":3}}})"),
              "/properties/name/maxLenght: unsupported keyword 'maxLenght': jobwatch does not know "
              "it; check its "
              "spelling, or name an extension x-...");
    EXPECT_TRUE(refusal(R"({"definitions":{}})")
                    .starts_with("/definitions: unsupported keyword 'definitions': "));
    EXPECT_TRUE(refusal(R"({"type":"object","properties":{"a~b/c":{"nullable":true}}})")
                    .starts_with("/properties/a~0b~1c/nullable: unsupported keyword 'nullable': "));
}

TEST(SchemaValidatorTest, RefusesBadRefs)
{
    EXPECT_EQ(refusal(R"({"type":"object","properties":{"a":{"$ref":"#/$defs/missing"}}})"),
              "/properties/a: $ref '#/$defs/missing' does not resolve");
    EXPECT_EQ(refusal(R"({"$ref":"#/properties/a","properties":{}})"),
              ": $ref cannot be combined with other assertions (properties); put them into the "
              "referenced schema, "
              "or into a new $defs entry");
    EXPECT_EQ(refusal(R"({"type":"object","properties":{"a":{"$ref":"#/properties/b"},"b":{}}})"),
              "/properties/a: $ref '#/properties/b': only references to top-level $defs entries or "
              "to whole schema "
              "files are supported; move the referenced schema into $defs");
    EXPECT_TRUE(
        refusal(R"({"$ref":"other.schema.json#/$defs/x"})")
            .starts_with(
                ": $ref 'other.schema.json#/$defs/x': the referenced schema is not this document"));
    EXPECT_EQ(refusal(R"({"$ref":5})"), "/$ref: $ref must be a string");
    EXPECT_EQ(refusal(R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
                           "next":{"$ref":"#/$defs/node"}}}}})"),
              "/$defs/node: recursive types are not supported: a generated type cannot hold "
              "itself; break the cycle "
              "with an array of ids or an untyped value ({})");
    EXPECT_EQ(refusal(R"({"$defs":{"x":{"$defs":{}}}})"),
              "/$defs/x/$defs: $defs is supported at the root of a schema file only; move the "
              "entries to the root's "
              "$defs");
}

TEST(SchemaValidatorTest, RefusesWhatCannotBeTyped)
{
    EXPECT_EQ(refusal("true"), ": the root of a schema file must be an object");
    EXPECT_EQ(refusal(R"({"$schema":"http://json-schema.org/draft-07/schema#"})"),
              "/$schema: only draft 2020-12 is supported");
    EXPECT_EQ(refusal(R"({"type":"object","properties":{"a":false}})"),
              "/properties/a: the schema `false` accepts nothing, so it has no type; leave the "
              "property out and set "
              "additionalProperties: false");
    EXPECT_EQ(refusal(R"({"type":"integer","minLength":1})"),
              "/minLength: 'minLength' does not apply to type 'integer': it would be ignored; "
              "remove it, or add the "
              "type it is meant for");
    EXPECT_EQ(refusal(R"({"type":["string","null"],"items":{}})"),
              "/items: 'items' does not apply to type ['string', 'null']: it would be ignored; "
              "remove it, or add the "
              "type it is meant for");
    EXPECT_EQ(
        refusal(R"({"minimum":1})"),
        ": assertions other than $ref, oneOf, anyOf, enum and const need a type (without one, "
        "minimum would "
        "apply only to values of its own type and let every other value through); add \"type\"");
    EXPECT_EQ(refusal(R"({"type":"strin"})"), "/type: unsupported type 'strin'");
    EXPECT_EQ(refusal(R"({"type":"string","minLength":-1})"),
              "/minLength: minLength must be a non-negative integer");
    EXPECT_EQ(refusal(R"({"type":"number","multipleOf":0})"),
              "/multipleOf: multipleOf must be greater than 0");
    EXPECT_EQ(refusal(R"({"type":"number","minimum":"1"})"),
              "/minimum: minimum must be a finite number within the range of a double");
    EXPECT_EQ(refusal(R"({"type":"string","enum":["ab"],"maxLength":1})"),
              "/enum: no value of enum satisfies the other keywords, so nothing is valid; fix the "
              "values or the keywords");
    EXPECT_EQ(refusal(R"({"type":"object","required":["a"],"additionalProperties":false})"),
              "/required: required property 'a' is not in properties and additionalProperties is "
              "false, so no object "
              "is valid; add it to properties");
    EXPECT_EQ(refusal(R"({"oneOf":[{"type":"object"}]})"),
              "/oneOf/0: each oneOf branch must be a $ref to an object type (a C++ variant needs "
              "named alternatives); "
              "move the branch into $defs and refer to it");
    EXPECT_EQ(refusal(R"({"oneOf":[{"$ref":"#/$defs/a"},{"$ref":"#/$defs/b"}],"$defs":{
                           "a":{"type":"object","properties":{"t":{"const":"x"}},"required":["t"]},
                           "b":{"type":"object","properties":{"t":{"const":"x"}},"required":["t"]}}})"),
              "/oneOf: oneOf branches need a common required const property with a distinct value "
              "in each (a "
              "discriminator such as \"type\"), so that the tag decides which C++ alternative a "
              "document is");
    EXPECT_EQ(refusal(R"({"type":"string","x-cpp-type":"size"})"),
              "/x-cpp-type: x-cpp-type applies to schemas of type integer only");
}

TEST(SchemaValidatorTest, RefusesPatternsThatCannotBeCarriedOver)
{
    EXPECT_EQ(refusal(R"({"type":"string","pattern":"(?<=a)b"})"),
              "/pattern: pattern is not an ECMA-262 regular expression that jobwatch can check: "
              "lookbehind is not "
              "supported (std::regex has none) at offset 0");
    EXPECT_EQ(refusal(R"({"type":"string","pattern":"(a)\\1"})"),
              "/pattern: pattern is not an ECMA-262 regular expression that jobwatch can check: "
              "backreferences are "
              "not supported (std::regex does not match one to a group that did not take part as "
              "ECMA-262 does) at "
              "offset 4");
    EXPECT_EQ(refusal(R"({"type":"string","pattern":"\\p{L}"})"),
              "/pattern: pattern is not an ECMA-262 regular expression that jobwatch can check: "
              "Unicode property "
              "escapes (\\p{...}) are not supported; spell the ranges out at offset 1");
    EXPECT_EQ(refusal(R"({"type":"string","pattern":"a{2"})"),
              "/pattern: pattern is not an ECMA-262 regular expression that jobwatch can check: a "
              "lone { is not "
              "allowed in u mode at offset 1");
    EXPECT_EQ(refusal(R"({"type":"string","pattern":"[b-a]"})"),
              "/pattern: pattern is not an ECMA-262 regular expression that jobwatch can check: "
              "range out of order "
              "in character class at offset 4");
    EXPECT_TRUE(refusal(R"({"type":"string","pattern":")" + std::string(100, '(') +
                        std::string(100, ')') + R"("})")
                    .ends_with("groups nested deeper than 64 levels at offset 64"));
}

// ---------------------------------------------------------------------------
// Bounds.

TEST(SchemaValidatorTest, RefusesSchemasNestedTooDeep)
{
    std::string deep = R"({"type":"string"})";
    for (int i = 0; i < 70; ++i)
        deep = R"({"type":"array","items":)" + deep + "}";
    auto const text = refusal(deep);
    std::string items;
    for (int i = 0; i < 64; ++i)
        items += "/items";
    EXPECT_EQ(text, items + ": schema nested deeper than 64 levels");
    // Counting $ref hops too: a chain of references.
    auto const chain =
        R"({"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/c"},
                           "c":{"$ref":"#/$defs/d"},"d":{"type":"string"}}})";
    EXPECT_EQ(refusal(chain, {.max_schema_depth = 3, .max_instance_depth = 64}),
              "/$defs/d: schemas nested deeper than 3 levels (each $ref followed counts as one)");
    EXPECT_EQ(refusal(chain, {.max_schema_depth = 4, .max_instance_depth = 64}), "(accepted)");
}

TEST(SchemaValidatorTest, RefusesDocumentsNestedTooDeep)
{
    auto const v = compiled(R"({"type":"object","properties":{"a":{}}})");
    EXPECT_EQ(v.get_limits().max_instance_depth, 64u);
    // 64 levels are fine (the object and 63 arrays); the 65th is refused where it starts.
    json::value ok = json::array{};
    for (int i = 0; i < 62; ++i)
        ok = json::array{ok};
    EXPECT_FALSE(v.validate(json::object{{"a", ok}}));
    json::value too_deep = json::array{ok};
    auto const e = v.validate(json::object{{"a", too_deep}});
    ASSERT_TRUE(e);
    std::string path = "/a";
    for (int i = 0; i < 63; ++i)
        path += "/0";
    EXPECT_EQ(e->path, path);
    EXPECT_EQ(e->message, "nested deeper than 64 levels");

    // Far deeper than any stack would survive recursively: refused iteratively.
    json::value hostile = json::array{};
    for (int i = 0; i < 20000; ++i) {
        json::array wrap;
        wrap.emplace_back(std::move(hostile));
        hostile = std::move(wrap);
    }
    auto const h = v.validate(hostile);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->message, "nested deeper than 64 levels");
    // Release it level by level: Boost.JSON's destructor would recurse 20,000 deep.
    while (!hostile.as_array().empty())
        hostile = json::value(std::move(hostile.as_array().front()));
}

TEST(SchemaValidatorTest, CopiesShareTheCompiledSchema)
{
    auto const v = compiled(R"({"type":"integer"})");
    validator const copy = v;
    EXPECT_FALSE(copy.validate(json::value(1)));
    EXPECT_TRUE(v.validate(json::value("x")));
}

}  // namespace

// auth.mode jwt against a running gateway: tokens of every algorithm on every
// path, the RFC 8725 attacks refused with the failed check named, key
// rotation on reload, and static tokens kept as SHA-256 hashes.
#include "gateway/jwt_support.hpp"

#include <jobwatch/detail/base64url.hpp>

namespace jobwatch::test {
namespace {

constexpr char const* issuer = "https://issuer.example";
constexpr char const* audience = "jobwatch";

config jwt_config()
{
    auto c = test_server::default_config();
    c.auth.mode = auth_mode::jwt;
    c.auth.jwt.jwks_file = key_material::get().path("jwks.json");
    c.auth.jwt.issuer = issuer;
    c.auth.jwt.audience = audience;
    c.gateway.max_header_bytes = 256 * 1024;  // a 100 KiB token reaches the verifier (else: 431)
    return c;
}

/// Claims valid now, with this server's issuer and audience; `changes` merged over them (null removes).
std::string claims(std::string const& sub, std::optional<std::string> tenant, std::vector<auth_scope> scopes,
                   boost::json::object const& changes = {})
{
    auto c = claims_now(sub, std::move(tenant), std::nullopt, std::move(scopes));
    c["iss"] = issuer;
    c["aud"] = audience;
    for (auto const& [k, v] : changes)
        c[k] = v;
    return boost::json::serialize(c);
}

std::string kid(std::string const& k)
{
    return boost::json::serialize(boost::json::object{{"kid", k}});
}

std::string admin_token()
{
    return key_material::get().mint({{.alg = "HS256",
                                      .key = "secret.txt",
                                      .claims = claims("ops", std::nullopt, {auth_scope::read, auth_scope::publish,
                                                                             auth_scope::admin}),
                                      .header = kid("hs")}})[0];
}

TEST(JwtGatewayTest, ATokenOfEveryAlgorithmReachesRestWebSocketSseAndLongPoll)
{
    struct signer
    {
        char const* alg;
        char const* key;
        char const* kid;
    };
    std::vector<signer> const signers = {
        {"HS256", "secret.txt", "hs"},   {"HS384", "secret.txt", "hs"},    {"HS512", "secret.txt", "hs"},
        {"RS256", "rsa.pem", "rsa"},     {"RS384", "rsa.pem", "rsa"},      {"RS512", "rsa.pem", "rsa"},
        {"PS256", "rsa2.pem", "rsa-ps"}, {"ES256", "ec256.pem", "ec256"},  {"ES384", "ec384.pem", "ec384"},
        {"EdDSA", "ed25519.pem", "ed25519"}, {"EdDSA", "ed448.pem", "ed448"},
    };
    std::vector<mint_spec> specs;
    for (auto const& s : signers)
        specs.push_back({.alg = s.alg,
                         .key = s.key,
                         .claims = claims("alice", "acme", {auth_scope::read}),
                         .header = kid(s.kid)});
    auto const tokens = key_material::get().mint(specs);

    test_server srv(jwt_config());
    http_client h(srv.port());
    seed_two_tenants(h, admin_token());
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        SCOPED_TRACE(std::string(signers[i].alg) + " with key " + signers[i].kid);
        auto const& t = tokens[i];
        // REST: the header, and ?token=; the claims' tenant confines the answer.
        auto mine = h.get("/api/v1/jobs", t);
        ASSERT_EQ(mine.status, 200u) << mine.body;
        EXPECT_EQ(mine.json().at("total"), 1);
        EXPECT_EQ(h.get("/api/v1/jobs/g1", t).status, 404u);
        EXPECT_EQ(h.get("/api/v1/jobs?token=" + t).status, 200u);
        EXPECT_EQ(h.post("/api/v1/events", event_json("job.queued", "a9", "q"), "application/json", t).status, 403u)
            << "read scope only";
        // WebSocket: ?token= and the handshake's Authorization header.
        for (int way = 0; way < 2; ++way) {
            ws_client ws = way == 0 ? ws_client(srv.port(), "/ws?token=" + t)
                                    : ws_client(srv.port(), "/ws", std::chrono::seconds{10}, t);
            auto w = ws.read();
            ASSERT_EQ(w.at("type"), "welcome");
            EXPECT_EQ(w.at("subject"), "alice");
            EXPECT_EQ(w.at("tenant_id"), "acme");
            EXPECT_EQ(ws.subscribe("tenant:acme").at("type"), "subscribed");
            EXPECT_EQ(ws.subscribe("tenant:globex").at("code"), "not_found");
        }
        // SSE: the header, and ?token=.
        sse_client by_header(srv.port(), "/api/v1/stream?room=job:acme/a1", {}, t);
        EXPECT_NE(by_header.status_line.find(" 200 "), std::string::npos) << by_header.status_line;
        sse_client by_query(srv.port(), "/api/v1/stream?room=job:acme/a1&token=" + t);
        EXPECT_NE(by_query.status_line.find(" 200 "), std::string::npos) << by_query.status_line;
        EXPECT_EQ(by_query.next().event, "subscribed");
        // Long-poll.
        auto poll = h.get("/api/v1/poll?room=job:acme/a1&since=0&timeout_ms=0", t);
        ASSERT_EQ(poll.status, 200u) << poll.body;
        EXPECT_EQ(poll.json().at("messages").as_array().at(0).at("event").at("job_id"), "a1");
        EXPECT_EQ(h.get("/api/v1/poll?room=job:globex/g1&since=0&timeout_ms=0", t).status, 404u);
    }
}

/// `token` with its part `i` (0 header, 1 payload, 2 signature) replaced.
std::string with_part(std::string const& token, int i, std::string const& part)
{
    auto const a = token.find('.'), b = token.find('.', a + 1);
    std::string parts[3] = {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
    parts[i] = part;
    return parts[0] + "." + parts[1] + "." + parts[2];
}

std::string part(std::string const& token, int i)
{
    auto const a = token.find('.'), b = token.find('.', a + 1);
    return i == 0 ? token.substr(0, a) : i == 1 ? token.substr(a + 1, b - a - 1) : token.substr(b + 1);
}

TEST(JwtGatewayTest, EachRfc8725AttackIsRefusedWith401NamingTheCheckAndGrantsNothing)
{
    auto const& m = key_material::get();
    auto const now = unix_now();
    // The attacker wants publish and admin for tenant acme.
    auto const all = std::vector<auth_scope>{auth_scope::read, auth_scope::publish, auth_scope::admin};
    auto const minted = m.mint({
        {.alg = "none", .key = "", .claims = claims("mallory", "acme", all), .mode = "unsigned"},
        {.alg = "HS256",
         .key = "rsa.pub.pem",
         .claims = claims("mallory", "acme", all),
         .header = kid("rsa"),
         .mode = "hmac_raw"},
        {.alg = "HS256", .key = "rsa.pub.pem", .claims = claims("mallory", "acme", all), .mode = "hmac_raw"},
        {.alg = "ES256", .key = "ec256.pem", .claims = claims("mallory", "acme", all), .header = kid("nope")},
        {.alg = "ES256",
         .key = "ec256.pem",
         .claims = claims("mallory", "acme", all, {{"exp", now - 3600}}),
         .header = kid("ec256")},
        {.alg = "ES256",
         .key = "ec256.pem",
         .claims = claims("mallory", "acme", all, {{"nbf", now + 3600}}),
         .header = kid("ec256")},
        {.alg = "ES256",
         .key = "ec256.pem",
         .claims = claims("mallory", "acme", all, {{"iss", "https://evil.example"}}),
         .header = kid("ec256")},
        {.alg = "ES256",
         .key = "ec256.pem",
         .claims = claims("mallory", "acme", all, {{"aud", "billing"}}),
         .header = kid("ec256")},
        {.alg = "ES256",
         .key = "ec256.pem",
         .claims = claims("mallory", "acme", all, {{"tenant_id", 42}}),
         .header = kid("ec256")},
        // A valid token of a reader of tenant globex, to tamper with.
        {.alg = "RS256", .key = "rsa.pem", .claims = claims("gus", "globex", {auth_scope::read}), .header = kid("rsa")},
    });
    auto const& valid = minted.back();
    auto const payload = detail::base64url_encode(claims("gus", "acme", all));
    auto const header = detail::base64url_encode(R"({"alg":"RS256","kid":"rsa","typ":"JWT","x":1})");
    auto const signature = part(valid, 2);

    struct attack
    {
        std::string name, token, check;
    };
    std::vector<attack> const attacks = {
        {"alg none", minted[0], "(algorithm)"},
        {"HS256 signed with the RSA public key, kid rsa", minted[1], "(algorithm)"},
        {"HS256 signed with the RSA public key, no kid", minted[2], "(signature)"},
        {"unknown kid", minted[3], "(key)"},
        {"expired", minted[4], "(expired)"},
        {"nbf in the future", minted[5], "(not_yet_valid)"},
        {"wrong iss", minted[6], "(issuer)"},
        {"wrong aud", minted[7], "(audience)"},
        {"tenant claim not a string", minted[8], "(claims)"},
        {"tampered payload", with_part(valid, 1, payload), "(signature)"},
        {"tampered header", with_part(valid, 0, header), "(signature)"},
        // (cut to whole base64 quads, so that the decoding is canonical and the length is what fails)
        {"truncated signature", with_part(valid, 2, signature.substr(0, (signature.size() - 1) / 4 * 4)),
         "(signature)"},
        {"empty signature", with_part(valid, 2, ""), "(signature)"},
        {"bad base64url", with_part(valid, 1, part(valid, 1).insert(5, "*")), "(format)"},
        {"100 KiB token", valid + std::string(100 * 1024, 'A'), "(size)"},
    };

    test_server srv(jwt_config());
    http_client h(srv.port());
    auto const admin = admin_token();
    seed_two_tenants(h, admin);
    ASSERT_EQ(h.get("/api/v1/jobs", valid).status, 200u) << "the untampered token is good";
    for (auto const& a : attacks) {
        SCOPED_TRACE(a.name);
        // (Beast's client cannot send a header over 64 KiB: the 100 KiB token goes as ?token= on REST.)
        bool const huge = a.token.size() > 60'000;
        auto with = [&](std::string target) {
            return huge ? target + (target.find('?') == std::string::npos ? "?" : "&") + "token=" + a.token : target;
        };
        std::string const bearer = huge ? std::string() : a.token;
        auto r = h.get(with("/api/v1/jobs"), bearer);
        ASSERT_EQ(r.status, 401u) << r.body;
        EXPECT_EQ(r.headers[bhttp::field::www_authenticate], R"(Bearer realm="jobwatch")");
        auto const detail = std::string(r.json().at("detail").as_string());
        EXPECT_NE(detail.find(a.check), std::string::npos) << detail;
        EXPECT_EQ(detail.find(a.token.substr(0, 40)), std::string::npos) << "the token is never echoed";
        // Grants nothing anywhere: no publish, no config, no stream, no socket.
        EXPECT_EQ(h.post(with("/api/v1/events"), event_json("job.queued", "evil", "q", R"("tenant_id":"acme")"),
                         "application/json", bearer)
                      .status,
                  401u);
        EXPECT_EQ(h.post(with("/api/v1/monitor/config"), R"({"gateway":{"heartbeat_ms":1000}})",
                         "application/json", bearer)
                      .status,
                  401u);
        EXPECT_EQ(h.get("/api/v1/poll?room=job:acme/a1&since=0&timeout_ms=0&token=" + a.token).status, 401u);
        sse_client sse(srv.port(), "/api/v1/stream?room=job:acme/a1&token=" + a.token);
        EXPECT_NE(sse.status_line.find(" 401 "), std::string::npos) << sse.status_line;
        EXPECT_THROW(ws_client(srv.port(), "/ws?token=" + a.token), std::exception);
    }
    EXPECT_EQ(h.get("/api/v1/jobs/evil", admin).status, 404u);
    EXPECT_EQ(h.get("/api/v1/monitor/config", admin).json().at("settings").at("gateway").at("heartbeat_ms"), 0);
    // The refusals are logged by cause, never with a token.
    for (auto const& line : srv.log_lines())
        EXPECT_EQ(line.find(part(valid, 2)), std::string::npos) << line;
}

TEST(JwtGatewayTest, ALiveConnectionIsToldBeforeItsTokenExpiresKeepsItsRoomsWhenRefreshedAndIsClosedAtExpOtherwise)
{
    auto const& m = key_material::get();
    auto const now = unix_now();
    auto const short_exp = now + 4;
    auto spec = [&](std::string const& sub, std::string const& tenant, std::int64_t exp) {
        return mint_spec{.alg = "ES256",
                         .key = "ec256.pem",
                         .claims = claims(sub, tenant, {auth_scope::read}, {{"exp", exp}}),
                         .header = kid("ec256")};
    };
    auto const t = m.mint({spec("alice", "acme", short_exp), spec("alice", "acme", now + 3600),
                           spec("bob", "acme", now + 3600), spec("alice", "globex", now + 3600),
                           {.alg = "ES256",
                            .key = "ec256.pem",
                            .claims = claims("alice", "acme", {auth_scope::publish}, {{"exp", now + 3600}}),
                            .header = kid("ec256")},
                           spec("alice", "acme", 253402300799)});  // 9999-12-31T23:59:59Z
    auto const expiring_at = [](std::int64_t s) { return format_time(time_point{std::chrono::seconds{s}}); };

    test_server srv(jwt_config());  // auth.jwt.refresh_notice_s 60: a token of seconds is warned at once
    http_client h(srv.port());
    auto const admin = admin_token();
    seed_two_tenants(h, admin);
    ws_client refreshed(srv.port(), "/ws?token=" + t[0]);
    ws_client left(srv.port(), "/ws", std::chrono::seconds{10}, t[0]);
    sse_client sse(srv.port(), "/api/v1/stream?room=job:acme/a1&token=" + t[0]);
    ASSERT_NE(sse.status_line.find(" 200 "), std::string::npos) << sse.status_line;
    for (auto* ws : {&refreshed, &left}) {
        EXPECT_EQ(ws->read().at("type"), "welcome");
        EXPECT_EQ(ws->subscribe("tenant:acme").at("type"), "subscribed");
        // (The notice may come before the subscribe's reply, which keeps what it skipped.)
        auto notice = std::find_if(ws->skipped.begin(), ws->skipped.end(),
                                   [](auto const& m) { return m.at("type") == "auth_expiring"; });
        auto const n = notice != ws->skipped.end() ? *notice : ws->read_until("auth_expiring");
        EXPECT_EQ(std::string(n.at("expires_at").as_string()), expiring_at(short_exp));
    }

    // A token of another subject or tenant is refused; the current one stays.
    refreshed.send(boost::json::object{{"type", "auth"}, {"token", t[2]}, {"id", "bob"}});
    auto e = refreshed.read_until("error");
    EXPECT_EQ(e.at("code"), "forbidden");
    EXPECT_EQ(e.at("id"), "bob");
    refreshed.send(boost::json::object{{"type", "auth"}, {"token", t[3]}, {"id", "globex"}});
    EXPECT_EQ(refreshed.read_until("error").at("id"), "globex");
    refreshed.send(boost::json::object{{"type", "auth"}, {"token", t[4]}, {"id", "no-read"}});
    auto no_read = refreshed.read_until("error");
    EXPECT_EQ(no_read.at("code"), "forbidden");
    EXPECT_EQ(no_read.at("id"), "no-read");
    refreshed.send(boost::json::object{{"type", "auth"}, {"token", "not.a.token"}, {"id", "junk"}});
    EXPECT_EQ(refreshed.read_until("error").at("code"), "unauthenticated");
    // A fresh token of the same subject and tenant.
    refreshed.send(boost::json::object{{"type", "auth"}, {"token", t[1]}, {"id", "fresh"}});
    auto ok = refreshed.read_until("authenticated");
    EXPECT_EQ(ok.at("id"), "fresh");
    EXPECT_EQ(std::string(ok.at("expires_at").as_string()), expiring_at(now + 3600));

    // Without a refresh: why, then close 4401 at exp. SSE: an error event, then the stream ends.
    auto const err = left.read_until("error");
    EXPECT_EQ(err.at("code"), "unauthenticated");
    EXPECT_GE(unix_now(), short_exp);
    beast::flat_buffer b;
    EXPECT_EQ(left.read(b), websocket::error::closed);
    EXPECT_EQ(left.stream().reason().code, 4401);
    sse_client::record r;
    do
        r = sse.next();
    while (r.event != "error");
    EXPECT_EQ(r.data.at("code"), "unauthenticated");
    EXPECT_THROW(sse.next(), std::exception);

    // The refreshed connection lives on past the old exp, subscriptions and all.
    h.post("/api/v1/events", event_json("job.started", "a1", "shared", R"("tenant_id":"acme","attempt":1)"),
           "application/json", admin);
    EXPECT_EQ(refreshed.read_until("event").at("event").at("job_id"), "a1");
    refreshed.send(R"({"type":"ping","id":"p"})");
    EXPECT_EQ(refreshed.read_until("pong").at("id"), "p");
    auto const counters = h.get("/api/v1/monitor/connections", admin).json().at("counters");
    EXPECT_EQ(counters.at("auth_expired"), 2) << boost::json::serialize(counters);

    // A token that expires in year 9999: no overflow of the clocks, no close, no notice.
    ws_client lasting(srv.port(), "/ws?token=" + t[5]);
    EXPECT_EQ(lasting.read().at("type"), "welcome");
    std::this_thread::sleep_for(std::chrono::milliseconds{600});  // two sweeps of the shard
    lasting.send(R"({"type":"ping","id":"still"})");
    auto const pong = lasting.read();
    EXPECT_EQ(pong.at("type"), "pong") << boost::json::serialize(pong);
}

TEST(JwtGatewayTest, ReloadTakesRotatedKeysAndKeepsTheOldOnesWhenTheNewFileIsBroken)
{
    auto const& m = key_material::get();
    auto const dir = m.dir() / "rotation";
    std::filesystem::create_directories(dir);
    auto const file = (dir / "jwks.json").string();
    auto const jwks = boost::json::parse(read_file(m.path("jwks.json"))).at("keys").as_array();
    auto only = [&](std::string const& k) {
        for (auto const& key : jwks)
            if (key.at("kid").as_string() == k)
                write_file(file, boost::json::serialize(boost::json::object{{"keys", boost::json::array{key}}}));
    };
    only("rsa");
    auto cfg = jwt_config();
    cfg.auth.jwt.jwks_file = file;
    auto const tokens = m.mint({{.alg = "RS256", .key = "rsa.pem", .claims = claims("a", "acme", {auth_scope::read}),
                                 .header = kid("rsa")},
                                {.alg = "ES256", .key = "ec256.pem", .claims = claims("a", "acme", {auth_scope::read}),
                                 .header = kid("ec256")}});
    test_server srv(cfg);
    http_client h(srv.port());
    EXPECT_EQ(h.get("/api/v1/jobs", tokens[0]).status, 200u);
    EXPECT_EQ(h.get("/api/v1/jobs", tokens[1]).status, 401u);

    // What SIGHUP does: the file now holds the EC key only.
    only("ec256");
    auto reload = [&] {
        std::promise<void> done;
        boost::asio::post(srv.get_app().get_core().get_executor(), [&] {
            srv.get_app().get_core().reload();
            done.set_value();
        });
        ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds{10}), std::future_status::ready);
    };
    reload();
    EXPECT_EQ(h.get("/api/v1/jobs", tokens[0]).status, 401u);
    EXPECT_EQ(h.get("/api/v1/jobs", tokens[1]).status, 200u);

    // A broken file: an error in the log, and the keys in use stay.
    write_file(file, "{");
    reload();
    EXPECT_EQ(h.get("/api/v1/jobs", tokens[1]).status, 200u);
    bool logged = false;
    for (auto const& l : srv.log_lines())
        logged = logged || l.find("keys not reloaded") != std::string::npos;
    EXPECT_TRUE(logged);
}

TEST(JwtGatewayTest, KeysThatCannotBeLoadedStopTheStartWithTheSettingNamed)
{
    auto cfg = jwt_config();
    cfg.auth.jwt.jwks_file = (key_material::get().dir() / "no-such-file.json").string();
    try {
        test_server srv(cfg);
        ADD_FAILURE() << "the server started without keys";
    } catch (settings_error const& e) {
        EXPECT_EQ(e.setting, "auth.jwt.jwks_file");
    }
}

TEST(StaticTokenHashTest, AHashedEntryAcceptsItsTokenAndNeverItsHashAndABadOneStopsTheStart)
{
    auto cfg = test_server::default_config();
    cfg.auth.mode = auth_mode::static_tokens;
    std::string const token = "7f3c2a9e-only-the-client-knows-this";
    cfg.auth.tokens["sha256:" + auth::sha256_hex(token)] =
        principal{.subject = "hashed", .tenant_id = "acme", .scopes = {auth_scope::read}};
    cfg.auth.tokens["plain-token"] = principal{.subject = "plain", .scopes = {auth_scope::read}};
    {
        test_server srv(cfg);
        http_client h(srv.port());
        EXPECT_EQ(h.get("/api/v1/jobs", token).status, 200u);
        EXPECT_EQ(h.get("/api/v1/jobs", "plain-token").status, 200u);
        EXPECT_EQ(h.get("/api/v1/jobs", "sha256:" + auth::sha256_hex(token)).status, 401u);
        EXPECT_EQ(h.get("/api/v1/jobs", auth::sha256_hex(token)).status, 401u);
        auto ws = ws_client::open(srv.port(), "/ws?token=" + token);
        EXPECT_EQ(ws.subscribe("tenant:acme").at("type"), "subscribed");
        for (auto const& l : srv.log_lines())
            EXPECT_EQ(l.find(token), std::string::npos) << l;
    }
    auto bad = cfg;
    bad.auth.tokens["sha256:not-hex-and-perhaps-a-real-token"] = principal{.subject = "x"};
    try {
        test_server srv(bad);
        ADD_FAILURE() << "a malformed hash was accepted";
    } catch (settings_error const& e) {
        EXPECT_EQ(e.setting, "auth.tokens");
        EXPECT_EQ(std::string(e.what()).find("perhaps-a-real-token"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace jobwatch::test

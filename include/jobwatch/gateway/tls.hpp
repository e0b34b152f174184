#ifndef JOBWATCH_GATEWAY_TLS_HPP
#define JOBWATCH_GATEWAY_TLS_HPP

/** @file
    https and wss on the gateway's port: the certificate (`gateway.tls`),
    re-read on SIGHUP, and each connection's TLS handshake before it is
    served as HTTP.
*/

#include <jobwatch/config.hpp>
#include <jobwatch/gateway/http_connection.hpp>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace jobwatch::gw {

/** @brief The gateway's certificate and key as an OpenSSL server context:
    TLS 1.2 minimum, HTTP/1.1 only. `reload()` (SIGHUP) builds a new context
    from the files; connections already open keep the one they started with
    (OpenSSL counts its references), new ones get the new one.

    @par Thread Safety
    Only from the core executor (the listener and SIGHUP run there); the
    context handed to a connection is used by that connection's thread.
*/
class tls_certificates
{
public:
    /** @brief nullptr when `gateway.tls` names no files (plain HTTP).
        @throws settings_error naming `gateway.tls.cert_file` or
        `gateway.tls.key_file` when only one is set or they cannot be used. */
    static std::unique_ptr<tls_certificates> from(tls_config const& s)
    {
        if (s.cert_file.empty() && s.key_file.empty())
            return nullptr;
        if (s.key_file.empty())
            throw settings_error("gateway.tls.key_file", "gateway.tls.cert_file is set: its private key is needed too");
        if (s.cert_file.empty())
            throw settings_error("gateway.tls.cert_file", "gateway.tls.key_file is set: its certificate is needed too");
        auto out = std::unique_ptr<tls_certificates>(new tls_certificates(s));
        std::string setting;
        auto ctx = load(s, setting);
        if (auto* why = std::get_if<std::string>(&ctx))
            throw settings_error(setting, *why);
        out->ctx_ = std::get<std::shared_ptr<asio::ssl::context>>(std::move(ctx));
        return out;
    }

    /// The context new connections use.
    std::shared_ptr<asio::ssl::context> current() const noexcept { return ctx_; }

    /// Re-reads both files; on failure keeps the context in use and returns why.
    std::optional<std::string> reload()
    {
        std::string setting;
        auto ctx = load(settings_, setting);
        if (auto* why = std::get_if<std::string>(&ctx))
            return "setting " + setting + ": " + *why;
        ctx_ = std::get<std::shared_ptr<asio::ssl::context>>(std::move(ctx));
        return std::nullopt;
    }

    /// For the log: whose certificate, valid until when (never the key).
    std::string describe() const
    {
        auto* cert = ::SSL_CTX_get0_certificate(ctx_->native_handle());
        if (!cert)
            return "TLS on";
        std::string out = "TLS on, certificate ";
        char name[512];
        ::X509_NAME_oneline(::X509_get_subject_name(cert), name, sizeof name);
        out += name;
        if (auto* bio = ::BIO_new(::BIO_s_mem())) {
            if (::ASN1_TIME_print(bio, ::X509_get0_notAfter(cert)) == 1) {
                char* p = nullptr;
                auto const n = ::BIO_get_mem_data(bio, &p);
                out += ", valid until " + std::string(p, static_cast<std::size_t>(n));
            }
            ::BIO_free(bio);
        }
        return out;
    }

private:
    explicit tls_certificates(tls_config s) : settings_(std::move(s)) {}

    static std::optional<std::string> read_file(std::string const& path, std::string& out)
    {
        std::ifstream f(path, std::ios::binary);
        if (!f)
            return "cannot open " + path;
        // A certificate chain is a few KiB; the bound keeps a wrong path (a log, a device) from being read whole.
        constexpr std::size_t max_bytes = 1 << 20;
        out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
        if (out.size() > max_bytes)
            return path + " is larger than 1 MiB: not a PEM certificate or key";
        return std::nullopt;
    }

    static std::variant<std::shared_ptr<asio::ssl::context>, std::string> load(tls_config const& s,
                                                                                std::string& setting)
    {
        namespace ssl = asio::ssl;
        auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
        ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
        setting = "gateway.tls.cert_file";
        ::SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
        // Forward-secret AEAD suites only, AES-128-GCM first and chosen by the
        // server (Mozilla's "intermediate" list): OpenSSL's default prefers
        // AES-256, which costs the fan-out more per byte for no practical gain.
        ::SSL_CTX_set_options(ctx->native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE);
        if (::SSL_CTX_set_ciphersuites(ctx->native_handle(),
                                       "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1 ||
            ::SSL_CTX_set_cipher_list(ctx->native_handle(),
                                      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1)
            return "this OpenSSL has none of the TLS cipher suites jobwatch offers";
        std::string pem;
        boost::system::error_code ec;
        if (auto why = read_file(s.cert_file, pem))
            return *why;
        ctx->use_certificate_chain(asio::buffer(pem), ec);
        if (ec)
            return s.cert_file + " holds no usable PEM certificate (" + ec.message() + ")";
        setting = "gateway.tls.key_file";
        if (auto why = read_file(s.key_file, pem))
            return *why;
        ctx->use_private_key(asio::buffer(pem), ssl::context::pem, ec);
        // The key's bytes are not needed any more.
        ::OPENSSL_cleanse(pem.data(), pem.size());
        if (ec)
            return s.key_file + " holds no usable unencrypted PEM private key for the certificate (" + ec.message() +
                   ")";
        if (::SSL_CTX_check_private_key(ctx->native_handle()) != 1)
            return s.key_file + " is not the private key of the certificate in gateway.tls.cert_file";
        return ctx;
    }

    tls_config settings_;
    std::shared_ptr<asio::ssl::context> ctx_;
};

/// A TLS connection: Beast's stream (it gathers a write's buffers into one TLS record, up to 64 KiB).
using tls_stream = boost::beast::ssl_stream<tcp::socket>;

/** @brief Serves one connection on the TLS port: its handshake within
    `gateway.read_timeout_ms`, then HTTP (`serve_http`) over TLS. A client
    that speaks plain HTTP is answered 400 with what to use instead and
    closed. */
inline asio::awaitable<void> serve_tls(server& srv, shard& sh, ws_host& ws, tcp::socket sock,
                                       std::shared_ptr<asio::ssl::context> ctx)
{
    namespace bhttp = boost::beast::http;
    tls_stream stream(std::move(sock), *ctx);
    auto& lowest = boost::beast::get_lowest_layer(stream);
    // The registry's handle while no HTTP is served yet: the sweep ends a handshake that takes too long.
    auto conn = std::make_shared<http_conn<tcp::socket>>(lowest, sh.counters);
    using phase = http_conn<tcp::socket>::phase;
    sh.add(conn);
    --srv.accepting;
    conn->set(phase::reading, std::chrono::steady_clock::now() + sh.limits.read_timeout);
    auto const done = [&] {
        conn->release();
        sh.remove(*conn);
    };
    boost::beast::flat_buffer buf;
    auto [dec, is_tls] = co_await boost::beast::async_detect_ssl(lowest, buf, detail::use_tuple);
    if (dec) {
        impl::close_lowest(lowest);
        done();
        co_return;
    }
    if (!is_tls) {
        ++sh.counters[count::tls_plain_http];
        http::request req;
        {
            bhttp::request_parser<bhttp::string_body> p;
            p.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(srv.max_header_bytes, 0xFFFFFFFF)));
            auto [ec, n] = co_await bhttp::async_read_header(lowest, buf, p, detail::use_tuple);
            if (!ec)
                req = p.release();
            else
                req.version(11);
        }
        if (impl::is_open(lowest)) {
            auto res = http::problem(req, http::status::bad_request,
                                     "this port speaks TLS only: use https:// (wss:// for WebSocket), not http://");
            res.keep_alive(false);
            conn->set(phase::writing, std::chrono::steady_clock::now() + sh.limits.read_timeout);
            co_await bhttp::async_write(lowest, res, detail::use_tuple);
            boost::system::error_code ec;
            lowest.shutdown(tcp::socket::shutdown_send, ec);
        }
        impl::close_lowest(lowest);
        done();
        co_return;
    }
    // The bytes read to detect TLS are the start of the handshake.
    auto [hec, used] = co_await stream.async_handshake(asio::ssl::stream_base::server, buf.data(), detail::use_tuple);
    buf.consume(used);
    if (hec) {
        // Protocol below 1.2, no shared cipher, a client that rejects the certificate: the client saw an alert.
        ++sh.counters[count::tls_handshake_failures];
        impl::close_lowest(lowest);
        done();
        co_return;
    }
    // serve_http registers the connection again: counted as accepting in between, never as gone.
    ++srv.accepting;
    done();
    co_await serve_http(srv, sh, ws, std::move(stream));
}

}  // namespace jobwatch::gw

#endif

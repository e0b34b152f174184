#ifndef JOBWATCH_DETAIL_OPENSSL_HPP
#define JOBWATCH_DETAIL_OPENSSL_HPP

/** @file
    Owning pointers for the OpenSSL 3 objects jobwatch uses, and the one
    place that reads OpenSSL's error queue.
*/

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace jobwatch::detail {

template <class T, void (*Free)(T*)> struct openssl_deleter
{
    void operator()(T* p) const noexcept { Free(p); }
};

using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO, BIO_free_all>>;
using bignum_ptr = std::unique_ptr<BIGNUM, openssl_deleter<BIGNUM, BN_free>>;
using ecdsa_sig_ptr = std::unique_ptr<ECDSA_SIG, openssl_deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using evp_mac_ctx_ptr =
    std::unique_ptr<EVP_MAC_CTX, openssl_deleter<EVP_MAC_CTX, EVP_MAC_CTX_free>>;
using evp_mac_ptr = std::unique_ptr<EVP_MAC, openssl_deleter<EVP_MAC, EVP_MAC_free>>;
using evp_md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, openssl_deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using evp_md_ptr = std::unique_ptr<EVP_MD, openssl_deleter<EVP_MD, EVP_MD_free>>;
using evp_pkey_ctx_ptr =
    std::unique_ptr<EVP_PKEY_CTX, openssl_deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using evp_pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using ossl_param_bld_ptr =
    std::unique_ptr<OSSL_PARAM_BLD, openssl_deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ossl_param_ptr = std::unique_ptr<OSSL_PARAM, openssl_deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509, X509_free>>;

/** @brief The oldest reason on this thread's OpenSSL error queue, and empties the queue.

    The queue is per thread and grows with every failed call; a verifier
    that refuses tokens all day must clear it each time, or it leaks.
*/
inline std::string take_openssl_error()
{
    unsigned long const code = ERR_get_error();
    ERR_clear_error();
    if (code == 0)
        return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    return buf;
}

}  // namespace jobwatch::detail

#endif

#ifndef HONEYCOMB_COPENSSL_SHIM_H
#define HONEYCOMB_COPENSSL_SHIM_H
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#endif

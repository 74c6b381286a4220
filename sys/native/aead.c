/* Batched ChaCha20-Poly1305 (RFC 8439 AEAD) for WireGuard transport messages, in place, against
 * the OpenSSL that node itself ships: the node binary exports libcrypto's symbols (nm -D), so
 * the addon links against node and never loads a second libcrypto (binding.gyp adds -lcrypto
 * only for a node built with a shared OpenSSL).
 *
 * Why native: node:crypto makes one Cipher object per message (a JS allocation, an OpenSSL
 * context, four calls across the boundary); a batch of 64 datagrams is one call here, with one
 * context per thread reused for every message.
 *
 * Stages of each call:
 *   1. check every argument (args.c) and every message's key index and slab range, all before
 *      any byte is touched: a refused call changes nothing;
 *   2. per message: nonce = 4 zero bytes ‖ counter (little-endian 64), empty AAD, key re-set,
 *      en/decrypt in place; seal writes the 16-byte tag after the message, open checks it.
 * The message's range is read again in stage 2 and checked again: over a SharedArrayBuffer
 * another thread could change offs/lens between the stages, and a range is used only as it was
 * when last checked. Such a change (or an OpenSSL failure, which only an allocation can cause)
 * throws an Error saying which messages were done; the caller must drop the batch.
 *
 * openBatch on a failed tag: ok[i] = 0 and the message's bytes (not its tag) are zeroed, since
 * OpenSSL decrypts before it can compare the tag; zeros are never mistaken for the plaintext.
 * OpenSSL's per-thread error queue is restored on return (ERR_set_mark / ERR_pop_to_mark), so a
 * failed tag never shows up as a stale error in a later node:crypto call on the same thread. */
#include "addon.h"
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <pthread.h>
#include <string.h>

_Static_assert(OPENSSL_VERSION_MAJOR >= 3, "aead.c needs OpenSSL 3 headers (node's, /usr/include/node/openssl)");
/* The counter is written into the nonce in memory order: little-endian hosts only. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "aead.c assumes a little-endian host");

#define AEAD_KEY 32
#define AEAD_TAG 16
#define AEAD_NONCE 12

/* One cipher (fetched once per process: an implicit fetch per init would take a lock per message)
 * and one context per thread: the main thread and each datapath worker are separate threads, and
 * an EVP_CIPHER_CTX must not be shared. The context is freed when its thread exits. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;
static EVP_CIPHER *cipher; /* NULL if the fetch failed: every call then throws */
static _Thread_local EVP_CIPHER_CTX *thread_ctx;

static void free_ctx(void *p) { EVP_CIPHER_CTX_free(p); }

static void init_once(void) {
  cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
  if (pthread_key_create(&ctx_key, free_ctx) != 0) {
    EVP_CIPHER_free(cipher);
    cipher = NULL;
  }
}

/* This thread's context, its cipher set; NULL when OpenSSL could not provide one. */
static EVP_CIPHER_CTX *get_ctx(void) {
  pthread_once(&once, init_once);
  if (!cipher) return NULL;
  if (thread_ctx) return thread_ctx;
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (!c) return NULL;
  if (EVP_CipherInit_ex2(c, cipher, NULL, NULL, 1, NULL) != 1 || pthread_setspecific(ctx_key, c) != 0) {
    EVP_CIPHER_CTX_free(c);
    return NULL;
  }
  thread_ctx = c;
  return c;
}

/* The arguments both calls share, checked. */
typedef struct {
  const uint8_t *keys;
  size_t nkeys;
  const int32_t *key_idx;
  const uint64_t *counters;
  ovl_batch b;
  uint8_t *ok; /* openBatch only */
  int32_t n;
} aead_args;

/* A relaxed atomic load: the arrays may be shared memory, and each value must be read once. */
static inline int32_t load_i32(const int32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

/* Message i's range is inside the slab (seal: with room for the tag after it; open: len counts
 * the tag, so at least 16) and its key index names a key. Overflow-safe: see ovl_in_slab. */
static int message_ok(const aead_args *x, int seal, int32_t off, int32_t len, int32_t k) {
  if (k < 0 || (size_t)k >= x->nkeys) return 0;
  if (seal) return len >= 0 && len <= INT32_MAX - AEAD_TAG && ovl_in_slab(&x->b, off, len + AEAD_TAG);
  return len >= AEAD_TAG && ovl_in_slab(&x->b, off, len);
}

/* argv: keys, keyIdx, counters, slab, offs, lens, [ok,] n. */
static int get_args(ovl_args *a, int seal, aead_args *x) {
  void *keys, *idx, *ctr, *ok = NULL;
  size_t key_bytes, nidx, nctr, nok = SIZE_MAX;
  size_t n_at = seal ? 6 : 7;
  if (!ovl_arg_typed(a, 0, "keys", napi_uint8_array, &keys, &key_bytes) ||
      !ovl_arg_typed(a, 1, "keyIdx", napi_int32_array, &idx, &nidx) ||
      !ovl_arg_typed(a, 2, "counters", napi_biguint64_array, &ctr, &nctr) || !ovl_arg_batch(a, 3, &x->b) ||
      (!seal && !ovl_arg_typed(a, 6, "ok", napi_uint8_array, &ok, &nok)))
    return 0;
  if (key_bytes % AEAD_KEY != 0)
    return ovl_range_error(a, "keys must hold whole 32-byte keys, got %zu bytes", key_bytes);
  size_t most = ovl_min_i32(ovl_min_i32(nidx, nctr), ovl_min_i32(x->b.n, nok));
  if (!ovl_arg_i32(a, n_at, "n", 0, (int32_t)most, &x->n)) return 0;
  x->keys = keys;
  x->nkeys = key_bytes / AEAD_KEY;
  x->key_idx = idx;
  x->counters = ctr;
  x->ok = ok;
  for (int32_t i = 0; i < x->n; i++) {
    int32_t off = load_i32(&x->b.offs[i]), len = load_i32(&x->b.lens[i]), k = load_i32(&x->key_idx[i]);
    if (x->nkeys == 0) return ovl_range_error(a, "keys is empty but message %d needs one: pass at least one 32-byte key", i);
    if (k < 0 || (size_t)k >= x->nkeys)
      return ovl_range_error(a, "keyIdx[%d] must be 0..%zu (keys holds %zu), got %d", i, x->nkeys - 1, x->nkeys, k);
    if (!message_ok(x, seal, off, len, k))
      return seal ? ovl_range_error(a, "message %d (offs %d, lens %d) plus its 16-byte tag must lie inside the slab of %zu bytes", i,
                                    off, len, x->b.slab_len)
                  : ovl_range_error(a, "message %d (offs %d, lens %d) must be at least its 16-byte tag and lie inside the slab of %zu bytes",
                                    i, off, len, x->b.slab_len);
  }
  return 1;
}

/* Throws an Error for a failure in the middle of a batch, saying what was done. */
static napi_value mid_batch(ovl_args *a, const char *why, int32_t i, int32_t n) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s at message %d of %d; messages before it are done, message %d may be half-done, the rest untouched: drop the batch",
           a->fn, why, i, n, i);
  napi_throw_error(a->env, "EAEADBATCH", msg);
  return NULL;
}

static void nonce_of(uint64_t counter, uint8_t nonce[AEAD_NONCE]) {
  memset(nonce, 0, 4);
  memcpy(nonce + 4, &counter, 8); /* little-endian host (asserted above) */
}

/* One message through the context: 1 done (open: tag verified), 0 tag refused, -1 OpenSSL failed. */
static int one(EVP_CIPHER_CTX *c, int seal, const uint8_t *key, uint64_t counter, uint8_t *p, int32_t len) {
  uint8_t nonce[AEAD_NONCE], tag[AEAD_TAG];
  int out = 0;
  nonce_of(counter, nonce);
  if (EVP_CipherInit_ex2(c, NULL, key, nonce, seal, NULL) != 1) return -1;
  if (!seal) {
    memcpy(tag, p + len, AEAD_TAG);
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG, tag) != 1) return -1;
  }
  if (len > 0 && (EVP_CipherUpdate(c, p, &out, p, len) != 1 || out != len)) return -1;
  if (EVP_CipherFinal_ex(c, p + len, &out) != 1) return seal ? -1 : 0;
  if (seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG, p + len) != 1) return -1;
  return 1;
}

static napi_value run(napi_env env, napi_callback_info info, int seal) {
  ovl_args a;
  aead_args x;
  if (!ovl_args_get(env, info, seal ? "sealBatch" : "openBatch", seal ? 7 : 8, &a) || !get_args(&a, seal, &x)) return NULL;
  EVP_CIPHER_CTX *c = x.n > 0 ? get_ctx() : NULL;
  if (x.n > 0 && !c) {
    napi_throw_error(env, "EAEADBATCH", seal ? "sealBatch: OpenSSL gave no ChaCha20-Poly1305 context (out of memory?); nothing was done"
                                             : "openBatch: OpenSSL gave no ChaCha20-Poly1305 context (out of memory?); nothing was done");
    return NULL;
  }
  /* A message not reached (a throw below) reads as refused, never as verified. */
  if (!seal) memset(x.ok, 0, (size_t)x.n);
  ERR_set_mark();
  int32_t verified = 0;
  int failed = 0; /* an Error has been thrown */
  for (int32_t i = 0; i < x.n && !failed; i++) {
    int32_t off = load_i32(&x.b.offs[i]), len = load_i32(&x.b.lens[i]), k = load_i32(&x.key_idx[i]);
    if (!message_ok(&x, seal, off, len, k)) {
      mid_batch(&a, "offs, lens or keyIdx changed during the call (shared memory written by another thread)", i, x.n);
      failed = 1;
      break;
    }
    uint8_t *p = x.b.slab + off;
    int32_t body = seal ? len : len - AEAD_TAG;
    int r = one(c, seal, x.keys + (size_t)k * AEAD_KEY, __atomic_load_n(&x.counters[i], __ATOMIC_RELAXED), p, body);
    if (r < 0) {
      if (!seal) OPENSSL_cleanse(p, (size_t)body); /* never leave unverified plaintext behind */
      mid_batch(&a, "OpenSSL failed", i, x.n);
      failed = 1;
    } else if (!seal) {
      if (r == 0) OPENSSL_cleanse(p, (size_t)body);
      x.ok[i] = (uint8_t)r;
      verified += r;
    }
  }
  ERR_pop_to_mark();
  if (failed) return NULL; /* thrown */
  if (!seal) return ovl_i32(env, verified);
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

/* sealBatch(keys, keyIdx, counters, slab, offs, lens, n): message i, slab[offs[i], offs[i]+lens[i]),
 * becomes its ciphertext in place with its 16-byte tag at offs[i]+lens[i]. Returns undefined. */
static napi_value seal_batch(napi_env env, napi_callback_info info) { return run(env, info, 1); }

/* openBatch(keys, keyIdx, counters, slab, offs, lens, ok, n): lens[i] includes the tag; message i
 * is decrypted in place, ok[i] = 1 if its tag verified, else 0 and its bytes zeroed. Returns the
 * count verified. */
static napi_value open_batch(napi_env env, napi_callback_info info) { return run(env, info, 0); }

void ovl_register_aead(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "sealBatch", NAPI_AUTO_LENGTH, seal_batch, NULL, &fn);
  napi_set_named_property(env, exports, "sealBatch", fn);
  napi_create_function(env, "openBatch", NAPI_AUTO_LENGTH, open_batch, NULL, &fn);
  napi_set_named_property(env, exports, "openBatch", fn);
}

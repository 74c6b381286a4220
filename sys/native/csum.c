/* The Internet checksum over a byte range: the one per-byte loop of the datapath that is too slow
 * in JS (it runs over every TCP segment cut from a TSO super-packet). A TS reference
 * (encap/packet/checksum.ts) is property-tested against it. */
#include "addon.h"
#include <string.h>

/* sum16 adds the buffer as little-endian words and swaps once at the end: on a big-endian host
 * that swap would be wrong. Fail the build there rather than compute wrong checksums. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "csum.c assumes a little-endian host");

/* Ones' complement sum of len bytes, folded to 16 bits, not complemented; seed is added first. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t seed) {
  uint64_t acc = seed;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    /* Sum 32-bit halves in host (little-endian) order; byte-swapped at the end. */
    acc += (w & 0xffffffffu) + (w >> 32);
    p += 8;
    len -= 8;
  }
  uint64_t tail = 0;
  if (len >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    tail += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    tail += w;
    p += 2;
    len -= 2;
  }
  if (len) tail += *p; /* last odd byte is the high byte in network order = low byte in LE memory */
  acc = (acc - seed) + tail;
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  /* acc is a little-endian-ordered sum; swap to network order and add the seed (network order). */
  uint32_t s = (uint32_t)(((acc & 0xff) << 8) | (acc >> 8));
  s += seed;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return s;
}

/* csum(buf, offset, length, seed) → 16-bit ones' complement sum (not complemented). */
static napi_value csum(napi_env env, napi_callback_info info) {
  ovl_args a;
  void *p;
  size_t blen;
  int64_t off, len;
  uint32_t seed;
  /* off is bounded by blen first, so blen - off cannot wrap */
  if (!ovl_args_get(env, info, "csum", 4, &a) || !ovl_arg_typed(&a, 0, "buf", napi_uint8_array, &p, &blen) ||
      !ovl_arg_int(&a, 1, "offset", 0, (int64_t)blen, &off) || !ovl_arg_int(&a, 2, "length", 0, (int64_t)blen - off, &len) ||
      !ovl_arg_u32(&a, 3, "seed", &seed))
    return NULL;
  /* An empty or detached buffer has no data pointer to offset. */
  const uint8_t *base = p ? (const uint8_t *)p + off : (const uint8_t *)"";
  napi_value r;
  napi_create_uint32(env, sum16(base, (size_t)len, seed & 0xffff), &r);
  return r;
}

void ovl_register_csum(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "csum", NAPI_AUTO_LENGTH, csum, NULL, &fn);
  napi_set_named_property(env, exports, "csum", fn);
}

/* The Internet checksum over a byte range: the one per-byte loop of the datapath that is too slow
 * in JS (it runs over every TCP segment cut from a TSO super-packet). A TS reference
 * (encap/packet/checksum.ts) is property-tested against it. */
#include "addon.h"
#include <string.h>

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
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p;
  size_t blen;
  uint32_t off, len, seed;
  if (argc < 4 || !ovl_get_bytes(env, argv[0], &p, &blen) || !ovl_get_u32(env, argv[1], &off) || !ovl_get_u32(env, argv[2], &len) ||
      !ovl_get_u32(env, argv[3], &seed) || (size_t)off + len > blen) {
    napi_throw_type_error(env, NULL, "csum(buf, offset, length, seed) with the range inside buf");
    return NULL;
  }
  napi_value r;
  napi_create_uint32(env, sum16((const uint8_t *)p + off, len, seed & 0xffff), &r);
  return r;
}

void ovl_register_csum(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "csum", NAPI_AUTO_LENGTH, csum, NULL, &fn);
  napi_set_named_property(env, exports, "csum", fn);
}

/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624), on byte arrays in
 * network order. This TS version is the reference; the datapath uses the native `csum` for long
 * ranges (payloads) and these for headers.
 */

/** Ones' complement sum of bytes [off, off+len), folded to 16 bits, not complemented, plus seed. */
export function sum16(buf: Uint8Array, off: number, len: number, seed = 0): number {
  let s = seed;
  const end = off + len;
  let i = off;
  for (; i + 1 < end; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) s += buf[i]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Complemented checksum, ready to store. */
export function checksum(buf: Uint8Array, off: number, len: number, seed = 0): number {
  return ~sum16(buf, off, len, seed) & 0xffff;
}

/** Adds 16-bit ones' complement values. */
export function addFold(...values: number[]): number {
  let s = 0;
  for (const v of values) s += v;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** RFC 1624 eqn. 3: new checksum after one 16-bit word changed from oldWord to newWord. */
export function updateChecksum(oldChecksum: number, oldWord: number, newWord: number): number {
  return ~addFold(~oldChecksum & 0xffff, ~oldWord & 0xffff, newWord & 0xffff) & 0xffff;
}

/** Pseudo-header sum for TCP/UDP over IPv4 (src, dst, zero, proto, L4 length), not complemented. */
export function pseudoHeaderSum(buf: Uint8Array, ipOff: number, proto: number, l4Len: number): number {
  // A plain sum, not addFold(...): a rest array per call would be an allocation per segment.
  const src = ipOff + 12;
  const s =
    ((buf[src]! << 8) | buf[src + 1]!) +
    ((buf[src + 2]! << 8) | buf[src + 3]!) +
    ((buf[src + 4]! << 8) | buf[src + 5]!) +
    ((buf[src + 6]! << 8) | buf[src + 7]!) +
    proto +
    l4Len;
  return fold16(s);
}

/** Folds a sum of 16-bit words (below 2^31) to 16 bits, ones' complement. */
export function fold16(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export function readU16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

export function writeU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 8) & 0xff;
  buf[off + 1] = v & 0xff;
}

export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 24) & 0xff;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

/**
 * Copies len bytes between byte arrays without allocating: within one array (the datapath's slab)
 * it is copyWithin, a memmove; only across arrays (tests, one-off tools) does it make a view.
 */
export function copyBytes(
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  len: number,
): void {
  if (src === dst) dst.copyWithin(dstOff, srcOff, srcOff + len);
  else dst.set(src.subarray(srcOff, srcOff + len), dstOff);
}

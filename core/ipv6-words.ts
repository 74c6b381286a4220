/**
 * An IPv6 address as the datapath carries it: four unsigned 32-bit words, bytes 0-3 first (so
 * fd00::1 is [0xfd000000, 0, 0, 1]). The native batch calls take and return addresses in this
 * form (sys/native/sockaddr.h) and the engine compares them word by word without a bigint per packet.
 */

/** The four words of a 128-bit address. */
export function wordsOf6(ip: bigint): [number, number, number, number] {
  const w = (k: number): number => Number((ip >> BigInt(96 - 32 * k)) & 0xffffffffn);
  return [w(0), w(1), w(2), w(3)];
}

/** The address of four words (each read as unsigned). */
export function ipOfWords6(w0: number, w1: number, w2: number, w3: number): bigint {
  return (BigInt(w0 >>> 0) << 96n) | (BigInt(w1 >>> 0) << 64n) | (BigInt(w2 >>> 0) << 32n) | BigInt(w3 >>> 0);
}

/** Word k (0..3) of the mask of a /prefixLen (0..128). */
export function maskWord6(prefixLen: number, k: number): number {
  const bits = Math.max(0, Math.min(32, prefixLen - 32 * k));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

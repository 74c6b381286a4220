/**
 * TAI64N timestamps (cr.yp.to/libtai/tai64.html) as WireGuard's initiation carries them: 8 bytes
 * big-endian seconds labelled 2^62 + 10 + UNIX seconds, then 4 bytes big-endian nanoseconds. A
 * responder accepts an initiation only if its timestamp is greater than every earlier one from that
 * peer (paper §5.1), which defeats replays of captured initiations. Byte order is big-endian so
 * that comparing the 12 bytes lexicographically compares the times.
 */
export const TAI64N_BYTES = 12;

/** 2^62 + 10: the TAI64 label of the UNIX epoch (TAI was 10 s ahead of UTC in 1970). */
const EPOCH_LABEL = (1n << 62n) + 10n;

/**
 * Nanoseconds are rounded down to a multiple of 2^24 ns (~16.8 ms) so the timestamp does not leak a
 * fine-grained clock to an observer who decrypts nothing but can time initiations; the ordering a
 * responder needs survives since initiations are rate limited far below that resolution.
 */
const WHITEN_MASK = 0xffffff;

/** The TAI64N label of a wall-clock instant in milliseconds since the UNIX epoch. */
export function tai64n(wallClockMs: number): Uint8Array {
  if (!Number.isFinite(wallClockMs) || wallClockMs < 0)
    throw new RangeError(`tai64n: wall clock must be a non-negative number of ms, got ${wallClockMs}`);
  const ms = Math.floor(wallClockMs);
  const seconds = BigInt(Math.floor(ms / 1000));
  const nanos = ((ms % 1000) * 1_000_000) & ~WHITEN_MASK;
  const out = new Uint8Array(TAI64N_BYTES);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, EPOCH_LABEL + seconds, false);
  v.setUint32(8, nanos >>> 0, false);
  return out;
}

/** -1, 0 or 1 as a is before, equal to or after b (both 12-byte TAI64N labels). */
export function compareTai64n(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < TAI64N_BYTES; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** UNIX milliseconds of a TAI64N label (for logs and tests). */
export function tai64nToMs(t: Uint8Array): number {
  const v = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const seconds = v.getBigUint64(0, false) - EPOCH_LABEL;
  return Number(seconds) * 1000 + Math.floor(v.getUint32(8, false) / 1_000_000);
}

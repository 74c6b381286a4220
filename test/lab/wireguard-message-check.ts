/**
 * "Is this UDP payload a WireGuard message, as the WireGuard paper (§5.4) lays them out?" — what
 * the underlay-capture tests ask of every datagram. Type in the first byte (1 initiation, 2
 * response, 3 cookie reply, 4 transport data), three reserved zero bytes, and the exact sizes:
 * 148, 92, 64, and for transport data 16 bytes of header, the padded plaintext and a 16-byte tag.
 * Padding rounds the inner packet up to a multiple of 16 but never past the tunnel MTU (what the
 * kernel and wireguard-go do), so a full-MTU packet of 1420 bytes travels unpadded.
 * Pure, independent of the implementation under test.
 */

export const WG_MESSAGE_SIZES = { 1: 148, 2: 92, 3: 64 } as const;
/** Transport data: 16-byte header + 16-byte tag around a plaintext padded to 16 (0 for a keepalive). */
export const WG_TRANSPORT_MIN = 32;

export type WgMessageType = 1 | 2 | 3 | 4;

/**
 * The message's type, or why the payload is not a well-formed WireGuard message; `mtu` is the
 * sender's tunnel MTU (the padding's cap).
 */
export function wireguardMessageType(
  p: Uint8Array,
  mtu = 1420,
): { type: WgMessageType } | { problem: string } {
  if (p.length < 4) return { problem: `${p.length} bytes, shorter than a message header` };
  const t = p[0]!;
  if (t < 1 || t > 4) return { problem: `type byte ${t}` };
  if (p[1] !== 0 || p[2] !== 0 || p[3] !== 0) return { problem: `type ${t} with reserved bytes set` };
  const type = t as WgMessageType;
  if (type === 4) {
    if (p.length < WG_TRANSPORT_MIN) return { problem: `transport data of ${p.length} bytes (< 32)` };
    const plain = p.length - WG_TRANSPORT_MIN;
    if (plain > mtu) return { problem: `transport data of ${p.length} bytes: plaintext over the MTU ${mtu}` };
    if (plain % 16 !== 0 && plain !== mtu)
      return { problem: `transport data of ${p.length} bytes: plaintext neither padded to 16 nor the MTU` };
    return { type };
  }
  const want = WG_MESSAGE_SIZES[type];
  if (p.length !== want) return { problem: `type ${type} of ${p.length} bytes, not ${want}` };
  return { type };
}

/** Transport data's receiver index and counter (little-endian, paper §5.4.6). */
export function transportHeader(p: Uint8Array): { receiver: number; counter: bigint } {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return { receiver: dv.getUint32(4, true), counter: dv.getBigUint64(8, true) };
}

/**
 * Where any 8-byte run of `needle` occurs in `hay` (−1 when none): with random needle bytes a
 * chance match needs about 2^64 / (needle × hay) tries, so a hit means plaintext on the wire.
 */
export function findAnyRun(hay: Uint8Array, needle: Uint8Array): number {
  const RUN = 8;
  if (needle.length < RUN || hay.length < RUN) return -1;
  const at = (b: Uint8Array, o: number): bigint =>
    new DataView(b.buffer, b.byteOffset + o, RUN).getBigUint64(0, true);
  const runs = new Set<bigint>();
  for (let i = 0; i + RUN <= needle.length; i++) runs.add(at(needle, i));
  for (let i = 0; i + RUN <= hay.length; i++) if (runs.has(at(hay, i))) return i;
  return -1;
}

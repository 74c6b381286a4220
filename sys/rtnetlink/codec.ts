/**
 * rtnetlink wire format, pure: building request messages (header, family header, attributes,
 * nested attributes, 4-byte alignment) and parsing replies (multipart dumps, errors with errno,
 * attributes by type). No I/O here; netlink-socket.ts moves the bytes.
 */
import { NLMSG_DONE, NLMSG_ERROR } from './constants.js';

const align4 = (n: number): number => (n + 3) & ~3;

/** One attribute: raw bytes, or nested attributes. */
export interface Attr {
  readonly type: number;
  readonly data?: Uint8Array;
  readonly nested?: readonly Attr[];
}

export const u8Attr = (type: number, v: number): Attr => ({ type, data: Uint8Array.of(v) });
export const u16Attr = (type: number, v: number, bigEndian = false): Attr => {
  const d = new Uint8Array(2);
  new DataView(d.buffer).setUint16(0, v, !bigEndian);
  return { type, data: d };
};
export const u32Attr = (type: number, v: number): Attr => {
  const d = new Uint8Array(4);
  new DataView(d.buffer).setUint32(0, v, true);
  return { type, data: d };
};
/** An IPv4 address attribute (network order) from a host-order integer. */
export const ipv4Attr = (type: number, ip: number): Attr => {
  const d = new Uint8Array(4);
  new DataView(d.buffer).setUint32(0, ip, false);
  return { type, data: d };
};
export const stringAttr = (type: number, s: string): Attr => ({
  type,
  data: new TextEncoder().encode(s + '\0'),
});
export const bytesAttr = (type: number, b: Uint8Array): Attr => ({ type, data: b });
export const nestedAttr = (type: number, nested: readonly Attr[]): Attr => ({ type, nested });

function attrLen(a: Attr): number {
  const payload = a.nested ? a.nested.reduce((s, n) => s + align4(attrLen(n)), 0) : (a.data?.length ?? 0);
  return 4 + payload;
}

function writeAttr(view: DataView, bytes: Uint8Array, off: number, a: Attr): number {
  const len = attrLen(a);
  view.setUint16(off, len, true);
  view.setUint16(off + 2, a.nested ? a.type | 0x8000 : a.type, true);
  let p = off + 4;
  if (a.nested) for (const n of a.nested) p += align4(writeAttr(view, bytes, p, n));
  else if (a.data) bytes.set(a.data, p);
  return len;
}

export interface Request {
  readonly type: number;
  readonly flags: number;
  /** The family header (ifinfomsg, ifaddrmsg, rtmsg, ndmsg), already encoded. */
  readonly header: Uint8Array;
  readonly attrs?: readonly Attr[];
}

/** Encodes one message with the given sequence number. */
export function encodeRequest(req: Request, seq: number): Uint8Array {
  const attrs = req.attrs ?? [];
  const len = 16 + align4(req.header.length) + attrs.reduce((s, a) => s + align4(attrLen(a)), 0);
  const bytes = new Uint8Array(len);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, len, true);
  view.setUint16(4, req.type, true);
  view.setUint16(6, req.flags, true);
  view.setUint32(8, seq >>> 0, true);
  view.setUint32(12, 0, true);
  bytes.set(req.header, 16);
  let p = 16 + align4(req.header.length);
  for (const a of attrs) p += align4(writeAttr(view, bytes, p, a));
  return bytes;
}

/** struct ifinfomsg (16 bytes). */
export function ifinfomsg(family: number, index: number, flags = 0, change = 0): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  b[0] = family;
  v.setInt32(4, index, true);
  v.setUint32(8, flags, true);
  v.setUint32(12, change, true);
  return b;
}

/** struct ifaddrmsg (8 bytes). */
export function ifaddrmsg(family: number, prefixLen: number, index: number, scope = 0): Uint8Array {
  const b = new Uint8Array(8);
  b[0] = family;
  b[1] = prefixLen;
  b[3] = scope;
  new DataView(b.buffer).setUint32(4, index, true);
  return b;
}

/** struct rtmsg (12 bytes). */
export function rtmsg(f: {
  family: number;
  dstLen: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags?: number;
}): Uint8Array {
  const b = new Uint8Array(12);
  b[0] = f.family;
  b[1] = f.dstLen;
  b[4] = f.table;
  b[5] = f.protocol;
  b[6] = f.scope;
  b[7] = f.type;
  new DataView(b.buffer).setUint32(8, f.flags ?? 0, true);
  return b;
}

/** struct ndmsg (12 bytes). */
export function ndmsg(family: number, index: number, state: number, flags: number, type = 0): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  b[0] = family;
  v.setInt32(4, index, true);
  v.setUint16(8, state, true);
  b[10] = flags;
  b[11] = type;
  return b;
}

export interface Message {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** Bytes after the 16-byte nlmsghdr. */
  readonly body: Uint8Array;
}

/** Splits a datagram into messages. Truncated trailing bytes are ignored. */
export function parseMessages(buf: Uint8Array, len: number): Message[] {
  const out: Message[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, len);
  let off = 0;
  while (off + 16 <= len) {
    const mlen = view.getUint32(off, true);
    if (mlen < 16 || off + mlen > len) break;
    out.push({
      type: view.getUint16(off + 4, true),
      flags: view.getUint16(off + 6, true),
      seq: view.getUint32(off + 8, true),
      body: buf.subarray(off + 16, off + mlen),
    });
    off += align4(mlen);
  }
  return out;
}

/** For NLMSG_ERROR: the (positive) errno, 0 for an ACK. */
export function errorOf(msg: Message): number {
  return 0 - new DataView(msg.body.buffer, msg.body.byteOffset, 4).getInt32(0, true); // 0, not -0, for an ACK
}

export const isDone = (m: Message): boolean => m.type === NLMSG_DONE;
export const isError = (m: Message): boolean => m.type === NLMSG_ERROR;

/** Parses attributes from `off` in `body`; nested ones stay raw (parse them again). */
export function parseAttrs(body: Uint8Array, off: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  while (off + 4 <= body.length) {
    const len = view.getUint16(off, true);
    const type = view.getUint16(off + 2, true) & 0x3fff;
    if (len < 4 || off + len > body.length) break;
    if (!out.has(type)) out.set(type, body.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

/**
 * Where attribute `type`'s payload starts in body (scanning from `off`), or -1; its payload length
 * goes to `lenOut[0]`. The allocation-free twin of parseAttrs, for the dumps of thousands of
 * routes and neighbours a reconcile reads.
 */
export function findAttr(body: Uint8Array, off: number, type: number, lenOut: Int32Array): number {
  while (off + 4 <= body.length) {
    const len = body[off]! | (body[off + 1]! << 8);
    if (len < 4 || off + len > body.length) return -1;
    if (((body[off + 2]! | (body[off + 3]! << 8)) & 0x3fff) === type) {
      lenOut[0] = len - 4;
      return off + 4;
    }
    off += align4(len);
  }
  return -1;
}

/** Little-endian u32 at body[off] (netlink's host order on the machines we run on). */
export const u32le = (b: Uint8Array, off: number): number =>
  (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
/** Big-endian (network order) u32 at body[off]: an IPv4 address. */
export const u32be = (b: Uint8Array, off: number): number =>
  ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;

const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** "aa:bb:cc:dd:ee:ff" from six bytes at b[off]. */
export const macAt = (b: Uint8Array, off: number): string =>
  `${HEX2[b[off]!]}:${HEX2[b[off + 1]!]}:${HEX2[b[off + 2]!]}:${HEX2[b[off + 3]!]}:${HEX2[b[off + 4]!]}:${HEX2[b[off + 5]!]}`;

export const attrU32 = (a: Uint8Array | undefined): number | undefined =>
  a && a.length >= 4 ? u32le(a, 0) : undefined;
export const attrU16be = (a: Uint8Array | undefined): number | undefined =>
  a && a.length >= 2 ? new DataView(a.buffer, a.byteOffset, 2).getUint16(0, false) : undefined;
export const attrU8 = (a: Uint8Array | undefined): number | undefined =>
  a && a.length >= 1 ? a[0] : undefined;
export const attrIpv4 = (a: Uint8Array | undefined): number | undefined =>
  a && a.length === 4 ? u32be(a, 0) : undefined;
export const attrString = (a: Uint8Array | undefined): string | undefined => {
  if (!a) return undefined;
  const z = a.indexOf(0);
  return new TextDecoder().decode(z >= 0 ? a.subarray(0, z) : a);
};
export const formatMac = (a: Uint8Array | undefined): string | undefined =>
  a && a.length === 6 ? macAt(a, 0) : undefined;
export function parseMac(text: string): Uint8Array | undefined {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) return undefined;
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

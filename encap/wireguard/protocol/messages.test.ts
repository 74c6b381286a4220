/** The four message layouts: sizes, little-endian fields at the paper's offsets, and refusals. */
import { describe, expect, it } from 'vitest';
import {
  decodeCookieReply,
  decodeInitiation,
  decodeResponse,
  decodeTransportHeader,
  encodeCookieReply,
  encodeInitiation,
  encodeResponse,
  messageType,
  paddedLength,
  writeTransportHeader,
} from './messages.js';

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('initiation (148 bytes)', () => {
  const bytes = encodeInitiation({
    sender: 0x04030201,
    ephemeral: fill(32, 0xe1),
    encryptedStatic: fill(48, 0x5a),
    encryptedTimestamp: fill(28, 0x7a),
    mac1: fill(16, 0x11),
    mac2: fill(16, 0x22),
  });

  it('lays the fields out as the paper does', () => {
    expect(bytes.length).toBe(148);
    expect(toHex(bytes.subarray(0, 8))).toBe('0100000001020304');
    expect(bytes[8]).toBe(0xe1);
    expect(bytes[39]).toBe(0xe1);
    expect(bytes[40]).toBe(0x5a);
    expect(bytes[87]).toBe(0x5a);
    expect(bytes[88]).toBe(0x7a);
    expect(bytes[115]).toBe(0x7a);
    expect(bytes[116]).toBe(0x11);
    expect(bytes[132]).toBe(0x22);
    expect(messageType(bytes)).toBe(1);
  });

  it('decodes what it encodes', () => {
    const d = decodeInitiation(bytes);
    if (!d.ok) throw new Error(d.reason);
    expect(d.msg.sender).toBe(0x04030201);
    expect(toHex(d.msg.encryptedTimestamp)).toBe(toHex(fill(28, 0x7a)));
    expect(toHex(d.msg.mac2)).toBe(toHex(fill(16, 0x22)));
  });

  it('refuses short, long, wrong-type and reserved-bit messages', () => {
    expect(decodeInitiation(bytes.subarray(0, 147))).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeInitiation(bytes.subarray(0, 3))).toEqual({ ok: false, reason: 'truncated' });
    const long = new Uint8Array(149);
    long.set(bytes);
    expect(decodeInitiation(long)).toEqual({ ok: false, reason: 'bad_length' });
    const reserved = Uint8Array.from(bytes);
    reserved[2] = 1;
    expect(decodeInitiation(reserved)).toEqual({ ok: false, reason: 'unknown_type' });
    expect(messageType(reserved)).toBeUndefined();
    expect(decodeInitiation(encodeResponse(responseFields()))).toEqual({ ok: false, reason: 'unknown_type' });
  });

  it('refuses wrong field lengths at encode time (a programming error)', () => {
    expect(() => encodeInitiation({ ...decodeFields(), ephemeral: fill(31, 0) })).toThrow(
      /ephemeral must be 32 bytes/,
    );
  });
});

function decodeFields() {
  return {
    sender: 1,
    ephemeral: fill(32, 0),
    encryptedStatic: fill(48, 0),
    encryptedTimestamp: fill(28, 0),
    mac1: fill(16, 0),
    mac2: fill(16, 0),
  };
}

function responseFields() {
  return {
    sender: 0xa1b2c3d4,
    receiver: 0x01020304,
    ephemeral: fill(32, 0xe2),
    encryptedNothing: fill(16, 0x0e),
    mac1: fill(16, 0x11),
    mac2: fill(16, 0x22),
  };
}

describe('response (92 bytes)', () => {
  it('round-trips with sender before receiver, both little-endian', () => {
    const bytes = encodeResponse(responseFields());
    expect(bytes.length).toBe(92);
    expect(toHex(bytes.subarray(0, 12))).toBe('02000000d4c3b2a104030201');
    expect(bytes[44]).toBe(0x0e);
    expect(bytes[60]).toBe(0x11);
    expect(bytes[76]).toBe(0x22);
    const d = decodeResponse(bytes);
    if (!d.ok) throw new Error(d.reason);
    expect(d.msg.sender).toBe(0xa1b2c3d4);
    expect(d.msg.receiver).toBe(0x01020304);
    expect(decodeResponse(bytes.subarray(0, 91))).toEqual({ ok: false, reason: 'truncated' });
  });
});

describe('cookie reply (64 bytes)', () => {
  it('round-trips', () => {
    const bytes = encodeCookieReply({ receiver: 7, nonce: fill(24, 0x4e), encryptedCookie: fill(32, 0xc0) });
    expect(bytes.length).toBe(64);
    expect(toHex(bytes.subarray(0, 8))).toBe('0300000007000000');
    expect(bytes[8]).toBe(0x4e);
    expect(bytes[32]).toBe(0xc0);
    const d = decodeCookieReply(bytes);
    if (!d.ok) throw new Error(d.reason);
    expect(d.msg.receiver).toBe(7);
    expect(decodeCookieReply(new Uint8Array(65).fill(0).map((_, i) => (i === 0 ? 3 : 0)))).toEqual({
      ok: false,
      reason: 'bad_length',
    });
  });
});

describe('transport header', () => {
  it('writes type, receiver and a 64-bit counter in place', () => {
    const buf = new Uint8Array(40);
    writeTransportHeader(buf, 4, { receiver: 0x11223344, counter: 0x0102030405060708n });
    expect(toHex(buf.subarray(4, 20))).toBe('04000000443322110807060504030201');
    const d = decodeTransportHeader(buf.subarray(4, 36));
    if (!d.ok) throw new Error(d.reason);
    expect(d.msg).toEqual({ receiver: 0x11223344, counter: 0x0102030405060708n });
    expect(decodeTransportHeader(buf.subarray(4, 35))).toEqual({ ok: false, reason: 'truncated' });
  });

  it('pads to 16 but never past the MTU', () => {
    expect(paddedLength(0, 1420)).toBe(0);
    expect(paddedLength(1, 1420)).toBe(16);
    expect(paddedLength(16, 1420)).toBe(16);
    expect(paddedLength(1419, 1420)).toBe(1420);
    expect(paddedLength(1420, 1420)).toBe(1420);
  });
});

/** The VXLAN wire against a frame Linux's vxlan device sent (test/support/kernel-vxlan-frame.ts). */
import { describe, expect, it } from 'vitest';
import { checkIpv4, Verdict } from '../../packet/ipv4-packet.js';
import { DROP_REASONS } from '../counters.js';
import { macWords, VxlanWire, VXLAN_WIRE_HEADER_LEN } from './vxlan-wire.js';
import { WIRE_OK } from './wire.js';
import {
  KERNEL_OUTER,
  KERNEL_PAYLOAD,
  RECEIVER_MAC,
  SENDER_MAC,
} from '../../../test/support/kernel-vxlan-frame.js';

const frame = (): Uint8Array => Uint8Array.from(Buffer.from(KERNEL_PAYLOAD, 'hex'));
const peer = (mac: Uint8Array) => ({ subnetIp: 0, prefixLen: 24, publicIp: 0, port: 8472, ...macWords(mac) });
const reason = (v: number): string => (v === WIRE_OK ? 'ok' : DROP_REASONS[v]!);

describe('VXLAN wire (RFC 7348, as Linux sends it)', () => {
  it('writes the header the kernel wrote: I flag, VNI, peer MAC, our MAC, IPv4', () => {
    const out = new Uint8Array(VXLAN_WIRE_HEADER_LEN);
    new VxlanWire(1, SENDER_MAC).encapsulate(out, 0, peer(RECEIVER_MAC));
    expect(Buffer.from(out).toString('hex')).toBe(KERNEL_PAYLOAD.slice(0, 2 * VXLAN_WIRE_HEADER_LEN));
  });

  it('accepts the kernel frame, and the inner packet behind it is the ping', () => {
    const f = frame();
    expect(reason(new VxlanWire(1, RECEIVER_MAC).decapsulate(f, 0, f.length))).toBe('ok');
    const inner = f.subarray(VXLAN_WIRE_HEADER_LEN);
    expect(checkIpv4(inner, 0, inner.length)).toBe(Verdict.Ok);
    expect([...inner.subarray(12, 20)]).toEqual([10, 244, 1, 0, 10, 244, 2, 7]);
    // The outer UDP datagram length covers exactly this payload (8 bytes of UDP header + it).
    const outer = Buffer.from(KERNEL_OUTER, 'hex');
    expect(outer.readUInt16BE(24)).toBe(8 + f.length);
    expect(outer.readUInt16BE(22)).toBe(8472);
  });

  it('round-trips a large VNI in the 24-bit field', () => {
    const out = new Uint8Array(VXLAN_WIRE_HEADER_LEN);
    new VxlanWire(0xabcdef, SENDER_MAC).encapsulate(out, 0, peer(RECEIVER_MAC));
    expect([...out.subarray(4, 8)]).toEqual([0xab, 0xcd, 0xef, 0]);
    expect(reason(new VxlanWire(0xabcdef, RECEIVER_MAC).decapsulate(out, 0, 22))).toBe('ok');
  });

  const rx = new VxlanWire(1, RECEIVER_MAC);
  const mutated = (edit: (f: Uint8Array) => void): Uint8Array => {
    const f = frame();
    edit(f);
    return f;
  };
  it('drops a datagram shorter than the VXLAN and Ethernet headers: truncated', () => {
    const f = frame();
    expect(reason(rx.decapsulate(f, 0, VXLAN_WIRE_HEADER_LEN - 1))).toBe('truncated');
    expect(reason(rx.decapsulate(f, 0, 0))).toBe('truncated');
  });
  it('drops a header without the I flag or with reserved bits set: bad_vxlan_flags', () => {
    for (const edit of [
      (f: Uint8Array) => (f[0] = 0),
      (f: Uint8Array) => (f[0] = 0x88), // the G (GBP) flag: a policy extension we do not speak
      (f: Uint8Array) => (f[2] = 1),
      (f: Uint8Array) => (f[7] = 1),
    ]) {
      const f = mutated(edit);
      expect(reason(rx.decapsulate(f, 0, f.length))).toBe('bad_vxlan_flags');
    }
  });
  it('drops another VNI: wrong_vni', () => {
    const f = mutated((b) => (b[6] = 2));
    expect(reason(rx.decapsulate(f, 0, f.length))).toBe('wrong_vni');
  });
  it('drops a frame for another MAC, broadcast included: foreign_mac', () => {
    for (const edit of [(b: Uint8Array) => (b[13] ^= 1), (b: Uint8Array) => b.fill(0xff, 8, 14)]) {
      const f = mutated(edit);
      expect(reason(rx.decapsulate(f, 0, f.length))).toBe('foreign_mac');
    }
  });
  it('drops an EtherType other than IPv4 (ARP, IPv6): bad_ethertype', () => {
    for (const t of [0x0806, 0x86dd]) {
      const f = mutated((b) => {
        b[20] = t >> 8;
        b[21] = t & 0xff;
      });
      expect(reason(rx.decapsulate(f, 0, f.length))).toBe('bad_ethertype');
    }
  });
  it('refuses a VNI outside 24 bits and a MAC that is not 6 bytes', () => {
    expect(() => new VxlanWire(1 << 24, RECEIVER_MAC)).toThrow(/24-bit/);
    expect(() => new VxlanWire(1, new Uint8Array(5))).toThrow(/6 bytes/);
  });
});

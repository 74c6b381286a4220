import { blake2s } from '@noble/hashes/blake2.js';
import { describe, expect, it } from 'vitest';
import { WG_GO_CAPTURE, WG_GO_PUBLIC_KEYS } from '../support/wireguard-go-capture.js';
import { parsePcap, udpOf, type UdpDatagram } from './pcap.js';
import { findAnyRun, transportHeader, wireguardMessageType } from './wireguard-message-check.js';

const datagrams = (): UdpDatagram[] =>
  parsePcap(WG_GO_CAPTURE).frames.map((f) => {
    const d = udpOf(f);
    if ('other' in d) throw new Error(d.other);
    return d;
  });

/** MAC1 as the WireGuard paper §5.4.4 defines it, from @noble/hashes alone. */
const mac1 = (msg: Uint8Array, receiverPublicKey: string): Uint8Array =>
  blake2s(msg.subarray(0, msg.length - 32), {
    key: blake2s(Buffer.concat([Buffer.from('mac1----'), Buffer.from(receiverPublicKey, 'base64')])),
    dkLen: 16,
  });

describe('pcap reader on a real wireguard-go capture', () => {
  it('finds the five datagrams tcpdump wrote, with addresses and ports', () => {
    const ds = datagrams();
    expect(ds.map((d) => `${d.src}:${d.srcPort}>${d.dst}:${d.dstPort}/${d.payload.length}`)).toEqual([
      '198.18.213.1:51820>198.18.213.2:51820/148',
      '198.18.213.2:51820>198.18.213.1:51820/92',
      '198.18.213.1:51820>198.18.213.2:51820/128',
      '198.18.213.2:51820>198.18.213.1:51820/128',
      '198.18.213.1:51820>198.18.213.2:51820/32',
    ]);
  });

  it('refuses what is not classic pcap, and names non-UDP frames', () => {
    expect(() => parsePcap(new Uint8Array(24))).toThrow(/not a classic pcap/);
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(udpOf(arp)).toEqual({ other: 'ethertype 0x0806' });
  });
});

describe('WireGuard message check', () => {
  it('types the captured messages 1, 2, 4, 4, 4 and reads transport headers', () => {
    const ds = datagrams();
    expect(ds.map((d) => wireguardMessageType(d.payload))).toEqual([1, 2, 4, 4, 4].map((type) => ({ type })));
    const [init, resp, req, reply, keepalive] = ds.map((d) => d.payload) as Uint8Array[];
    // The response's sender index is what the initiator puts in its transport data, and the
    // initiation's sender index is what the responder uses: paper §5.4.2–5.4.6.
    const initSender = new DataView(init!.buffer, init!.byteOffset + 4).getUint32(0, true);
    const respSender = new DataView(resp!.buffer, resp!.byteOffset + 4).getUint32(0, true);
    expect(transportHeader(req!)).toEqual({ receiver: respSender, counter: 0n });
    expect(transportHeader(reply!)).toEqual({ receiver: initSender, counter: 0n });
    expect(transportHeader(keepalive!)).toEqual({ receiver: respSender, counter: 1n });
  });

  it("verifies wireguard-go's MAC1 with the receiver's public key (and not with the sender's)", () => {
    const [init, resp] = datagrams().map((d) => d.payload) as Uint8Array[];
    expect(Buffer.from(mac1(init!, WG_GO_PUBLIC_KEYS[1]))).toEqual(Buffer.from(init!.subarray(116, 132)));
    expect(Buffer.from(mac1(resp!, WG_GO_PUBLIC_KEYS[0]))).toEqual(Buffer.from(resp!.subarray(60, 76)));
    expect(Buffer.from(mac1(init!, WG_GO_PUBLIC_KEYS[0]))).not.toEqual(Buffer.from(init!.subarray(116, 132)));
  });

  it('names what is wrong with a payload that is not a WireGuard message', () => {
    const init = datagrams()[0]!.payload;
    expect(wireguardMessageType(init.subarray(0, 147))).toEqual({ problem: 'type 1 of 147 bytes, not 148' });
    const reserved = Uint8Array.from(init);
    reserved[2] = 1;
    expect(wireguardMessageType(reserved)).toEqual({ problem: 'type 1 with reserved bytes set' });
    expect(wireguardMessageType(Uint8Array.of(0x45, 0, 0, 0x54))).toEqual({ problem: 'type byte 69' });
    expect(wireguardMessageType(new Uint8Array([4, 0, 0, 0, ...new Uint8Array(36)]))).toEqual({
      problem: 'transport data of 40 bytes: plaintext neither padded to 16 nor the MTU',
    });
    // A full-MTU inner packet is not padded past the MTU: 1420 bytes of plaintext, not 1424.
    expect(wireguardMessageType(new Uint8Array([4, 0, 0, 0, ...new Uint8Array(1448)]))).toEqual({ type: 4 });
    expect(wireguardMessageType(new Uint8Array([4, 0, 0, 0, ...new Uint8Array(1464)]))).toEqual({
      problem: 'transport data of 1468 bytes: plaintext over the MTU 1420',
    });
    expect(wireguardMessageType(new Uint8Array([3, 0, 0, 0, ...new Uint8Array(60)]))).toEqual({ type: 3 });
  });

  it('finds an 8-byte run of a payload inside captured bytes, and none in ciphertext', () => {
    const secret = Uint8Array.from(Buffer.from('00112233445566778899aabbccddeeff', 'hex'));
    const hay = new Uint8Array(100);
    hay.set(secret.subarray(3, 11), 50);
    expect(findAnyRun(hay, secret)).toBe(50);
    expect(findAnyRun(WG_GO_CAPTURE, secret)).toBe(-1);
  });
});

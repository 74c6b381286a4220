/**
 * A seeded fuzz of the IPv6 engine's receive checks on the VXLAN wire (flannel-v6.<VNI>): every
 * datagram starts as a frame the engine must deliver (our VNI and VtepMAC, EtherType 86DD, one
 * whole IPv6 packet from the peer's v6 subnet to ours, hop limit ≥ 2), then gets a few random
 * bytes overwritten, is cut short, or comes from an address that is no peer. An oracle written from
 * the wire format (docs/wire-formats.md), not from the engine, says which must arrive and as what; the test
 * compares the delivered packets byte for byte, with GRO on and off. Replay: OVERLAYD_SEED.
 */
import { describe, expect, it } from 'vitest';
import { parseCidr6, parseIpv6 } from '../../../core/ipv6.js';
import { wordsOf6 } from '../../../core/ipv6-words.js';
import { seededRandom } from '../../../test/support/seeded-random.js';
import { MemoryNetwork6, MemoryUdp6 } from '../../../test/support/memory-io.js';
import { ipv6Bytes, makeUdp6 } from '../../../test/support/test-packets6.js';
import { vxlanEngines } from '../../../test/support/vxlan-engines.js';
import { vxlanFrame } from '../../../test/lab/hostile-vxlan.js';
import { VNET_HDR_LEN } from '../../packet/vnet-hdr.js';
import { C } from '../counters.js';
import { checksum, readU16, writeU16 } from '../../packet/checksum.js';
import { pseudoHeaderSum6 } from '../../packet/partial-checksum6.js';
import { ETHERTYPE_IPV6, macWords, VxlanWire } from './vxlan-wire.js';

const w6 = (s: string): Uint32Array => Uint32Array.from(wordsOf6(parseIpv6(s)!));
const OWN_MAC = Uint8Array.from([0x02, 0, 0, 0, 0x06, 0x02]);
const PEER_MAC = '02:00:00:00:06:01';
const PEER = w6('fd00:198:18:77::1');
const STRANGER = w6('fd00:198:18:77::3');
const prefix64 = (s: string): string => Buffer.from(ipv6Bytes(s).subarray(0, 8)).toString('hex');
const PEER_NET = prefix64('fd00:10:244:1::');
const OWN_NET = prefix64('fd00:10:244:2::');

/** What the wire format says of a frame from `from`: is its inner packet one to deliver? */
function mustDeliver(f: Uint8Array, from: Uint32Array): boolean {
  if (from !== PEER || f.length < 22) return false;
  const head = Buffer.from(f.subarray(0, 8)).toString('hex');
  if (head !== '0800000000000100') return false; // I flag, reserved zero, VNI 1
  if (!Buffer.from(f.subarray(8, 14)).equals(Buffer.from(OWN_MAC)) || f[20] !== 0x86 || f[21] !== 0xdd)
    return false;
  const p = f.subarray(22);
  return (
    p.length >= 40 &&
    p.length <= 1430 &&
    p[0]! >>> 4 === 6 &&
    ((p[4]! << 8) | p[5]!) === p.length - 40 &&
    Buffer.from(p.subarray(8, 16)).toString('hex') === PEER_NET &&
    Buffer.from(p.subarray(24, 32)).toString('hex') === OWN_NET &&
    p[7]! > 1
  );
}

/**
 * The VXLAN wire's one rewrite besides the hop limit (partial-checksum6.ts): a TCP or UDP checksum
 * field equal to the pseudo-header sum — a kernel peer's CHECKSUM_PARTIAL, or damage that lands on
 * that value — is completed over the bytes as they are.
 */
function completePartial(p: Uint8Array): void {
  const proto = p[6]!;
  const l4Len = p.length - 40;
  if ((proto !== 6 && proto !== 17) || l4Len < (proto === 6 ? 20 : 8)) return;
  const field = 40 + (proto === 6 ? 16 : 6);
  const pseudo = pseudoHeaderSum6(p, 0, proto, l4Len);
  if (readU16(p, field) !== pseudo) return;
  writeU16(p, field, 0);
  const c = checksum(p, 40, l4Len, pseudo);
  writeU16(p, field, c === 0 && proto === 17 ? 0xffff : c);
}

for (const gro of [false, true])
  describe(`IPv6 receive checks under random damage (GRO ${gro ? 'on' : 'off'})`, () => {
    it('delivers exactly the frames the wire format allows, each with its hop limit decremented', () => {
      const rng = seededRandom();
      const udp = new MemoryUdp6(new MemoryNetwork6(), w6('fd00:198:18:77::2'), 8472, gro);
      const e = vxlanEngines(udp, new VxlanWire(1, OWN_MAC, ETHERTYPE_IPV6), {
        vnet: gro,
        sg: gro,
        mtu: 1430,
        family: 6,
      });
      const own = parseCidr6('fd00:10:244:2::/64')!;
      e.table.publish(
        undefined,
        [
          {
            subnetIp: 0,
            prefixLen: 0,
            publicIp: 0,
            port: 8472,
            ...macWords(Uint8Array.from(Buffer.from(PEER_MAC.replaceAll(':', ''), 'hex'))),
            publicIp6: PEER,
            subnetIp6: w6('fd00:10:244:1::'),
            prefixLen6: 64,
          },
        ],
        { ip: wordsOf6(own.ip), prefixLen: 64 },
      );
      const want: string[] = [];
      for (let i = 0; i < 4000; i++) {
        // Equal sizes in runs, so GRO merges some of them into one message.
        const payload = rng.bytes(i % 8 < 4 ? 100 : rng.int(1400));
        const p = makeUdp6('fd00:10:244:1::5', 'fd00:10:244:2::9', payload, 2 + rng.int(3));
        let f: Uint8Array = Uint8Array.from(vxlanFrame(1, Buffer.from(OWN_MAC), PEER_MAC, 0x86dd, p));
        for (let k = rng.int(4); k > 0; k--) f[rng.int(f.length)] = rng.int(256);
        if (rng.chance(0.1)) f = f.slice(0, rng.int(f.length));
        const from = rng.chance(0.05) ? STRANGER : PEER;
        if (mustDeliver(f, from)) {
          const out = f.slice(22);
          out[7] = out[7]! - 1;
          completePartial(out);
          want.push(Buffer.from(out).toString('hex'));
        }
        udp.inject(from, 40000 + rng.int(1000), f);
        if (i % 64 === 63) while (e.rx.step(0) > 0);
      }
      while (e.rx.step(0) > 0);
      const got = e.tun.fromEngine.map((x) =>
        Buffer.from(gro ? x.subarray(VNET_HDR_LEN) : x).toString('hex'),
      );
      expect(got.length, rng.why).toBe(want.length);
      expect(got, rng.why).toEqual(want);
      expect(e.counters[C.rxPackets], rng.why).toBe(want.length);
      expect(want.length, rng.why).toBeGreaterThan(1000); // most frames stay deliverable: the test means something
    });
  });

/**
 * pooledRandom, the control plane's random source: every byte of the CSPRNG's output is handed
 * out once, as a copy, and wiped from the pool when it goes; the pool is refilled when a request
 * does not fit in what is left, and a request larger than the pool is drawn on its own. And the
 * port's endpoint conversion on an IPv6 engine: words in, IPv6 text to the control plane, words out.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { parseIpv6 } from '../../core/ipv6.js';
import { wordsOf6 } from '../../core/ipv6-words.js';
import { formatKey, generateKeyPair } from '../wireguard/protocol/keys.js';
import { WG_TIMERS } from '../wireguard/protocol/peer-timers.js';
import { createControlPort, pooledRandom } from './wg-control.js';

/** A fill that writes 1, 2, 3, … (mod 251, never 0) and keeps the pool it was given. */
function countingFill(): { fill: (b: Uint8Array) => void; pools: Uint8Array[]; fills: () => number } {
  let next = 0;
  const pools: Uint8Array[] = [];
  return {
    fill: (b) => {
      pools.push(b);
      for (let i = 0; i < b.length; i++) b[i] = (next++ % 251) + 1;
    },
    pools,
    fills: () => pools.length,
  };
}

describe('pooledRandom', () => {
  it('hands out the fill output in order, each byte once, and refills when a request does not fit', () => {
    const f = countingFill();
    const random = pooledRandom(f.fill);
    const seen: number[] = [];
    for (let i = 0; i < 300; i++) seen.push(...random(2)); // 600 bytes: crosses the 512-byte pool once
    expect(f.fills()).toBe(2);
    const expected = [...Array(512).keys()]
      .map((i) => (i % 251) + 1)
      .concat([...Array(88).keys()].map((i) => ((512 + i) % 251) + 1));
    expect(seen).toEqual(expected);
  });

  it('wipes what it hands out from the pool, and the copy it returns is not a view of the pool', () => {
    const f = countingFill();
    const random = pooledRandom(f.fill);
    const a = random(32);
    const pool = f.pools[0]!;
    expect(pool.subarray(0, 32).every((x) => x === 0)).toBe(true);
    expect(pool[32]).not.toBe(0);
    expect(a.buffer).not.toBe(pool.buffer);
    expect([...a]).toEqual([...Array(32).keys()].map((i) => i + 1));
  });

  it('draws a request larger than the pool from the CSPRNG directly', () => {
    const f = countingFill();
    const big = pooledRandom(f.fill)(4096);
    expect(big).toHaveLength(4096);
    expect(f.fills()).toBe(0);
  });

  it('by default draws from node:crypto: 4-byte indices are not all equal', () => {
    const random = pooledRandom();
    const values = new Set<string>();
    for (let i = 0; i < 200; i++) values.add(Buffer.from(random(4)).toString('hex'));
    expect(values.size).toBeGreaterThan(190);
  });
});

describe('the control port on an IPv6 engine (flannel-wg-v6)', () => {
  it('sends the initiation to the peer IPv6 endpoint, as four words, and takes a v6 sender back', () => {
    const us = generateKeyPair((n) => new Uint8Array(randomBytes(n)));
    const them = generateKeyPair((n) => new Uint8Array(randomBytes(n)));
    const port = createControlPort({
      privateKey: us.privateKey,
      persistentKeepaliveS: 0,
      timers: WG_TIMERS,
      underLoad: () => false,
    });
    const to = Uint32Array.from(wordsOf6(parseIpv6('fd00:198:18::2')!));
    port.setPeers([
      {
        publicKey: them.publicKey,
        endpoint: { address: 0, port: 51821, address6: to },
        allowedIps: ['fd00:10:244:2::/64'],
      },
    ]);
    const sends = port.wantSession(formatKey(them.publicKey)).filter((a) => 'send' in a);
    expect(sends).toHaveLength(1);
    const send = sends[0] as {
      send: Uint8Array;
      to: { address: number; port: number; address6?: Uint32Array };
    };
    expect(send.send[0]).toBe(1); // an initiation
    expect(send.to.address).toBe(0);
    expect(send.to.port).toBe(51821);
    expect([...send.to.address6!]).toEqual([0xfd000198, 0x00180000, 0, 2]);
  });
});

import { describe, expect, it } from 'vitest';
import { samePeerSet, type PeerEntry } from './peer-table.js';

const peer = (third: number, publicIp = 0xc6120001 + third): [string, PeerEntry] => [
  `10.244.${third}.0/24`,
  { subnetIp: (10 << 24) | (244 << 16) | (third << 8), prefixLen: 24, publicIp, port: 8285 },
];

describe('samePeerSet (the udp reconcile decides from it whether the table drifted)', () => {
  it('is true for the same peers in any order', () => {
    expect(samePeerSet(new Map([peer(1), peer(2)]), new Map([peer(2), peer(1)]))).toBe(true);
    expect(samePeerSet(new Map(), new Map())).toBe(true);
  });
  it('sees a missing, an extra and a moved peer', () => {
    const have = new Map([peer(1), peer(2)]);
    expect(samePeerSet(have, new Map([peer(1)]))).toBe(false);
    expect(samePeerSet(have, new Map([peer(1), peer(2), peer(3)]))).toBe(false);
    expect(samePeerSet(have, new Map([peer(1), peer(3)]))).toBe(false);
    expect(samePeerSet(have, new Map([peer(1), peer(2, 0xc6120099)]))).toBe(false);
  });
});

describe('SharedPeerTable with WireGuard public keys', () => {
  it('carries a 32-byte key per entry through a snapshot, and none for entries without', async () => {
    const { SharedPeerTable } = await import('./peer-table.js');
    const t = new SharedPeerTable(4);
    const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 200) & 0xff);
    t.publish(undefined, [
      { subnetIp: 1, prefixLen: 24, publicIp: 2, port: 51820, publicKey: key },
      { subnetIp: 3, prefixLen: 24, publicIp: 4, port: 8285 },
    ]);
    const got: PeerEntry[] = [];
    const snap = t.snapshot(got);
    expect(snap.count).toBe(2);
    expect([...got[0]!.publicKey!]).toEqual([...key]);
    expect(got[1]!.publicKey).toBeUndefined();
    expect(() =>
      t.publish(undefined, [
        { subnetIp: 1, prefixLen: 24, publicIp: 2, port: 1, publicKey: new Uint8Array(31) },
      ]),
    ).toThrow(/32 bytes/);
  });
  it('sees a changed key as drift', () => {
    const [k, e] = peer(1);
    const a = new Map([[k, { ...e, publicKey: new Uint8Array(32).fill(1) }]]);
    const b = new Map([[k, { ...e, publicKey: new Uint8Array(32).fill(2) }]]);
    expect(samePeerSet(a, b)).toBe(false);
    expect(samePeerSet(a, new Map(a))).toBe(true);
  });
});

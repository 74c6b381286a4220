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

describe('SharedPeerTable with IPv6 fields (an IPv6 engine: flannel-v6.<VNI>)', () => {
  it('carries PublicIPv6, the IPv6 subnet and our own IPv6 subnet through a snapshot; none for v4-only entries', async () => {
    const { SharedPeerTable } = await import('./peer-table.js');
    const t = new SharedPeerTable(4);
    const pub = Uint32Array.from([0xfd000198, 0x00180077, 0, 0xfffffffe]);
    const net = Uint32Array.from([0xfd000010, 0x02440002, 0, 0]);
    t.publish(
      undefined,
      [
        {
          subnetIp: 0,
          prefixLen: 0,
          publicIp: 0,
          port: 8472,
          publicIp6: pub,
          subnetIp6: net,
          prefixLen6: 64,
        },
        { subnetIp: 3, prefixLen: 24, publicIp: 4, port: 8472 },
      ],
      { ip: [0xfd000010, 0x02440001, 0, 0], prefixLen: 64 },
    );
    const got: PeerEntry[] = [];
    const own6 = new Uint32Array(4);
    const snap = t.snapshot(got, own6);
    expect(snap.count).toBe(2);
    expect(snap.ownLen6).toBe(64);
    expect([...own6]).toEqual([0xfd000010, 0x02440001, 0, 0]);
    expect([...got[0]!.publicIp6!]).toEqual([...pub]);
    expect([...got[0]!.subnetIp6!]).toEqual([...net]);
    expect(got[0]!.prefixLen6).toBe(64);
    expect(got[1]!.publicIp6).toBeUndefined();
    expect(got[1]!.prefixLen6).toBeUndefined();
    t.publish(undefined, []);
    expect(t.snapshot(got, own6).ownLen6).toBe(-1);
  });
  it('sees a moved PublicIPv6 as drift', () => {
    const [k, e] = peer(1);
    const v6 = (last: number) => ({
      ...e,
      publicIp6: Uint32Array.from([0xfd000000, 0, 0, last]),
      subnetIp6: Uint32Array.from([0xfd000010, 0, 0, 0]),
      prefixLen6: 64,
    });
    expect(samePeerSet(new Map([[k, v6(1)]]), new Map([[k, v6(2)]]))).toBe(false);
    expect(samePeerSet(new Map([[k, v6(1)]]), new Map([[k, v6(1)]]))).toBe(true);
    expect(samePeerSet(new Map([[k, v6(1)]]), new Map([[k, e]]))).toBe(false);
  });
  it('refuses an entry it cannot write before it locks the table, so readers keep the last one', async () => {
    const { SharedPeerTable } = await import('./peer-table.js');
    const t = new SharedPeerTable(4);
    const good: PeerEntry = { subnetIp: 3, prefixLen: 24, publicIp: 4, port: 8472 };
    const v6 = {
      ...good,
      publicIp6: Uint32Array.from([0xfd000000, 0, 0, 1]),
      subnetIp6: Uint32Array.from([0xfd000010, 0, 0, 0]),
      prefixLen6: 64,
    };
    t.publish(undefined, [good]);
    const version = t.version();
    for (const [bad, why] of [
      [{ ...good, publicKey: new Uint8Array(31) }, /a WireGuard public key has 32 bytes, got 31$/],
      [{ ...v6, prefixLen6: 129 }, /^peer 1: prefixLen6 must be an integer 0\.\.128 .*got 129$/],
      [{ ...v6, prefixLen6: 1.5 }, /^peer 1: prefixLen6 must be an integer 0\.\.128 .*got 1\.5$/],
      [{ ...v6, publicIp6: new Uint32Array(3) }, /^peer 1: publicIp6 must be 4 words .*got 3$/],
      [
        { ...good, subnetIp6: undefined, publicIp6: v6.publicIp6, prefixLen6: 64 },
        /^peer 1: subnetIp6 must be 4 words .*got none$/,
      ],
    ] as const) {
      expect(() => t.publish(undefined, [good, bad as PeerEntry])).toThrow(why);
      // Still even (not mid-write) and unchanged: a snapshot returns the last good table at once.
      expect(t.version()).toBe(version);
      expect(t.snapshot([]).count).toBe(1);
    }
    expect(() => t.publish(undefined, [v6], { ip: [0, 0, 0, 0], prefixLen: 129 })).toThrow(
      /^own IPv6 subnet: prefixLen must be an integer 0\.\.128, got 129$/,
    );
    expect(() => t.publish(undefined, [v6], { ip: [0, 0], prefixLen: 64 })).toThrow(
      /^own IPv6 subnet: ip must be 4 words/,
    );
    expect(t.version()).toBe(version);
    t.publish(undefined, [good, v6]);
    expect(t.snapshot([]).count).toBe(2);
  });
});

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

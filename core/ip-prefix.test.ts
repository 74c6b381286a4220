import { describe, expect, it } from 'vitest';
import type { IpFamily } from './ip-prefix.js';
import { IPV4 } from './ipv4.js';

/**
 * What any family must do, written against the interface so ipv6.ts can be held to the same
 * answers: `cases` are a network, an address inside it, one outside, and its last address.
 */
function familyContract<A>(
  family: IpFamily<A>,
  cases: { net: string; inside: string; outside: string; last: string; hostBits: string },
): void {
  const net = family.parsePrefix(cases.net, true)!;
  it('round-trips prefixes and addresses as text', () => {
    expect(family.formatPrefix(net)).toBe(cases.net);
    expect(family.formatAddr(family.parseAddr(cases.inside)!)).toBe(cases.inside);
  });
  it('refuses host bits only when strict, clearing them otherwise', () => {
    expect(family.parsePrefix(cases.hostBits, true)).toBeUndefined();
    expect(family.same(family.parsePrefix(cases.hostBits)!, net)).toBe(true);
  });
  it('answers containment, overlap and the last address', () => {
    expect(family.contains(net, family.parseAddr(cases.inside)!)).toBe(true);
    expect(family.contains(net, family.parseAddr(cases.outside)!)).toBe(false);
    expect(family.formatAddr(family.lastAddr(net))).toBe(cases.last);
    const wider = { ip: net.ip, prefixLen: net.prefixLen - 1 };
    expect(family.overlaps(net, wider)).toBe(true);
    expect(family.same(net, wider)).toBe(false);
  });
}

describe('IPV4 as an IpFamily', () => {
  expect(IPV4.bits).toBe(32);
  familyContract(IPV4, {
    net: '10.244.3.0/24',
    inside: '10.244.3.77',
    outside: '10.244.4.1',
    last: '10.244.3.255',
    hostBits: '10.244.3.9/24',
  });
});

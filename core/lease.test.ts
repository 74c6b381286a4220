import { describe, expect, it } from 'vitest';
import { parseCidr, parseIpv4 } from './ipv4.js';
import { collapseEvents, type Lease } from './lease.js';

const lease = (cidr: string, ip: string, backendType?: string): Lease => ({
  subnet: parseCidr(cidr)!,
  attrs: backendType ? { publicIp: parseIpv4(ip)!, backendType } : { publicIp: parseIpv4(ip)! },
});

describe('collapseEvents', () => {
  it('keeps the last event per subnet', () => {
    const a = lease('10.0.1.0/24', '1.1.1.1');
    const a2 = lease('10.0.1.0/24', '1.1.1.9');
    const b = lease('10.0.2.0/24', '1.1.1.2');
    const out = collapseEvents([
      { type: 'added', lease: a },
      { type: 'added', lease: b },
      { type: 'removed', lease: a },
      { type: 'added', lease: a2 },
      { type: 'removed', lease: b },
    ]);
    expect(out).toEqual([
      { type: 'added', lease: a2 },
      { type: 'removed', lease: b },
    ]);
  });
});

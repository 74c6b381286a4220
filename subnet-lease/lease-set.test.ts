import { describe, expect, it } from 'vitest';
import { parseCidr, parseIpv4 } from '../core/ipv4.js';
import type { Lease } from '../core/lease.js';
import { LeaseSet } from './lease-set.js';

const lease = (cidr: string, ip: string, backendType?: string): Lease => ({
  subnet: parseCidr(cidr)!,
  attrs: backendType ? { publicIp: parseIpv4(ip)!, backendType } : { publicIp: parseIpv4(ip)! },
});

describe('LeaseSet', () => {
  it('emits added once per change and removed with the cached attributes', () => {
    const set = new LeaseSet();
    expect(set.put(lease('10.0.1.0/24', '1.1.1.1'))?.type).toBe('added');
    expect(set.put(lease('10.0.1.0/24', '1.1.1.1'))).toBeUndefined();
    expect(set.put(lease('10.0.1.0/24', '1.1.1.9'))?.type).toBe('added');
    expect(set.delete('10.0.1.0-24')).toEqual({ type: 'removed', lease: lease('10.0.1.0/24', '1.1.1.9') });
    expect(set.delete('10.0.1.0-24')).toBeUndefined();
  });

  it('reset emits exactly the difference', () => {
    const set = new LeaseSet();
    set.reset([
      lease('10.0.1.0/24', '1.1.1.1'),
      lease('10.0.2.0/24', '1.1.1.2'),
      lease('10.0.3.0/24', '1.1.1.3'),
    ]);
    const events = set.reset([
      lease('10.0.1.0/24', '1.1.1.1'),
      lease('10.0.3.0/24', '1.1.1.3', 'vxlan'),
      lease('10.0.4.0/24', '1.1.1.4'),
    ]);
    expect(events.map((e) => `${e.type} ${e.lease.subnet.ip & 0xff00}`)).toEqual([
      'removed 512',
      'added 768',
      'added 1024',
    ]);
    expect(set.size).toBe(3);
  });
});

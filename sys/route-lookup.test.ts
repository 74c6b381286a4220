import { describe, expect, it } from 'vitest';
import { parseRouteGet } from './route-lookup.js';

// Output captured from iproute2 6.x `ip -j route get` on this kind of host.
describe('ip route get', () => {
  it('reads the device and preferred source of either family', () => {
    expect(
      parseRouteGet(
        '[{"dst":"198.18.0.2","dev":"eth0","prefsrc":"198.18.0.1","flags":[],"uid":0,"cache":[]}]',
      ),
    ).toEqual({ dev: 'eth0', src: '198.18.0.1' });
    expect(
      parseRouteGet(
        '[{"type":"local","dst":"::1","from":"::","dev":"lo","table":"local","protocol":"kernel","prefsrc":"::1","metric":0,"flags":[],"pref":"medium"}]',
      ),
    ).toEqual({ dev: 'lo', src: '::1' });
    expect(parseRouteGet('[{"dst":"fd00::2","dev":"eth0","flags":[]}]')).toEqual({ dev: 'eth0' });
  });

  it('gives nothing for output that names no device', () => {
    for (const bad of ['', 'nope', '{}', '[]', '[{"dst":"1.2.3.4"}]'])
      expect(parseRouteGet(bad), bad).toBeUndefined();
  });
});

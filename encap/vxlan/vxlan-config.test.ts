import { describe, expect, it } from 'vitest';
import { parseVtep, parseVxlanConfig, randomVtepMac } from '../vxlan-config.js';

describe('vxlan backend config', () => {
  it("has flannel's defaults", () => {
    expect(parseVxlanConfig({})).toEqual({
      vni: 1,
      port: 0,
      gbp: false,
      learning: false,
      directRouting: false,
    });
    expect(
      parseVxlanConfig({ vni: 4096, port: 4789, gbp: true, learning: true, directrouting: true, mtu: 9000 }),
    ).toEqual({
      vni: 4096,
      port: 4789,
      gbp: true,
      learning: true,
      directRouting: true,
      mtu: 9000,
    });
  });

  it('names each bad field', () => {
    expect(() => parseVxlanConfig({ vni: -1 })).toThrow(/Backend.VNI -1 is invalid/);
    expect(() => parseVxlanConfig({ vni: 2 ** 24 })).toThrow(/Backend.VNI/);
    expect(() => parseVxlanConfig({ port: 'x' })).toThrow(/Backend.Port "x" is invalid/);
    expect(() => parseVxlanConfig({ directrouting: 'yes' })).toThrow(
      /Backend.DirectRouting "yes" is invalid; use true or false/,
    );
    expect(() => parseVxlanConfig({ mtu: 50 })).toThrow(/Backend.MTU 50 is invalid/);
  });

  it('reads VtepMAC from BackendData in any key case and rejects junk', () => {
    expect(parseVtep({ VNI: 1, VtepMAC: 'C6:D2:32:6F:8F:44' })).toEqual({ vni: 1, mac: 'c6:d2:32:6f:8f:44' });
    expect(parseVtep({ vtepmac: 'c6:d2:32:6f:8f:44' })).toEqual({ vni: 1, mac: 'c6:d2:32:6f:8f:44' });
    for (const bad of [null, 'x', { VtepMAC: 'nope' }, { VNI: 1 }]) expect(parseVtep(bad)).toBeUndefined();
  });

  it('makes locally administered unicast MACs', () => {
    for (let i = 0; i < 500; i++) {
      const first = parseInt(randomVtepMac().slice(0, 2), 16);
      expect(first & 1).toBe(0);
      expect(first & 2).toBe(2);
    }
  });
});

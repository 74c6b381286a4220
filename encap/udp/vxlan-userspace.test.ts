/** The userspace vxlan datapath refuses what only the kernel's device implements, naming the option. */
import { describe, expect, it } from 'vitest';
import { parseVxlanConfig } from '../vxlan-config.js';
import { refuseKernelOnly } from './vxlan-userspace.js';

describe('userspace vxlan config', () => {
  it('accepts flannel options it honours: VNI, Port, DirectRouting, MTU', () => {
    expect(() =>
      refuseKernelOnly(parseVxlanConfig({ vni: 7, port: 4789, directrouting: true, mtu: 1500 })),
    ).not.toThrow();
  });
  it.each([
    ['gbp', 'GBP'],
    ['learning', 'Learning'],
  ])('refuses %s with a one-line error naming Backend.%s and the way out', (key, field) => {
    const err = (() => {
      try {
        refuseKernelOnly(parseVxlanConfig({ [key]: true }));
      } catch (e) {
        return e as Error & { code?: string };
      }
      return undefined;
    })();
    expect(err?.code).toBe('BAD_CONFIG');
    expect(err?.message).toBe(
      `network config: Backend.${field} is not supported by the userspace vxlan datapath; remove it or run with --vxlan-datapath=kernel`,
    );
  });
});

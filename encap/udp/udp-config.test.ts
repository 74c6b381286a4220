/** The udp backend's settings: Backend.Port from the network config, the JIT budget from the environment. */
import { describe, expect, it } from 'vitest';
import { jitBudgetFrom, parseUdpBackendConfig } from './udp-config.js';

describe('udp backend config', () => {
  it('takes Backend.Port, defaulting to 8285, and names the field and the fix when it is bad', () => {
    expect(parseUdpBackendConfig({})).toEqual({ port: 8285 });
    expect(parseUdpBackendConfig({ port: 9000 })).toEqual({ port: 9000 });
    expect(() => parseUdpBackendConfig({ port: '8285' })).toThrow(
      /Backend.Port "8285" is not a UDP port; use a whole number/,
    );
    expect(() => parseUdpBackendConfig({ port: 70000 })).toThrow(/Backend.Port 70000/);
    for (const bad of [0, 1.5]) {
      expect(() => parseUdpBackendConfig({ port: bad })).toThrow(
        /Backend.Port .* is not a UDP port; use a whole number from 1 to 65535/,
      );
    }
  });

  it('reads OVERLAYD_JIT_BUDGET, and reports a bad one while keeping the default', () => {
    expect(jitBudgetFrom({}, 512)).toEqual({ budget: 512 });
    expect(jitBudgetFrom({ OVERLAYD_JIT_BUDGET: '67584' }, 512)).toEqual({ budget: 67584 });
    const bad = jitBudgetFrom({ OVERLAYD_JIT_BUDGET: 'fast' }, 512);
    expect(bad.budget).toBe(512);
    expect(bad.problem).toMatch(/^OVERLAYD_JIT_BUDGET="fast" is not a positive whole number; using 512/);
    expect(jitBudgetFrom({ OVERLAYD_JIT_BUDGET: '-1' }, 512).problem).toBeDefined();
  });
});

/** The V8 options in main.ts's #! line are the ones the lab starts the daemon with. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DAEMON_NODE_FLAGS } from './node-flags.js';

describe('daemon node flags', () => {
  it("main.ts's #! line passes exactly DAEMON_NODE_FLAGS to node", () => {
    const first = readFileSync(new URL('./main.ts', import.meta.url), 'utf8').split('\n')[0];
    expect(first).toBe(`#!/usr/bin/env -S node ${DAEMON_NODE_FLAGS.join(' ')}`);
  });
});

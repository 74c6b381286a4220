import { describe, expect, it } from 'vitest';
import { blockOf, C, counterBlocks, COUNTER_SLOTS, sumOf } from './counters.js';

describe('counter blocks', () => {
  it('gives each worker its own block of one shared buffer', () => {
    const { sab, blocks } = counterBlocks(3);
    expect(sab.byteLength).toBe(3 * COUNTER_SLOTS * 8);
    blocks[0]![C.txPackets] = 5;
    blocks[2]![C.txPackets] = 7;
    blocks[1]![C.rxPackets] = 1;
    expect(sumOf(blocks, C.txPackets)).toBe(12);
    expect(sumOf(blocks, C.rxPackets)).toBe(1);
    // A worker's view of the same buffer (blockOf, as the worker builds it) sees its block only.
    const seen = blockOf(sab, 2);
    expect(seen[C.txPackets]).toBe(7);
    seen[C.heapBytes] = 99;
    expect(blocks[2]![C.heapBytes]).toBe(99);
    expect(blocks[1]![C.heapBytes]).toBe(0);
  });
});

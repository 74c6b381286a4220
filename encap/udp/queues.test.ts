import { describe, expect, it } from 'vitest';
import { cpusOfQueue, MAX_AUTO_QUEUES, queueCount } from './queues.js';

describe('queueCount', () => {
  it('auto is one queue per CPU, capped', () => {
    expect(queueCount('auto', 1)).toBe(1);
    expect(queueCount('auto', 2)).toBe(2);
    expect(queueCount('auto', 64)).toBe(MAX_AUTO_QUEUES);
    expect(queueCount('auto', 0)).toBe(1);
  });
  it('is one queue when not asked', () => {
    expect(queueCount(undefined, 8)).toBe(1);
  });
  it('takes an explicit count, even above the CPU count', () => {
    expect(queueCount('1', 8)).toBe(1);
    expect(queueCount('8', 2)).toBe(8);
  });
  it('refuses anything else', () => {
    expect(() => queueCount('0', 2)).toThrow(/"0" is not auto or 1\.\.8/);
    expect(() => queueCount('9', 2)).toThrow(RangeError);
    expect(() => queueCount('two', 2)).toThrow(RangeError);
  });
});

describe('cpusOfQueue', () => {
  it('splits the CPUs by CPU % queues, as the steering programs do', () => {
    expect(cpusOfQueue(0, 2, 2)).toEqual([0]);
    expect(cpusOfQueue(1, 2, 2)).toEqual([1]);
    expect(cpusOfQueue(1, 4, 10)).toEqual([1, 5, 9]);
    expect(cpusOfQueue(0, 1, 3)).toEqual([0, 1, 2]);
  });
  it('is empty for a queue beyond the CPUs', () => {
    expect(cpusOfQueue(3, 4, 2)).toEqual([]);
  });
  it('covers every CPU exactly once', () => {
    for (const queues of [1, 2, 3, 4])
      for (const cpus of [1, 2, 5, 16]) {
        const all = Array.from({ length: queues }, (_, q) => cpusOfQueue(q, queues, cpus)).flat();
        expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: cpus }, (_, c) => c));
      }
  });
});

/**
 * A small seeded PRNG for property and fuzz tests, so a failure can be replayed.
 *
 * The seed comes from $OVERLAYD_SEED when set (decimal or 0x-hex), else from the OS's randomness,
 * so every run explores new cases. `rng.why` names the seed and how to replay it; pass it as the
 * message of the assertions inside a property loop (`expect(x, rng.why).toBe(y)`), and a failure
 * prints it.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's "small fast chaotic" generator, 128-bit state):
 * good enough statistics for test inputs, and simple enough to carry no surprise.
 */
import { randomInt } from 'node:crypto';

export interface Rng {
  /** The 32-bit seed this generator started from. */
  readonly seed: number;
  /** "seed 0x… (replay: OVERLAYD_SEED=0x…)", for assertion messages. */
  readonly why: string;
  /** A uint32. */
  u32(): number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** n random bytes. */
  bytes(n: number): Uint8Array;
}

/** The seed for this run: $OVERLAYD_SEED, or a fresh random one. Throws on an unreadable value. */
export function testSeed(env: NodeJS.ProcessEnv = process.env): number {
  const text = env['OVERLAYD_SEED'];
  if (text === undefined || text === '') return randomInt(0, 2 ** 32);
  const v = Number(text);
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** 32)
    throw new RangeError(`OVERLAYD_SEED=${text}: expected an integer in [0, 2^32), e.g. 12345 or 0x3039`);
  return v;
}

export function seededRandom(seed: number = testSeed()): Rng {
  // State from the seed via splitmix32-style mixing, so nearby seeds give unrelated streams.
  let x = seed >>> 0;
  const mix = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = mix();
  let b = mix();
  let c = mix();
  let d = mix();
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32(); // let the state diverge from the seed's mix
  const hex = `0x${(seed >>> 0).toString(16)}`;
  const next = (): number => u32() / 2 ** 32;
  return {
    seed: seed >>> 0,
    why: `seed ${hex} (replay: OVERLAYD_SEED=${hex})`,
    u32,
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = u32() & 0xff;
      return out;
    },
  };
}

/** The shared firewall keep-alive over a writer that records what it was asked and drifts on cue. */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { RuleKeeper, type RuleDrift, type RuleWriter } from './rule-keeper.js';

/** A pino logger whose lines land in `lines` (level and msg are what the keeper promises). */
function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

class FakeWriter implements RuleWriter<string> {
  readonly name = 'fakefw';
  installs: (readonly string[])[] = [];
  drifted: RuleDrift | undefined;
  failDrift: Error | undefined;
  async install(sets: readonly string[]): Promise<void> {
    this.installs.push(sets);
  }
  async drift(): Promise<RuleDrift | undefined> {
    if (this.failDrift) throw this.failDrift;
    return this.drifted;
  }
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('RuleKeeper', () => {
  it('installs at apply, and on a check re-installs only after a drift, warning and counting it', async () => {
    const { log, lines } = capture();
    const w = new FakeWriter();
    let resyncs = 0;
    const k = new RuleKeeper(log, 3600, () => resyncs++, w);
    await k.apply(['nat']);
    expect(w.installs).toEqual([['nat']]);
    await k.check();
    expect(w.installs).toHaveLength(1);
    expect(resyncs).toBe(0);
    w.drifted = { fields: { table: 'nat' }, message: 'fakefw drifted' };
    await k.check();
    k.stop();
    expect(w.installs).toEqual([['nat'], ['nat']]);
    expect(resyncs).toBe(1);
    await flush();
    expect(lines.map((l) => [l['level'], l['msg'], l['table']])).toEqual([[40, 'fakefw drifted', 'nat']]);
  });

  it('logs a failed check as an error naming the mode, and keeps checking', async () => {
    const { log, lines } = capture();
    const w = new FakeWriter();
    const k = new RuleKeeper(log, 3600, () => undefined, w);
    await k.apply(['filter']);
    w.failDrift = new Error('iptables-save -t filter failed: locked');
    await k.check();
    w.failDrift = undefined;
    w.drifted = { fields: {}, message: 'fakefw drifted' };
    await k.check();
    k.stop();
    await flush();
    expect(lines.map((l) => [l['level'], l['msg']])).toEqual([
      [50, 'fakefw resync failed'],
      [40, 'fakefw drifted'],
    ]);
    expect(JSON.stringify(lines[0]!['err'])).toContain('locked');
    expect(w.installs).toHaveLength(2);
  });

  it('does not start a second check while one runs', async () => {
    const { log } = capture();
    const w = new FakeWriter();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let drifts = 0;
    w.drift = async () => {
      drifts++;
      await gate;
      return undefined;
    };
    const k = new RuleKeeper(log, 3600, () => undefined, w);
    await k.apply([]);
    const first = k.check();
    await k.check();
    release();
    await first;
    k.stop();
    expect(drifts).toBe(1);
  });
});

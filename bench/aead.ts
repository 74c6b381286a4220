#!/usr/bin/env node
/**
 * bench/aead: WireGuard's transport AEAD (ChaCha20-Poly1305, sys/wg-aead.ts) two ways on the same
 * batches: `native` (sealBatch/openBatch, one addon call per batch against node's OpenSSL) and
 * `node:crypto` (jsSealBatch/jsOpenBatch, one Cipher object per message, what the datapath would do
 * without the addon). Default: batches of 64 messages of 1420 bytes (a full-MTU inner packet).
 *
 * Each iteration seals a batch with fresh counters and opens it again, timing the two calls apart;
 * the two implementations alternate round by round so that a neighbour's load hits both alike.
 * Figures: messages/s and Gbit/s of plaintext over wall time (median of rounds), and messages per
 * CPU-second of this process (less moved by the machine's load). Ratios are same-run only.
 *
 *   npm run bench:aead -- [--batch 64] [--size 1420] [--rounds 5] [--seconds 1] [--json bench/results/aead.json]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  AEAD_TAG_BYTES,
  jsOpenBatch,
  jsSealBatch,
  openBatch,
  sealBatch,
  type OpenBatch,
  type SealBatch,
} from '../sys/wg-aead.js';
import { eachOption, median, parseOrExit } from './measure.js';

interface Options {
  batch: number;
  size: number;
  rounds: number;
  seconds: number;
  json: string;
}

function parse(argv: string[]): Options {
  const o: Options = { batch: 64, size: 1420, rounds: 5, seconds: 1, json: 'bench/results/aead.json' };
  const whole = (k: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${k}: ${v} is not a whole number in ${min}..${max}`);
    return n;
  };
  eachOption(argv, ['--batch', '--size', '--rounds', '--seconds', '--json'], (k, v) => {
    if (k === '--batch') o.batch = whole(k, v, 1, 4096);
    else if (k === '--size') o.size = whole(k, v, 0, 65535);
    else if (k === '--rounds') o.rounds = whole(k, v, 1, 100);
    else if (k === '--seconds') o.seconds = whole(k, v, 1, 60);
    else o.json = v;
  });
  return o;
}

interface Impl {
  name: string;
  seal: SealBatch;
  open: OpenBatch;
}

/** One batch laid out like the engine's slab: messages with room for their tags, four keys. */
function makeBatch(o: Options) {
  const stride = o.size + AEAD_TAG_BYTES;
  const offs = Int32Array.from({ length: o.batch }, (_, i) => i * stride);
  return {
    keys: randomBytes(32 * 4),
    keyIdx: Int32Array.from({ length: o.batch }, (_, i) => i % 4),
    counters: new BigUint64Array(o.batch),
    slab: new Uint8Array(randomBytes(o.batch * stride)),
    offs,
    lens: new Int32Array(o.batch).fill(o.size),
    sealedLens: new Int32Array(o.batch).fill(stride),
    ok: new Uint8Array(o.batch),
  };
}

interface RoundResult {
  seal: { msgs: number; wallS: number };
  open: { msgs: number; wallS: number };
  cpuS: number;
}

/** Seal+open iterations for `seconds`; throws if any message fails to open (a broken build). */
function round(
  impl: Impl,
  o: Options,
  b: ReturnType<typeof makeBatch>,
  next: { counter: bigint },
): RoundResult {
  let sealNs = 0n;
  let openNs = 0n;
  let iterations = 0;
  const cpu0 = process.cpuUsage();
  const end = process.hrtime.bigint() + BigInt(o.seconds) * 1_000_000_000n;
  for (;;) {
    for (let i = 0; i < o.batch; i++) b.counters[i] = next.counter++;
    const t0 = process.hrtime.bigint();
    impl.seal(b.keys, b.keyIdx, b.counters, b.slab, b.offs, b.lens, o.batch);
    const t1 = process.hrtime.bigint();
    const verified = impl.open(b.keys, b.keyIdx, b.counters, b.slab, b.offs, b.sealedLens, b.ok, o.batch);
    const t2 = process.hrtime.bigint();
    if (verified !== o.batch) throw new Error(`${impl.name}: ${o.batch - verified} messages failed to open`);
    sealNs += t1 - t0;
    openNs += t2 - t1;
    iterations++;
    if (t2 >= end) break;
  }
  const cpu = process.cpuUsage(cpu0);
  const msgs = iterations * o.batch;
  return {
    seal: { msgs, wallS: Number(sealNs) / 1e9 },
    open: { msgs, wallS: Number(openNs) / 1e9 },
    cpuS: (cpu.user + cpu.system) / 1e6,
  };
}

interface Row {
  name: string;
  op: 'seal' | 'open';
  msgsPerSec: number;
  gbitPerSec: number;
  /** seal+open pairs per CPU-second of this process. */
  pairsPerCpuSec: number;
}

async function main(): Promise<void> {
  const o = parseOrExit('bench:aead', parse);
  const impls: Impl[] = [
    { name: 'native batch', seal: sealBatch, open: openBatch },
    { name: 'node:crypto per message', seal: jsSealBatch, open: jsOpenBatch },
  ];
  const cpuModel = cpus()[0]?.model.trim() ?? 'unknown';
  const loadStart = loadavg();
  const b = makeBatch(o);
  const next = { counter: 0n };
  // Warm-up: both paths once, so neither pays first-call costs (OpenSSL fetch, JIT) in a round.
  for (const impl of impls) round(impl, { ...o, seconds: 1 }, b, next);
  const results = new Map<string, RoundResult[]>(impls.map((i) => [i.name, []]));
  for (let r = 0; r < o.rounds; r++)
    for (const impl of impls) results.get(impl.name)!.push(round(impl, o, b, next));
  const loadEnd = loadavg();

  const rows: Row[] = [];
  for (const impl of impls) {
    const rs = results.get(impl.name)!;
    const pairsPerCpuSec = median(rs.map((r) => r.seal.msgs / r.cpuS));
    for (const op of ['seal', 'open'] as const) {
      const msgsPerSec = median(rs.map((r) => r[op].msgs / r[op].wallS));
      rows.push({
        name: impl.name,
        op,
        msgsPerSec,
        gbitPerSec: (msgsPerSec * o.size * 8) / 1e9,
        pairsPerCpuSec,
      });
    }
  }
  const ratio = (op: 'seal' | 'open'): number =>
    rows.find((r) => r.op === op && r.name === impls[0]!.name)!.msgsPerSec /
    rows.find((r) => r.op === op && r.name === impls[1]!.name)!.msgsPerSec;

  const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  console.log(
    `bench:aead — ChaCha20-Poly1305, ${o.size}-byte messages, batches of ${o.batch}, ${o.rounds} rounds × ${o.seconds} s (median)`,
  );
  console.log(
    `CPU: ${cpuModel} × ${cpus().length}, node ${process.version}, OpenSSL ${process.versions.openssl}; load average ${load(loadStart)} at start, ${load(loadEnd)} at end`,
  );
  for (const r of rows)
    console.log(
      `  ${r.name.padEnd(24)} ${r.op}  ${(r.msgsPerSec / 1e3).toFixed(1).padStart(8)} k msgs/s  ${r.gbitPerSec.toFixed(2).padStart(6)} Gbit/s`,
    );
  for (const impl of impls)
    console.log(
      `  ${impl.name.padEnd(24)} seal+open pairs per CPU-second: ${(rows.find((r) => r.name === impl.name)!.pairsPerCpuSec / 1e3).toFixed(1)} k`,
    );
  console.log(
    `  native / node:crypto: seal ×${ratio('seal').toFixed(2)}, open ×${ratio('open').toFixed(2)} (same run)`,
  );

  await mkdir(dirname(o.json), { recursive: true });
  await writeFile(
    o.json,
    JSON.stringify(
      {
        bench: 'aead',
        date: new Date().toISOString(),
        cpuModel,
        cpus: cpus().length,
        node: process.version,
        openssl: process.versions.openssl,
        loadavgStart: loadStart,
        loadavgEnd: loadEnd,
        messageBytes: o.size,
        batch: o.batch,
        rounds: o.rounds,
        secondsPerRound: o.seconds,
        rows,
        ratio: { seal: ratio('seal'), open: ratio('open') },
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`wrote ${o.json}`);
}

void main().catch((err: unknown) => {
  process.stderr.write(`bench:aead: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

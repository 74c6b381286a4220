/**
 * The forwarder bench setups: two lab nodes whose flannel0 is served by a minimal per-packet
 * forwarder instead of overlayd — "c-forwarder", bench/c-forwarder/forwarder.c (flannel's udp I/O
 * model in C, built with gcc on first use), or "js-forwarder", bench/js-forwarder.ts (the same
 * loop in JS through overlayd's native calls). They are the floors a userspace datapath starts
 * from, measured in the same run as overlayd's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../test/lab/lab.js';
import { addPod } from '../test/lab/pods.js';
import { must } from '../test/lab/shell.js';
import { DAEMON_NODE_FLAGS } from '../daemon/node-flags.js';
import type { Setup } from './scenarios.js';

export type ForwarderKind = 'c' | 'js';
/** overlayd's udp workers run with this V8 tier-up budget (encap/udp/udp-datapath.ts). */
const JS_FLAGS = [...DAEMON_NODE_FLAGS, '--interrupt-budget=512'];

const MTU = 1472; // as overlayd's udp backend: underlay 1500 − IPv4 − UDP

let built: Promise<string> | undefined;

function source(): string {
  // From bench/ (sources) or dist/bench/ (built): the .c file stays in the source tree.
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [here, join(here, '..', '..', 'bench')]) {
    const p = join(dir, 'c-forwarder', 'forwarder.c');
    if (existsSync(p)) return p;
  }
  throw new Error(`c-forwarder: forwarder.c not found near ${here}`);
}

/**
 * Builds forwarder.c once per source version into a cache directory named by its hash (so runs
 * reuse it and leave one binary, not one per run); a rename makes parallel builds safe.
 */
function buildC(): Promise<string> {
  built ??= (async () => {
    const src = source();
    const hash = createHash('sha256')
      .update(await readFile(src))
      .digest('hex')
      .slice(0, 12);
    const dir = join(tmpdir(), `overlayd-c-forwarder-${hash}`);
    const bin = join(dir, 'forwarder');
    if (existsSync(bin)) return bin;
    await mkdir(dir, { recursive: true });
    const tmp = `${bin}.${process.pid}`;
    await must('gcc', ['-O2', '-o', tmp, src]);
    await rename(tmp, bin);
    return bin;
  })();
  return built;
}

async function command(kind: ForwarderKind): Promise<string[]> {
  if (kind === 'c') return [await buildC()];
  const js = join(dirname(fileURLToPath(import.meta.url)), 'js-forwarder.js');
  if (!existsSync(js)) throw new Error(`js-forwarder: ${js} not found; run "npm run build"`);
  return [process.execPath, ...JS_FLAGS, js];
}

function start(cmd: string[], ns: string, ip: string, peerIp: string): Promise<ChildProcess> {
  const p = spawn('ip', ['netns', 'exec', ns, ...cmd, 'flannel0', ip, '8285', peerIp], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout!.once('data', () => resolve(p));
    p.once('exit', (code) => reject(new Error(`forwarder in ${ns} exited ${code}: ${err.trim()}`)));
  });
}

export async function forwarderPair(kind: ForwarderKind): Promise<Setup> {
  const cmd = await command(kind);
  const lab = await Lab.create({ nodes: 2 });
  const procs: ChildProcess[] = [];
  const teardown = async (): Promise<void> => {
    for (const p of procs) p.kill('SIGKILL');
    await lab.destroy();
  };
  try {
    for (const [i, n] of lab.nodes.entries()) {
      await n.writeSubnetEnv(`10.244.${i + 1}.1/24`, MTU);
      procs.push(await start(cmd, n.ns, n.ip, lab.nodes[1 - i]!.ip));
      const x = (args: string[]) => must('ip', ['-n', n.ns, ...args]);
      await x(['link', 'set', 'flannel0', 'mtu', String(MTU), 'up']);
      await x(['addr', 'add', `10.244.${i + 1}.0/32`, 'dev', 'flannel0']);
      await x(['route', 'replace', '10.244.0.0/16', 'dev', 'flannel0']);
    }
    const [a, b] = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
    return { a: a!, b: b!, pids: procs.map((p) => p.pid!), teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

/**
 * The udp datapath under failure, on two lab nodes with pods: each fault is detected, logged once
 * at error level, counted in overlayd_datapath_failures_total{reason}, and repaired (pods ping
 * again, /readyz back to 200), or — when repair cannot work — /healthz answers 503 with the
 * reason and the daemon exits non-zero.
 *
 * Faults: the TUN deleted and set down (real, with `ip link` in the node's namespace); a worker
 * that throws, exits, gets stuck, or whose UDP socket breaks (the test-only OVERLAYD_TEST_FAULT
 * hook, injected at SIGUSR2 once traffic flows; encap/udp/udp-test-faults.ts); a TUN that cannot
 * be re-created (real: /dev/net/tun replaced by /dev/null in the daemon's mount namespace).
 * Deadlines only bound the waits; how fast a repair was is printed, never asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import type { LabNode } from './lab/lab-node.js';
import { addPod, ping, type Pod } from './lab/pods.js';
import { must } from './lab/shell.js';

let lab: Lab;
let pods: Pod[] = [];
const WAIT_MS = 20_000;

beforeAll(async () => {
  lab = await Lab.create({ nodes: 2, networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'udp' } } });
  await Promise.all(lab.nodes.map((n) => n.startDaemon()));
  pods = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
});
afterAll(async () => {
  await lab?.destroy();
});

/** Polls `probe` until it returns a value (not undefined); fails with `what` at the deadline. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = WAIT_MS): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One sample of a labelled counter, matched exactly (not by prefix). */
async function failures(n: LabNode, reason: string): Promise<number> {
  const line = `overlayd_datapath_failures_total{reason="${reason}"} `;
  const hit = (await n.health('/metrics')).body.split('\n').find((l) => l.startsWith(line));
  return hit ? Number(hit.slice(line.length)) : 0;
}

async function errorLogs(n: LabNode, msgPrefix: string): Promise<string[]> {
  const lines = await n.waitForLogs(
    (l) => (l['level'] as number) >= 50 && String(l['msg']).startsWith(msgPrefix),
  );
  return lines.map((l) => String(l['msg']));
}

/** Pods on both nodes reach each other again (one ping each way succeeds). */
async function podsConnected(): Promise<void> {
  await until('pod traffic across the nodes', async () =>
    (await ping(pods[0]!, pods[1]!, 1)).loss === 0 && (await ping(pods[1]!, pods[0]!, 1)).loss === 0
      ? true
      : undefined,
  );
}

async function readyAgain(n: LabNode): Promise<void> {
  await until('/readyz 200', async () => ((await n.health('/readyz')).status === 200 ? true : undefined));
}

/** node 1 restarted with `env`, a fresh log, traffic flowing before the fault. */
async function restartNode1(env: Record<string, string> = {}): Promise<LabNode> {
  const n = lab.nodes[0]!;
  await n.stopDaemon();
  await must('truncate', ['-s', '0', n.logFile]);
  await n.startDaemon({ env });
  await podsConnected();
  return n;
}

/** The TUN as flannel sets it: the /32 address of our subnet, MTU underlay − 28, the Network route. */
async function expectTunConfigured(n: LabNode): Promise<void> {
  const env = await n.subnetEnv();
  const link = JSON.parse(await n.mustExec('ip', ['-j', 'addr', 'show', 'flannel0']))[0];
  expect(link.mtu).toBe(1472);
  expect(link.flags).toContain('UP');
  expect(
    link.addr_info
      .filter((a: { family: string }) => a.family === 'inet')
      .map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`),
  ).toEqual([env['FLANNEL_SUBNET']!.replace('.1/24', '.0/32')]);
  const routes = JSON.parse(await n.mustExec('ip', ['-j', 'route', 'show', '10.244.0.0/16']));
  expect(routes).toEqual([expect.objectContaining({ dst: '10.244.0.0/16', dev: 'flannel0' })]);
}

/** Runs the fault, then checks repair: one error log, one count, /readyz 200, pods connected. */
async function faultIsRepaired(
  n: LabNode,
  reason: string,
  detail: RegExp,
  fault: () => Promise<unknown>,
): Promise<void> {
  const before = await failures(n, reason);
  const t0 = Date.now();
  await fault();
  await until(`failure counted as ${reason}`, async () =>
    (await failures(n, reason)) === before + 1 ? true : undefined,
  );
  await readyAgain(n);
  await podsConnected();
  const took = Date.now() - t0;
  expect(n.running).toBe(true);
  const logged = await errorLogs(n, 'udp datapath down:');
  expect(logged).toHaveLength(1);
  expect(logged[0]).toMatch(detail);
  await n.waitForLogs((l) => l['msg'] === 'udp datapath repaired');
  const logs = await n.logs();
  const at = (msg: (m: string) => boolean): number =>
    Date.parse(String(logs.find((l) => msg(String(l['msg'])))?.['time']));
  const down = at((m) => m.startsWith('udp datapath down:'));
  const repaired = at((m) => m === 'udp datapath repaired');
  expect(repaired).toBeGreaterThanOrEqual(down);
  console.log(
    `${reason}: detected → repaired ${repaired - down} ms (daemon log); fault → /readyz 200 and pods connected ${took} ms (test)`,
  );
  expect(await n.health('/healthz')).toEqual({ status: 200, body: 'overlayd is running' });
  await expectTunConfigured(n);
}

describe('udp datapath failures on two nodes', () => {
  it('re-creates a deleted TUN with its address, MTU and route, and traffic resumes', async () => {
    const n = await restartNode1();
    await faultIsRepaired(n, 'tun_deleted', /TUN flannel0 deleted/, () =>
      n.mustExec('ip', ['link', 'del', 'flannel0']),
    );
  });

  it('re-creates every queue and worker (--udp-queues=auto --udp-workers=2) after the TUN is deleted', async () => {
    const n = lab.nodes[0]!;
    await n.stopDaemon();
    await must('truncate', ['-s', '0', n.logFile]);
    await n.startDaemon({ flags: ['--udp-queues=auto', '--udp-workers=2'] });
    await podsConnected();
    const queues = await n.metric('overlayd_udp_queues');
    await faultIsRepaired(n, 'tun_deleted', /TUN flannel0 deleted/, () =>
      n.mustExec('ip', ['link', 'del', 'flannel0']),
    );
    expect(await n.metric('overlayd_udp_queues')).toBe(queues);
    // Opened at start and by the repair: a repair attempt whose new workers miss their start
    // deadline on a loaded machine is retried and opens again, so at least twice, each time at info
    // level with the same workers.
    const opened = (await n.logs()).filter((l) => l['msg'] === 'udp datapath opened');
    expect(opened.length).toBeGreaterThanOrEqual(2);
    expect(opened.map((l) => [l['level'], l['workers']])).toEqual(
      opened.map(() => [30, opened[0]!['workers']]),
    );
    await restartNode1();
  });

  it('sets a TUN that was set down up again and restores its route', async () => {
    const n = lab.nodes[0]!;
    await must('truncate', ['-s', '0', n.logFile]);
    await faultIsRepaired(n, 'tun_down', /TUN flannel0 set down/, () =>
      n.mustExec('ip', ['link', 'set', 'flannel0', 'down']),
    );
  });

  const injected = [
    { fault: 'worker-throw', reason: 'worker_error', detail: /duplex-0 threw: .*test fault injected/ },
    { fault: 'worker-exit', reason: 'worker_exit', detail: /duplex-0 exited \(code 3\)/ },
    {
      fault: 'socket-error',
      reason: 'socket_error',
      detail: /UDP socket receives keep failing \(ENOTSOCK\)/,
    },
  ];
  for (const t of injected) {
    it(`restarts the datapath after ${t.fault} (test hook) and traffic resumes`, async () => {
      const n = await restartNode1({ OVERLAYD_TEST_FAULT: t.fault });
      await faultIsRepaired(n, t.reason, t.detail, async () => process.kill(n.pid!, 'SIGUSR2'));
    });
  }

  it('answers 503 with the reason while a stuck worker is terminated, then repairs', async () => {
    const n = await restartNode1({ OVERLAYD_TEST_FAULT: 'worker-stuck' });
    process.kill(n.pid!, 'SIGUSR2');
    // A stuck worker ignores the stop flag: the repair must wait out its grace (2 s) before
    // terminate(), so the 503 is there to be seen.
    const down = await until('/healthz 503', async () => {
      const h = await n.health('/healthz');
      return h.status === 503 ? h : undefined;
    });
    expect(down.body).toMatch(/^udp datapath down: datapath worker duplex-0 stuck \(no heartbeat for \d/);
    expect((await n.health('/readyz')).status).toBe(503);
    await readyAgain(n);
    await podsConnected();
    expect(await failures(n, 'worker_stuck')).toBe(1);
    expect(await errorLogs(n, 'udp datapath down:')).toHaveLength(1);
  });

  it('gives up and exits non-zero when the fault comes back after every repair', async () => {
    // worker-throw:always: every worker started by a repair throws again at once. Its throw and
    // its exit are two events; which one finds the datapath up again decides the last detail.
    const n = await restartNode1({ OVERLAYD_TEST_FAULT: 'worker-throw:always' });
    const t0 = Date.now();
    process.kill(n.pid!, 'SIGUSR2');
    const code = await n.waitExit();
    console.log(`worker_error after every repair: exit ${code} ${Date.now() - t0} ms after the fault`);
    expect(code).toBe(1);
    const logs = await n.logs();
    const fatal = logs.filter((l) => l['level'] === 60).map((l) => String(l['msg']));
    expect(fatal).toEqual([
      expect.stringMatching(
        /^udp datapath down: datapath worker duplex-0 (threw: .*|exited \(code 1\)); repair gave up after 5 attempts.*; exiting non-zero/,
      ),
    ]);
    // Each comeback is a new fault (logged and counted), the budget is not: 5 attempts in all.
    const attempts = logs.filter((l) => typeof l['attempt'] === 'number').map((l) => l['attempt'] as number);
    expect(Math.max(...attempts)).toBe(5);
    await n.stopDaemon();
    await n.startDaemon();
  });

  it('exits non-zero, with 503 and the reason before, when the TUN cannot be re-created', async () => {
    const n = await restartNode1();
    // The running datapath keeps its open queues; only a re-open meets /dev/null (ENOTTY).
    await must('nsenter', ['-t', String(n.pid), '-m', 'mount', '--bind', '/dev/null', '/dev/net/tun']);
    const t0 = Date.now();
    await n.mustExec('ip', ['link', 'del', 'flannel0']);
    const seen = await until('/healthz 503', async () => {
      const h = await n.health('/healthz');
      return h.status === 503 ? h : undefined;
    });
    expect(seen.body).toMatch(/^udp datapath down: TUN flannel0 deleted.*; repair/);
    const code = await n.waitExit();
    console.log(`tun_deleted, not repairable: exit ${code} ${Date.now() - t0} ms after the fault`);
    expect(code).toBe(1);
    const fatal = (await n.logs()).filter((l) => l['level'] === 60).map((l) => String(l['msg']));
    expect(fatal).toEqual([
      expect.stringMatching(
        /^udp datapath down: TUN flannel0 deleted.*; repair gave up after 5 attempts; last attempt failed: cannot open TUN flannel0 \(overlayd needs CAP_NET_ADMIN and \/dev\/net\/tun\): TUNSETIFF: Inappropriate ioctl for device; exiting non-zero/,
      ),
    ]);
    await n.stopDaemon();
    // Leave node 1 as the other tests expect it.
    await n.startDaemon();
  });
});

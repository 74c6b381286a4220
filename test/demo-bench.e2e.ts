/** The demo's --check mode for every backend and a one-second smoke run of bench/throughput. */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateReport, type BenchReport } from '../bench/report.js';
import { DAEMON_MAIN } from './lab/lab-node.js';

const dist = join(DAEMON_MAIN, '..', '..');

function runNode(
  script: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(dist, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('demo --check', () => {
  for (const backend of ['vxlan', 'udp', 'host-gw']) {
    it(`brings up three nodes with ${backend} and every pod reaches every other`, async () => {
      const r = await runNode('test/demo/demo.js', ['--backend', backend, '--check'], 110_000);
      expect(r.stdout, r.stderr).toContain('CHECK PASSED');
      expect(r.stdout).toContain('[6/6] pod → pod ping matrix');
      expect(r.code).toBe(0);
    });
  }

  it('rejects a bad backend with a usage line', async () => {
    const r = await runNode('test/demo/demo.js', ['--backend', 'ipsec'], 10_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('demo: use --backend udp|vxlan|host-gw and --nodes 2..8\n');
  });
});

describe('bench/throughput smoke run', () => {
  it('writes JSON with every backend and baseline, non-zero throughput and RTT, and an SVG', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'overlayd-bench-'));
    try {
      const json = join(dir, 'bench.json');
      const svg = join(dir, 'bench.svg');
      const r = await runNode(
        'bench/throughput.js',
        ['--duration', '1', '--repeat', '1', '--json', json, '--svg', svg],
        // 19 setups built one after another on a shared 2-vCPU machine (17 took 263 s at load average 22).
        420_000,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/\| backend \| TCP 1 stream Gbit\/s/);
      expect(r.stdout).toMatch(/udp = [\d.]+ × kernel-vxlan/);
      const report = JSON.parse(await readFile(json, 'utf8')) as BenchReport;
      expect(validateReport(report)).toEqual([]);
      expect(report.rows.map((x) => x.backend).sort()).toEqual([
        'c-forwarder',
        'host-gw',
        'host-gw6',
        'js-forwarder',
        'kernel-vxlan',
        'kernel-vxlan6',
        'udp',
        'udp-batch',
        'udp-copy',
        'udp-percpu',
        'udp-plain',
        'udp-split',
        'veth',
        'vxlan',
        'vxlan-mixed',
        'vxlan-userspace',
        'vxlan6',
        'wireguard',
        'wireguard-go',
      ]);
      expect(await readFile(svg, 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 440_000);

  it('rejects bad options with the accepted form', async () => {
    const r = await runNode('bench/throughput.js', ['--backends', 'udp,ipsec'], 10_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--backends: unknown "ipsec"');
  });
});

describe('bench report validation', () => {
  it('flags a malformed report', () => {
    expect(validateReport({ schema: 'x', rows: [{ gbps1: 0 }] })).toEqual(
      expect.arrayContaining(['schema', 'rows[0].gbps1 must be a positive number']),
    );
  });
});

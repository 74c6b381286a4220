import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Lease } from '../core/lease.js';
import { fetchStatus } from '../ops/status-client.js';
import { PeerChangeLog } from './status-provider.js';
import { StatusServer } from './status-server.js';

const lease = (subnet: number, mac: string): Lease => ({
  subnet: { ip: subnet, prefixLen: 24 },
  attrs: { publicIp: 0xc6120002, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } },
});

describe('status socket', () => {
  const dirs: string[] = [];
  const servers: StatusServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const socketPath = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'overlayd-status-'));
    dirs.push(d);
    return join(d, 'run', 'overlayd.sock');
  };

  it('serves the snapshot as JSON on a 0600 socket, creating its directory', async () => {
    const path = socketPath();
    servers.push(await StatusServer.start(path, { snapshot: async () => ({ ready: true, peers: [] }) }));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const r = await fetchStatus(path);
    expect(r).toEqual({ ok: true, status: { ready: true, peers: [] } });
  });

  it('replaces a socket file left by a killed daemon, refuses one a live daemon answers on', async () => {
    const path = socketPath();
    const first = await StatusServer.start(path, { snapshot: async () => ({}) });
    servers.push(first);
    await expect(StatusServer.start(path, { snapshot: async () => ({}) })).rejects.toThrow(
      /^--status-socket: another process already answers on .*; stop it or give this daemon its own --status-socket$/,
    );
    await first.close();
    servers.pop();
    writeFileSync(path, ''); // what a kill -9 leaves
    servers.push(await StatusServer.start(path, { snapshot: async () => ({ again: 1 }) }));
    expect(await fetchStatus(path)).toEqual({ ok: true, status: { again: 1 } });
  });

  it('tells the operator why nothing answers', async () => {
    const r = await fetchStatus(socketPath());
    expect(r).toEqual({
      ok: false,
      error: 'no such socket (overlayd is not running, or runs with another --status-socket)',
    });
  });
});

describe('peer change log', () => {
  it('stamps a peer when it appears or its lease value changes, not when it is re-listed unchanged', () => {
    let now = new Date('2026-12-01T10:00:00Z');
    const log = new PeerChangeLog(() => now);
    const a = lease(0x0af40200, '0e:00:00:00:00:02');
    const b = lease(0x0af40300, '0e:00:00:00:00:03');
    log.recordAll([a, b]);
    now = new Date('2026-12-01T10:05:00Z');
    log.recordAll([a, b]);
    expect(log.lastChange(a)?.toISOString()).toBe('2026-12-01T10:00:00.000Z');
    const a2 = lease(0x0af40200, '0e:00:00:00:00:22');
    log.record([{ type: 'added', lease: a2 }]);
    expect(log.lastChange(a2)?.toISOString()).toBe('2026-12-01T10:05:00.000Z');
    log.record([{ type: 'removed', lease: b }]);
    expect(log.lastChange(b)).toBeUndefined();
  });
});

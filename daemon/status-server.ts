/**
 * The status endpoint: GET /status answers a JSON snapshot of this node (lease, backend, datapath
 * mode, peers, counters, etcd reachability, readiness) for `overlayd status` and `overlayd
 * diagnose`. It listens on a unix socket, mode 0600, not on a port: peers' addresses and the
 * datapath's counters are for root on this node only, a socket needs no free port and no bind
 * address, and pods (other network namespaces) cannot reach it. A socket left by a killed daemon is
 * replaced; one another daemon still answers on is left alone and reported.
 */
import { mkdirSync, chmodSync, unlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { createServer, type Server } from 'node:http';
import { dirname } from 'node:path';
import { OverlaydError } from '../core/errors.js';

export interface StatusProvider {
  snapshot(): Promise<unknown>;
}

/** Whether something answers on the socket (a live daemon), or it is a leftover. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export class StatusServer {
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async start(path: string, provider: StatusProvider): Promise<StatusServer> {
    const server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end();
        return;
      }
      if (url !== '/status') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /status');
        return;
      }
      provider.snapshot().then(
        (s) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(s)),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
      );
    });
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    if (await answers(path))
      throw new OverlaydError(
        'BAD_FLAG',
        `--status-socket: another process already answers on ${path}; stop it or give this daemon its own --status-socket`,
      );
    try {
      unlinkSync(path);
    } catch {
      // nothing left behind
    }
    // The socket is created with the umask's mode: create it private, then pin the mode.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new OverlaydError(
        'BAD_FLAG',
        `--status-socket: cannot listen on ${path} (${(err as NodeJS.ErrnoException).code}); give a writable path or "" to disable it`,
        { cause: err },
      );
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
    return new StatusServer(server, path);
  }

  async close(): Promise<void> {
    const done = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeAllConnections();
    await done;
  }
}

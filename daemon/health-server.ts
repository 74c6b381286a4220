/**
 * /healthz (liveness: the process answers and its datapath is not down), /readyz (subnet.env
 * written and the backend running) and /metrics, on --healthz-ip:--healthz-port, as flanneld's
 * probes expect. Each probe answers 200 or 503 with a one-line reason in the body, so an operator
 * reading `curl` or the kubelet's probe event learns why.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export interface ProbeResult {
  readonly ok: boolean;
  /** The response body: why the probe passes or fails. */
  readonly reason: string;
}

export interface HealthState {
  liveness(): ProbeResult;
  readiness(): ProbeResult;
}

function answer(res: ServerResponse, r: ProbeResult): void {
  res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(r.reason);
}

export class HealthServer {
  private constructor(private readonly server: Server) {}

  static async start(
    ip: string,
    port: number,
    state: HealthState,
    registry: Registry,
  ): Promise<HealthServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/healthz') {
        answer(res, state.liveness());
      } else if (path === '/readyz') {
        answer(res, state.readiness());
      } else if (path === '/metrics') {
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
          (err: Error) => res.writeHead(500).end(err.message),
        );
      } else {
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end('not found: try /healthz, /readyz or /metrics');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, ip, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new HealthServer(server);
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** Graceful stop, bounded at 3 s like flanneld's. */
  async close(): Promise<void> {
    const done = new Promise<void>((r) => this.server.close(() => r()));
    const timer = setTimeout(() => this.server.closeAllConnections(), 3000).unref();
    await done;
    clearTimeout(timer);
  }
}

/** I/O: GET /status from the daemon's unix socket, with a deadline. */
import { request } from 'node:http';
import type { StatusSnapshot } from '../daemon/status-provider.js';

export type StatusReply = { ok: true; status: StatusSnapshot } | { ok: false; error: string };

export function fetchStatus(socketPath: string, timeoutMs = 3000): Promise<StatusReply> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/status', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        if (res.statusCode !== 200)
          return resolve({ ok: false, error: `HTTP ${res.statusCode}: ${body.trim()}` });
        try {
          resolve({ ok: true, status: JSON.parse(body) as StatusSnapshot });
        } catch {
          resolve({ ok: false, error: 'answer is not JSON' });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({
        ok: false,
        error:
          err.code === 'ENOENT'
            ? 'no such socket (overlayd is not running, or runs with another --status-socket)'
            : err.code === 'ECONNREFUSED'
              ? 'nothing listens (overlayd is not running)'
              : err.code === 'EACCES'
                ? 'permission denied (the socket is root-only: run as root)'
                : err.message,
      }),
    );
    req.end();
  });
}

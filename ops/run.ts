/** Runs a helper binary (iptables-save, ethtool, ping) with a deadline; never throws. */
import { execFile } from 'node:child_process';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runTool(cmd: string, args: readonly string[], timeoutMs = 10_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
      const code = !e ? 0 : typeof e.code === 'number' ? e.code : 127;
      resolve({
        code,
        stdout: String(stdout),
        stderr: String(stderr) || (e && typeof e.code !== 'number' ? e.message : ''),
      });
    });
  });
}

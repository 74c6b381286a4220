/**
 * Runs a firewall tool (iptables-restore, iptables-save, nft) with optional stdin and never
 * rejects: the exit code and both outputs come back for the caller to judge. A tool that could
 * not be started at all (missing binary, timeout) reports code 127 and Node's reason as stderr.
 */
import { execFile } from 'node:child_process';

export interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** iptables' --wait can hold the xtables lock for a while; past this the run counts as failed. */
const TOOL_TIMEOUT_MS = 20_000;

export function runTool(cmd: string, args: readonly string[], input?: string): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: TOOL_TIMEOUT_MS }, (err, stdout, stderr) => {
      // A numeric code is the tool's exit status; anything else (ENOENT, a kill) means it never ran.
      const exited = err === null || typeof (err as { code?: unknown }).code === 'number';
      const code = err === null ? 0 : exited ? (err as unknown as { code: number }).code : 127;
      resolve({
        code,
        stdout: String(stdout),
        stderr: String(stderr) || (err && !exited ? err.message : ''),
      });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

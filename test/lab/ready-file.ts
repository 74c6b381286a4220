/**
 * "The helper process is listening now", as a file it creates right after bind()/listen(), so a
 * test waits for that instead of sleeping a guessed few hundred milliseconds (too short when the
 * machine is busy: the datagram or connection then arrives before the socket exists).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ReadyFile {
  /** Where the helper writes (pass it on its command line; namespaces share the filesystem). */
  readonly path: string;
  /** Python that creates the file: put it right after the socket is bound. */
  readonly python: string;
  /**
   * Resolves once the file exists; rejects if `proc` (the helper) finishes first, or after
   * `timeoutMs` with the helper still not listening.
   */
  wait(proc: Promise<unknown>, timeoutMs?: number): Promise<void>;
  remove(): Promise<void>;
}

export async function readyFile(): Promise<ReadyFile> {
  const dir = await mkdtemp(join(tmpdir(), 'overlayd-ready-'));
  const path = join(dir, 'ready');
  return {
    path,
    python: `open(${JSON.stringify(path)}, 'w').close()`,
    async wait(proc, timeoutMs = 30_000) {
      let ended = false;
      const end = proc.then(
        () => (ended = true),
        () => (ended = true),
      );
      void end;
      const deadline = Date.now() + timeoutMs;
      while (!existsSync(path)) {
        if (ended) throw new Error(`helper process exited before it was listening (${path})`);
        if (Date.now() > deadline) throw new Error(`helper process not listening after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * "The helper process is listening now", as a file it creates right after bind()/listen(), so a
 * test waits for that instead of sleeping a guessed few hundred milliseconds (too short when the
 * machine is busy: the datagram or connection then arrives before the socket exists). The file can
 * also carry the port the helper bound: helpers bind port 0 and the kernel picks one that is free,
 * where a port the test guessed could already be taken.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ReadyFile {
  /** Where the helper writes (pass it on its command line; namespaces share the filesystem). */
  readonly path: string;
  /** Python that creates the file: put it right after the socket is bound. */
  readonly python: string;
  /**
   * Python that writes the port the socket named `sock` is bound to into the file: put it right
   * after bind() (and listen()). Written to a temporary name and renamed, so a file that exists
   * always holds the whole number.
   */
  pythonPort(sock: string): string;
  /**
   * Resolves with the file's content ('' for `python`) once it exists; rejects if `proc` (the
   * helper) finishes first, or after `timeoutMs` with the helper still not listening.
   */
  wait(proc: Promise<unknown>, timeoutMs?: number): Promise<string>;
  /** `wait`, for a helper that used `pythonPort`: resolves with the port it bound. */
  port(proc: Promise<unknown>, timeoutMs?: number): Promise<number>;
  remove(): Promise<void>;
}

export async function readyFile(): Promise<ReadyFile> {
  const dir = await mkdtemp(join(tmpdir(), 'overlayd-ready-'));
  const path = join(dir, 'ready');
  const wait = async (proc: Promise<unknown>, timeoutMs = 30_000): Promise<string> => {
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
    return readFile(path, 'utf8');
  };
  return {
    path,
    python: `open(${JSON.stringify(path)}, 'w').close()`,
    pythonPort: (sock) =>
      `with open(${JSON.stringify(`${path}.tmp`)}, 'w') as _ready: _ready.write(str(${sock}.getsockname()[1]))\n` +
      `__import__('os').replace(${JSON.stringify(`${path}.tmp`)}, ${JSON.stringify(path)})`,
    wait,
    async port(proc, timeoutMs) {
      const text = await wait(proc, timeoutMs);
      const port = Number(text);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new Error(`helper reported port ${JSON.stringify(text)}, not 1..65535 (${path})`);
      return port;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Real UDP sockets on 127.0.0.1 for the addon's I/O tests (sys/batch-io.test.ts, sys/sg-io.test.ts),
 * and the fds a test opened, closed after each test. Takes the addon's two calls it needs rather
 * than importing sys/native.ts (tools/layers.json keeps the raw addon to sys/ and the hostile tests).
 */

export const LOOPBACK = 0x7f000001;

/** The addon calls a fixture needs: open a bound UDP socket, close an fd. */
export interface FdCalls {
  udpOpen(ip: number, port: number, rcvbuf: number, sndbuf: number): number;
  close(fd: number): void;
}

export class LoopbackSockets {
  private readonly open: number[] = [];

  constructor(private readonly sys: FdCalls) {}

  /** A socket on 127.0.0.1 at a free port (random, retried: the machine may run other tests). */
  bind(): { fd: number; port: number } {
    for (let attempt = 0; ; attempt++) {
      const port = 20000 + Math.floor(Math.random() * 40000);
      try {
        return { fd: this.track(this.sys.udpOpen(LOOPBACK, port, 1 << 20, 1 << 20)), port };
      } catch (err) {
        if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt > 20) throw err;
      }
    }
  }

  /** Closes `fd` with the others at closeAll (a file the test opened itself). */
  track(fd: number): number {
    this.open.push(fd);
    return fd;
  }

  /** For afterEach: closes every fd opened or tracked since the last call. */
  closeAll(): void {
    for (const fd of this.open.splice(0)) this.sys.close(fd);
  }
}

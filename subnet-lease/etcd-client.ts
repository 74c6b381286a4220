/**
 * Builds the etcd3 client from flanneld's flags: TLS only when both key and cert files are given
 * (flannel's rule), username/password auth, comma-separated endpoints. Every unary call gets a
 * deadline so an unreachable etcd turns into an error we can count and retry, never a hang.
 */
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { isRecoverableError } from 'etcd3';
import { OverlaydError } from '../core/errors.js';
import type { LeaseRegistry } from './lease-registry.js';
import { EtcdRegistry } from './registry.js';

export interface EtcdClientOptions {
  readonly endpoints: readonly string[];
  readonly cafile?: string;
  readonly certfile?: string;
  readonly keyfile?: string;
  readonly username?: string;
  readonly password?: string;
  /** Deadline of one unary call, ms. */
  readonly callTimeoutMs?: number;
}

function readTlsFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new OverlaydError(
      'BAD_FLAG',
      `--${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err}); give a readable PEM file`,
      {
        cause: err,
      },
    );
  }
}

function assertPem(buf: Buffer, path: string, flag: string): void {
  if (!buf.toString('latin1').includes('-----BEGIN ')) {
    throw new OverlaydError(
      'BAD_FLAG',
      `--${flag}: ${path} is not a PEM file (no "-----BEGIN" line); give a PEM-encoded file`,
    );
  }
}

export interface EtcdClientSetup {
  readonly client: Etcd3;
  /** Set when TLS was requested only partly, so the daemon can warn as flanneld does. */
  readonly warning?: string;
}

export function createEtcdClient(opts: EtcdClientOptions): EtcdClientSetup {
  const timeout = opts.callTimeoutMs ?? 5000;
  const options: IOptions = {
    hosts: [...opts.endpoints],
    dialTimeout: timeout,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    faultHandling: {
      // One retry on another endpoint, then the caller's own backoff decides; a breaker per host
      // keeps a dead endpoint from eating every call's deadline.
      global: retry(handleWhen(isRecoverableError), { maxAttempts: 1 }),
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: 2000,
          breaker: new ConsecutiveBreaker(3),
        }),
      // flannel reconnects broken watches with backoff from 100 ms up to 5 s.
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 5000 }).next(),
    },
  };
  let warning: string | undefined;
  if (opts.keyfile && opts.certfile) {
    const privateKey = readTlsFile(opts.keyfile, 'etcd-keyfile');
    const certChain = readTlsFile(opts.certfile, 'etcd-certfile');
    assertPem(privateKey, opts.keyfile, 'etcd-keyfile');
    assertPem(certChain, opts.certfile, 'etcd-certfile');
    const rootCertificate = opts.cafile ? readTlsFile(opts.cafile, 'etcd-cafile') : Buffer.alloc(0);
    if (opts.cafile) assertPem(rootCertificate, opts.cafile, 'etcd-cafile');
    options.credentials = { rootCertificate, privateKey, certChain };
  } else if (opts.keyfile || opts.certfile || opts.cafile) {
    warning = 'etcd TLS needs both --etcd-keyfile and --etcd-certfile; talking plain HTTP to etcd';
  }
  if (opts.username) options.auth = { username: opts.username, password: opts.password ?? '' };
  return warning === undefined ? { client: new Etcd3(options) } : { client: new Etcd3(options), warning };
}

export interface RegistrySetup {
  readonly registry: LeaseRegistry;
  /** Set when TLS was requested only partly, so the daemon can warn as flanneld does. */
  readonly warning?: string;
}

/** The daemon's registry: flannel's keys under `prefix`, on an etcd client built from the flags. */
export function openEtcdRegistry(prefix: string, opts: EtcdClientOptions): RegistrySetup {
  const { client, warning } = createEtcdClient(opts);
  const registry = new EtcdRegistry(client, prefix);
  return warning === undefined ? { registry } : { registry, warning };
}

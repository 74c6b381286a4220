/**
 * Builds the etcd3 client from flanneld's flags: TLS only when both key and cert files are given
 * (flannel's rule), username/password auth, comma-separated endpoints. Every unary call gets a
 * deadline so an unreachable etcd turns into an error we can count and retry, never a hang.
 *
 * TLS goes through EtcdTlsFiles, a grpc-js certificate provider that re-reads the files, so a
 * replaced certificate is used from the next connection on without a restart. TLS and auth
 * failures leave here as one operator line (etcd-errors.ts) instead of grpc's framing.
 */
import { readFileSync } from 'node:fs';
import { experimental } from '@grpc/grpc-js';
import { Etcd3, type IOptions } from 'etcd3';
import {
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  type IPolicy,
} from 'cockatiel';
import { isRecoverableError } from 'etcd3';
import { OverlaydError } from '../core/errors.js';
import { explainEtcdError, type EtcdErrorContext, type EtcdErrorKind } from './etcd-errors.js';
import { EtcdTlsFiles, type TlsReload } from './etcd-tls-files.js';
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
  /** The etcd prefix (named in the fix for a permission error). */
  readonly prefix?: string;
  /** How often the TLS files are re-read, ms (default 2000). */
  readonly tlsPollMs?: number;
  /** Told when the TLS files were replaced: in use, or refused (and why). */
  readonly onTlsReload?: (r: TlsReload) => void;
}

/**
 * A TLS or auth failure, explained. Its message is the operator's line; etcd3's own error (with
 * grpc's text) is kept as `etcdError`, not as `cause`, so the log line stays one sentence.
 */
export class EtcdAccessError extends Error {
  constructor(
    message: string,
    readonly kind: EtcdErrorKind,
    readonly etcdError: Error,
  ) {
    super(message);
    this.name = 'EtcdAccessError';
  }
}

const ENDPOINT = Symbol('etcd endpoint');

/** The same policy, with failures passed through `map` on the way out. */
function mapFailures(inner: IPolicy, map: (err: unknown) => unknown): IPolicy {
  return {
    onSuccess: inner.onSuccess,
    onFailure: inner.onFailure,
    execute: async (fn, signal) => {
      try {
        return await inner.execute(fn, signal);
      } catch (err) {
        throw map(err);
      }
    },
  } as IPolicy;
}

/**
 * etcd3 builds one grpc ChannelCredentials from static buffers; it keeps it on each Host and its
 * Authenticator. Swap in the reloading one before any channel exists. Checked, so an etcd3 upgrade
 * that moves these fields fails loudly at start-up, not by silently ignoring rotation.
 */
function installCredentials(client: Etcd3, creds: unknown): void {
  const pool = (
    client as unknown as {
      pool?: { hosts?: Array<{ channelCredentials?: unknown }>; authenticator?: { credentials?: unknown } };
    }
  ).pool;
  if (!pool?.hosts?.length || !pool.authenticator || pool.hosts.some((h) => !('channelCredentials' in h)))
    throw new OverlaydError('ETCD', 'etcd3 internals changed: cannot install reloading TLS credentials');
  for (const h of pool.hosts) h.channelCredentials = creds;
  pool.authenticator.credentials = creds;
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
  /**
   * Set when TLS was requested only partly (flanneld warns too), or when the TLS files are wrong
   * together (a key that is not the certificate's, an expired certificate): the daemon logs it at
   * start-up; calls fail with the same line until the files are fixed.
   */
  readonly warning?: string;
  /** The TLS files in use, when TLS is on. */
  readonly tlsFiles?: EtcdTlsFiles;
  /**
   * The operator line for an etcd3 error that bypassed the call policies (a watch stream's
   * 'error' or 'disconnected' error; openEtcdRegistry hands it to the registry's watches): an
   * EtcdAccessError when it is a TLS/auth problem, else the error itself.
   */
  readonly explain: (err: unknown) => unknown;
}

export function createEtcdClient(opts: EtcdClientOptions): EtcdClientSetup {
  const timeout = opts.callTimeoutMs ?? 5000;
  let tlsFiles: EtcdTlsFiles | undefined;
  const context = (err: unknown): EtcdErrorContext => ({
    tls: tlsFiles !== undefined,
    cafile: opts.cafile,
    certfile: opts.certfile,
    keyfile: opts.keyfile,
    username: opts.username,
    certCommonName: tlsFiles?.commonName,
    filesProblem: tlsFiles?.problem(),
    prefix: opts.prefix,
    endpoint: (err as { [ENDPOINT]?: string })?.[ENDPOINT],
  });
  const explain = (err: unknown): unknown => {
    if (!(err instanceof Error)) return err;
    const e = explainEtcdError(err.message, context(err));
    return e ? new EtcdAccessError(e.message, e.kind, err) : err;
  };
  const options: IOptions = {
    hosts: [...opts.endpoints],
    dialTimeout: timeout,
    // HTTP/2 pings, so a watch stream to a member that vanished without a FIN (a partition, a
    // dead host) is noticed in ~15 s and resumed on another member, instead of waiting for TCP's
    // retransmission timeout (minutes) with no events. etcd allows pings every 5 s by default
    // (--grpc-keepalive-min-time).
    grpcOptions: {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
    },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    faultHandling: {
      // One retry on another endpoint, then the caller's own backoff decides; a breaker per host
      // keeps a dead endpoint from eating every call's deadline.
      global: mapFailures(retry(handleWhen(isRecoverableError), { maxAttempts: 1 }), explain),
      host: (host) =>
        mapFailures(
          circuitBreaker(handleWhen(isRecoverableError), {
            halfOpenAfter: 2000,
            breaker: new ConsecutiveBreaker(3),
          }),
          (err) => {
            // Tag in place: etcd3 keys its reconnect logic on the error's class.
            if (err instanceof Error && !(ENDPOINT in err))
              Object.defineProperty(err, ENDPOINT, { value: host });
            return err;
          },
        ),
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
    if (opts.cafile) assertPem(readTlsFile(opts.cafile, 'etcd-cafile'), opts.cafile, 'etcd-cafile');
    tlsFiles = new EtcdTlsFiles(
      { cafile: opts.cafile, certfile: opts.certfile, keyfile: opts.keyfile },
      {
        ...(opts.tlsPollMs !== undefined ? { pollMs: opts.tlsPollMs } : {}),
        ...(opts.onTlsReload ? { onReload: opts.onTlsReload } : {}),
      },
    );
    warning = tlsFiles.problem();
  } else if (opts.keyfile || opts.certfile || opts.cafile) {
    warning = 'etcd TLS needs both --etcd-keyfile and --etcd-certfile; talking plain HTTP to etcd';
  }
  if (opts.username) options.auth = { username: opts.username, password: opts.password ?? '' };
  const client = new Etcd3(options);
  if (tlsFiles) {
    installCredentials(client, experimental.createCertificateProviderChannelCredentials(tlsFiles, tlsFiles));
    const files = tlsFiles;
    const close = client.close.bind(client);
    client.close = () => {
      files.close();
      close();
    };
  }
  return {
    client,
    explain,
    ...(warning !== undefined ? { warning } : {}),
    ...(tlsFiles ? { tlsFiles } : {}),
  };
}

export interface RegistrySetup {
  readonly registry: LeaseRegistry;
  /** Set when TLS was requested only partly, so the daemon can warn as flanneld does. */
  readonly warning?: string;
}

/** The daemon's registry: flannel's keys under `prefix`, on an etcd client built from the flags. */
export function openEtcdRegistry(prefix: string, opts: EtcdClientOptions): RegistrySetup {
  const { client, warning, explain } = createEtcdClient(opts);
  const registry = new EtcdRegistry(client, prefix, explain);
  return warning === undefined ? { registry } : { registry, warning };
}

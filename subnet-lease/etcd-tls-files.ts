/**
 * The TLS files behind --etcd-cafile/--etcd-certfile/--etcd-keyfile, kept current for grpc-js.
 *
 * Certificate rotation: cert-manager, a kubelet Secret volume (a symlink swap) or a renewal timer
 * replace these files in place. grpc-js builds each new TLS connection from a CertificateProvider,
 * so this class is one: it re-reads the three files every `pollMs` (they are a few KB; comparing
 * the bytes catches a symlink swap and a same-second rewrite alike) and hands the new pair to
 * grpc-js. Connections that are up keep the old certificate until they break (etcd checks the
 * certificate at the handshake only); every reconnect after the change uses the new one.
 *
 * A pair that does not belong together (X509Certificate.checkPrivateKey) is never handed on: at
 * start-up there is then no identity and every call fails with that one line, retried; on a reload
 * the previous good pair stays in use until the files are fixed. Expired or not-yet-valid
 * certificates are handed on (etcd decides) but named when a handshake fails.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { experimental } from '@grpc/grpc-js';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface TlsFileNames {
  readonly cafile?: string | undefined;
  readonly certfile: string;
  readonly keyfile: string;
}

/** What was read: the bytes, and what is wrong with them (undefined: a usable pair). */
export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly problem: string | undefined;
  readonly validFrom?: Date;
  readonly validTo?: Date;
  readonly commonName?: string;
}

/** Checks a certificate/key pair and the CA bundle; pure (bytes in, verdict out). */
export function inspectTlsMaterial(names: TlsFileNames, ca: Buffer, cert: Buffer, key: Buffer): TlsMaterial {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    return {
      ca,
      cert,
      key,
      problem: `--etcd-certfile ${names.certfile} holds no readable certificate (${(err as Error).message}); give the PEM certificate issued for this node`,
    };
  }
  const base = {
    ca,
    cert,
    key,
    validFrom: new Date(x509.validFrom),
    validTo: new Date(x509.validTo),
    commonName: /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1],
  };
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch (err) {
    return {
      ...base,
      problem: `--etcd-keyfile ${names.keyfile} holds no readable private key (${(err as Error).message}); give the PEM key of --etcd-certfile ${names.certfile}`,
    };
  }
  if (!matches)
    return {
      ...base,
      problem: `--etcd-keyfile ${names.keyfile} is not the key of --etcd-certfile ${names.certfile}; give the key the certificate was issued for (or the certificate of that key)`,
    };
  if (names.cafile) {
    try {
      new X509Certificate(ca);
    } catch (err) {
      return {
        ...base,
        problem: `--etcd-cafile ${names.cafile} holds no readable certificate (${(err as Error).message}); give the PEM CA certificate that issued the etcd members' certificates`,
      };
    }
  }
  return { ...base, problem: undefined };
}

/** What is wrong with the certificate's validity window at `now`; pure. */
export function validityProblem(m: TlsMaterial, certfile: string, now: Date): string | undefined {
  if (m.validTo && now > m.validTo)
    return `--etcd-certfile ${certfile} expired at ${m.validTo.toISOString()}; renew it (overlayd picks up a replaced file without a restart)`;
  if (m.validFrom && now < m.validFrom)
    return `--etcd-certfile ${certfile} is not valid before ${m.validFrom.toISOString()}; check this host's clock, or reissue the certificate with an earlier start date`;
  return undefined;
}

export interface TlsReload {
  /** The new files are in use for the next connections. */
  readonly ok: boolean;
  readonly message: string;
}

export class EtcdTlsFiles implements CertificateProvider {
  private material: TlsMaterial;
  /** The last pair handed to grpc-js (kept through a bad reload). */
  private inUse: TlsMaterial | undefined;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private timer: NodeJS.Timeout | undefined;

  /** Reads the files once (the caller has checked they are readable PEM). */
  constructor(
    readonly names: TlsFileNames,
    private readonly opts: {
      pollMs?: number;
      now?: () => Date;
      onReload?: (r: TlsReload) => void;
    } = {},
  ) {
    this.material = this.read();
    if (!this.material.problem) this.inUse = this.material;
    // Polled for the client's life, not only while grpc-js listens: a pair that is bad at
    // start-up must still be noticed once it is fixed.
    this.timer = setInterval(() => this.reload(), this.opts.pollMs ?? 2000);
    this.timer.unref();
  }

  private read(): TlsMaterial {
    const { cafile, certfile, keyfile } = this.names;
    const ca = cafile ? readFileSync(cafile) : Buffer.from(rootCertificates.join('\n'));
    return inspectTlsMaterial(this.names, ca, readFileSync(certfile), readFileSync(keyfile));
  }

  /** What is wrong with the files now (a bad pair, an expired certificate); undefined when fine. */
  problem(): string | undefined {
    return (
      this.material.problem ??
      validityProblem(
        this.inUse ?? this.material,
        this.names.certfile,
        (this.opts.now ?? (() => new Date()))(),
      )
    );
  }

  /** The subject CN of the certificate in use (etcd's user name under client-cert auth). */
  get commonName(): string | undefined {
    return (this.inUse ?? this.material).commonName;
  }

  /** Re-reads the files; hands a changed, usable pair to grpc-js. Returns whether anything changed. */
  reload(): boolean {
    let next: TlsMaterial;
    try {
      next = this.read();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const message = `cannot re-read the etcd TLS files (${e.code ?? e.message} ${e.path ?? ''}); new etcd connections keep the previous certificate`;
      if (this.material.problem !== message) this.opts.onReload?.({ ok: false, message });
      this.material = { ...this.material, problem: message };
      return false;
    }
    const prev = this.material;
    if (prev.ca.equals(next.ca) && prev.cert.equals(next.cert) && prev.key.equals(next.key)) {
      this.material = next; // the same bytes: only a failed read to forget
      return false;
    }
    this.material = next;
    if (next.problem) {
      this.opts.onReload?.({
        ok: false,
        message: `${next.problem}${this.inUse ? '; new etcd connections keep the previous certificate' : ''}`,
      });
      return true;
    }
    this.inUse = next;
    this.opts.onReload?.({
      ok: true,
      message: `etcd TLS files changed: new etcd connections use the certificate ${next.commonName ? `CN=${next.commonName} ` : ''}valid until ${next.validTo?.toISOString()}`,
    });
    this.push();
    return true;
  }

  private push(): void {
    const m = this.inUse;
    for (const l of this.caListeners) l(m ? { caCertificate: m.ca } : null);
    for (const l of this.identityListeners) l(m ? { certificate: m.cert, privateKey: m.key } : null);
  }

  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    l(this.inUse ? { caCertificate: this.inUse.ca } : null);
  }
  removeCaCertificateListener(l: CaListener): void {
    this.caListeners.delete(l);
  }
  addIdentityCertificateListener(l: IdentityListener): void {
    this.identityListeners.add(l);
    l(this.inUse ? { certificate: this.inUse.cert, privateKey: this.inUse.key } : null);
  }
  removeIdentityCertificateListener(l: IdentityListener): void {
    this.identityListeners.delete(l);
  }

  /** Stops polling (the client is closed). */
  close(): void {
    this.caListeners.clear();
    this.identityListeners.clear();
    clearInterval(this.timer);
  }
}

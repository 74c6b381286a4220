/**
 * A throwaway certificate authority for the lab, made with the `openssl` command line as an
 * operator would: `openssl ca` keeps an index, so a certificate can be issued with chosen validity
 * dates (expired, not yet valid, expiring in a minute) and revoked into a CRL for etcd's
 * --client-crl-file. Keys are P-256: quick to generate on a loaded 2-core machine.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { must } from './shell.js';

export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface IssueOptions {
  /** Subject CN; for a client certificate etcd takes it as the user name under client-cert auth. */
  readonly cn: string;
  /** IP subjectAltNames (a server certificate is checked against the member's address). */
  readonly ips?: readonly string[];
  readonly dns?: readonly string[];
  /** serverAuth, clientAuth or both (etcd members dial each other with their server certificate). */
  readonly usage: 'server' | 'client' | 'both';
  /** Validity window; default from one hour ago for a year. */
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

/** openssl ca's date form: YYYYMMDDHHMMSSZ (GeneralizedTime, valid past 2049). */
function opensslDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export class TestCa {
  private constructor(
    readonly dir: string,
    readonly cert: string,
    readonly key: string,
  ) {}

  /** A self-signed CA in dir (created), with openssl ca's index and serial files beside it. */
  static async create(dir: string, name = 'overlayd-lab-ca'): Promise<TestCa> {
    await mkdir(join(dir, 'issued'), { recursive: true });
    const ca = new TestCa(dir, join(dir, `${name}.pem`), join(dir, `${name}-key.pem`));
    await must('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      ca.key,
      '-out',
      ca.cert,
      '-days',
      '3650',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await writeFile(join(dir, 'index.txt'), '');
    await writeFile(join(dir, 'serial'), '1000\n');
    await writeFile(join(dir, 'crlnumber'), '1000\n');
    await writeFile(join(dir, 'ca.cnf'), ca.config());
    return ca;
  }

  private config(): string {
    return [
      '[ca]',
      'default_ca = lab',
      '[lab]',
      `dir = ${this.dir}`,
      'database = $dir/index.txt',
      'serial = $dir/serial',
      'crlnumber = $dir/crlnumber',
      'new_certs_dir = $dir/issued',
      `certificate = ${this.cert}`,
      `private_key = ${this.key}`,
      'default_md = sha256',
      'default_crl_days = 30',
      'policy = any',
      'unique_subject = no',
      'copy_extensions = none',
      '[any]',
      'commonName = supplied',
      '',
    ].join('\n');
  }

  /** Issues a key and certificate named `<dir>/<name>.pem` and `<dir>/<name>-key.pem`. */
  async issue(dir: string, name: string, opts: IssueOptions): Promise<CertFiles> {
    await mkdir(dir, { recursive: true });
    const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
    const csr = join(this.dir, `${name}-${Date.now()}.csr`);
    await must('openssl', [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      files.key,
      '-out',
      csr,
      '-subj',
      `/CN=${opts.cn}`,
    ]);
    const san = [...(opts.ips ?? []).map((ip) => `IP:${ip}`), ...(opts.dns ?? []).map((d) => `DNS:${d}`)];
    const eku = { server: 'serverAuth', client: 'clientAuth', both: 'serverAuth,clientAuth' }[opts.usage];
    const ext = join(this.dir, `${name}.ext`);
    await writeFile(
      ext,
      [
        '[v3]',
        'basicConstraints = CA:FALSE',
        'keyUsage = critical,digitalSignature,keyEncipherment',
        `extendedKeyUsage = ${eku}`,
        ...(san.length ? [`subjectAltName = ${san.join(',')}`] : []),
        '',
      ].join('\n'),
    );
    const now = Date.now();
    await must('openssl', [
      'ca',
      '-batch',
      '-notext',
      '-config',
      join(this.dir, 'ca.cnf'),
      '-extfile',
      ext,
      '-extensions',
      'v3',
      '-startdate',
      opensslDate(opts.notBefore ?? new Date(now - 3600_000)),
      '-enddate',
      opensslDate(opts.notAfter ?? new Date(now + 365 * 86400_000)),
      '-in',
      csr,
      '-out',
      files.cert,
    ]);
    return files;
  }

  /** Marks a certificate revoked in the CA's index. */
  async revoke(cert: string): Promise<void> {
    await must('openssl', ['ca', '-config', join(this.dir, 'ca.cnf'), '-revoke', cert]);
  }

  /** Writes the current CRL (PEM) to path, for etcd's --client-crl-file. */
  async writeCrl(path: string): Promise<void> {
    await must('openssl', ['ca', '-config', join(this.dir, 'ca.cnf'), '-gencrl', '-out', path]);
  }

  async pem(): Promise<string> {
    return readFile(this.cert, 'utf8');
  }
}

/**
 * Turns what grpc-js, OpenSSL and etcd say when TLS or auth fails into one line an operator can act
 * on: what is wrong, which flag, file or user, and the fix. Pure: the raw message and what overlayd
 * knows of its own setup in, a sentence out (undefined for errors that are not TLS or auth, such as
 * an unreachable member, which keep etcd's own words).
 *
 * The raw texts matched here are grpc-js's "No connection established. Last error: ..." wrapping
 * Node's TLS errors (X509_V_ERR_* reasons, ERR_TLS_CERT_ALTNAME_INVALID, OpenSSL alert lines) and
 * etcd's "etcdserver: ..." auth errors.
 */
export interface EtcdErrorContext {
  /** Whether overlayd talks TLS to etcd (key and certificate given). */
  readonly tls: boolean;
  readonly cafile?: string | undefined;
  readonly certfile?: string | undefined;
  readonly keyfile?: string | undefined;
  readonly username?: string | undefined;
  /** The client certificate's subject CN: etcd's user name under client-cert auth without a password. */
  readonly certCommonName?: string | undefined;
  /** What is wrong with the local TLS files right now (key mismatch, expired), if anything. */
  readonly filesProblem?: string | undefined;
  /** The etcd prefix, for the permission fix. */
  readonly prefix?: string | undefined;
  /** The endpoint the error came from, when known. */
  readonly endpoint?: string | undefined;
}

export type EtcdErrorKind =
  | 'tls-files'
  | 'tls-unknown-ca'
  | 'tls-server-name'
  | 'tls-server-expired'
  | 'tls-server-not-yet-valid'
  | 'tls-client-rejected'
  | 'tls-closed'
  | 'tls-required'
  | 'auth-failed'
  | 'auth-no-user'
  | 'auth-disabled'
  | 'permission-denied';

export interface EtcdErrorExplanation {
  readonly kind: EtcdErrorKind;
  readonly message: string;
}

const UNKNOWN_CA =
  /unable to verify the first certificate|unable to get (local )?issuer certificate|self[- ]signed certificate|UNABLE_TO_VERIFY_LEAF_SIGNATURE|certificate signature failure/i;
const ALTNAME = /Hostname\/IP does not match certificate's altnames: (.*?)(?:\. Resolution note|$)/;
const ALTNAME_IP = /IP: (\S+) is not in the cert's list: (.*)/;
const ALTNAME_HOST = /Host: (\S+?)\.? is not in the cert's altnames: (.*)/;
const SERVER_EXPIRED = /certificate has expired|CERT_HAS_EXPIRED/i;
const SERVER_NOT_YET = /certificate is not yet valid|CERT_NOT_YET_VALID/i;
const ALERT =
  /alert (bad certificate|certificate expired|certificate revoked|certificate unknown|unknown ca|certificate required|handshake failure|unsupported certificate)|SSL alert number (4[0-9]|116)/i;
const CLOSED_AFTER_HANDSHAKE =
  /Last error: (Failed to connect|Socket closed|Connection dropped|read ECONNRESET)/;
const PLAIN_TO_TLS = /wrong version number|packet length too long|http\/1\.x server replied|Protocol error/i;
const FILES_NOT_LOADED = /Failed to load credentials/;

/** The member's own words, for the end of the line: short and without grpc-js's framing. */
function rawReason(raw: string): string {
  const last =
    /Last error: (?:Error(?: \[\w+\])?: )?(.*?)(?: \(\d{4}-\d\d-\d\dT[^)]*\))?\.?(?: Resolution note:.*)?$/s.exec(
      raw,
    );
  const reason = (last?.[1] ?? raw).split('\n')[0]!.trim();
  const alert = /(alert [a-z ]+?):/.exec(reason);
  return alert ? alert[1]! : reason;
}

function where(ctx: EtcdErrorContext): string {
  return ctx.endpoint ? `etcd ${ctx.endpoint}` : 'etcd';
}

function who(ctx: EtcdErrorContext): string {
  if (ctx.username) return `user "${ctx.username}"`;
  if (ctx.certCommonName)
    return `user "${ctx.certCommonName}" (the CN of --etcd-certfile ${ctx.certfile ?? ''})`.replace(
      ' )',
      ')',
    );
  return 'the anonymous user';
}

export function explainEtcdError(raw: string, ctx: EtcdErrorContext): EtcdErrorExplanation | undefined {
  const reason = rawReason(raw);
  if (ctx.tls && ctx.filesProblem && (FILES_NOT_LOADED.test(raw) || ALERT.test(raw)))
    return { kind: 'tls-files', message: ctx.filesProblem };
  if (ctx.tls && FILES_NOT_LOADED.test(raw))
    return {
      kind: 'tls-files',
      message: `TLS to etcd: the files behind --etcd-certfile/--etcd-keyfile/--etcd-cafile could not be loaded; check that they are PEM and belong together`,
    };
  if (ctx.tls && UNKNOWN_CA.test(raw))
    return {
      kind: 'tls-unknown-ca',
      message: ctx.cafile
        ? `TLS to ${where(ctx)}: the member's certificate is not signed by the CA in --etcd-cafile ${ctx.cafile} (${reason}); give the CA that issued the etcd members' certificates (their --trusted-ca-file)`
        : `TLS to ${where(ctx)}: the member's certificate is not signed by a CA this host trusts (${reason}); give the CA that issued it with --etcd-cafile`,
    };
  const alt = ALTNAME.exec(raw);
  if (ctx.tls && alt) {
    const ip = ALTNAME_IP.exec(alt[1]!);
    const host = ALTNAME_HOST.exec(alt[1]!);
    const name = ip?.[1] ?? host?.[1] ?? ctx.endpoint ?? 'the endpoint';
    const has = ip?.[2] ?? host?.[2] ?? 'other names';
    const san = ip ? `IP:${name}` : `DNS:${name}`;
    return {
      kind: 'tls-server-name',
      message: `TLS to etcd member ${name}: its certificate does not name it (it holds ${has.trim()}); reissue the member's certificate with ${san} in subjectAltName, or list the member in --etcd-endpoints by a name the certificate holds`,
    };
  }
  if (ctx.tls && SERVER_EXPIRED.test(raw))
    return {
      kind: 'tls-server-expired',
      message: `TLS to ${where(ctx)}: the member's certificate has expired; renew the etcd members' certificates (their --cert-file), or fix this host's clock`,
    };
  if (ctx.tls && SERVER_NOT_YET.test(raw))
    return {
      kind: 'tls-server-not-yet-valid',
      message: `TLS to ${where(ctx)}: the member's certificate is not valid yet; check this host's clock against the member's, or reissue the certificate with an earlier start date`,
    };
  if (ctx.tls && ALERT.test(raw))
    return {
      kind: 'tls-client-rejected',
      message: ctx.certfile
        ? `TLS to ${where(ctx)}: the member refused the client certificate --etcd-certfile ${ctx.certfile} (${reason}); give a certificate issued by the CA in etcd's --trusted-ca-file, unexpired and not revoked`
        : `TLS to ${where(ctx)}: the member wants a client certificate (${reason}); give --etcd-certfile and --etcd-keyfile`,
    };
  if (ctx.tls && PLAIN_TO_TLS.test(raw))
    return {
      kind: 'tls-required',
      message: `TLS to ${where(ctx)}: the member does not speak TLS on this port (${reason}); use its https client URL, or drop --etcd-certfile/--etcd-keyfile for a plain-HTTP etcd`,
    };
  if (ctx.tls && ctx.certfile && CLOSED_AFTER_HANDSHAKE.test(raw))
    return {
      kind: 'tls-closed',
      message: `TLS to ${where(ctx)}: the member closed the connection after the handshake (${reason}); etcd does this when it refuses a client certificate after the handshake: check that --etcd-certfile ${ctx.certfile} is not revoked in its --client-crl-file`,
    };
  if (/authentication failed, invalid user ID or password/.test(raw))
    return {
      kind: 'auth-failed',
      message: `etcd refused user "${ctx.username ?? ''}": wrong password or no such user; fix --etcd-password (or FLANNELD_ETCD_PASSWORD), or set it with: etcdctl user passwd ${ctx.username ?? '<user>'}`,
    };
  if (/user name is empty|user name not found/.test(raw))
    return {
      kind: 'auth-no-user',
      message: `etcd has auth enabled and knows no ${who(ctx)}; give --etcd-username/--etcd-password, or create the user: etcdctl user add ${ctx.username ?? ctx.certCommonName ?? '<user>'}`,
    };
  if (/authentication is not enabled/.test(raw))
    return {
      kind: 'auth-disabled',
      message: `--etcd-username ${ctx.username ?? ''} is given but etcd has auth disabled; drop --etcd-username/--etcd-password, or enable auth: etcdctl auth enable`,
    };
  if (/etcdserver: permission denied/.test(raw)) {
    const prefix = `${(ctx.prefix ?? '/coreos.com/network').replace(/\/+$/, '')}/`;
    return {
      kind: 'permission-denied',
      message: `etcd refused ${who(ctx)} on this key: its roles lack permission; grant them the prefix: etcdctl role grant-permission <role> --prefix=true readwrite ${prefix}`,
    };
  }
  return undefined;
}

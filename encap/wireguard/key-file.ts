/**
 * The node's WireGuard private key, as flanneld keeps it: base64 in /run/flannel/wgkey (or
 * $WIREGUARD_KEY_FILE), created once with mode 0400 and reused on every start, so the PublicKey
 * in our lease (and in every peer's configuration) stays the same across restarts. The key
 * itself never goes into an error message, a log line or a metric.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import { OverlaydError, describeError } from '../../core/errors.js';
import { parseBase64Key } from './wireguard-config.js';

export const DEFAULT_KEY_FILE = '/run/flannel/wgkey';

export interface NodeKey {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly path: string;
  /** True when this start wrote the file. */
  readonly created: boolean;
  /** Set when the file is readable by group or others (it should be 0400). */
  readonly looseMode?: number;
}

export function keyFilePath(env: Readonly<Record<string, string | undefined>>): string {
  const p = env['WIREGUARD_KEY_FILE'];
  return p !== undefined && p !== '' ? p : DEFAULT_KEY_FILE;
}

/** The X25519 public key of a raw 32-byte private key (node:crypto). */
export function publicKeyOf(priv: Uint8Array): Uint8Array {
  // PKCS#8 wrapping of a raw X25519 private key (RFC 8410): a fixed 16-byte prefix.
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]);
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
}

function generatePrivateKey(): Uint8Array {
  const jwk = generateKeyPairSync('x25519').privateKey.export({ format: 'jwk' });
  const k = new Uint8Array(Buffer.from(jwk.d!, 'base64url'));
  // Clamped as `wg genkey` stores it (X25519 clamps anyway; this keeps the file byte-identical in form).
  k[0]! &= 248;
  k[31] = (k[31]! & 127) | 64;
  return k;
}

/** Reads the key file, or creates it (0400, exclusively: two starts never write two keys). */
export function loadOrCreateKey(path: string): NodeKey {
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new OverlaydError(
        'BACKEND',
        `cannot read the WireGuard key file ${path}: ${describeError(err)}`,
        {
          cause: err,
        },
      );
  }
  if (text !== undefined) {
    const priv = parseBase64Key(text);
    if (!priv)
      throw new OverlaydError(
        'BACKEND',
        `WireGuard key file ${path} does not hold a base64 private key (32 bytes); delete it to have a new key generated, or write one from \`wg genkey\``,
      );
    const mode = statSync(path).mode & 0o777;
    return {
      privateKey: priv,
      publicKey: publicKeyOf(priv),
      path,
      created: false,
      ...(mode & 0o077 ? { looseMode: mode } : {}),
    };
  }
  const priv = generatePrivateKey();
  let fd: number;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o400);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateKey(path); // another start won
    throw new OverlaydError(
      'BACKEND',
      `cannot create the WireGuard key file ${path}: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  }
  try {
    writeSync(fd, Buffer.from(priv).toString('base64'));
  } finally {
    closeSync(fd);
  }
  return { privateKey: priv, publicKey: publicKeyOf(priv), path, created: true };
}

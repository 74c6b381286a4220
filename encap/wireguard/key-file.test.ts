import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { keyFilePath, loadOrCreateKey, publicKeyOf } from './key-file.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'wgkey-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('WireGuard key file', () => {
  it('derives the public key as RFC 7748 §6.1 (Alice)', () => {
    const priv = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
    expect(hex(publicKeyOf(priv))).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  });

  it('is $WIREGUARD_KEY_FILE, else /run/flannel/wgkey', () => {
    expect(keyFilePath({})).toBe('/run/flannel/wgkey');
    expect(keyFilePath({ WIREGUARD_KEY_FILE: '/etc/k' })).toBe('/etc/k');
  });

  it('is created once with mode 0400 (its directory too), and reused with the same key', () => {
    const path = join(tmp(), 'flannel', 'wgkey');
    const a = loadOrCreateKey(path);
    expect(a.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o400);
    const text = readFileSync(path, 'utf8');
    expect(Buffer.from(text, 'base64')).toHaveLength(32);
    expect(hex(Buffer.from(text, 'base64'))).toBe(hex(a.privateKey));
    const b = loadOrCreateKey(path);
    expect(b.created).toBe(false);
    expect(hex(b.privateKey)).toBe(hex(a.privateKey));
    expect(hex(b.publicKey)).toBe(hex(a.publicKey));
    expect(b.looseMode).toBeUndefined();
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('reads a key `wg genkey` wrote (trailing newline), and says when the file is group/world readable', () => {
    const path = join(tmp(), 'wgkey');
    writeFileSync(path, 'd1ZxGuaNrT+r7R8a9K9x2ftzcqRKshEpsSHSfT8gnXg=\n');
    chmodSync(path, 0o644);
    const k = loadOrCreateKey(path);
    expect(k.created).toBe(false);
    expect(Buffer.from(k.privateKey).toString('base64')).toBe('d1ZxGuaNrT+r7R8a9K9x2ftzcqRKshEpsSHSfT8gnXg=');
    expect(k.looseMode).toBe(0o644);
  });

  it('refuses a malformed file without overwriting it or echoing it', () => {
    const path = join(tmp(), 'wgkey');
    writeFileSync(path, 'not-a-key-at-all');
    expect(() => loadOrCreateKey(path)).toThrow(
      /WireGuard key file .*wgkey does not hold a base64 private key.*delete it/,
    );
    try {
      loadOrCreateKey(path);
    } catch (e) {
      expect((e as Error).message).not.toContain('not-a-key');
    }
    expect(readFileSync(path, 'utf8')).toBe('not-a-key-at-all');
    writeFileSync(path, Buffer.alloc(31).toString('base64'));
    expect(() => loadOrCreateKey(path)).toThrow(/32 bytes/);
  });
});

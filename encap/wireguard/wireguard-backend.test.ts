import { describe, expect, it } from 'vitest';
import { parseWgBackendData } from './wireguard-backend.js';

const KEY = 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=';

describe("a wireguard lease's BackendData", () => {
  it("reads flannel's {PublicKey, Port}, keys in any case", () => {
    const d = parseWgBackendData({ PublicKey: KEY, Port: 51830 })!;
    expect(Buffer.from(d.publicKey).toString('base64')).toBe(KEY);
    expect(d.port).toBe(51830);
    expect(parseWgBackendData({ publickey: KEY, port: 5 })!.port).toBe(5);
  });
  it('has no Port from flannel before v0.26.6 (the caller uses its ListenPort)', () => {
    expect(parseWgBackendData({ PublicKey: KEY })!.port).toBeUndefined();
    expect(parseWgBackendData({ PublicKey: KEY, Port: 0 })!.port).toBeUndefined();
  });
  it('is unusable without a 32-byte base64 key', () => {
    for (const d of [
      undefined,
      null,
      'x',
      {},
      { PublicKey: 'abc' },
      { PublicKey: KEY.slice(1) },
      { PublicKey: 5 },
    ])
      expect(parseWgBackendData(d)).toBeUndefined();
  });
});

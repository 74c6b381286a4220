import { describe, expect, it } from 'vitest';
import { parseWireguardConfig } from './wireguard-config.js';

const PSK = 'FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=';

describe('wireguard backend config (flannel keys, lowercased by the network config parser)', () => {
  it('has flannel defaults', () => {
    expect(parseWireguardConfig({})).toEqual({
      listenPort: 51820,
      listenPortV6: 51821,
      persistentKeepaliveInterval: 0,
      mode: 'separate',
    });
  });

  it('reads every key', () => {
    const c = parseWireguardConfig({
      listenport: 5000,
      listenportv6: 5001,
      psk: PSK,
      persistentkeepaliveinterval: 25,
      mtu: 1400,
      mode: 'Auto',
    });
    expect(c.listenPort).toBe(5000);
    expect(c.listenPortV6).toBe(5001);
    expect(Buffer.from(c.psk!).toString('base64')).toBe(PSK);
    expect(c.persistentKeepaliveInterval).toBe(25);
    expect(c.mtu).toBe(1400);
    expect(c.mode).toBe('auto');
  });

  it.each([
    [{ listenport: 0 }, /Backend\.ListenPort 0 is invalid; use a whole number from 1 to 65535/],
    [{ listenport: '51820' }, /Backend\.ListenPort "51820"/],
    [{ listenportv6: 70000 }, /Backend\.ListenPortV6 70000/],
    [{ persistentkeepaliveinterval: -1 }, /Backend\.PersistentKeepaliveInterval -1/],
    [{ persistentkeepaliveinterval: 2.5 }, /Backend\.PersistentKeepaliveInterval 2\.5/],
    [{ mtu: 100 }, /Backend\.MTU 100 is invalid; use a whole number from 656/],
    [{ mode: 'kernel' }, /Backend\.Mode "kernel" is invalid; use one of separate, auto, ipv4, ipv6/],
    [{ mode: 4 }, /Backend\.Mode 4/],
    [{ psk: 'short' }, /Backend\.PSK is not a base64 WireGuard key .*wg genpsk/],
    [{ psk: PSK.slice(0, 42) + 'A=' + 'A' }, /Backend\.PSK/],
  ])('refuses %j with one line naming the field', (b, msg) => {
    let err: Error | undefined;
    try {
      parseWireguardConfig(b);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(msg);
    expect(err?.message).not.toContain('\n');
  });

  it('never echoes a bad PSK back (it may be a real secret with a typo)', () => {
    const almost = PSK.slice(0, 43) + '!';
    expect(() => parseWireguardConfig({ psk: almost })).toThrow(/PSK/);
    try {
      parseWireguardConfig({ psk: almost });
    } catch (e) {
      expect((e as Error).message).not.toContain(almost.slice(0, 20));
    }
  });
});

import { describe, expect, it } from 'vitest';
import { explainEtcdError, type EtcdErrorContext } from './etcd-errors.js';

// Raw messages as etcd3 1.1 / grpc-js 1.14 / Node 20 / etcd 3.4 produced them in the lab
// (test/etcd-tls.e2e.ts reproduces each against real members).
const RAW = {
  unknownCa:
    '14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate. Resolution note: ',
  alert42:
    '14 UNAVAILABLE: No connection established. Last error: 808C05DD417F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n (2026-12-01T22:31:06.461Z). Resolution note: ',
  closed:
    '14 UNAVAILABLE: No connection established. Last error: Failed to connect (2026-12-01T22:31:06.621Z). Resolution note: ',
  altname:
    "14 UNAVAILABLE: No connection established. Last error: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: IP: 198.18.44.110 is not in the cert's list: 198.18.44.200. Resolution note: ",
  expired:
    '14 UNAVAILABLE: No connection established. Last error: Error: certificate has expired. Resolution note: ',
  notYet:
    '14 UNAVAILABLE: No connection established. Last error: Error: certificate is not yet valid. Resolution note: ',
  noCreds:
    '14 UNAVAILABLE: No connection established. Last error: Failed to load credentials. Resolution note: ',
  badPassword: '3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password',
  denied: '7 PERMISSION_DENIED: etcdserver: permission denied',
  refused:
    '14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 198.18.44.101:2379 (2026-12-01T22:31:06.621Z). Resolution note: ',
};

const tls: EtcdErrorContext = {
  tls: true,
  cafile: '/etc/overlayd/etcd-ca.pem',
  certfile: '/etc/overlayd/etcd-client.pem',
  keyfile: '/etc/overlayd/etcd-client-key.pem',
  endpoint: 'https://198.18.44.101:2379',
  certCommonName: 'node1',
};

describe('explainEtcdError', () => {
  it('names --etcd-cafile when the member is signed by another CA', () => {
    const e = explainEtcdError(RAW.unknownCa, tls)!;
    expect(e.kind).toBe('tls-unknown-ca');
    expect(e.message).toBe(
      "TLS to etcd https://198.18.44.101:2379: the member's certificate is not signed by the CA in --etcd-cafile /etc/overlayd/etcd-ca.pem (unable to verify the first certificate); give the CA that issued the etcd members' certificates (their --trusted-ca-file)",
    );
  });

  it('names the member IP missing from its certificate and the SAN to add', () => {
    const e = explainEtcdError(RAW.altname, tls)!;
    expect(e.kind).toBe('tls-server-name');
    expect(e.message).toContain(
      'etcd member 198.18.44.110: its certificate does not name it (it holds 198.18.44.200)',
    );
    expect(e.message).toContain('IP:198.18.44.110 in subjectAltName');
  });

  it('names the client certificate etcd refused, with the alert', () => {
    const e = explainEtcdError(RAW.alert42, tls)!;
    expect(e.kind).toBe('tls-client-rejected');
    expect(e.message).toContain(
      'refused the client certificate --etcd-certfile /etc/overlayd/etcd-client.pem (alert bad certificate)',
    );
  });

  it('prefers what is known locally about the files (expired, wrong key) over the alert', () => {
    const filesProblem =
      '--etcd-certfile /etc/overlayd/etcd-client.pem expired at 2026-11-30T22:36:12.000Z; renew it';
    expect(explainEtcdError(RAW.alert42, { ...tls, filesProblem })).toEqual({
      kind: 'tls-files',
      message: filesProblem,
    });
    expect(explainEtcdError(RAW.noCreds, { ...tls, filesProblem })).toEqual({
      kind: 'tls-files',
      message: filesProblem,
    });
  });

  it("explains a member's expired or not-yet-valid certificate", () => {
    expect(explainEtcdError(RAW.expired, tls)!.kind).toBe('tls-server-expired');
    expect(explainEtcdError(RAW.notYet, tls)!.message).toContain("check this host's clock");
  });

  it('points at the CRL when the member closes right after the handshake', () => {
    const e = explainEtcdError(RAW.closed, tls)!;
    expect(e.kind).toBe('tls-closed');
    expect(e.message).toContain(
      '--etcd-certfile /etc/overlayd/etcd-client.pem is not revoked in its --client-crl-file',
    );
    // Without TLS the same words are not about certificates.
    expect(explainEtcdError(RAW.closed, { tls: false })).toBeUndefined();
  });

  it('names the user on a wrong password, and the key prefix to grant on a refused key', () => {
    const bad = explainEtcdError(RAW.badPassword, { tls: false, username: 'flannel' })!;
    expect(bad.message).toBe(
      'etcd refused user "flannel": wrong password or no such user; fix --etcd-password (or FLANNELD_ETCD_PASSWORD), or set it with: etcdctl user passwd flannel',
    );
    const denied = explainEtcdError(RAW.denied, {
      tls: false,
      username: 'narrow',
      prefix: '/coreos.com/network',
    })!;
    expect(denied.message).toBe(
      'etcd refused user "narrow" on this key: its roles lack permission; grant them the prefix: etcdctl role grant-permission <role> --prefix=true readwrite /coreos.com/network/',
    );
    // Under client-cert auth etcd's user is the certificate's CN.
    expect(explainEtcdError(RAW.denied, tls)!.message).toContain(
      'user "node1" (the CN of --etcd-certfile /etc/overlayd/etcd-client.pem)',
    );
  });

  it('leaves errors that are not TLS or auth in etcd words', () => {
    expect(explainEtcdError(RAW.refused, tls)).toBeUndefined();
    expect(explainEtcdError('4 DEADLINE_EXCEEDED: Deadline exceeded', tls)).toBeUndefined();
    expect(explainEtcdError(RAW.unknownCa, { tls: false })).toBeUndefined();
  });

  it('every explanation is one line', () => {
    for (const raw of Object.values(RAW)) {
      const e = explainEtcdError(raw, { ...tls, username: 'flannel' });
      if (e) expect(e.message).not.toMatch(/\n/);
    }
  });
});

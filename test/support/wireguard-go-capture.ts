/**
 * An underlay capture of two Debian wireguard-go 0.0.20220316 nodes (test/lab/wireguard-go-node.ts),
 * the independent known answer for the pcap reader and the WireGuard message checks:
 *   tcpdump -i eth0 -n -U -s 0 -w wg.pcap 'udp port 51820'   (in node 1's namespace)
 * while node 1 (198.18.213.1) pinged a pod behind node 2 (198.18.213.2) once, then stayed idle past
 * the 10 s passive keepalive. Frames: initiation 1→2 (148), response 2→1 (92), the echo request
 * 1→2 and reply 2→1 as transport data (128: 84-byte ICMP padded to 96), a keepalive 1→2 (32).
 * Do not edit by hand: re-capture.
 */

/** Node 1's and node 2's public keys (`wg pubkey`); MAC1 of a message is keyed by its receiver's. */
export const WG_GO_PUBLIC_KEYS = [
  'ZHONf/hJvlX9r/0qvCpWwCTOVtoRN4ZZ8s04+NKbdSA=',
  'HHHOBbcRlicCUjO0wDBxJVDceP3VfmdoaeAieQghSzw=',
] as const;

export const WG_GO_CAPTURE: Uint8Array = Uint8Array.from(
  Buffer.from(
    [
      'd4c3b2a1020004000000000000000000000004000100000001990f6b95cf0800be000000be0000009e302b72fe1aaab5',
      'af60f8dd0800450000b0fc0940004011080ac612d501c612d502ca6cca6c009c36d701000000f06c46fa78f6e3ea891c',
      '1942cb9bb922bc0aa4c5fbcc8717915106c52fac53d43519140d68a93b8bc5c4dd0589c06b06638093d4eb03fbdb3b65',
      'c108a0d4c86d42ccf3dc4cdabd9283a4a9d1c4bf84de59fec307c1f2ab5c4c0960c6b447fb033f7a0de0e872bd2127f1',
      '5d5dd99cca8eb5b39275ab51c9c726a07ab566ac51f80000000000000000000000000000000001990f6b85d208008600',
      '000086000000aab5af60f8dd9e302b72fe1a080045000078af4a400040115501c612d502c612d501ca6cca6c0064369f',
      '02000000c665ef2ef06c46fa0f5b72d04a344d4b9585b49e92ab6dc74e7448a1ab129becbcb724a7a88f861a523f7a3a',
      '83e60bf9a9c6f0d75612cf76ed0168993a11fe129b1aa6f7ed51a25d0000000000000000000000000000000001990f6b',
      '06d40800aa000000aa0000009e302b72fe1aaab5af60f8dd08004500009cfc0a40004011081dc612d501c612d502ca6c',
      'ca6c008836c304000000c665ef2e0000000000000000c455e2e6caf7edab5a9f09cd740f6834e22a2ec4637093e138d5',
      '03fff90336796663d3885a2fa2e153ac3a248c05088e71ba181e562d14d4e3149af4a19f54526b6ecd14c8cabce28883',
      '07412ccc98abbc8696c4e283aefa6821fc812edca42f86f29cc9fa713f2fcce5d158fa5baad101990f6babd50800aa00',
      '0000aa000000aab5af60f8dd9e302b72fe1a08004500009caf4b4000401154dcc612d502c612d501ca6cca6c008836c3',
      '04000000f06c46fa00000000000000006801b8f5612e549907b4d730fbd2d41b194d6bb51c672e74c6f181d3aa5fd31f',
      '95f88cf0e7a4c124050a6620d078c3e6a65e666906985b76e9d42e51a060caccd7b150bfbefd717b0d92528dff9c304c',
      '061dee89c5a3322c10ad0716bdd5aa3dcc32b78150d279c9f8355ac8bddd7ba80b990f6b21dd08004a0000004a000000',
      '9e302b72fe1aaab5af60f8dd08004500003c045c40004011002cc612d501c612d502ca6cca6c0028366304000000c665',
      'ef2e01000000000000009550ceb80e8e8ea7913fa939790749c0',
    ].join(''),
    'hex',
  ),
);

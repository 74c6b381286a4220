/**
 * The V8 options overlayd runs with. They must be given at process start (V8 sizes its heap
 * then), so they live in daemon/main.ts's `#!/usr/bin/env -S node …` line — which every installed
 * entry point (systemd unit, container, install.sh's symlink) goes through — and the lab, which
 * starts `node main.js` directly, passes this same list. A unit test keeps the two equal.
 *
 * --max-semi-space-size=4: V8 grows the young generation to 2 × 16 MiB under a burst of lease
 * events and keeps it; at 5000 peers that was a third of the daemon's RSS. 4 MiB semi-spaces hold
 * the same bursts with a few more scavenges (bench/convergence: RSS 103–120 → ~85 MB, same
 * convergence time).
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/**
 * A batch of packets, each a list of ranges of one slab (the IovBatch the scatter-gather calls
 * take), filled packet by packet. Sized once; a caller asks `fits` before a packet and flushes
 * the batch when the answer is no. Nothing is allocated after construction.
 */
import type { IovBatch } from '../../sys/batch-io.js';

export class IovList implements IovBatch {
  readonly offs: Int32Array;
  readonly lens: Int32Array;
  readonly first: Int32Array;
  readonly counts: Int32Array;
  /** Ranges used. */
  ranges = 0;
  /** Packets begun (the last may still be open). */
  packets = 0;

  constructor(
    readonly maxRanges: number,
    readonly maxPackets: number,
  ) {
    this.offs = new Int32Array(maxRanges);
    this.lens = new Int32Array(maxRanges);
    this.first = new Int32Array(maxPackets);
    this.counts = new Int32Array(maxPackets);
  }

  /** Whether `packets` more packets of `ranges` ranges in all still fit. */
  fits(packets: number, ranges: number): boolean {
    return this.packets + packets <= this.maxPackets && this.ranges + ranges <= this.maxRanges;
  }

  /** Starts a packet (the caller checked `fits`); returns its index. */
  begin(): number {
    const p = this.packets++;
    this.first[p] = this.ranges;
    this.counts[p] = 0;
    return p;
  }

  /** Appends a range to the packet begun last. */
  add(off: number, len: number): void {
    const r = this.ranges++;
    this.offs[r] = off;
    this.lens[r] = len;
    this.counts[this.packets - 1]! += 1;
  }

  /** Bytes of packet p. */
  bytesOf(p: number): number {
    let n = 0;
    const end = this.first[p]! + this.counts[p]!;
    for (let r = this.first[p]!; r < end; r++) n += this.lens[r]!;
    return n;
  }

  reset(): void {
    this.ranges = 0;
    this.packets = 0;
  }
}

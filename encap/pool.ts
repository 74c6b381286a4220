/**
 * A pool of fixed-size packet slots in one slab, which the native side reads and writes in place.
 * The slab is a plain ArrayBuffer, private to the worker that owns the pool: V8 copies between
 * typed arrays over a SharedArrayBuffer with relaxed atomic word moves (another thread might race),
 * several times slower than memmove, and that copy was a third of all CPU in a profile. Only small
 * control structures (counters, the peer table, the stop flag) are shared. Slots are acquired and released in pairs; a SlotBatch (below) returns every
 * slot a batch took, so no early exit leaks one. Each slot starts with `headroom` bytes free for a header
 * written in front of the packet (the 10-byte virtio_net_hdr), so nothing is copied to prepend it.
 * Nothing is allocated after construction.
 */
export class SlotPool {
  readonly slab: Uint8Array;
  private readonly free: Int32Array;
  private top: number;
  private readonly taken: Uint8Array;

  constructor(
    readonly slotCount: number,
    readonly slotSize: number,
    readonly headroom = 0,
    buffer: ArrayBuffer = new ArrayBuffer(slotCount * slotSize),
  ) {
    if (buffer.byteLength < slotCount * slotSize)
      throw new RangeError('slab smaller than slotCount * slotSize');
    this.slab = new Uint8Array(buffer, 0, slotCount * slotSize);
    this.free = new Int32Array(slotCount);
    this.taken = new Uint8Array(slotCount);
    for (let i = 0; i < slotCount; i++) this.free[i] = slotCount - 1 - i;
    this.top = slotCount;
  }

  get available(): number {
    return this.top;
  }

  get inUse(): number {
    return this.slotCount - this.top;
  }

  /** A free slot's index, or -1 when the pool is empty (the caller flushes and retries). */
  acquire(): number {
    if (this.top === 0) return -1;
    const slot = this.free[--this.top]!;
    this.taken[slot] = 1;
    return slot;
  }

  release(slot: number): void {
    if (this.taken[slot] !== 1) throw new Error(`slot ${slot} released twice or never acquired`);
    this.taken[slot] = 0;
    this.free[this.top++] = slot;
  }

  /** Byte offset of a slot in the slab. */
  offsetOf(slot: number): number {
    return slot * this.slotSize;
  }

  /** Byte offset where a packet starts in a slot (after the headroom). */
  dataOffsetOf(slot: number): number {
    return slot * this.slotSize + this.headroom;
  }

  /**
   * Takes up to `count` slots for good (an engine's read slots, reused every batch) and writes
   * their data offsets to offs[0..]; returns how many. Throws when the pool has none to give.
   */
  acquireResident(offs: Int32Array, count: number, owner: string): number {
    let n = 0;
    for (; n < count; n++) {
      const s = this.acquire();
      if (s < 0) break;
      offs[n] = this.dataOffsetOf(s);
    }
    if (n === 0) throw new RangeError(`${owner}: the pool has no slot to read into`);
    return n;
  }

  /** Bytes a packet may occupy in a slot. */
  get dataCapacity(): number {
    return this.slotSize - this.headroom;
  }
}

/** The slots one batch took from a pool, released together (or from a mark on). Allocates once. */
export class SlotBatch {
  private readonly slots: Int32Array;
  private n = 0;

  constructor(readonly pool: SlotPool) {
    this.slots = new Int32Array(pool.slotCount);
  }

  /** How many slots the batch holds. */
  get count(): number {
    return this.n;
  }

  /** A slot for this batch, or -1 when the pool is empty. */
  take(): number {
    const s = this.pool.acquire();
    if (s >= 0) this.slots[this.n++] = s;
    return s;
  }

  /** Releases the slots taken after the first `mark`, keeping those. */
  releaseFrom(mark: number): void {
    for (let i = mark; i < this.n; i++) this.pool.release(this.slots[i]!);
    this.n = Math.min(this.n, mark);
  }

  releaseAll(): void {
    this.releaseFrom(0);
  }
}

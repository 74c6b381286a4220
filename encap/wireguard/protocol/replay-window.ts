/**
 * The receive side's sliding window over transport counters (paper §5.4.6, RFC 6479's bitmap): a
 * counter is accepted once, if it is newer than anything seen or at most WINDOW_SIZE behind the
 * newest. The bitmap is 2048 bits in 64 words used as a ring; a word is cleared as the window's
 * head moves into it, so advancing costs at most 64 stores however far it jumps. The window keeps
 * one word of slack (as wireguard-go does), so WINDOW_SIZE is 2048 − 32 = 2016 counters.
 *
 * Use: `mayAccept(counter)` before decrypting (cheap, changes nothing), `accept(counter)` only
 * after the tag verified — marking unauthenticated counters would let a forger burn the window.
 * Counters are JS numbers: a legitimate peer cannot approach 2^53 within REJECT_AFTER_TIME (it would
 * need 5·10^13 packets a second), so anything at or above MAX_COUNTER is refused outright.
 */
const WORD_BITS = 32;
const WORDS = 2048 / WORD_BITS;
export const WINDOW_SIZE = 2048 - WORD_BITS;
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

export class ReplayWindow {
  private readonly bitmap = new Uint32Array(WORDS);
  private last = 0;

  constructor(private readonly rejectAfterMessages = MAX_COUNTER) {}

  /** True if `counter` would be accepted now (not replayed, not too old, not past the limit). */
  mayAccept(counter: number): boolean {
    if (!Number.isSafeInteger(counter) || counter < 0 || counter >= this.rejectAfterMessages) return false;
    if (counter > this.last) return true;
    if (this.last - counter > WINDOW_SIZE) return false;
    const word = Math.floor(counter / WORD_BITS) % WORDS;
    return (this.bitmap[word]! & (1 << (counter % WORD_BITS))) === 0;
  }

  /** Marks `counter` received; false (and nothing changed) if it is a replay or out of window. */
  accept(counter: number): boolean {
    if (!this.mayAccept(counter)) return false;
    const block = Math.floor(counter / WORD_BITS);
    if (counter > this.last) {
      const current = Math.floor(this.last / WORD_BITS);
      const advance = Math.min(block - current, WORDS);
      for (let i = 1; i <= advance; i++) this.bitmap[(current + i) % WORDS] = 0;
      this.last = counter;
    }
    this.bitmap[block % WORDS]! |= 1 << (counter % WORD_BITS);
    return true;
  }

  /** The greatest counter accepted so far (0 before any). */
  get newest(): number {
    return this.last;
  }
}

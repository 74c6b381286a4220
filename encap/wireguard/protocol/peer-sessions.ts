/**
 * A peer's session slots (paper §6.1, as wireguard-go keeps them): `current` sends and receives;
 * `previous` still receives (packets in flight when the keys changed); `next` is a session we
 * derived as responder, which receives but may not send until the initiator proves it has the keys
 * by sending on it (key confirmation: then next becomes current). Keys themselves live in the
 * datapath; a slot holds what the timers need. Every slot a change pushes out is returned, so the
 * caller tells the datapath to forget its keys.
 */
export interface SessionSlot {
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly isInitiator: boolean;
  readonly createdAtMs: number;
  /** Transport messages sent on it, as the datapath reported them. */
  sent: number;
}

export class PeerSessions {
  current: SessionSlot | undefined;
  previous: SessionSlot | undefined;
  next: SessionSlot | undefined;

  /** A session we initiated becomes current at once (the response confirmed the keys). */
  installInitiated(slot: SessionSlot): SessionSlot[] {
    const dropped: SessionSlot[] = [];
    if (this.previous) dropped.push(this.previous);
    if (this.next) {
      // An unconfirmed responder session is kept for receiving only; the old current goes.
      if (this.current) dropped.push(this.current);
      this.previous = this.next;
      this.next = undefined;
    } else this.previous = this.current;
    this.current = slot;
    return dropped;
  }

  /** A session we answered waits in `next` for confirmation; an older unconfirmed one is dropped. */
  installResponded(slot: SessionSlot): SessionSlot[] {
    const dropped = this.next ? [this.next] : [];
    this.next = slot;
    return dropped;
  }

  /** Data arrived on `next`: it becomes current. Returns the slot pushed out of `previous`. */
  confirm(): SessionSlot[] {
    if (!this.next) return [];
    const dropped = this.previous ? [this.previous] : [];
    this.previous = this.current;
    this.current = this.next;
    this.next = undefined;
    return dropped;
  }

  /** Removes one slot (expired), wherever it is. */
  remove(slot: SessionSlot): void {
    if (this.current === slot) this.current = undefined;
    if (this.previous === slot) this.previous = undefined;
    if (this.next === slot) this.next = undefined;
  }

  /** Empties every slot, returning what was there. */
  clear(): SessionSlot[] {
    const all = this.all();
    this.current = this.previous = this.next = undefined;
    return all;
  }

  all(): SessionSlot[] {
    return [this.current, this.previous, this.next].filter((s): s is SessionSlot => s !== undefined);
  }
}

/**
 * Which WAL position a slot may be told is processed, with no Effect (a portable module: see
 * docs/ADDING-A-SURFACE.md). Transactions are acknowledged in any order (a consumer may
 * process them concurrently); the confirmed position is the end of the longest acknowledged
 * prefix, so it never passes a transaction still being processed.
 *
 * @internal
 */

/** One transaction awaiting acknowledgement, or a keepalive's position (a marker). @internal */
export interface Entry {
  lsn: bigint
  done: boolean
  readonly marker: boolean
}

/** @internal */
export class Confirmation {
  private readonly pending: Array<Entry> = []

  /** `confirmed`: where the slot already is (set again when the slot is recreated). */
  constructor(public confirmed: bigint) {}

  /** A transaction ending at `lsn`, in stream order; complete it when acknowledged. */
  track(lsn: bigint): Entry {
    const entry: Entry = { lsn, done: false, marker: false }
    this.pending.push(entry)
    return entry
  }

  /**
   * A keepalive's WAL end between transactions: everything before it was received, so it can
   * be confirmed once every earlier transaction is. Consecutive keepalives share one marker.
   * True when the confirmed position moved.
   */
  reached(walEnd: bigint): boolean {
    const last = this.pending[this.pending.length - 1]
    if (last !== undefined && last.marker) {
      if (walEnd > last.lsn) last.lsn = walEnd
    } else {
      this.pending.push({ lsn: walEnd, done: true, marker: true })
    }
    return this.advance()
  }

  /** The transaction was acknowledged. True when the confirmed position moved. */
  complete(entry: Entry): boolean {
    entry.done = true
    return this.advance()
  }

  private advance(): boolean {
    let moved = false
    while (this.pending.length > 0 && this.pending[0]!.done) {
      const { lsn } = this.pending.shift()!
      if (lsn > this.confirmed) {
        this.confirmed = lsn
        moved = true
      }
    }
    return moved
  }
}

/**
 * Attribute names this package adds beyond those in core's `Semconv` (kept here, as
 * instrumentation-pg keeps its own `semconv.ts`).
 *
 * @internal
 */

/** Rows of one table read by the initial snapshot (span `cdc snapshot {slot}`). @internal */
export const ATTR_CDC_SNAPSHOT_ROWS = "cdc.snapshot.rows"

/** The slot's consistent point the snapshot was read at (span `cdc snapshot {slot}`). @internal */
export const ATTR_CDC_SNAPSHOT_LSN = "cdc.snapshot.lsn"

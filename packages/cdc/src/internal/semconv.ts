/**
 * The names `@effect-telemetry/cdc` emits (kept here, as instrumentation-pg keeps its own
 * `semconv.ts`): OpenTelemetry has no conventions for change data capture, so all are ours
 * except the stable `error.type` and `db.system.name`, imported from
 * `@opentelemetry/semantic-conventions`.
 *
 * @internal
 */
export { ATTR_DB_SYSTEM_NAME as ATTR_CDC_DB_SYSTEM_NAME, ATTR_ERROR_TYPE } from "@opentelemetry/semantic-conventions"

/** Replication slot the changes come from. @internal */
export const ATTR_CDC_SLOT = "cdc.slot"
/** Publication the slot decodes with. @internal */
export const ATTR_CDC_PUBLICATION = "cdc.publication"
/** Schema-qualified table of a change (`public.orders`). @internal */
export const ATTR_CDC_TABLE = "cdc.table"
/** `insert` | `update` | `delete` | `truncate` | `snapshot` @internal */
export const ATTR_CDC_OPERATION = "cdc.operation"
/** @internal */
export const ATTR_CDC_TRANSACTION_XID = "cdc.transaction.xid"
/** LSN of the commit record (`0/16B3748`). @internal */
export const ATTR_CDC_TRANSACTION_COMMIT_LSN = "cdc.transaction.commit_lsn"
/** LSN just past the commit record: what acknowledging the transaction confirms. @internal */
export const ATTR_CDC_TRANSACTION_END_LSN = "cdc.transaction.end_lsn"
/** @internal */
export const ATTR_CDC_TRANSACTION_CHANGES = "cdc.transaction.changes"
/** @internal */
export const METRIC_CDC_CHANGES = "cdc.changes"
/** @internal */
export const METRIC_CDC_ERRORS = "cdc.errors"
/** @internal */
export const METRIC_CDC_REPLICATION_LAG = "cdc.replication.lag"
/** @internal */
export const METRIC_CDC_RETAINED_WAL = "cdc.retained_wal"

/** Rows of one table read by the initial snapshot (span `cdc snapshot {slot}`). @internal */
export const ATTR_CDC_SNAPSHOT_ROWS = "cdc.snapshot.rows"

/** The slot's consistent point the snapshot was read at (span `cdc snapshot {slot}`). @internal */
export const ATTR_CDC_SNAPSHOT_LSN = "cdc.snapshot.lsn"

/**
 * The metrics and spans of the change stream. They are recorded by `Cdc.stream` and
 * `Cdc.process`; nothing needs installing besides the app's telemetry layer.
 *
 * @since 0.1.0
 */
import { Instrument } from "@effect-telemetry/core"
import * as Semconv from "./internal/semconv.js"

/**
 * Changes processed (acknowledged), by `cdc.slot`, `cdc.table` and `cdc.operation`
 * (`insert`, `update`, `delete`, `truncate`, and `snapshot` for a row of the initial snapshot).
 * A truncate counts once per table. Redelivered changes (at-least-once) count again.
 *
 * @since 0.1.0
 * @category metrics
 */
export const changes = Instrument.counter({
  name: Semconv.METRIC_CDC_CHANGES,
  unit: "{change}",
  description: "Changes processed from a replication slot, by slot, table and operation."
})

/**
 * Fatal stream errors, by `cdc.slot` and `error.type` (the `CdcError` reason). Incremented
 * once per failed stream, from the one function every fatal path goes through.
 *
 * @since 0.1.0
 * @category metrics
 */
export const errors = Instrument.counter({
  name: Semconv.METRIC_CDC_ERRORS,
  unit: "{error}",
  description: "Fatal change-stream errors, by slot and error.type."
})

/**
 * Seconds between a transaction's commit and the end of its processing (when it was
 * acknowledged), by `cdc.slot`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const replicationLag = Instrument.gauge({
  name: Semconv.METRIC_CDC_REPLICATION_LAG,
  unit: "s",
  description: "Seconds from the commit of the last processed transaction to its processing."
})

/**
 * WAL the server keeps for the slot (`pg_current_wal_lsn() - restart_lsn` from
 * `pg_replication_slots`), in bytes, by `cdc.slot`; polled while the stream runs.
 *
 * @since 0.1.0
 * @category metrics
 */
export const retainedWal = Instrument.gauge({
  name: Semconv.METRIC_CDC_RETAINED_WAL,
  unit: "By",
  description: "Bytes of WAL retained by the replication slot."
})

/**
 * Name of the span of one processed transaction: `cdc process {slot}`.
 *
 * @since 0.1.0
 * @category spans
 */
export const spanName = (slot: string): string => `cdc process ${slot}`

/**
 * Name of the span of one table read by the initial snapshot: `cdc snapshot {slot}`, with the
 * table in `cdc.table` and the rows read in `cdc.snapshot.rows`. It ends when the last row of
 * the table is handed to the consumer (processing is in the `cdc process {slot}` spans).
 *
 * @since 0.2.0
 * @category spans
 */
export const snapshotSpanName = (slot: string): string => `cdc snapshot ${slot}`

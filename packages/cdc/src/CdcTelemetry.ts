/**
 * The metrics and spans of the change stream. They are recorded by `Cdc.stream` and
 * `Cdc.process`; nothing needs installing besides the app's telemetry layer.
 *
 * @since 0.1.0
 */
import { Instrument, Signals } from "@effect-telemetry/core"
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

/**
 * Every span and metric of the change stream, with its attributes and meaning: the
 * declaration docs/SIGNALS.md is generated from.
 *
 * @since 0.2.0
 * @category signals
 */
export const signals: Signals.Catalogue = Signals.make({
  surface: "cdc",
  spans: [
    {
      name: spanName("{slot}"),
      ours: true,
      kind: "Consumer",
      attributes:
        "`db.system.name=postgresql`, `cdc.slot`, `cdc.publication`, `cdc.transaction.xid`, `cdc.transaction.commit_lsn`, `cdc.transaction.end_lsn`, `cdc.transaction.changes`; `error.type` on failure",
      meaning:
        "One committed transaction processed by `Cdc.process`/`Cdc.run`, handler and acknowledgement. A root span with no links: a WAL transaction carries no trace context, so nothing is invented. Error when the handler fails (the transaction is then not acknowledged)."
    },
    {
      name: snapshotSpanName("{slot}"),
      ours: true,
      kind: "Client",
      attributes:
        "`db.system.name=postgresql`, `cdc.slot`, `cdc.publication`, `cdc.table`, `cdc.snapshot.lsn` (the slot's consistent point), `cdc.snapshot.rows`",
      meaning:
        "One table read by the initial snapshot (`snapshot: true`, when the stream creates the slot), from its cursor to its last row handed to the consumer; child of the span current where the stream runs. Error when the read fails (the stream then fails and the slot is dropped)."
    }
  ],
  metrics: [
    {
      instrument: changes,
      ours: true,
      attributes:
        "always `cdc.slot`, `cdc.table` (`schema.table`), `cdc.operation` = `insert` \\| `update` \\| `delete` \\| `truncate` \\| `snapshot`",
      meaning:
        "Changes processed, counted when their transaction is acknowledged. A truncate counts once per table; `snapshot` counts the rows of the initial snapshot. Delivery is at least once, so a transaction redelivered after a restart counts again."
    },
    {
      instrument: errors,
      ours: true,
      attributes:
        "always `cdc.slot`, `error.type` = `ConnectionLost` \\| `SlotDropped` \\| `SlotInUse` \\| `Decode` \\| `Setup`",
      meaning:
        "Fatal stream errors, once per failed stream, from the single function every fatal path goes through; the stream fails with a `CdcError` of the same `reason`. A failing handler is not counted here (it is the consumer's error, on the span)."
    },
    {
      instrument: replicationLag,
      ours: true,
      attributes: "always `cdc.slot`",
      meaning:
        "Seconds from the commit of the last acknowledged transaction to its acknowledgement (end of processing); the initial snapshot's batches leave it unchanged."
    },
    {
      instrument: retainedWal,
      ours: true,
      attributes: "always `cdc.slot`",
      meaning:
        "`pg_current_wal_lsn() - restart_lsn` of the slot in `pg_replication_slots`, polled every `retainedWalInterval` (10 s) while the stream runs; a failed poll is a missing sample. Grows when the consumer falls behind or stops."
    }
  ]
})

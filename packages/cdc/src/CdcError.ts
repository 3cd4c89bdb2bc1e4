/**
 * The error a running change stream fails with. `reason` says which fatal path ended it; the
 * same value is the `error.type` of the `cdc.errors` metric. Options the stream cannot start
 * with are a `TelemetryOptionsError` (from `@effect-telemetry/core`), as on every surface.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * - `ConnectionLost`: the replication connection could not be opened or ended unexpectedly
 *   (server restart, `pg_terminate_backend`, network).
 * - `SlotDropped`: the replication slot does not exist (dropped, or never created with
 *   `createSlot: false`).
 * - `SlotInUse`: another connection is streaming from the slot.
 * - `Decode`: a replication message could not be decoded.
 * - `Setup`: the server cannot stream (e.g. `wal_level` is not `logical`, a missing
 *   publication, a slot of another plugin or database, missing privileges).
 *
 * @since 0.1.0
 * @category models
 */
export type Reason = "ConnectionLost" | "SlotDropped" | "SlotInUse" | "Decode" | "Setup"

/**
 * @since 0.1.0
 * @category errors
 */
export class CdcError extends Data.TaggedError("CdcError")<{
  readonly reason: Reason
  readonly slot: string
  readonly message: string
  readonly cause?: unknown
}> {}

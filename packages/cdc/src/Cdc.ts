/**
 * Postgres change-data-capture as an Effect `Stream`: the committed transactions of a logical
 * replication slot (`pgoutput`), each with its typed changes, delivered at least once.
 *
 * A transaction is confirmed to the server only after it is acknowledged, so a consumer that
 * stops (crash, deploy, failure of its handler) resumes after the last acknowledged
 * transaction on its next start: nothing is lost, and only unacknowledged work is repeated.
 *
 * @example
 * ```ts
 * import { Cdc } from "@effect-telemetry/cdc"
 *
 * const program = Cdc.run({
 *   connectionString: process.env.DATABASE_URL!,
 *   slot: "orders_cdc",
 *   publication: "orders_pub",
 *   tables: ["public.orders"]
 * }, (tx) => Effect.forEach(tx.changes, project))
 * ```
 *
 * @since 0.1.0
 */
import { TelemetryOptionsError } from "@effect-telemetry/core"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Mailbox from "effect/Mailbox"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type * as CdcChange from "./CdcChange.js"
import type { CdcError } from "./CdcError.js"
import * as CdcTelemetry from "./CdcTelemetry.js"
import { Source, validate } from "./internal/replication.js"
import * as Semconv from "./internal/semconv.js"
import * as Snapshot from "./internal/snapshot.js"

/** @since 0.1.0 @category models */
export interface Options {
  /** `postgres://user@host:port/db`; the user needs the `REPLICATION` attribute. */
  readonly connectionString: string | Redacted.Redacted<string>
  /** Replication slot name (a-z, 0-9, `_`). */
  readonly slot: string
  /** Publication name (a-z, 0-9, `_`). */
  readonly publication: string
  /** Create the slot (`pgoutput`) when it does not exist. Default `true`. */
  readonly createSlot?: boolean | undefined
  /** Create the publication when it does not exist. Default `true`. */
  readonly createPublication?: boolean | undefined
  /** Tables (`table` or `schema.table`) of a publication created here; default all tables. */
  readonly tables?: ReadonlyArray<string> | undefined
  /** Transactions held for the consumer before reading from the server pauses. Default 16. */
  readonly bufferSize?: number | undefined
  /** How often `cdc.retained_wal` is read from `pg_replication_slots`. Default 10 seconds. */
  readonly retainedWalInterval?: Duration.DurationInput | undefined
  /** How often the confirmed position is re-sent to the server when nothing changes. Default 10 seconds. */
  readonly statusInterval?: Duration.DurationInput | undefined
  /**
   * When this stream creates the slot, first deliver the rows the publication's tables hold
   * at the slot's consistent point (`Snapshot` changes), then stream from that point. No
   * snapshot is taken when the slot already exists (a restart). Default `false`.
   */
  readonly snapshot?: boolean | undefined
  /** Rows per snapshot transaction, and per read from the server. Default 1000. */
  readonly snapshotBatchSize?: number | undefined
}

/**
 * The committed transactions of the slot, in commit order. Call `acknowledge` on each once it
 * is processed (or use {@link process}, which does). Fails with a `CdcError` when the
 * connection is lost, the slot is dropped or in use, or a message cannot be decoded;
 * `Stream.retry` resumes from the last acknowledged transaction. Fails with a
 * `TelemetryOptionsError` before any SQL runs on a slot, publication or table name Postgres
 * would not accept, a `bufferSize` or `snapshotBatchSize` that is not a positive integer, or
 * a `snapshot` that is not a boolean.
 *
 * With `snapshot: true`, a stream that creates the slot first delivers the existing rows
 * (transactions of `Snapshot` changes, read in the snapshot the slot was created with), then
 * the changes committed after the slot's consistent point: no row is missed or delivered
 * twice between the two. A stream that ends before every snapshot transaction was
 * acknowledged drops the slot it created, so the next start takes the snapshot again.
 *
 * @since 0.1.0
 * @category constructors
 */
export const stream = (
  options: Options
): Stream.Stream<CdcChange.Transaction, CdcError | TelemetryOptionsError.TelemetryOptionsError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const { capacity, snapshot, snapshotBatchSize } = yield* TelemetryOptionsError.attempt(() => {
      validate({ slot: options.slot, publication: options.publication, tables: options.tables })
      return {
        capacity: TelemetryOptionsError.positiveInteger("Cdc", "bufferSize", options.bufferSize, 16),
        snapshot: TelemetryOptionsError.boolean("Cdc", "snapshot", options.snapshot, false),
        snapshotBatchSize: TelemetryOptionsError.positiveInteger(
          "Cdc",
          "snapshotBatchSize",
          options.snapshotBatchSize,
          1000
        )
      }
    })
    const runtime = yield* Effect.runtime<never>()
    const mailbox = yield* Mailbox.make<CdcChange.Transaction, CdcError>({ capacity })
    const source = new Source(
      {
        connectionString: Redacted.isRedacted(options.connectionString)
          ? Redacted.value(options.connectionString)
          : options.connectionString,
        slot: options.slot,
        publication: options.publication,
        createSlot: options.createSlot ?? true,
        createPublication: options.createPublication ?? true,
        tables: options.tables,
        snapshot
      },
      mailbox,
      runtime
    )
    yield* Effect.addFinalizer(() => Effect.promise(() => source.close()))
    const point = yield* Effect.promise(() => source.start())
    if (point !== undefined) {
      // Read while the consumer already takes the first batches; streaming starts after it.
      yield* Effect.forkScoped(Snapshot.run(source, point, mailbox, { batchSize: snapshotBatchSize }))
    }
    const slotAttributes = { [Semconv.ATTR_CDC_SLOT]: options.slot }
    const pollRetainedWal = Effect.tryPromise(() => source.retainedWal()).pipe(
      Effect.flatMap((bytes) =>
        bytes === undefined ? Effect.void : CdcTelemetry.retainedWal.set(bytes, slotAttributes)
      ),
      // A failed poll is a missing sample, not a reason to stop the consumer.
      Effect.catchAll((error) => Effect.logDebug("cdc: reading retained WAL failed", error))
    )
    yield* Effect.forkScoped(
      Effect.repeat(pollRetainedWal, Schedule.spaced(options.retainedWalInterval ?? Duration.seconds(10)))
    )
    yield* Effect.forkScoped(
      Effect.repeat(
        Effect.sync(() => source.sendStatus()),
        Schedule.spaced(options.statusInterval ?? Duration.seconds(10))
      )
    )
    return Mailbox.toStream(mailbox)
  }))

/** @since 0.1.0 @category models */
export interface ProcessOptions {
  /** Transactions processed at once. Default 1 (in commit order). */
  readonly concurrency?: number | undefined
}

/**
 * Runs `handler` for each transaction in its own span and acknowledges the transaction when
 * the handler succeeds. A failing handler fails the stream and leaves its transaction (and
 * every later one) unacknowledged, so it is delivered again on the next start.
 *
 * The span, `cdc process {slot}`, is a Consumer root span: a transaction carries no trace
 * context, so it is linked to nothing.
 *
 * @since 0.1.0
 * @category combinators
 */
export const process = <A, E, R>(
  handler: (transaction: CdcChange.Transaction) => Effect.Effect<A, E, R>,
  options?: ProcessOptions
) =>
<E2, R2>(self: Stream.Stream<CdcChange.Transaction, E2, R2>): Stream.Stream<A, E | E2, R | R2> =>
  Stream.mapEffect(
    self,
    (transaction) =>
      Effect.suspend(() => handler(transaction)).pipe(
        Effect.tap(() => transaction.acknowledge),
        Effect.withSpan(CdcTelemetry.spanName(transaction.slot), {
          kind: "consumer",
          root: true,
          attributes: {
            [Semconv.ATTR_CDC_DB_SYSTEM_NAME]: "postgresql",
            [Semconv.ATTR_CDC_SLOT]: transaction.slot,
            [Semconv.ATTR_CDC_PUBLICATION]: transaction.publication,
            [Semconv.ATTR_CDC_TRANSACTION_XID]: transaction.xid,
            [Semconv.ATTR_CDC_TRANSACTION_COMMIT_LSN]: transaction.commitLsn,
            [Semconv.ATTR_CDC_TRANSACTION_END_LSN]: transaction.endLsn,
            [Semconv.ATTR_CDC_TRANSACTION_CHANGES]: transaction.changes.length
          }
        })
      ),
    { concurrency: options?.concurrency ?? 1 }
  )

/**
 * Consumes the slot until interrupted or until the stream or the handler fails:
 * {@link stream} piped through {@link process}.
 *
 * @since 0.1.0
 * @category runners
 */
export const run = <A, E, R>(
  options: Options & ProcessOptions,
  handler: (transaction: CdcChange.Transaction) => Effect.Effect<A, E, R>
): Effect.Effect<void, CdcError | TelemetryOptionsError.TelemetryOptionsError | E, R> =>
  Stream.runDrain(stream(options).pipe(process(handler, options)))

/**
 * {@link Options} from configuration: `connectionString` from `DATABASE_URL` (redacted) unless
 * given, the rest as passed.
 *
 * @since 0.1.0
 * @category config
 */
export const optionsConfig = (
  options: Omit<Options, "connectionString"> & { readonly connectionString?: Config.Config<Redacted.Redacted<string>> }
): Config.Config<Options> =>
  Config.map(
    options.connectionString ?? Config.redacted("DATABASE_URL"),
    (connectionString) => ({ ...options, connectionString })
  )

/**
 * The replication connection: setup of slot and publication, the streaming-replication
 * protocol over `pg` (decoded by pgoutput.ts, which needs no Effect), backpressure and
 * acknowledgement.
 *
 * We drive the protocol ourselves instead of through `LogicalReplicationService` because its
 * acknowledgement does not fit at-least-once delivery: its timer confirms the last *received*
 * LSN (processed or not), and `acknowledge(lsn)` confirms `lsn + 1`, which can skip a
 * transaction whose commit record starts exactly where the previous one ended.
 *
 * @internal
 */
import { TelemetryOptionsError } from "@effect-telemetry/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Mailbox from "effect/Mailbox"
import * as Runtime from "effect/Runtime"
import pg from "pg"
import * as CdcChange from "../CdcChange.js"
import { CdcError, type Reason } from "../CdcError.js"
import * as CdcTelemetry from "../CdcTelemetry.js"
import { Confirmation, type Entry } from "./confirmation.js"
import * as Lsn from "./lsn.js"
import * as Pgoutput from "./pgoutput.js"
import * as Semconv from "./semconv.js"
import { classify, errorCode, messageOf } from "./sqlstate.js"

/** @internal */
export interface Settings {
  readonly connectionString: string
  readonly slot: string
  readonly publication: string
  readonly createSlot: boolean
  readonly createPublication: boolean
  readonly tables: ReadonlyArray<string> | undefined
  /** Take the initial snapshot when this stream creates the slot. */
  readonly snapshot: boolean
}

/**
 * The exported snapshot of a slot this stream just created: rows visible in it are exactly
 * those committed before `consistentPoint`, where streaming starts.
 *
 * @internal
 */
export interface SnapshotPoint {
  readonly name: string
  readonly consistentPoint: bigint
  readonly createdAt: Date
}

// Slot names are restricted by Postgres to this; publication names we restrict the same way
// because START_REPLICATION takes them inside a string literal, where quoting is not possible.
const NAME = /^[a-z0-9_]{1,63}$/
const TABLE = /^(?:([A-Za-z_][A-Za-z0-9_$]*)\.)?([A-Za-z_][A-Za-z0-9_$]*)$/

/**
 * Validates names before any of them reaches SQL; throws the `TelemetryOptionsError` naming
 * the first bad one.
 *
 * @internal
 */
export const validate = (
  settings: Pick<Settings, "slot" | "publication" | "tables">
): void => {
  const reject = (option: string, expected: string, value: unknown): never => {
    throw new TelemetryOptionsError.TelemetryOptionsError({ surface: "Cdc", option, expected, value })
  }
  if (typeof settings.slot !== "string" || !NAME.test(settings.slot)) {
    reject("slot", "a slot name: 1 to 63 of a-z, 0-9 and _", settings.slot)
  }
  if (typeof settings.publication !== "string" || !NAME.test(settings.publication)) {
    reject("publication", "a publication name: 1 to 63 of a-z, 0-9 and _", settings.publication)
  }
  if (settings.tables !== undefined) {
    if (!Array.isArray(settings.tables) || settings.tables.length === 0) {
      reject("tables", "a non-empty array of table names (omit it to publish all tables)", settings.tables)
    }
    for (const table of settings.tables) {
      if (typeof table !== "string" || !TABLE.test(table)) reject("tables", "table or schema.table names", table)
    }
  }
}

// The position this process last confirmed for each slot. A lost connection can take our last
// status update with it, leaving the server's confirmed position behind ours; a stream started
// again in this process (Stream.retry) asks to start here instead, and the server then skips
// the transactions committed before it rather than delivering them a second time. The server
// never goes back before its own confirmed position, so a stale entry cannot lose anything.
const confirmedPositions = new Map<string, bigint>()
const positionKey = (settings: Settings) => `${settings.connectionString}\u0000${settings.slot}`

const quoteTable = (table: string) => table.split(".").map((part) => pg.escapeIdentifier(part)).join(".")

/** The decoder's plain change as the `CdcChange.Change` data type. */
const toChange = (change: Pgoutput.DecodedChange): CdcChange.Change => {
  switch (change._tag) {
    case "Insert":
      return CdcChange.Insert(change)
    case "Update":
      return CdcChange.Update(change)
    case "Delete":
      return CdcChange.Delete(change)
    case "Truncate":
      return CdcChange.Truncate(change)
  }
}

/**
 * One running change stream. Every fatal path ends in {@link Source.fail}.
 *
 * @internal
 */
export class Source {
  private finished = false
  /** Set by the first sign of a lost connection; the socket reports one loss several ways. */
  private losing = false
  private streaming = false
  private control: pg.Client | undefined
  private replication: pg.Client | undefined
  private replicationEnded: Promise<unknown> | undefined
  private controlQueue: Promise<unknown> = Promise.resolve()
  private readonly decoder: Pgoutput.Decoder
  private readonly backlog: Array<CdcChange.Transaction> = []
  private draining = false
  private readonly confirmation: Confirmation
  private received = 0n
  /** Set by `prepare` when the slot is missing and is to be created with an exported snapshot. */
  private createWithSnapshot = false
  /**
   * `reading` from slot creation until every row is handed over, `read` until every snapshot
   * transaction is acknowledged, then `done`. A stream that ends before `done` drops the slot
   * it created, so the next start takes the snapshot again instead of silently skipping rows.
   */
  private snapshotState: "none" | "reading" | "read" | "done" = "none"
  private snapshotOutstanding = 0
  /** The drop of an incomplete snapshot's slot, once started (by a failure or the close). */
  private dropping: Promise<void> | undefined
  private readonly runFork: <A, E>(effect: Effect.Effect<A, E>) => unknown

  constructor(
    readonly settings: Settings,
    private readonly mailbox: Mailbox.Mailbox<CdcChange.Transaction, CdcError>,
    runtime: Runtime.Runtime<never>
  ) {
    this.decoder = new Pgoutput.Decoder(settings.publication)
    this.confirmation = new Confirmation(confirmedPositions.get(positionKey(settings)) ?? 0n)
    this.runFork = Runtime.runFork(runtime)
  }

  /** The LSN the slot has been told is processed. */
  get confirmedLsn(): bigint {
    return this.confirmation.confirmed
  }

  /**
   * The one place a stream dies: counts `cdc.errors`, logs, fails the mailbox (transactions
   * already received are still delivered first) and closes the connections. Only the first
   * fatal error counts; anything after the stream ended is a consequence, not a new failure.
   */
  fail(reason: Reason, message: string, cause?: unknown): void {
    if (this.finished) return
    this.finished = true
    const error = new CdcError({ reason, slot: this.settings.slot, message, cause })
    CdcTelemetry.errors.unsafeAdd(1, {
      [Semconv.ATTR_CDC_SLOT]: this.settings.slot,
      [Semconv.ATTR_ERROR_TYPE]: reason
    })
    this.runFork(
      Effect.logError(`cdc: slot ${this.settings.slot} failed (${reason}): ${message}`).pipe(
        Effect.annotateLogs({ [Semconv.ATTR_CDC_SLOT]: this.settings.slot, [Semconv.ATTR_ERROR_TYPE]: reason })
      )
    )
    this.mailbox.unsafeDone(Exit.fail(error))
    void this.dropIncompleteSnapshot().then(() => this.closeConnections())
  }

  /**
   * Prepares publication and slot and opens the replication connection; failures go to
   * {@link fail}. Returns the exported snapshot when the slot was created with one: the
   * caller reads it and then calls {@link startStreaming}. Otherwise streaming has started.
   */
  async start(): Promise<SnapshotPoint | undefined> {
    try {
      await this.prepare()
    } catch (error) {
      this.fail(classify(error), `setting up slot ${this.settings.slot}: ${messageOf(error)}`, error)
      return undefined
    }
    if (this.finished) return undefined
    const connected = await this.connect()
    if (!connected || this.finished) return undefined
    const point = this.createWithSnapshot ? await this.createSlotWithSnapshot() : undefined
    if (point === undefined) this.startStreaming()
    return point
  }

  private async prepare(): Promise<void> {
    const { createPublication, createSlot, publication, slot, tables } = this.settings
    const control = new pg.Client({ connectionString: this.settings.connectionString })
    // A dead control connection must not crash the process; its queries fail and are handled.
    control.on("error", () => {})
    this.control = control
    await control.connect()
    const pub = await control.query("select 1 from pg_publication where pubname = $1", [publication])
    if (pub.rowCount === 0) {
      if (!createPublication) {
        throw Object.assign(new Error(`publication ${publication} does not exist`), { code: "42704" })
      }
      const target = tables === undefined ? "for all tables" : `for table ${tables.map(quoteTable).join(", ")}`
      await ignoreDuplicate(control.query(`create publication ${pg.escapeIdentifier(publication)} ${target}`))
    }
    const existing = await control.query<{ plugin: string | null; database: string | null; current: string }>(
      "select plugin, database, current_database() as current from pg_replication_slots where slot_name = $1",
      [slot]
    )
    const row = existing.rows[0]
    if (row === undefined) {
      if (!createSlot) {
        throw Object.assign(new Error(`replication slot ${slot} does not exist`), { code: "42704" })
      }
      if (this.settings.snapshot) {
        // Only a replication connection can export the snapshot the slot starts from.
        this.createWithSnapshot = true
      } else {
        await ignoreDuplicate(control.query("select pg_create_logical_replication_slot($1, 'pgoutput')", [slot]))
        this.forgetPosition()
      }
    } else if (row.plugin !== "pgoutput" || row.database !== row.current) {
      throw Object.assign(
        new Error(
          `replication slot ${slot} belongs to plugin ${row.plugin ?? "(physical)"} in database ${
            row.database ?? "(none)"
          }; expected pgoutput in ${row.current}`
        ),
        { code: "0A000" }
      )
    }
  }

  private async connect(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.settings.connectionString, replication: "database" } as any)
    this.replication = client
    client.on("error", (error) => this.lost(error))
    client.on("end", () => this.lost(new Error("the replication connection closed")))
    try {
      await client.connect()
    } catch (error) {
      this.lost(error)
      return false
    }
    return true
  }

  /** A slot created here starts at its own consistent point; a position kept for an older slot of that name does not apply. */
  private forgetPosition(): void {
    confirmedPositions.delete(positionKey(this.settings))
    this.confirmation.confirmed = 0n
  }

  /**
   * `CREATE_REPLICATION_SLOT ... (SNAPSHOT 'export')` on the replication connection. The
   * snapshot stays importable only while this connection runs no other command, so nothing
   * is sent on it (not even START_REPLICATION) until the snapshot has been read.
   */
  private async createSlotWithSnapshot(): Promise<SnapshotPoint | undefined> {
    const client = this.replication!
    let result: pg.QueryResult<{ consistent_point: string; snapshot_name: string | null }>
    try {
      result = await client.query(
        `CREATE_REPLICATION_SLOT ${pg.escapeIdentifier(this.settings.slot)} LOGICAL pgoutput (SNAPSHOT 'export')`
      )
    } catch (error) {
      // Created meanwhile by a concurrent consumer, which takes the snapshot: just stream.
      if (errorCode(error) === "42710") return undefined
      this.fail(classify(error), `creating slot ${this.settings.slot}: ${messageOf(error)}`, error)
      return undefined
    }
    const row = result.rows[0]
    if (row === undefined || row.snapshot_name === null) {
      this.fail("Setup", `creating slot ${this.settings.slot}: the server exported no snapshot`)
      return undefined
    }
    this.forgetPosition()
    this.snapshotState = "reading"
    const consistentPoint = Lsn.parse(row.consistent_point)
    this.confirmation.confirmed = consistentPoint
    return { name: row.snapshot_name, consistentPoint, createdAt: new Date() }
  }

  /**
   * One batch of snapshot rows as a transaction. Acknowledging it confirms nothing new (the
   * slot already starts at the consistent point) but holds back the confirmation of later
   * streamed transactions until every snapshot batch before them is acknowledged.
   */
  snapshotTransaction(point: SnapshotPoint, changes: ReadonlyArray<CdcChange.Change>): CdcChange.Transaction {
    const entry = this.confirmation.track(point.consistentPoint)
    this.snapshotOutstanding++
    const lsn = Lsn.format(point.consistentPoint)
    const transaction: CdcChange.Transaction = {
      slot: this.settings.slot,
      publication: this.settings.publication,
      xid: 0,
      commitLsn: lsn,
      endLsn: lsn,
      commitTime: point.createdAt,
      changes,
      acknowledge: Effect.sync(() => {
        if (entry.done) return
        this.snapshotOutstanding--
        this.acknowledge(entry, transaction, false)
        this.settleSnapshot()
      })
    }
    return transaction
  }

  /** Every snapshot row was handed to the consumer. */
  snapshotRead(): void {
    if (this.snapshotState === "reading") this.snapshotState = "read"
    this.settleSnapshot()
  }

  private settleSnapshot(): void {
    if (this.snapshotState === "read" && this.snapshotOutstanding === 0) this.snapshotState = "done"
  }

  /**
   * Drops the slot this stream created when its snapshot was not read and acknowledged
   * completely: the slot would otherwise resume after rows the consumer never processed.
   */
  private dropIncompleteSnapshot(): Promise<void> {
    if (this.dropping === undefined) {
      this.dropping = this.snapshotState === "reading" || this.snapshotState === "read"
        ? this.dropSlot()
        : Promise.resolve()
    }
    return this.dropping
  }

  private async dropSlot(): Promise<void> {
    this.snapshotState = "none"
    const slot = this.settings.slot
    const replication = this.replication
    this.replication = undefined
    if (replication !== undefined) await withTimeout(replication.end(), 5_000)
    this.forgetPosition()
    // The walsender may hold the slot for a moment after its connection ended.
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await this.controlQuery(
          "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1",
          [slot]
        )
        this.runFork(
          Effect.logWarning(`cdc: slot ${slot} ended before its snapshot was acknowledged; dropped it`).pipe(
            Effect.annotateLogs({ [Semconv.ATTR_CDC_SLOT]: slot })
          )
        )
        return
      } catch (error) {
        if (errorCode(error) !== "55006") {
          this.runFork(Effect.logError(`cdc: dropping slot ${slot} after an incomplete snapshot failed`, error))
          return
        }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }

  /** START_REPLICATION on the open replication connection. */
  startStreaming(): void {
    const client = this.replication
    if (this.finished || client === undefined) return
    const connection = (client as unknown as { connection: pg.Connection }).connection
    connection.once("replicationStart", () => {
      this.streaming = true
    })
    connection.on("copyData", (message: { chunk: Buffer }) => this.onCopyData(message.chunk))
    // From 0/0 (or a position behind the slot's) the server resumes from the slot's confirmed
    // position, right after the last transaction any consumer acknowledged; from ours when the
    // server missed our last confirmation (see confirmedPositions).
    this.replicationEnded = this.decoder.plugin.start(
      client,
      this.settings.slot,
      Lsn.format(this.confirmation.confirmed)
    ).then(
      () => this.lost(new Error("the server ended replication")),
      (error) => this.lost(error)
    )
  }

  /** The replication connection ended: classify, telling a dropped slot from a lost connection. */
  private lost(error: unknown): void {
    if (this.finished || this.losing) return
    this.losing = true
    const reason = classify(error)
    const message = messageOf(error)
    if (reason !== "ConnectionLost" || this.control === undefined) return this.fail(reason, message, error)
    this.controlQuery("select 1 from pg_replication_slots where slot_name = $1", [this.settings.slot]).then(
      (result) =>
        result.rowCount === 0
          ? this.fail("SlotDropped", `replication slot ${this.settings.slot} was dropped (${message})`, error)
          : this.fail("ConnectionLost", message, error),
      () => this.fail("ConnectionLost", message, error)
    )
  }

  private onCopyData(chunk: Buffer): void {
    if (this.finished) return
    const frame = Pgoutput.frame(chunk)
    switch (frame._tag) {
      case "XLogData": {
        if (frame.start > this.received) this.received = frame.start
        const decoded = this.decoder.decode(frame.payload)
        if (decoded._tag === "Invalid") return this.fail("Decode", decoded.message, decoded.cause)
        if (decoded._tag === "Commit") this.commit(decoded.transaction)
        return
      }
      case "Keepalive":
        return this.onKeepalive(frame.walEnd, frame.replyRequested)
      case "Unknown":
        return this.fail("Decode", `unknown replication message type 0x${frame.type.toString(16)}`)
    }
  }

  private onKeepalive(walEnd: bigint, replyRequested: boolean): void {
    // Between transactions everything the server sent before this keepalive has been
    // received, so its position can be confirmed once all earlier transactions are
    // acknowledged; that lets an idle slot (or one whose publication matches little of the
    // traffic) release WAL. Inside a transaction it could be short of the commit: skipped.
    if (!this.decoder.inTransaction && walEnd > 0n) {
      if (this.confirmation.reached(walEnd)) this.confirmedMoved()
    }
    if (replyRequested) this.sendStatus()
  }

  private commit(decoded: Pgoutput.DecodedTransaction): void {
    const entry = this.confirmation.track(decoded.endLsn)
    const transaction: CdcChange.Transaction = {
      slot: this.settings.slot,
      publication: this.settings.publication,
      xid: decoded.xid,
      commitLsn: decoded.commitLsn,
      endLsn: Lsn.format(decoded.endLsn),
      commitTime: decoded.commitTime,
      changes: decoded.changes.map(toChange),
      acknowledge: Effect.sync(() => this.acknowledge(entry, transaction))
    }
    this.deliver(transaction)
  }

  private acknowledge(entry: Entry, transaction: CdcChange.Transaction, lag = true): void {
    if (entry.done) return
    const slot = this.settings.slot
    for (const change of transaction.changes) {
      const operation = CdcChange.operationOf(change)
      for (const table of CdcChange.tablesOf(change)) {
        CdcTelemetry.changes.unsafeAdd(1, {
          [Semconv.ATTR_CDC_SLOT]: slot,
          [Semconv.ATTR_CDC_TABLE]: table,
          [Semconv.ATTR_CDC_OPERATION]: operation
        })
      }
    }
    // A snapshot batch was committed by no one: its age says nothing about replication lag.
    if (lag) {
      CdcTelemetry.replicationLag.unsafeSet(
        Math.max(0, (Date.now() - transaction.commitTime.getTime()) / 1000),
        { [Semconv.ATTR_CDC_SLOT]: slot }
      )
    }
    if (this.confirmation.complete(entry)) this.confirmedMoved()
  }

  /** Remembers the new confirmed position (see confirmedPositions) and tells the server. */
  private confirmedMoved(): void {
    confirmedPositions.set(positionKey(this.settings), this.confirmation.confirmed)
    this.sendStatus()
  }

  /** Sends a standby status update: written = received, flushed = applied = confirmed. */
  sendStatus(): void {
    if (this.finished || !this.streaming || this.replication === undefined) return
    const message = Pgoutput.statusUpdate(this.received, this.confirmation.confirmed, Date.now())
    const connection = (this.replication as unknown as { connection: { sendCopyFromChunk(b: Buffer): void } })
      .connection
    connection.sendCopyFromChunk(message)
  }

  private socket(): { pause(): void; resume(): void } | undefined {
    return (this.replication as unknown as { connection?: { stream?: { pause(): void; resume(): void } } } | undefined)
      ?.connection?.stream
  }

  /**
   * Hands a transaction to the consumer. When the buffer is full, the socket is paused so the
   * server (not this process) holds the backlog, and resumed once the consumer caught up.
   */
  private deliver(transaction: CdcChange.Transaction): void {
    if (this.backlog.length === 0 && this.mailbox.unsafeOffer(transaction)) return
    this.backlog.push(transaction)
    if (this.draining) return
    this.draining = true
    this.socket()?.pause()
    const mailbox = this.mailbox
    const backlog = this.backlog
    this.runFork(Effect.gen(this, function*() {
      while (backlog.length > 0) {
        const accepted = yield* mailbox.offer(backlog[0]!)
        if (!accepted) break
        backlog.shift()
      }
      this.draining = false
      if (!this.finished) this.socket()?.resume()
    }))
  }

  /** One query at a time on the control connection (the poll and a classification may overlap). */
  private controlQuery<R extends pg.QueryResultRow>(text: string, params: Array<unknown>): Promise<pg.QueryResult<R>> {
    const control = this.control
    if (control === undefined) return Promise.reject(new Error("the control connection is closed"))
    const result = this.controlQueue.then(() => control.query<R>(text, params))
    this.controlQueue = result.catch(() => undefined)
    return result
  }

  /** WAL retained by the slot, in bytes (undefined when the slot is gone). */
  async retainedWal(): Promise<number | undefined> {
    if (this.control === undefined || this.finished) return undefined
    const result = await this.controlQuery<{ bytes: string | null }>(
      "select pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text as bytes from pg_replication_slots where slot_name = $1",
      [this.settings.slot]
    )
    const bytes = result.rows[0]?.bytes
    return bytes === undefined || bytes === null ? undefined : Number(bytes)
  }

  /** Ends the stream normally (the consumer is done): last status update, then disconnect. */
  async close(): Promise<void> {
    this.sendStatus()
    const wasStreaming = !this.finished && this.streaming
    this.finished = true
    this.mailbox.unsafeDone(Exit.void)
    if (wasStreaming && this.replication !== undefined && this.replicationEnded !== undefined) {
      // CopyDone ends replication cleanly: once the server answers, it has processed our last
      // status update and released the slot, so a consumer started right after can take it.
      const connection = (this.replication as unknown as { connection: { endCopyFrom(): void } }).connection
      connection.endCopyFrom()
      await withTimeout(this.replicationEnded, 5_000)
    }
    await this.dropIncompleteSnapshot()
    await this.closeConnections()
  }

  private async closeConnections(): Promise<void> {
    const clients = [this.replication, this.control].filter((c): c is pg.Client => c !== undefined)
    this.replication = undefined
    this.control = undefined
    await Promise.all(clients.map((client) => withTimeout(client.end(), 5_000)))
  }
}

const withTimeout = (promise: Promise<unknown>, millis: number): Promise<void> =>
  Promise.race([
    promise.then(() => undefined, () => undefined),
    new Promise<void>((resolve) => setTimeout(resolve, millis).unref())
  ])

const ignoreDuplicate = <A>(query: Promise<A>): Promise<A | undefined> =>
  // A concurrent consumer may create the same slot or publication between check and create.
  query.catch((error) => {
    if (errorCode(error) === "42710") return undefined
    throw error
  })

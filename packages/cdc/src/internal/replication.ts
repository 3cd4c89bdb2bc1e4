/**
 * The replication connection: setup of slot and publication, the streaming-replication
 * protocol over `pg`, pgoutput decoding with `pg-logical-replication`'s decoder, backpressure
 * and acknowledgement.
 *
 * We drive the protocol ourselves instead of through `LogicalReplicationService` because its
 * acknowledgement does not fit at-least-once delivery: its timer confirms the last *received*
 * LSN (processed or not), and `acknowledge(lsn)` confirms `lsn + 1`, which can skip a
 * transaction whose commit record starts exactly where the previous one ended.
 *
 * @internal
 */
import { Semconv, TelemetryOptionsError } from "@effect-telemetry/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Mailbox from "effect/Mailbox"
import * as Runtime from "effect/Runtime"
import pg from "pg"
import { PgoutputPlugin } from "pg-logical-replication"
import type { Pgoutput } from "pg-logical-replication"
import * as CdcChange from "../CdcChange.js"
import { CdcError, type Reason } from "../CdcError.js"
import * as CdcTelemetry from "../CdcTelemetry.js"
import * as Lsn from "./lsn.js"

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

const errorCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string"
    ? (error as { code: string }).code
    : undefined

/** @internal */
export const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** The reason of a server or socket error (SQLSTATE where the server sent one). @internal */
export const classify = (error: unknown): Reason => {
  const code = errorCode(error)
  const message = messageOf(error)
  if (code === "42704" && /replication slot/i.test(message)) return "SlotDropped"
  if (code === "55006") return "SlotInUse"
  // 42704 publication missing, 55000 wal_level/physical slot, 28xxx auth, 42501 privileges,
  // 0A000 feature not supported (e.g. another plugin's slot), 3D000 database missing.
  if (code === "42704" || code === "55000" || code === "42501" || code === "0A000" || code === "3D000") return "Setup"
  if (code !== undefined && code.startsWith("28")) return "Setup"
  return "ConnectionLost"
}

const POSTGRES_EPOCH_MICROS = 946_684_800_000_000n

interface Pending {
  lsn: bigint
  done: boolean
  readonly marker: boolean
}

interface OpenTransaction {
  readonly xid: number
  readonly commitTime: bigint
  /** Built at commit, when the commit LSN every change carries is known. */
  readonly changes: Array<(commitLsn: string) => CdcChange.Change>
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
  private readonly plugin: PgoutputPlugin
  private readonly relations = new WeakMap<Pgoutput.MessageRelation, CdcChange.Relation>()
  private open: OpenTransaction | undefined
  private readonly pending: Array<Pending> = []
  private readonly backlog: Array<CdcChange.Transaction> = []
  private draining = false
  private confirmed = 0n
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
    this.plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [settings.publication], messages: false })
    this.confirmed = confirmedPositions.get(positionKey(settings)) ?? 0n
    this.runFork = Runtime.runFork(runtime)
  }

  /** The LSN the slot has been told is processed. */
  get confirmedLsn(): bigint {
    return this.confirmed
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
    this.confirmed = 0n
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
    this.confirmed = consistentPoint
    return { name: row.snapshot_name, consistentPoint, createdAt: new Date() }
  }

  /**
   * One batch of snapshot rows as a transaction. Acknowledging it confirms nothing new (the
   * slot already starts at the consistent point) but holds back the confirmation of later
   * streamed transactions until every snapshot batch before them is acknowledged.
   */
  snapshotTransaction(point: SnapshotPoint, changes: ReadonlyArray<CdcChange.Change>): CdcChange.Transaction {
    const entry: Pending = { lsn: point.consistentPoint, done: false, marker: false }
    this.pending.push(entry)
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
    this.replicationEnded = this.plugin.start(client, this.settings.slot, Lsn.format(this.confirmed)).then(
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
    if (chunk[0] === 0x77) {
      // XLogData: 'w', start LSN, server WAL end, send time, then one pgoutput message.
      const start = chunk.readBigUInt64BE(1)
      if (start > this.received) this.received = start
      this.decode(chunk.subarray(25))
    } else if (chunk[0] === 0x6b) {
      // Primary keepalive: 'k', server WAL end, send time, reply requested.
      this.onKeepalive(chunk.readBigUInt64BE(1), chunk[17] === 1)
    } else {
      this.fail("Decode", `unknown replication message type 0x${(chunk[0] ?? 0).toString(16)}`)
    }
  }

  private onKeepalive(walEnd: bigint, replyRequested: boolean): void {
    // Between transactions everything the server sent before this keepalive has been
    // received, so its position can be confirmed once all earlier transactions are
    // acknowledged; that lets an idle slot (or one whose publication matches little of the
    // traffic) release WAL. Inside a transaction it could be short of the commit: skipped.
    if (this.open === undefined && walEnd > 0n) {
      const last = this.pending[this.pending.length - 1]
      if (last !== undefined && last.marker) {
        if (walEnd > last.lsn) last.lsn = walEnd
      } else {
        this.pending.push({ lsn: walEnd, done: true, marker: true })
      }
      this.advance()
    }
    if (replyRequested) this.sendStatus()
  }

  private decode(buffer: Buffer): void {
    let message: Pgoutput.Message
    try {
      message = this.plugin.parse(buffer) as Pgoutput.Message
    } catch (error) {
      return this.fail("Decode", `undecodable pgoutput message: ${messageOf(error)}`, error)
    }
    switch (message.tag) {
      case "begin":
        this.open = { xid: message.xid >>> 0, commitTime: message.commitTime as bigint, changes: [] }
        return
      case "insert":
      case "update":
      case "delete":
      case "truncate": {
        if (this.open === undefined) return this.fail("Decode", `${message.tag} outside a transaction`)
        const change = this.changeOf(message)
        if (change === undefined) return this.fail("Decode", `${message.tag} of a relation never described`)
        this.open.changes.push(change)
        return
      }
      case "commit":
        return this.commit(message)
      default:
        // relation, type, origin: the decoder keeps what later messages need.
        return
    }
  }

  private relationOf(relation: Pgoutput.MessageRelation | undefined): CdcChange.Relation | undefined {
    if (relation === undefined) return undefined
    let mapped = this.relations.get(relation)
    if (mapped === undefined) {
      mapped = {
        schema: relation.schema,
        table: relation.name,
        replicaIdentity: relation.replicaIdentity,
        columns: relation.columns.map((c) => ({ name: c.name, typeOid: c.typeOid, key: (c.flags & 1) === 1 }))
      }
      this.relations.set(relation, mapped)
    }
    return mapped
  }

  private changeOf(
    message: Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete | Pgoutput.MessageTruncate
  ): ((commitLsn: string) => CdcChange.Change) | undefined {
    if (message.tag === "truncate") {
      const relations = message.relations.map((r) => this.relationOf(r))
      if (relations.some((r) => r === undefined)) return undefined
      return (commitLsn) =>
        CdcChange.Truncate({
          relations: relations as Array<CdcChange.Relation>,
          commitLsn,
          cascade: message.cascade,
          restartIdentity: message.restartIdentity
        })
    }
    const relation = this.relationOf(message.relation)
    if (relation === undefined) return undefined
    switch (message.tag) {
      case "insert":
        return (commitLsn) => CdcChange.Insert({ relation, commitLsn, new: message.new })
      case "update":
        return (commitLsn) =>
          CdcChange.Update({ relation, commitLsn, old: message.old ?? message.key ?? undefined, new: message.new })
      case "delete":
        return (commitLsn) => CdcChange.Delete({ relation, commitLsn, old: message.old ?? message.key ?? {} })
    }
  }

  private commit(message: Pgoutput.MessageCommit): void {
    const open = this.open
    this.open = undefined
    if (open === undefined) return this.fail("Decode", "commit outside a transaction")
    if (message.commitLsn === null || message.commitEndLsn === null) {
      return this.fail("Decode", "commit without an LSN")
    }
    const commitLsn = Lsn.normalize(message.commitLsn)
    const end = Lsn.parse(message.commitEndLsn)
    const entry: Pending = { lsn: end, done: false, marker: false }
    this.pending.push(entry)
    const changes = open.changes.map((build) => build(commitLsn))
    const commitTime = new Date(Number((message.commitTime as bigint) / 1000n))
    const transaction: CdcChange.Transaction = {
      slot: this.settings.slot,
      publication: this.settings.publication,
      xid: open.xid,
      commitLsn,
      endLsn: Lsn.format(end),
      commitTime,
      changes,
      acknowledge: Effect.sync(() => this.acknowledge(entry, transaction))
    }
    this.deliver(transaction)
  }

  private acknowledge(entry: Pending, transaction: CdcChange.Transaction, lag = true): void {
    if (entry.done) return
    entry.done = true
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
    this.advance()
  }

  /** Confirms the end of the longest acknowledged prefix, never beyond an unprocessed transaction. */
  private advance(): void {
    let moved = false
    while (this.pending.length > 0 && this.pending[0]!.done) {
      const { lsn } = this.pending.shift()!
      if (lsn > this.confirmed) {
        this.confirmed = lsn
        moved = true
      }
    }
    if (moved) {
      confirmedPositions.set(positionKey(this.settings), this.confirmed)
      this.sendStatus()
    }
  }

  /** Sends a standby status update: written = received, flushed = applied = confirmed. */
  sendStatus(): void {
    if (this.finished || !this.streaming || this.replication === undefined) return
    const message = Buffer.alloc(34)
    message[0] = 0x72 // 'r'
    message.writeBigUInt64BE(this.received > this.confirmed ? this.received : this.confirmed, 1)
    message.writeBigUInt64BE(this.confirmed, 9)
    message.writeBigUInt64BE(this.confirmed, 17)
    message.writeBigUInt64BE(BigInt(Date.now()) * 1000n - POSTGRES_EPOCH_MICROS, 25)
    message[33] = 0
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

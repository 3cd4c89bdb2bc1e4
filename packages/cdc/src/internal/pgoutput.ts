/**
 * The streaming-replication protocol as data, with no Effect (a portable module: see
 * docs/ADDING-A-SURFACE.md): the CopyData framing (XLogData, keepalive, standby status update)
 * and the pgoutput messages of one transaction assembled into its changes, decoded with
 * `pg-logical-replication`'s parser (which keeps the relation and type caches and decodes
 * tuples with `pg`'s type parsers). The connection, the consumer and acknowledgement are the
 * Effect glue's (replication.ts).
 *
 * @internal
 */
import { PgoutputPlugin } from "pg-logical-replication"
import type { Pgoutput } from "pg-logical-replication"
import type { Relation, Row } from "../CdcChange.js"
import * as Lsn from "./lsn.js"
import { messageOf } from "./sqlstate.js"

/** A change as decoded, before it becomes a `CdcChange.Change` (the glue's data type). @internal */
export type DecodedChange =
  | { readonly _tag: "Insert"; readonly relation: Relation; readonly commitLsn: string; readonly new: Row }
  | {
    readonly _tag: "Update"
    readonly relation: Relation
    readonly commitLsn: string
    readonly old: Row | undefined
    readonly new: Row
  }
  | { readonly _tag: "Delete"; readonly relation: Relation; readonly commitLsn: string; readonly old: Row }
  | {
    readonly _tag: "Truncate"
    readonly relations: ReadonlyArray<Relation>
    readonly commitLsn: string
    readonly cascade: boolean
    readonly restartIdentity: boolean
  }

/** One committed transaction, complete. @internal */
export interface DecodedTransaction {
  readonly xid: number
  /** The commit record's LSN in Postgres's form (`0/16B3748`). */
  readonly commitLsn: string
  /** Just past the commit record: what acknowledging the transaction confirms. */
  readonly endLsn: bigint
  readonly commitTime: Date
  readonly changes: ReadonlyArray<DecodedChange>
}

/**
 * What one pgoutput message gave: nothing yet (begin, a change, relation, type, origin), a
 * committed transaction, or a protocol violation the stream cannot survive.
 *
 * @internal
 */
export type Decoded =
  | { readonly _tag: "Nothing" }
  | { readonly _tag: "Commit"; readonly transaction: DecodedTransaction }
  | { readonly _tag: "Invalid"; readonly message: string; readonly cause?: unknown }

const nothing: Decoded = { _tag: "Nothing" }
const invalid = (message: string, cause?: unknown): Decoded => ({ _tag: "Invalid", message, cause })

/**
 * One CopyData message of the replication stream.
 *
 * @internal
 */
export type Frame =
  /** XLogData: the WAL start of one pgoutput message, and the message. */
  | { readonly _tag: "XLogData"; readonly start: bigint; readonly payload: Buffer }
  /** Primary keepalive: the server's WAL end, and whether it asks for a status update now. */
  | { readonly _tag: "Keepalive"; readonly walEnd: bigint; readonly replyRequested: boolean }
  | { readonly _tag: "Unknown"; readonly type: number }

/** @internal */
export const frame = (chunk: Buffer): Frame => {
  if (chunk[0] === 0x77) {
    // 'w', start LSN, server WAL end, send time, then one pgoutput message.
    return { _tag: "XLogData", start: chunk.readBigUInt64BE(1), payload: chunk.subarray(25) }
  }
  if (chunk[0] === 0x6b) {
    // 'k', server WAL end, send time, reply requested.
    return { _tag: "Keepalive", walEnd: chunk.readBigUInt64BE(1), replyRequested: chunk[17] === 1 }
  }
  return { _tag: "Unknown", type: chunk[0] ?? 0 }
}

const POSTGRES_EPOCH_MICROS = 946_684_800_000_000n

/**
 * A standby status update: written = the furthest of received and confirmed, flushed =
 * applied = confirmed, at `nowMillis` (Unix epoch), no reply requested.
 *
 * @internal
 */
export const statusUpdate = (received: bigint, confirmed: bigint, nowMillis: number): Buffer => {
  const message = Buffer.alloc(34)
  message[0] = 0x72 // 'r'
  message.writeBigUInt64BE(received > confirmed ? received : confirmed, 1)
  message.writeBigUInt64BE(confirmed, 9)
  message.writeBigUInt64BE(confirmed, 17)
  message.writeBigUInt64BE(BigInt(nowMillis) * 1000n - POSTGRES_EPOCH_MICROS, 25)
  message[33] = 0
  return message
}

interface OpenTransaction {
  readonly xid: number
  /** Built at commit, when the commit LSN every change carries is known. */
  readonly changes: Array<(commitLsn: string) => DecodedChange>
}

/**
 * The pgoutput messages of one slot, in order, to transactions. Stateful: relations are
 * described once and referred to afterwards, and a transaction spans messages.
 *
 * @internal
 */
export class Decoder {
  /** Also the START_REPLICATION command, whose options must match what is decoded. */
  readonly plugin: PgoutputPlugin
  private readonly relations = new WeakMap<Pgoutput.MessageRelation, Relation>()
  private open: OpenTransaction | undefined

  constructor(publication: string) {
    this.plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication], messages: false })
  }

  /** Between `begin` and `commit`: the server may not have sent a whole transaction yet. */
  get inTransaction(): boolean {
    return this.open !== undefined
  }

  /** One pgoutput message (an XLogData payload). */
  decode(buffer: Buffer): Decoded {
    let message: Pgoutput.Message
    try {
      message = this.plugin.parse(buffer) as Pgoutput.Message
    } catch (error) {
      return invalid(`undecodable pgoutput message: ${messageOf(error)}`, error)
    }
    switch (message.tag) {
      case "begin":
        this.open = { xid: message.xid >>> 0, changes: [] }
        return nothing
      case "insert":
      case "update":
      case "delete":
      case "truncate": {
        if (this.open === undefined) return invalid(`${message.tag} outside a transaction`)
        const change = this.changeOf(message)
        if (change === undefined) return invalid(`${message.tag} of a relation never described`)
        this.open.changes.push(change)
        return nothing
      }
      case "commit":
        return this.commit(message)
      default:
        // relation, type, origin: the parser keeps what later messages need.
        return nothing
    }
  }

  private relationOf(relation: Pgoutput.MessageRelation | undefined): Relation | undefined {
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
  ): ((commitLsn: string) => DecodedChange) | undefined {
    if (message.tag === "truncate") {
      const relations = message.relations.map((r) => this.relationOf(r))
      if (relations.some((r) => r === undefined)) return undefined
      return (commitLsn) => ({
        _tag: "Truncate",
        relations: relations as Array<Relation>,
        commitLsn,
        cascade: message.cascade,
        restartIdentity: message.restartIdentity
      })
    }
    const relation = this.relationOf(message.relation)
    if (relation === undefined) return undefined
    switch (message.tag) {
      case "insert":
        return (commitLsn) => ({ _tag: "Insert", relation, commitLsn, new: message.new })
      case "update":
        return (commitLsn) => ({
          _tag: "Update",
          relation,
          commitLsn,
          old: message.old ?? message.key ?? undefined,
          new: message.new
        })
      case "delete":
        return (commitLsn) => ({ _tag: "Delete", relation, commitLsn, old: message.old ?? message.key ?? {} })
    }
  }

  private commit(message: Pgoutput.MessageCommit): Decoded {
    const open = this.open
    this.open = undefined
    if (open === undefined) return invalid("commit outside a transaction")
    if (message.commitLsn === null || message.commitEndLsn === null) return invalid("commit without an LSN")
    const commitLsn = Lsn.normalize(message.commitLsn)
    return {
      _tag: "Commit",
      transaction: {
        xid: open.xid,
        commitLsn,
        endLsn: Lsn.parse(message.commitEndLsn),
        commitTime: new Date(Number((message.commitTime as bigint) / 1000n)),
        changes: open.changes.map((build) => build(commitLsn))
      }
    }
  }
}

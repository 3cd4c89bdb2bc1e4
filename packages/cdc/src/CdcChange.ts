/**
 * The typed changes a slot delivers, grouped by committed transaction.
 *
 * Column values are decoded with `pg`'s type parsers (the same ones queries use): `int4` is a
 * number, `int8` and `numeric` are strings, `timestamptz` is a `Date`, `json`/`jsonb` are
 * parsed, `NULL` is `null`, and an unchanged TOASTed value of an update (a large value the
 * update did not touch, which Postgres does not resend) is `undefined`.
 *
 * @example
 * ```ts
 * const describe = CdcChange.$match({
 *   Insert: (c) => `insert into ${c.relation.table}`,
 *   Update: (c) => `update of ${c.relation.table}`,
 *   Delete: (c) => `delete from ${c.relation.table}`,
 *   Truncate: (c) => `truncate of ${c.relations.map((r) => r.table).join(", ")}`,
 *   Snapshot: (c) => `existing row of ${c.relation.table}`
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

/** A row: column name to decoded value. @since 0.1.0 @category models */
export type Row = Readonly<Record<string, unknown>>

/** @since 0.1.0 @category models */
export interface Column {
  readonly name: string
  /** Postgres type OID (`23` is `int4`, `25` is `text`...). */
  readonly typeOid: number
  /** Part of the replica identity (the primary key by default). */
  readonly key: boolean
}

/** The table a change belongs to, as the publication describes it. @since 0.1.0 @category models */
export interface Relation {
  readonly schema: string
  readonly table: string
  readonly columns: ReadonlyArray<Column>
  /** `default` (primary key), `full`, `index` or `nothing`: what `old` holds on update and delete. */
  readonly replicaIdentity: "default" | "nothing" | "full" | "index"
}

/**
 * One change. `old` of an update or delete is the full old row with `REPLICA IDENTITY FULL`,
 * only the key columns otherwise (and absent on an update that did not change the key).
 *
 * `Snapshot` is a row that existed when the slot was created, read by the initial snapshot
 * (`Cdc.Options.snapshot`); it is decoded like an insert, and its `commitLsn` is the slot's
 * consistent point: every change committed after it arrives as an ordinary change.
 *
 * @since 0.1.0
 * @category models
 */
export type Change = Data.TaggedEnum<{
  Insert: { readonly relation: Relation; readonly commitLsn: string; readonly new: Row }
  Update: { readonly relation: Relation; readonly commitLsn: string; readonly old: Row | undefined; readonly new: Row }
  Delete: { readonly relation: Relation; readonly commitLsn: string; readonly old: Row }
  Truncate: {
    readonly relations: ReadonlyArray<Relation>
    readonly commitLsn: string
    readonly cascade: boolean
    readonly restartIdentity: boolean
  }
  Snapshot: { readonly relation: Relation; readonly commitLsn: string; readonly new: Row }
}>

/** @since 0.1.0 @category models */
export type Insert = Data.TaggedEnum.Value<Change, "Insert">
/** @since 0.1.0 @category models */
export type Update = Data.TaggedEnum.Value<Change, "Update">
/** @since 0.1.0 @category models */
export type Delete = Data.TaggedEnum.Value<Change, "Delete">
/** @since 0.1.0 @category models */
export type Truncate = Data.TaggedEnum.Value<Change, "Truncate">
/** @since 0.2.0 @category models */
export type Snapshot = Data.TaggedEnum.Value<Change, "Snapshot">

/**
 * Constructors, `$is` and `$match` for {@link Change}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const { $is, $match, Delete, Insert, Snapshot, Truncate, Update } = Data.taggedEnum<Change>()

/**
 * A committed transaction with its changes in WAL order. The initial snapshot is delivered
 * first, as transactions of at most `snapshotBatchSize` `Snapshot` changes with `xid` 0 and
 * `commitLsn` = `endLsn` = the slot's consistent point.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transaction {
  /** The replication slot it came from. */
  readonly slot: string
  readonly publication: string
  readonly xid: number
  /** LSN of the commit record (`0/16B3748`). */
  readonly commitLsn: string
  /** LSN just past the commit record: the position acknowledging this transaction confirms. */
  readonly endLsn: string
  readonly commitTime: Date
  readonly changes: ReadonlyArray<Change>
  /**
   * Marks the transaction processed. The slot's confirmed position advances to the end of the
   * longest prefix of acknowledged transactions, so acknowledging out of order (concurrent
   * processing) never confirms a transaction that is still being processed. Idempotent.
   */
  readonly acknowledge: Effect.Effect<void>
}

/** `insert` | `update` | `delete` | `truncate` | `snapshot`: the `cdc.operation` of a change. @since 0.1.0 @category getters */
export const operationOf = (change: Change): "insert" | "update" | "delete" | "truncate" | "snapshot" => {
  switch (change._tag) {
    case "Insert":
      return "insert"
    case "Update":
      return "update"
    case "Delete":
      return "delete"
    case "Truncate":
      return "truncate"
    case "Snapshot":
      return "snapshot"
  }
}

/** Schema-qualified table names of a change (several for a truncate). @since 0.1.0 @category getters */
export const tablesOf = (change: Change): ReadonlyArray<string> =>
  change._tag === "Truncate"
    ? change.relations.map((r) => `${r.schema}.${r.table}`)
    : [`${change.relation.schema}.${change.relation.table}`]

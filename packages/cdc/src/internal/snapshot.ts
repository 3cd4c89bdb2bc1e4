/**
 * The initial snapshot: the rows of the publication's tables as they were when the slot was
 * created, read in the slot's exported snapshot so that, with streaming starting at the
 * slot's consistent point, every row is seen exactly once (in the snapshot if it was
 * committed before that point, in the stream otherwise).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Mailbox from "effect/Mailbox"
import pg from "pg"
import * as CdcChange from "../CdcChange.js"
import type { CdcError } from "../CdcError.js"
import * as CdcTelemetry from "../CdcTelemetry.js"
import * as Lsn from "./lsn.js"
import type { SnapshotPoint, Source } from "./replication.js"
import { ATTR_CDC_SNAPSHOT_LSN, ATTR_CDC_SNAPSHOT_ROWS } from "./semconv.js"
import * as Semconv from "./semconv.js"
import { classify, messageOf } from "./sqlstate.js"

/** @internal */
export interface Options {
  readonly batchSize: number
}

interface PublishedTable {
  readonly schema: string
  readonly table: string
  /** The publication's column list (PostgreSQL 15+); undefined: every column. */
  readonly columns: ReadonlyArray<string> | undefined
  /** The publication's row filter (PostgreSQL 15+), an SQL expression. */
  readonly rowFilter: string | undefined
}

class SnapshotFailure {
  constructor(readonly table: string | undefined, readonly cause: unknown) {}
}

// Values arrive as the server's text, parsed below by column type OID with `pg`'s parsers:
// the same parsing the pgoutput decoder applies to a streamed insert of the same row.
const rawText = { getTypeParser: () => (value: string) => value }

const CURSOR = "effect_telemetry_cdc_snapshot"

/**
 * Reads every published table inside the exported snapshot, hands the rows to the consumer in
 * batches (waiting while its buffer is full, so memory stays bounded), then starts streaming.
 * A failure ends the stream through `Source.fail`, which drops the slot so that a restart
 * takes the snapshot again.
 *
 * @internal
 */
export const run = (
  source: Source,
  point: SnapshotPoint,
  mailbox: Mailbox.Mailbox<CdcChange.Transaction, CdcError>,
  options: Options
): Effect.Effect<void> =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* Effect.acquireRelease(
      attempt(undefined, async () => {
        const client = new pg.Client({ connectionString: source.settings.connectionString })
        client.on("error", () => {})
        await client.connect()
        return client
      }),
      // Ending the connection ends the read-only transaction with it.
      (client) =>
        Effect.promise(() => client.end().catch(() => undefined)).pipe(Effect.timeout("5 seconds"), Effect.ignore)
    )
    yield* attempt(undefined, async () => {
      await client.query("begin isolation level repeatable read read only")
      await client.query(`set transaction snapshot ${pg.escapeLiteral(point.name)}`)
    })
    const tables = yield* attempt(undefined, () => publishedTables(client, source.settings.publication))
    for (let i = 0; i < tables.length; i++) {
      const more = yield* readTable(
        source,
        client,
        point,
        tables[i]!,
        `${CURSOR}_${i}`,
        i === tables.length - 1,
        mailbox,
        options
      )
      if (!more) return
    }
    // Already marked with the last batch; here when the last table (or the publication) is empty.
    source.snapshotRead()
    // Only now may the exporting replication connection run a command again.
    yield* attempt(undefined, () => client.query("commit"))
    source.startStreaming()
  })).pipe(
    Effect.catchAll((failure) =>
      Effect.sync(() =>
        source.fail(
          classify(failure.cause),
          `snapshot of slot ${source.settings.slot}${failure.table === undefined ? "" : `, table ${failure.table}`}: ${
            messageOf(failure.cause)
          }`,
          failure.cause
        )
      )
    )
  )

const attempt = <A>(table: string | undefined, f: () => Promise<A>): Effect.Effect<A, SnapshotFailure> =>
  Effect.tryPromise({ try: f, catch: (cause) => new SnapshotFailure(table, cause) })

const publishedTables = async (client: pg.Client, publication: string): Promise<Array<PublishedTable>> => {
  // Column lists and row filters (attnames, rowfilter) exist from PostgreSQL 15 on.
  const version = await client.query<{ v: number }>("select current_setting('server_version_num')::int4 as v")
  const extra = (version.rows[0]?.v ?? 0) >= 150000
    ? "attnames::text[] as attnames, rowfilter"
    : "null::text[] as attnames, null::text as rowfilter"
  const result = await client.query<{
    schemaname: string
    tablename: string
    attnames: Array<string> | null
    rowfilter: string | null
  }>(
    `select schemaname, tablename, ${extra} from pg_publication_tables where pubname = $1 order by schemaname, tablename`,
    [publication]
  )
  return result.rows.map((row) => ({
    schema: row.schemaname,
    table: row.tablename,
    columns: row.attnames ?? undefined,
    rowFilter: row.rowfilter ?? undefined
  }))
}

/** The relation as pgoutput describes it: published columns in order, replica identity as the key flag. */
const describe = async (client: pg.Client, table: PublishedTable): Promise<CdcChange.Relation> => {
  const result = await client.query<{ name: string; type_oid: number; key: boolean; ident: string }>(
    `select a.attname as name, a.atttypid::int4 as type_oid, c.relreplident::text as ident,
       (c.relreplident = 'f' or coalesce(a.attnum = any(i.indkey::int2[]), false)) as key
     from pg_class c
     join pg_namespace n on n.oid = c.relnamespace
     join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
     left join pg_index i on i.indrelid = c.oid
       and ((c.relreplident = 'd' and i.indisprimary) or (c.relreplident = 'i' and i.indisreplident))
     where n.nspname = $1 and c.relname = $2
     order by a.attnum`,
    [table.schema, table.table]
  )
  const published = table.columns === undefined ? undefined : new Set(table.columns)
  const ident = result.rows[0]?.ident
  return {
    schema: table.schema,
    table: table.table,
    replicaIdentity: ident === "n" ? "nothing" : ident === "f" ? "full" : ident === "i" ? "index" : "default",
    columns: result.rows
      .filter((row) => published === undefined || published.has(row.name))
      .map((row) => ({ name: row.name, typeOid: row.type_oid, key: row.key }))
  }
}

/** One table in batches through a cursor; false when the consumer is gone (stop reading). */
const readTable = (
  source: Source,
  client: pg.Client,
  point: SnapshotPoint,
  table: PublishedTable,
  cursor: string,
  last: boolean,
  mailbox: Mailbox.Mailbox<CdcChange.Transaction, CdcError>,
  options: Options
): Effect.Effect<boolean, SnapshotFailure> => {
  const name = `${table.schema}.${table.table}`
  return Effect.gen(function*() {
    const relation = yield* attempt(name, () => describe(client, table))
    const parsers = relation.columns.map((column) => pg.types.getTypeParser(column.typeOid))
    const commitLsn = Lsn.format(point.consistentPoint)
    const columns = relation.columns.map((column) => pg.escapeIdentifier(column.name)).join(", ")
    const from = `${pg.escapeIdentifier(table.schema)}.${pg.escapeIdentifier(table.table)}`
    const where = table.rowFilter === undefined ? "" : ` where (${table.rowFilter})`
    // Closed by the commit, as every cursor of the transaction.
    yield* attempt(
      name,
      () => client.query(`declare ${cursor} no scroll cursor for select ${columns} from ${from}${where}`)
    )
    const fetch = attempt(
      name,
      () =>
        client.query<Array<string | null>>({
          text: `fetch forward ${options.batchSize} from ${cursor}`,
          rowMode: "array",
          types: rawText
        })
    )
    let rows = 0
    let batch = yield* fetch
    while (batch.rows.length > 0) {
      const changes = batch.rows.map((values) => {
        const row: Record<string, unknown> = Object.create(null)
        for (let i = 0; i < relation.columns.length; i++) {
          const value = values[i]
          row[relation.columns[i]!.name] = value === null || value === undefined ? null : parsers[i]!(value)
        }
        return CdcChange.Snapshot({ relation, commitLsn, new: row })
      })
      rows += changes.length
      // One batch read ahead (a short batch is the table's last): the last rows of the last
      // table are known as such before they are handed over.
      const next = batch.rows.length < options.batchSize ? undefined : yield* fetch
      const transaction = source.snapshotTransaction(point, changes)
      // Complete once these are acknowledged, even when the consumer stops right after them.
      if (last && (next === undefined || next.rows.length === 0)) source.snapshotRead()
      const accepted = yield* mailbox.offer(transaction)
      if (!accepted) return false
      if (next === undefined) break
      batch = next
    }
    yield* Effect.annotateCurrentSpan(ATTR_CDC_SNAPSHOT_ROWS, rows)
    return true
  }).pipe(
    Effect.withSpan(CdcTelemetry.snapshotSpanName(source.settings.slot), {
      kind: "client",
      attributes: {
        [Semconv.ATTR_CDC_DB_SYSTEM_NAME]: "postgresql",
        [Semconv.ATTR_CDC_SLOT]: source.settings.slot,
        [Semconv.ATTR_CDC_PUBLICATION]: source.settings.publication,
        [Semconv.ATTR_CDC_TABLE]: name,
        [ATTR_CDC_SNAPSHOT_LSN]: Lsn.format(point.consistentPoint)
      }
    })
  )
}

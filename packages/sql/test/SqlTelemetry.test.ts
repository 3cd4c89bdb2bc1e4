import { TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlResolver from "@effect/sql/SqlResolver"
import * as SqlSchema from "@effect/sql/SqlSchema"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Str from "effect/String"
import { SqlTelemetry } from "../src/index.js"
import * as PgClientTelemetry from "../src/PgClientTelemetry.js"
import { connection, databaseUrl, pgLayer, unavailable, uniqueTable, withTable } from "./postgres.js"

const instrumented = (options: SqlTelemetry.Options = {}) =>
  Layer.mergeAll(SqlTelemetry.layer(options).pipe(Layer.provide(pgLayer())), TestTelemetry.layer())

const operations = (attributes: Record<string, unknown>) =>
  TestTelemetry.metricValue("db.client.operations", { ...connection, ...attributes })

const durationCount = (attributes: Record<string, unknown>) =>
  Effect.map(
    TestTelemetry.metricPoint("db.client.operation.duration", { ...connection, ...attributes }),
    (point) => (point.value as { count: number }).count
  )

/** Sum of the counter over every attribute set: what "counted once" is checked against. */
const totalOperations = Effect.map(
  TestTelemetry.metricData("db.client.operations"),
  (data) => (data?.dataPoints ?? []).reduce((sum, p) => sum + (p.value as number), 0)
)

const clientSpans = Effect.map(
  TestTelemetry.spans,
  (spans) => spans.filter((s) => TestTelemetry.kindOf(s) === "client")
)

const allAttributeText = Effect.map(
  TestTelemetry.spans,
  (spans) => JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })))
)

describe.skipIf(unavailable !== undefined)("SqlTelemetry (real Postgres)", () => {
  it.scopedLive("long generated statements (IN lists of every length) are described right across the cache's size bound", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      // 400 distinct texts of 2-6 KB: past the bound on cached text, so the cache is cleared
      // on the way; each statement must still be counted and named, and a repeated one too.
      for (let n = 400; n < 800; n++) {
        const ids = Array.from({ length: n }, (_, i) => i)
        yield* sql`SELECT ${sql.literal(String(n))} AS n FROM generate_series(1, 1) WHERE 1 IN ${sql.in(ids)}`
      }
      yield* sql`SELECT 1 AS one`
      yield* sql`SELECT 1 AS one`
      expect(
        yield* operations({ "db.operation.name": "SELECT", "db.collection.name": "generate_series", result: "ok" })
      )
        .toBe(400)
      expect(yield* operations({ "db.operation.name": "SELECT", result: "ok" })).toBe(2)
      const spans = yield* TestTelemetry.spans
      expect(spans.length).toBe(402)
      expect(spans.slice(0, 400).every((s) => s.name === "SELECT generate_series")).toBe(true)
      expect(String(spans[399]!.attributes["db.query.text"]).length).toBeGreaterThan(2_000)
    }).pipe(Effect.provide(instrumented())))

  it.scopedLive("every way of running a statement is counted once and is one client span in the caller's trace", () =>
    Effect.gen(function*() {
      const table = uniqueTable("paths")
      yield* withTable(table)
      const sql = yield* SqlClient.SqlClient
      yield* Effect.gen(function*() {
        yield* sql`INSERT INTO ${sql(table)} ${sql.insert({ id: 1, name: "alice" })}`
        const select = () => sql`SELECT id, name FROM ${sql(table)} WHERE id = ${1}`
        const rows = yield* select()
        expect(rows).toEqual([{ id: 1, name: "alice" }])
        yield* select().raw
        expect(yield* select().values).toEqual([[1, "alice"]])
        yield* select().unprepared
        yield* select().withoutTransform
        const streamed = yield* Stream.runCollect(select().stream)
        expect(Chunk.toReadonlyArray(streamed)).toEqual([{ id: 1, name: "alice" }])
        yield* sql.unsafe(`UPDATE ${table} SET name = $1 WHERE id = $2`, ["bob", 1])
      }).pipe(Effect.withSpan("caller"))

      const select = { "db.operation.name": "SELECT", "db.collection.name": table }
      const insert = { "db.operation.name": "INSERT", "db.collection.name": table }
      const update = { "db.operation.name": "UPDATE", "db.collection.name": table }
      expect(yield* operations({ ...select, result: "ok" })).toBe(6)
      expect(yield* operations({ ...insert, result: "ok" })).toBe(1)
      expect(yield* operations({ ...update, result: "ok" })).toBe(1)
      expect(yield* totalOperations).toBe(8)
      expect(yield* durationCount(select)).toBe(6)
      expect(yield* durationCount(insert)).toBe(1)
      expect(
        yield* TestTelemetry.prometheusValue("db_client_operations_total", {
          db_system_name: connection["db.system.name"],
          db_namespace: connection["db.namespace"],
          server_address: connection["server.address"],
          server_port: String(connection["server.port"]),
          db_operation_name: "SELECT",
          db_collection_name: table,
          result: "ok"
        })
      ).toBe(6)

      // One span per statement, named by semconv; the library's own `sql.execute` is gone.
      const caller = yield* TestTelemetry.spanNamed("caller")
      const spans = yield* clientSpans
      expect(spans.map((s) => s.name).sort()).toEqual([
        `INSERT ${table}`,
        ...Array.from({ length: 6 }, () => `SELECT ${table}`),
        `UPDATE ${table}`
      ].sort())
      expect((yield* TestTelemetry.spans).some((s) => s.name.startsWith("sql."))).toBe(false)
      for (const span of spans) {
        expect(TestTelemetry.parentSpanId(span)).toBe(caller.spanContext().spanId)
        expect(TestTelemetry.traceId(span)).toBe(TestTelemetry.traceId(caller))
        expect(TestTelemetry.statusOf(span)).toBe("unset")
        expect(span.attributes["db.system.name"]).toBe("postgresql")
        expect(span.attributes["db.namespace"]).toBe(connection["db.namespace"])
        expect(span.attributes["server.address"]).toBe(connection["server.address"])
        expect(span.attributes["server.port"]).toBe(connection["server.port"])
        expect(span.attributes["db.collection.name"]).toBe(table)
      }
      const selectSpan = spans.find((s) => s.name === `SELECT ${table}`)!
      expect(selectSpan.attributes["db.operation.name"]).toBe("SELECT")
      expect(selectSpan.attributes["db.query.text"]).toBe(`SELECT id, name FROM "${table}" WHERE id = $1`)
    }).pipe(Effect.provide(instrumented())))

  it.scopedLive("statements inside withTransaction, nested savepoint included, are children of transaction spans", () =>
    Effect.gen(function*() {
      const table = uniqueTable("tx")
      yield* withTable(table)
      const sql = yield* SqlClient.SqlClient
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO ${sql(table)} ${sql.insert({ id: 1, name: "a" })}`
        yield* sql.withTransaction(sql`SELECT * FROM ${sql(table)}`)
        yield* Effect.void.pipe(Effect.withSpan("user work"))
      })).pipe(Effect.withSpan("caller"))

      const caller = yield* TestTelemetry.spanNamed("caller")
      const transactions = yield* TestTelemetry.spansNamed("transaction")
      expect(transactions).toHaveLength(2)
      const outer = transactions.find((s) => s.attributes["db.transaction.depth"] === 0)!
      const inner = transactions.find((s) => s.attributes["db.transaction.depth"] === 1)!
      expect(TestTelemetry.parentSpanId(outer)).toBe(caller.spanContext().spanId)
      expect(TestTelemetry.parentSpanId(inner)).toBe(outer.spanContext().spanId)
      expect(outer.attributes["db.transaction.outcome"]).toBe("commit")
      expect(inner.attributes["db.transaction.outcome"]).toBe("commit")
      expect(outer.attributes["db.system.name"]).toBe("postgresql")
      const insertSpan = yield* TestTelemetry.spanNamed(`INSERT ${table}`)
      const selectSpan = yield* TestTelemetry.spanNamed(`SELECT ${table}`)
      const userSpan = yield* TestTelemetry.spanNamed("user work")
      expect(TestTelemetry.parentSpanId(insertSpan)).toBe(outer.spanContext().spanId)
      expect(TestTelemetry.parentSpanId(selectSpan)).toBe(inner.spanContext().spanId)
      expect(TestTelemetry.parentSpanId(userSpan)).toBe(outer.spanContext().spanId)
      for (const span of [outer, inner, insertSpan, selectSpan]) {
        expect(TestTelemetry.traceId(span)).toBe(TestTelemetry.traceId(caller))
      }
      expect((yield* TestTelemetry.spans).some((s) => s.name.startsWith("sql."))).toBe(false)
      // BEGIN, SAVEPOINT and COMMIT belong to the transaction span, not the statement count.
      expect(yield* operations({ "db.operation.name": "INSERT", "db.collection.name": table, result: "ok" })).toBe(1)
      expect(yield* operations({ "db.operation.name": "SELECT", "db.collection.name": table, result: "ok" })).toBe(1)
      expect(yield* totalOperations).toBe(2)
    }).pipe(Effect.provide(instrumented())))

  it.scopedLive("a failed transaction rolls back, is an Error span with outcome rollback, and counts the failed statement as error", () =>
    Effect.gen(function*() {
      const table = uniqueTable("rollback")
      yield* withTable(table)
      const sql = yield* SqlClient.SqlClient
      const exit = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO ${sql(table)} ${sql.insert({ id: 1, name: "a" })}`
        yield* sql`INSERT INTO ${sql(table)} ${sql.insert({ id: 1, name: "duplicate" })}`
      })).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)

      const tx = yield* TestTelemetry.spanNamed("transaction")
      expect(tx.attributes["db.transaction.outcome"]).toBe("rollback")
      expect(TestTelemetry.statusOf(tx)).toBe("error")
      const insert = { "db.operation.name": "INSERT", "db.collection.name": table }
      expect(yield* operations({ ...insert, result: "ok" })).toBe(1)
      expect(yield* operations({ ...insert, "error.type": "23505", result: "error" })).toBe(1)
      expect(yield* durationCount({ ...insert, "error.type": "23505" })).toBe(1)
      // The rollback happened: the uninstrumented client sees no rows.
      const rows = yield* Effect.flatMap(PgClient.PgClient, (pg) => pg`SELECT * FROM ${pg(table)}`).pipe(
        Effect.provide(pgLayer()),
        Effect.withTracerEnabled(false)
      )
      expect(rows).toEqual([])
    }).pipe(Effect.provide(instrumented())))

  it.scopedLive("a failing statement is an error with its SQLSTATE as error.type, on the span and the metrics", () =>
    Effect.gen(function*() {
      const missing = uniqueTable("missing")
      const sql = yield* SqlClient.SqlClient
      const error = yield* sql`SELECT * FROM ${sql(missing)}`.pipe(Effect.flip)
      expect(error._tag).toBe("SqlError")
      const streamError = yield* Stream.runDrain(sql`SELECT * FROM ${sql(missing)}`.stream).pipe(Effect.flip)
      expect(streamError._tag).toBe("SqlError")

      const attributes = { "db.operation.name": "SELECT", "db.collection.name": missing, "error.type": "42P01" }
      expect(yield* operations({ ...attributes, result: "error" })).toBe(2)
      expect(yield* durationCount(attributes)).toBe(2)
      expect(yield* totalOperations).toBe(2)
      const spans = yield* TestTelemetry.spansNamed(`SELECT ${missing}`)
      expect(spans).toHaveLength(2)
      for (const span of spans) {
        expect(TestTelemetry.statusOf(span)).toBe("error")
        expect(span.attributes["error.type"]).toBe("42P01")
        expect(span.attributes["db.response.status_code"]).toBe("42P01")
      }
    }).pipe(Effect.provide(instrumented())))

  it.scopedLive("parameter values and literals never reach a span", () =>
    Effect.gen(function*() {
      const table = uniqueTable("secrets")
      yield* withTable(table)
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO ${sql(table)} ${sql.insert({ id: 4242, name: "param-s3cr3t" })}`
      yield* sql.unsafe(`SELECT * FROM ${table} WHERE name = 'literal-s3cr3t' AND id > 9876`)
      yield* sql`SELECT * FROM ${sql(table)} WHERE name = ${"template-s3cr3t"}`.values

      const text = yield* allAttributeText
      for (const secret of ["param-s3cr3t", "literal-s3cr3t", "template-s3cr3t", "4242", "9876"]) {
        expect(text).not.toContain(secret)
      }
      const unsafe = (yield* TestTelemetry.spansNamed(`SELECT ${table}`)).map((s) => s.attributes["db.query.text"])
      expect(unsafe).toContain(`SELECT * FROM ${table} WHERE name = ? AND id > ?`)
      expect(unsafe).toContain(`SELECT * FROM "${table}" WHERE name = $1`)
    }).pipe(Effect.provide(instrumented())))

  it.scopedLive("with spans off there is no database span at all, metrics are unchanged and user spans keep their parent", () =>
    Effect.gen(function*() {
      const table = uniqueTable("nospans")
      yield* withTable(table)
      const sql = yield* SqlClient.SqlClient
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO ${sql(table)} ${sql.insert({ id: 1, name: "a" })}`
        yield* Effect.void.pipe(Effect.withSpan("user work"))
      })).pipe(Effect.withSpan("caller"))
      yield* Stream.runDrain(sql`SELECT * FROM ${sql(table)}`.stream)

      const names = (yield* TestTelemetry.spans).map((s) => s.name).sort()
      expect(names).toEqual(["caller", "user work"])
      const caller = yield* TestTelemetry.spanNamed("caller")
      const user = yield* TestTelemetry.spanNamed("user work")
      expect(TestTelemetry.parentSpanId(user)).toBe(caller.spanContext().spanId)
      expect(yield* operations({ "db.operation.name": "INSERT", "db.collection.name": table, result: "ok" })).toBe(1)
      expect(yield* operations({ "db.operation.name": "SELECT", "db.collection.name": table, result: "ok" })).toBe(1)
    }).pipe(Effect.provide(instrumented({ spans: false }))))

  it.scopedLive("an interrupted statement is counted with error.type=interrupted and its span stays Unset", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const exit = yield* sql`SELECT pg_sleep(10)`.pipe(Effect.timeout("200 millis"), Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* operations({ "db.operation.name": "SELECT", "error.type": "interrupted", result: "error" })).toBe(1)
      const span = yield* TestTelemetry.spanNamed("SELECT")
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(span.attributes["effect.interrupted"]).toBe(true)
    }).pipe(Effect.provide(instrumented())))

  it.scopedLive("PgClientTelemetry.layer instruments code that asks for PgClient as well as SqlClient, notify included", () =>
    Effect.gen(function*() {
      const pg = yield* PgClient.PgClient
      const sql = yield* SqlClient.SqlClient
      expect(pg).toBe(sql)
      yield* pg`SELECT 1 AS one`
      expect(pg.config.url).toBeDefined()
      expect(yield* operations({ "db.operation.name": "SELECT", result: "ok" })).toBe(1)
      yield* TestTelemetry.spanNamed("SELECT")
      // NOTIFY bypasses statements in PgClient; it is still one operation, payload unrecorded.
      // (@effect/sql-pg 0.53.0 sends `NOTIFY chan, $1`, which Postgres rejects with 42601:
      // the instrumentation must report that as the error it is.)
      const exit = yield* Effect.exit(pg.notify("sqltel_channel", "payload-s3cr3t"))
      expect(
        yield* Exit.isSuccess(exit)
          ? operations({ "db.operation.name": "NOTIFY", result: "ok" })
          : operations({ "db.operation.name": "NOTIFY", "error.type": "42601", result: "error" })
      ).toBe(1)
      const notify = yield* TestTelemetry.spanNamed("NOTIFY")
      expect(TestTelemetry.statusOf(notify)).toBe(Exit.isSuccess(exit) ? "unset" : "error")
      expect(notify.attributes["db.query.text"]).toBe(`NOTIFY "sqltel_channel", $1`)
      expect(yield* allAttributeText).not.toContain("payload-s3cr3t")
    }).pipe(
      Effect.provide(Layer.mergeAll(PgClientTelemetry.layer().pipe(Layer.provide(pgLayer())), TestTelemetry.layer()))
    ))
})

describe.skipIf(unavailable !== undefined)("SqlTelemetry with the libraries built on SqlClient (real Postgres)", () => {
  it.scopedLive("SqlSchema and a batching SqlResolver are counted once per statement they run", () =>
    Effect.gen(function*() {
      const table = uniqueTable("resolver")
      yield* withTable(table)
      const sql = yield* SqlClient.SqlClient
      const Row = Schema.Struct({ id: Schema.Number, name: Schema.String })
      const insert = SqlSchema.void({
        Request: Row,
        execute: (row) => sql`INSERT INTO ${sql(table)} ${sql.insert(row)}`
      })
      yield* Effect.forEach([1, 2, 3], (id) => insert({ id, name: `n${id}` }), { discard: true })
      const resolver = yield* SqlResolver.findById("RowById", {
        Id: Schema.Number,
        Result: Row,
        ResultId: (row) => row.id,
        execute: (ids) => sql`SELECT * FROM ${sql(table)} WHERE ${sql.in("id", ids)}`
      })
      // Three lookups in one batch: one statement.
      const found = yield* Effect.forEach([1, 2, 3], (id) => resolver.execute(id), { batching: true })
      expect(found.map((o) => Option.getOrThrow(o).name)).toEqual(["n1", "n2", "n3"])

      expect(yield* operations({ "db.operation.name": "INSERT", "db.collection.name": table, result: "ok" })).toBe(3)
      expect(yield* operations({ "db.operation.name": "SELECT", "db.collection.name": table, result: "ok" })).toBe(1)
      expect(yield* totalOperations).toBe(4)
      const select = yield* TestTelemetry.spanNamed(`SELECT ${table}`)
      expect(select.attributes["db.query.text"]).toBe(`SELECT * FROM "${table}" WHERE "id" IN ($1,$2,$3)`)
    }).pipe(Effect.provide(instrumented())))

  it.scopedLive("names come from the compiled SQL, after transformQueryNames", () =>
    Effect.gen(function*() {
      const letters = Array.from({ length: 8 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join("")
      const table = `sqltel_events_${letters}`
      yield* withTable(table)
      const camel = table.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO ${sql(camel)} ${sql.insert({ id: 1, name: "x" })}`
      const rows = yield* Stream.runCollect(sql`SELECT * FROM ${sql(camel)}`.stream.pipe(Stream.take(1)))
      expect(Chunk.size(rows)).toBe(1)
      yield* TestTelemetry.spanNamed(`INSERT ${table}`)
      yield* TestTelemetry.spanNamed(`SELECT ${table}`)
      // A stream the consumer stops early is a successful operation.
      expect(yield* operations({ "db.operation.name": "SELECT", "db.collection.name": table, result: "ok" })).toBe(1)
    }).pipe(Effect.provide(Layer.mergeAll(
      SqlTelemetry.layer().pipe(Layer.provide(PgClient.layer({
        url: Redacted.make(databaseUrl),
        transformQueryNames: Str.camelToSnake,
        transformResultNames: Str.snakeToCamel
      }))),
      TestTelemetry.layer()
    ))))
})

describe("SqlTelemetry options", () => {
  it("every entry point is a function, also with every option left out", () => {
    for (
      const entry of [
        SqlTelemetry.layer,
        PgClientTelemetry.layer,
        SqlTelemetry.layerConfig,
        PgClientTelemetry.layerConfig,
        SqlTelemetry.make
      ]
    ) {
      expect(typeof entry).toBe("function")
    }
  })

  it.effect("a layer given a non-boolean option fails with the TelemetryOptionsError naming it, before any query", () =>
    Effect.gen(function*() {
      for (const layer of [SqlTelemetry.layer, PgClientTelemetry.layer]) {
        const error = yield* Layer.build(layer({ spans: "yes" as unknown as boolean }).pipe(Layer.provide(pgLayer())))
          .pipe(
            Effect.scoped,
            Effect.flip
          )
        expect(error).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
        expect(error.message).toBe(`SqlTelemetry: option spans must be a boolean, got "yes"`)
      }
    }))

  it.effect("layerConfig rejects a value that reads but is not allowed with the same error", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(
        SqlTelemetry.layerConfig({ queryText: Config.succeed(1 as unknown as boolean) }).pipe(Layer.provide(pgLayer()))
      ).pipe(Effect.scoped, Effect.flip)
      expect(error).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
      expect(error.message).toBe("SqlTelemetry: option queryText must be a boolean, got 1")
    }))

  it("make throws the same error", () => {
    expect(() => SqlTelemetry.make({} as SqlClient.SqlClient, { queryText: "no" as unknown as boolean })).toThrow(
      new TelemetryOptionsError.TelemetryOptionsError({
        surface: "SqlTelemetry",
        option: "queryText",
        expected: "a boolean",
        value: "no"
      })
    )
  })
})

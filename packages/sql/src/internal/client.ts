/**
 * The instrumented SqlClient. Every statement the client builds is wrapped, so each way of
 * running it (yield, `raw`, `values`, `unprepared`, `withoutTransform`, `stream`), inside a
 * transaction or not, goes through one place that records the metrics and opens the span.
 *
 * @effect/sql opens its own `sql.execute` and `sql.transaction` spans; they are silenced
 * (tracer disabled around the library's code, the caller's setting restored for user code
 * inside a transaction) so the span here is the only one per statement, whatever `spans` says.
 */
import { Attributes, Instrumentation, Tracing } from "@effect-telemetry/core"
import type * as SqlClient from "@effect/sql/SqlClient"
import { TransactionConnection } from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as metrics from "./metrics.js"
import { queryInfo } from "./query.js"
import * as Semconv from "./semconv.js"

/** @internal */
export interface Options {
  readonly spans: boolean
  readonly queryText: boolean
}

interface Target {
  readonly options: Options
  /** Every attribute the driver puts on its spans (user `spanAttributes` included). */
  readonly spanAttributes: Readonly<Record<string, unknown>>
  /** The connection-level attributes that are bounded enough for metrics. */
  readonly metricAttributes: Readonly<Record<string, string | number>>
  readonly system: string
  /** What a statement text yields, by text: statements repeat, their attribute sets need not be rebuilt. */
  readonly prepared: Map<string, Prepared>
  /** The length of the texts `prepared` holds: long generated statements bound it, not their count. */
  preparedChars: number
}

const METRIC_CONNECTION_ATTRIBUTES = [
  Semconv.ATTR_DB_SYSTEM_NAME,
  Semconv.ATTR_DB_NAMESPACE,
  Semconv.ATTR_SERVER_ADDRESS,
  Semconv.ATTR_SERVER_PORT
] as const

const systemOfDialect = (client: SqlClient.SqlClient): string =>
  client.onDialectOrElse({
    pg: () => "postgresql",
    mysql: () => "mysql",
    sqlite: () => "sqlite",
    mssql: () => "microsoft.sql_server",
    clickhouse: () => "clickhouse",
    orElse: () => "other_sql"
  })

const targetOf = (client: SqlClient.SqlClient, options: Options): Target => {
  // The driver's connection attributes (db.system.name, db.namespace, server.*) live on the
  // statements it builds; an empty statement reads them without running anything.
  const probe = client.unsafe("") as unknown as { readonly spanAttributes?: unknown }
  const spanAttributes: Record<string, unknown> = {}
  if (Array.isArray(probe.spanAttributes)) {
    for (const entry of probe.spanAttributes) {
      if (Array.isArray(entry) && typeof entry[0] === "string") spanAttributes[entry[0]] = entry[1]
    }
  }
  const system = typeof spanAttributes[Semconv.ATTR_DB_SYSTEM_NAME] === "string"
    ? spanAttributes[Semconv.ATTR_DB_SYSTEM_NAME] as string
    : systemOfDialect(client)
  spanAttributes[Semconv.ATTR_DB_SYSTEM_NAME] = system
  const metricAttributes: Record<string, string | number> = {}
  for (const key of METRIC_CONNECTION_ATTRIBUTES) {
    const value = spanAttributes[key]
    if (typeof value === "string" || typeof value === "number") metricAttributes[key] = value
  }
  return { options, spanAttributes, metricAttributes, system, prepared: new Map(), preparedChars: 0 }
}

/** SQLSTATE of a failed Postgres (or any driver exposing `code`) statement. */
const statusCodeOf = (error: unknown): string | undefined => {
  const cause = typeof error === "object" && error !== null ? (error as { cause?: unknown }).cause : undefined
  const code = typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

interface Prepared {
  readonly name: string
  readonly spanAttributes: Record<string, unknown>
  /** Runs one execution of the statement in its span and records it. */
  readonly operation: Instrumentation.Operation<any, SqlError>
}

const compiled = (statement: Statement.Statement<unknown>, withoutTransform: boolean) => (): string | undefined => {
  try {
    return statement.compile(withoutTransform)[0]
  } catch {
    // The library raises the same error when it compiles; the statement is still counted.
    return undefined
  }
}

const PREPARED_LIMIT = 2_000
// Each entry keeps its text twice (key, and `db.query.text` as sanitized): a pool issuing long
// generated statements (IN lists, a cluster's polling) would hold 2,000 of them, megabytes each.
const PREPARED_CHARS_LIMIT = 1_000_000

const prepare = (target: Target, sql: string | undefined): Prepared => {
  const key = sql ?? ""
  const hit = target.prepared.get(key)
  if (hit !== undefined) return hit
  // Generated SQL (IN lists of varying length) would otherwise grow this forever.
  if (target.prepared.size >= PREPARED_LIMIT || target.preparedChars + key.length > PREPARED_CHARS_LIMIT) {
    target.prepared.clear()
    target.preparedChars = 0
  }
  const prepared = build(target, sql)
  target.prepared.set(key, prepared)
  target.preparedChars += key.length
  return prepared
}

const build = (target: Target, sql: string | undefined): Prepared => {
  const info = sql === undefined ? undefined : queryInfo(sql)
  const metricAttributes: Record<string, string | number> = Attributes.copy(target.metricAttributes)
  const spanAttributes: Record<string, unknown> = Attributes.copy(target.spanAttributes)
  if (info?.operation !== undefined) {
    metricAttributes[Semconv.ATTR_DB_OPERATION_NAME] = info.operation
    spanAttributes[Semconv.ATTR_DB_OPERATION_NAME] = info.operation
  }
  if (info?.collection !== undefined) {
    metricAttributes[Semconv.ATTR_DB_COLLECTION_NAME] = info.collection
    spanAttributes[Semconv.ATTR_DB_COLLECTION_NAME] = info.collection
  }
  if (info !== undefined && target.options.queryText) spanAttributes[Semconv.ATTR_DB_QUERY_TEXT] = info.text
  const name = info?.operation === undefined
    ? target.system
    : info.collection === undefined
    ? info.operation
    : `${info.operation} ${info.collection}`
  const okAttributes = Attributes.extend(metricAttributes, { [Semconv.ATTR_RESULT]: "ok" })
  const failed = (errorType: string) => Attributes.extend(metricAttributes, { [Semconv.ATTR_ERROR_TYPE]: errorType })
  const operation = Instrumentation.operation<any, SqlError>({
    // The library's own spans are silenced inside: the statement's effect needs no parent.
    span: target.options.spans ? { name, kind: "client", attributes: spanAttributes, asParent: false } : undefined,
    duration: metrics.operationDuration,
    count: metrics.operations,
    errorType: (error) => statusCodeOf(error) ?? Tracing.errorTypeOf(error),
    attributes: (_exit, errorType) => errorType === undefined ? metricAttributes : failed(errorType),
    countAttributes: (_exit, errorType) =>
      errorType === undefined
        ? okAttributes
        : Attributes.extend(failed(errorType), { [Semconv.ATTR_RESULT]: "error" }),
    onEnd: (exit, _errorType, span) => {
      if (span === undefined || Exit.isSuccess(exit)) return
      const failure = Cause.failureOption(exit.cause)
      const statusCode = Option.isSome(failure) ? statusCodeOf(failure.value) : undefined
      if (statusCode !== undefined) span.attribute(Semconv.ATTR_DB_RESPONSE_STATUS_CODE, statusCode)
    }
  })
  return { name, spanAttributes, operation }
}

const silenced = Effect.withTracerEnabled(false)

// Called when the statement runs (the runtime calls `commit()` per evaluation) or when a way of
// running it is read (`raw`, `values`...): the text is compiled then, not per fiber step.
const runEffect = <A>(
  target: Target,
  sql: () => string | undefined,
  run: Effect.Effect<A, SqlError>
): Effect.Effect<A, SqlError> => prepare(target, sql()).operation(silenced(run))

const runStream = <A>(
  target: Target,
  statement: Statement.Statement<unknown>,
  stream: Stream.Stream<A, SqlError>
): Stream.Stream<A, SqlError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const prepared = prepare(target, compiled(statement, false)())
    const span = target.options.spans
      ? yield* Effect.makeSpanScoped(prepared.name, {
        kind: "client",
        attributes: prepared.spanAttributes,
        captureStackTrace: false
      })
      : undefined
    const started = performance.now()
    // Added after the span, so it runs first on close and annotates the span before it ends.
    yield* Effect.addFinalizer((exit) =>
      Effect.sync(() => prepared.operation.end(exit as Exit.Exit<unknown, SqlError>, started, span))
    )
    const pull = yield* silenced(Stream.toPull(stream))
    return Stream.fromPull(Effect.succeed(silenced(pull)))
  }))

const isStatement = (u: unknown): u is Statement.Statement<unknown> =>
  Effect.isEffect(u) && typeof (u as { compile?: unknown }).compile === "function"

/**
 * The Proxy handler every instrumented statement of one client shares. An instrumented
 * statement is a Proxy of the original: everything (segments, compile, fragment identity, so
 * composing it into another statement sees the original) passes through, and only the ways it
 * runs are replaced. A Proxy rather than `Object.create(statement)`: making each statement a
 * prototype costs V8 several microseconds per statement and slows the whole fiber runtime.
 */
const statementHandler = (target: Target): ProxyHandler<Statement.Statement<unknown>> => {
  type Self = Statement.Statement<unknown>
  const run = <X>(statement: Self, withoutTransform: boolean, effect: Effect.Effect<X, SqlError>) =>
    runEffect(target, compiled(statement, withoutTransform), effect)
  return {
    get(statement, property, receiver) {
      switch (property) {
        // The runtime evaluates a statement by calling `commit()` on it.
        case "commit":
          return () => run(statement, false, Effect.suspend(() => statement))
        case "raw":
          return run(statement, true, Effect.suspend(() => statement.raw))
        case "withoutTransform":
          return run(statement, true, Effect.suspend(() => statement.withoutTransform))
        case "values":
          return run(statement, false, Effect.suspend(() => statement.values))
        case "unprepared":
          return run(statement, false, Effect.suspend(() => statement.unprepared))
        case "stream":
          return runStream(target, statement, statement.stream)
        default:
          return Reflect.get(statement, property, receiver)
      }
    }
  }
}

const makeWithTransaction =
  (target: Target, client: SqlClient.SqlClient): SqlClient.SqlClient["withTransaction"] =>
  <R, E, A>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    Effect.gen(function*() {
      const depth = Option.match(yield* Effect.serviceOption(TransactionConnection), {
        onNone: () => 0,
        onSome: ([, n]) => n + 1
      })
      const tracerEnabled = yield* FiberRef.get(FiberRef.currentTracerEnabled)
      const outer = yield* Effect.serviceOption(Tracer.ParentSpan)
      // The library makes its own span the parent of the user's effect; put ours (or, with
      // spans off, the caller's) back, and the caller's tracer setting.
      const inside = (parent: Option.Option<Tracer.AnySpan>) =>
        effect.pipe(
          Option.isSome(parent)
            ? Effect.withParentSpan(parent.value)
            : Effect.mapInputContext((context: Context.Context<R>) => Context.omit(Tracer.ParentSpan)(context) as any),
          Effect.withTracerEnabled(tracerEnabled)
        ) as Effect.Effect<A, E, R>
      if (!target.options.spans) return yield* silenced(client.withTransaction(inside(outer)))
      return yield* Effect.useSpan(
        Semconv.SPAN_DB_TRANSACTION,
        {
          kind: "internal",
          attributes: Attributes.extend(target.spanAttributes, { [Semconv.ATTR_DB_TRANSACTION_DEPTH]: depth }),
          captureStackTrace: false
        },
        (span) =>
          silenced(client.withTransaction(inside(Option.some(span)))).pipe(
            Effect.onExit((exit) =>
              Effect.sync(() =>
                span.attribute(Semconv.ATTR_DB_TRANSACTION_OUTCOME, Exit.isSuccess(exit) ? "commit" : "rollback")
              )
            )
          )
      )
    })

/** @internal */
export const make = <C extends SqlClient.SqlClient>(client: C, options: Options): C => {
  const target = targetOf(client, options)
  const handler = statementHandler(target)
  const wrap = (u: unknown) => (isStatement(u) ? new Proxy(u, handler) : u)
  const original = client as unknown as (...args: Array<unknown>) => unknown
  const sql = function(...args: Array<unknown>) {
    return wrap(original(...args))
  }
  let withoutTransforms: C | undefined
  const instrumented = Object.assign(sql, client, {
    unsafe: (text: string, params?: ReadonlyArray<unknown>) => wrap(client.unsafe(text, params)),
    withTransaction: makeWithTransaction(target, client),
    withoutTransforms: () => {
      const plain = client.withoutTransforms()
      if (plain === (client as unknown)) return instrumented
      return withoutTransforms ??= make(plain as unknown as C, options)
    }
  }) as unknown as C
  ;(instrumented as { safe: unknown }).safe = instrumented
  // PgClient's NOTIFY goes to the pool directly, not through a statement.
  const notify = (client as { readonly notify?: unknown }).notify
  if (typeof notify === "function") {
    ;(instrumented as unknown as { notify: unknown }).notify = (channel: string, payload: string) =>
      runEffect(
        target,
        () => `NOTIFY "${String(channel).replace(/"/g, "\"\"")}", $1`,
        Effect.suspend(() => notify.call(client, channel, payload) as Effect.Effect<void, SqlError>)
      )
  }
  return instrumented
}

import { OtlpReceiver, TestServices } from "@effect-telemetry/testing"
import type { ReceivedSpan } from "@effect-telemetry/testing/OtlpReceiver"
import * as HttpServer from "@effect/platform/HttpServer"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { connect } from "node:net"
import * as App from "../src/App.js"

// The demo in process (embedded database unless given service URLs), traces exported over real OTLP/HTTP to a local
// receiver that decodes them with the official protobuf definitions.
const startDemo = (receiver: OtlpReceiver.OtlpReceiver, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(App.layer({
      banner: false,
      telemetry: {
        tracesExporter: "otlp",
        otlpTraces: { url: receiver.endpoints.traces },
        metricsExporters: [],
        batchSpanProcessor: { scheduleDelayMillis: 100 }
      }
    })).pipe(
      Effect.withConfigProvider(
        ConfigProvider.fromMap(new Map([["PORT", "0"], ["TRACE_VIEW", "false"], ...Object.entries(env)]))
      )
    )
    const server = HttpServer.HttpServer.pipe(Effect.provide(context))
    const address = (yield* server).address
    if (address._tag !== "TcpAddress") return yield* Effect.die("no TCP address")
    return `http://127.0.0.1:${address.port}`
  })

const one = (spans: ReadonlyArray<ReceivedSpan>, name: string, traceId?: string) => {
  const found = spans.filter((s) => s.name === name && (traceId === undefined || s.traceId === traceId))
  if (found.length !== 1) {
    throw new Error(
      `expected one span ${JSON.stringify(name)}, found ${found.length}; present: ${
        [...new Set(spans.map((s) => s.name))].join(", ")
      }`
    )
  }
  return found[0]!
}

// The services the demo uses when their URLs are set: each must accept a TCP connection.
const services = {
  DATABASE_URL: TestServices.databaseUrl,
  REDIS_URL: TestServices.redisUrl,
  AMQP_URL: TestServices.amqpUrl
}
const servicesUnavailable = TestServices.required(
  "demo with real services",
  (await Promise.all(
    Object.values(services).map((url) =>
      TestServices.probe("service", url, () =>
        new Promise<void>((done, fail) => {
          const { hostname, port } = new URL(url)
          const socket = connect(Number(port), hostname, () => done(void socket.end())).once("error", fail)
        }))
    )
  )).find((reason) => reason !== undefined)
)

const placeOrder = (base: string) =>
  Effect.promise(() =>
    fetch(`${base}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sku: "sku-1", quantity: 2 })
    })
  )

/** One value of the demo's own `/metrics` (text format), the sum over the series whose labels include `labels`. */
const scrapedValue = (scrape: string, name: string, labels: Record<string, string>) => {
  let total = 0
  for (const line of scrape.split("\n")) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (sample === null || sample[1] !== name) continue
    const present = Object.fromEntries(
      [...(sample[2] ?? "").matchAll(/([a-zA-Z0-9_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]])
    )
    if (Object.entries(labels).every(([k, v]) => present[k] === v)) total += Number(sample[3])
  }
  return total
}

describe("demo, across surfaces", () => {
  it.scopedLive(
    "POST /orders is one trace: HTTP server → function → SQL → queue send → queue process → workflow",
    () =>
      Effect.gen(function*() {
        const receiver = yield* OtlpReceiver.make()
        const base = yield* startDemo(receiver)
        const response = yield* placeOrder(base)
        expect(response.status).toBe(201)
        const traceparent = response.headers.get("traceparent")
        expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
        const traceId = traceparent!.split("-")[1]!

        // The workflow runs after the consumer took the message, and its run span ends after its
        // last activity: wait for the run span itself, or it may not have been exported yet.
        yield* receiver.awaitSpans(1, {
          timeout: "30 seconds",
          filter: (s) => s.name === "workflow Fulfilment" && s.traceId === traceId
        })
        const spans = receiver.spans().filter((s) => s.traceId === traceId)

        const server = one(spans, "POST /orders")
        expect(server.kind).toBe("server")
        expect(server.parentSpanId).toBeUndefined()
        expect(server.attributes["http.route"]).toBe("/orders")
        expect(server.attributes["http.response.status_code"]).toBe(201)

        const place = one(spans, "orders.place")
        expect(place.kind).toBe("internal")
        expect(place.parentSpanId).toBe(server.spanId)

        const insert = one(spans, "INSERT demo_orders")
        expect(insert.kind).toBe("client")
        expect(insert.parentSpanId).toBe(place.spanId)
        // parameter values never reach telemetry
        expect(String(insert.attributes["db.query.text"])).not.toContain("sku-1")

        const send = one(spans, "send order-events")
        expect(send.kind).toBe("producer")
        expect(send.parentSpanId).toBe(server.spanId)

        const processSpan = one(spans, "process order-events")
        expect(processSpan.kind).toBe("consumer")
        expect(processSpan.parentSpanId).toBe(send.spanId)

        // The run continues the consumer's trace beneath the process span (its execute call).
        const workflow = one(spans, "workflow Fulfilment")
        const ancestors = (span: ReceivedSpan): Array<string> => {
          const parent = spans.find((s) => s.spanId === span.parentSpanId)
          return parent === undefined ? [] : [parent.spanId, ...ancestors(parent)]
        }
        expect(ancestors(workflow)).toContain(processSpan.spanId)
        const reserve = one(spans, "activity Reserve")
        expect(ancestors(reserve)).toContain(workflow.spanId)
        // Reserve and the second Ship attempt each set the status.
        const updates = spans.filter((s) => s.name === "UPDATE demo_orders")
        expect(updates).toHaveLength(2)
        // Ship failed once and was retried: two attempts, the first one Error.
        const ships = spans.filter((s) => s.name === "activity Ship")
          .sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano))
        expect(ships.map((s) => s.status.code)).toEqual(["error", "unset"])
        for (const ship of ships) expect(ancestors(ship)).toContain(workflow.spanId)
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "POST /orders forks the order-audit process in the request's trace, and the process metrics count it",
    () =>
      Effect.gen(function*() {
        const receiver = yield* OtlpReceiver.make()
        const base = yield* startDemo(receiver)
        // Deltas: the metric registry is the process's, shared with this file's other tests.
        const scrape = Effect.promise(() => fetch(`${base}/metrics`).then((r) => r.text()))
        const audit = { process_name: "order-audit" }
        const completed = { ...audit, result: "completed" }
        const values = (text: string) => ({
          started: scrapedValue(text, "process_started_total", audit),
          terminated: scrapedValue(text, "process_terminated_total", completed),
          active: scrapedValue(text, "process_active", audit),
          durations: scrapedValue(text, "process_duration_seconds_count", completed),
          // The audit's write: KV spans are off by default, its metrics are not.
          writes: scrapedValue(text, "kv_operations_total", {
            kv_namespace: "orders",
            kv_operation: "set",
            kv_result: "ok"
          })
        })
        const before = values(yield* scrape)

        const response = yield* placeOrder(base)
        expect(response.status).toBe(201)
        const traceId = response.headers.get("traceparent")!.split("-")[1]!
        const isAudit = (s: ReceivedSpan) => s.name === "process order-audit" && s.traceId === traceId
        yield* receiver.awaitSpans(1, { timeout: "30 seconds", filter: isAudit })
        const spans = receiver.spans().filter((s) => s.traceId === traceId)
        const span = one(spans, "process order-audit")
        expect(span.kind).toBe("internal")
        expect(span.parentSpanId).toBe(one(spans, "POST /orders").spanId)
        expect(span.attributes["process.name"]).toBe("order-audit")
        expect(span.status.code).toBe("unset")

        // The span ends after the metrics are updated, so they are final once it has arrived.
        const after = values(yield* scrape)
        expect({
          started: after.started - before.started,
          terminated: after.terminated - before.terminated,
          active: after.active,
          durations: after.durations - before.durations,
          writes: after.writes - before.writes
        }).toEqual({ started: 1, terminated: 1, active: 0, durations: 1, writes: 1 })
      }),
    { timeout: 120_000 }
  )

  it.scopedLive("a 500 and a 404 have the statuses a server should report", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const base = yield* startDemo(receiver)
      const fail = yield* Effect.promise(() => fetch(`${base}/fail`))
      const missing = yield* Effect.promise(() => fetch(`${base}/orders/nope`))
      const unmatched = yield* Effect.promise(() => fetch(`${base}/no/such/route`))
      expect([fail.status, missing.status, unmatched.status]).toEqual([500, 404, 404])
      const spans = yield* receiver.awaitSpans(3, {
        timeout: "20 seconds",
        filter: (s) => s.kind === "server"
      })
      const byName = (name: string) => spans.find((s) => s.name === name)!
      expect(byName("GET /fail").status.code).toBe("error")
      expect(byName("GET /orders/:id").status.code).toBe("unset")
      expect(byName("GET").attributes["http.route"]).toBe("_unmatched")
      expect(byName("GET").status.code).toBe("unset")
    }), { timeout: 120_000 })

  it.scopedLive(
    "GET /report's child process continues the request's trace, and the demo's /traces shows the order's waterfall",
    () =>
      Effect.gen(function*() {
        const receiver = yield* OtlpReceiver.make()
        const base = yield* startDemo(receiver, { TRACE_VIEW: "true" })
        const report = yield* Effect.promise(() => fetch(`${base}/report`))
        expect(report.status).toBe(200)
        const { child } = (yield* Effect.promise(() => report.json())) as { child: { traceparent: string | null } }
        expect(child.traceparent?.split("-")[1]).toBe(report.headers.get("traceparent")!.split("-")[1])

        const order = yield* placeOrder(base)
        const traceId = order.headers.get("traceparent")!.split("-")[1]!
        yield* receiver.awaitSpans(1, {
          timeout: "30 seconds",
          filter: (s) => s.name === "workflow Fulfilment" && s.traceId === traceId
        })
        const list = yield* Effect.promise(() => fetch(`${base}/traces`).then((r) => r.text()))
        expect(list).toContain(`href="/traces/${traceId}"`)
        const page = yield* Effect.promise(() => fetch(`${base}/traces/${traceId}`).then((r) => r.text()))
        for (
          const name of [
            "POST /orders",
            "orders.place",
            "send order-events",
            "process order-events",
            "workflow Fulfilment"
          ]
        ) {
          expect(page).toContain(name)
        }
      }),
    { timeout: 120_000 }
  )

  it.scopedLive.skipIf(servicesUnavailable !== undefined)(
    "with DATABASE_URL, REDIS_URL and AMQP_URL the same trace runs over Postgres, Redis and RabbitMQ",
    () =>
      Effect.gen(function*() {
        // Closed after the demo: its CDC slot would otherwise retain WAL on the shared server.
        yield* Effect.addFinalizer(() =>
          Effect.flatMap(PgClient.PgClient, (sql) =>
            sql`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'demo_orders' AND NOT active`)
            .pipe(Effect.provide(PgClient.layer({ url: Redacted.make(services.DATABASE_URL) })), Effect.ignore)
        )
        const receiver = yield* OtlpReceiver.make()
        const base = yield* startDemo(receiver, services)
        const response = yield* placeOrder(base)
        expect(response.status).toBe(201)
        const { id } = (yield* Effect.promise(() =>
          response.json()
        )) as { id: string }
        const traceId = response.headers.get("traceparent")!.split("-")[1]!
        yield* receiver.awaitSpans(1, {
          timeout: "30 seconds",
          filter: (s) => s.name === "workflow Fulfilment" && s.traceId === traceId
        })
        const spans = receiver.spans().filter((s) => s.traceId === traceId)
        const send = one(spans, "send order-events")
        expect(send.attributes["messaging.system"]).toBe("rabbitmq")
        const processSpan = one(spans, "process order-events")
        expect(processSpan.parentSpanId).toBe(send.spanId)
        expect(one(spans, "workflow Fulfilment").traceId).toBe(traceId)

        // The second read is a hit in the Redis cache: no SELECT of its own.
        for (let i = 0; i < 2; i++) {
          const read = yield* Effect.promise(() => fetch(`${base}/orders/${id}`))
          expect(read.status).toBe(200)
        }
        const isRead = (s: ReceivedSpan) => s.name === "GET /orders/:id"
        yield* receiver.awaitSpans(2, { timeout: "20 seconds", filter: isRead })
        const reads = receiver.spans().filter(isRead).map((s) => s.traceId)
        expect(reads).toHaveLength(2)
        const selects = reads.map((trace) =>
          receiver.spans().filter((s) => s.traceId === trace && s.name === "SELECT demo_orders").length
        )
        expect(selects).toEqual([1, 0])
      }),
    { timeout: 120_000 }
  )
})

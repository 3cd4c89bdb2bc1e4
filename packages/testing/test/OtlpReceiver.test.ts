import * as OtlpReceiver from "@effect-telemetry/testing/OtlpReceiver"
import { describe, expect, it } from "@effect/vitest"
import * as Grpc from "@grpc/grpc-js"
import type { HrTime } from "@opentelemetry/api"
import { context, SpanKind, SpanStatusCode, trace, ValueType } from "@opentelemetry/api"
import { ExportResultCode } from "@opentelemetry/core"
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter as JsonMetricExporter
} from "@opentelemetry/exporter-metrics-otlp-http"
import { OTLPMetricExporter as ProtoMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto"
import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { OTLPTraceExporter as ProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import { CompressionAlgorithm } from "@opentelemetry/otlp-exporter-base"
import { resourceFromAttributes } from "@opentelemetry/resources"
import type { PushMetricExporter } from "@opentelemetry/sdk-metrics"
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Zlib from "node:zlib"

const resource = resourceFromAttributes({ "service.name": "receiver-test", "deployment.environment": "test" })

/** A real SDK tracer provider exporting through `exporter`, plus an in-memory copy of what it ended. */
const tracing = (exporter: SpanExporter) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const memory = new InMemorySpanExporter()
      const provider = new BasicTracerProvider({
        resource,
        spanProcessors: [new SimpleSpanProcessor(exporter), new SimpleSpanProcessor(memory)]
      })
      return { provider, memory, tracer: provider.getTracer("receiver-test-scope", "1.2.3") }
    }),
    ({ provider }) => Effect.promise(() => provider.shutdown())
  )

/** Ends a server span with a client child (error status, event) and a root span; flushes. */
const emitSpans = (exporter: SpanExporter) =>
  Effect.gen(function*() {
    const { memory, provider, tracer } = yield* tracing(exporter)
    const parent = tracer.startSpan("checkout", {
      kind: SpanKind.SERVER,
      attributes: { "http.route": "/checkout", "order.items": 3, "order.total": 12.5, "order.gift": true }
    })
    const child = tracer.startSpan(
      "charge",
      { kind: SpanKind.CLIENT, attributes: { "payment.tags": ["card", "3ds"] } },
      trace.setSpan(context.active(), parent)
    )
    child.addEvent("retry", { attempt: 2 })
    child.setStatus({ code: SpanStatusCode.ERROR, message: "card declined" })
    child.end()
    parent.setStatus({ code: SpanStatusCode.OK })
    parent.end()
    tracer.startSpan("background", { kind: SpanKind.PRODUCER }).end()
    // A refused or timed-out export rejects the flush; the tests judge by what the receiver saw.
    yield* Effect.promise(() => provider.forceFlush().catch(() => undefined))
    return memory.getFinishedSpans()
  })

const nanos = (time: HrTime): bigint => BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])

const byName = (spans: ReadonlyArray<ReadableSpan>, name: string): ReadableSpan => {
  const span = spans.find((s) => s.name === name)
  if (span === undefined) throw new Error(`no span ${name}`)
  return span
}

const expectSpansDecoded = (
  received: ReadonlyArray<OtlpReceiver.ReceivedSpan>,
  produced: ReadonlyArray<ReadableSpan>,
  encoding: OtlpReceiver.Encoding
) => {
  expect(received).toHaveLength(3)
  for (const span of produced) {
    const got = received.find((r) => r.spanId === span.spanContext().spanId)
    expect(got, span.name).toBeDefined()
    expect(got!.traceId).toBe(span.spanContext().traceId)
    expect(got!.parentSpanId).toBe(span.parentSpanContext?.spanId)
    expect(got!.name).toBe(span.name)
    expect(got!.startTimeUnixNano).toBe(nanos(span.startTime))
    expect(got!.endTimeUnixNano).toBe(nanos(span.endTime))
    expect(got!.resource).toMatchObject({ "service.name": "receiver-test", "deployment.environment": "test" })
    expect(got!.scope).toEqual({ name: "receiver-test-scope", version: "1.2.3", attributes: {} })
    expect(got!.encoding).toBe(encoding)
  }
  const checkout = received.find((s) => s.name === "checkout")!
  const charge = received.find((s) => s.name === "charge")!
  const background = received.find((s) => s.name === "background")!
  expect(checkout.kind).toBe("server")
  expect(checkout.status).toEqual({ code: "ok", message: undefined })
  expect(checkout.parentSpanId).toBeUndefined()
  expect(checkout.attributes).toEqual({
    "http.route": "/checkout",
    "order.items": 3,
    "order.total": 12.5,
    "order.gift": true
  })
  expect(charge.kind).toBe("client")
  expect(charge.parentSpanId).toBe(checkout.spanId)
  expect(charge.traceId).toBe(checkout.traceId)
  expect(charge.status).toEqual({ code: "error", message: "card declined" })
  expect(charge.attributes).toEqual({ "payment.tags": ["card", "3ds"] })
  expect(charge.events).toHaveLength(1)
  expect(charge.events[0]!.name).toBe("retry")
  expect(charge.events[0]!.attributes).toEqual({ attempt: 2 })
  expect(background.kind).toBe("producer")
  expect(background.status.code).toBe("unset")
  expect(background.traceId).not.toBe(checkout.traceId)
  for (const span of received) {
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(span.spanId).toMatch(/^[0-9a-f]{16}$/)
  }
}

/** A real SDK meter provider with a periodic reader over `exporter` (flushed by hand). */
const emitMetrics = (exporter: PushMetricExporter) =>
  Effect.gen(function*() {
    const provider = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new MeterProvider({
          resource,
          readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 600_000 })]
        })
      ),
      (p) => Effect.promise(() => p.shutdown())
    )
    const meter = provider.getMeter("receiver-test-meter", "0.0.1")
    const orders = meter.createCounter("orders.placed", {
      description: "orders placed",
      unit: "{order}",
      valueType: ValueType.INT
    })
    orders.add(5, { region: "eu" })
    orders.add(2, { region: "eu" })
    orders.add(1, { region: "us" })
    const depth = meter.createUpDownCounter("queue.depth", { unit: "{item}" })
    depth.add(10)
    depth.add(-3.5)
    const value = meter.createHistogram("order.value", {
      unit: "USD",
      advice: { explicitBucketBoundaries: [10, 100, 1000] }
    })
    for (const v of [5, 50, 500, 5000, 7]) value.record(v, { currency: "eur" })
    yield* Effect.promise(() => provider.forceFlush())
  })

const expectMetricsDecoded = (
  points: ReadonlyArray<OtlpReceiver.ReceivedDataPoint>,
  temporality: OtlpReceiver.Temporality,
  encoding: OtlpReceiver.Encoding
) => {
  expect(points).toHaveLength(4)
  const eu = points.find((p) => p.name === "orders.placed" && p.attributes.region === "eu")!
  const us = points.find((p) => p.name === "orders.placed" && p.attributes.region === "us")!
  expect(eu).toMatchObject({
    type: "sum",
    isMonotonic: true,
    temporality,
    value: 7,
    valueType: "int",
    unit: "{order}",
    description: "orders placed",
    encoding
  })
  expect(us.value).toBe(1)
  expect(eu.scope).toEqual({ name: "receiver-test-meter", version: "0.0.1", attributes: {} })
  expect(eu.resource["service.name"]).toBe("receiver-test")
  expect(eu.timeUnixNano).toBeGreaterThanOrEqual(eu.startTimeUnixNano)
  expect(eu.startTimeUnixNano).toBeGreaterThan(0n)

  const depth = points.find((p) => p.name === "queue.depth")!
  expect(depth).toMatchObject({ type: "sum", isMonotonic: false, value: 6.5, valueType: "double" })
  // Up-down counters are always cumulative in the OTLP exporters' temporality selectors.
  expect(depth.temporality).toBe("cumulative")

  const histogram = points.find((p) => p.name === "order.value")!
  expect(histogram).toMatchObject({ type: "histogram", isMonotonic: false, temporality, unit: "USD" })
  expect(histogram.attributes).toEqual({ currency: "eur" })
  expect(histogram.value).toBeUndefined()
  expect(histogram.histogram).toEqual({
    count: 5,
    sum: 5562,
    bucketCounts: [2, 1, 1, 1],
    explicitBounds: [10, 100, 1000],
    min: 5,
    max: 5000
  })
}

const post = (url: string, body: Uint8Array | string, headers: Record<string, string>) =>
  Effect.promise(() =>
    fetch(url, { method: "POST", body, headers }).then(async (r) => ({ status: r.status, text: await r.text() }))
  )

describe("OtlpReceiver", () => {
  it.scoped("decodes protobuf spans from the real OTLP/proto exporter: ids, parents, kinds, status, attributes", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const produced = yield* emitSpans(new ProtoTraceExporter({ url: receiver.endpoints.traces }))
      const received = yield* receiver.awaitSpans(3)
      expectSpansDecoded(received, produced, "protobuf")
      expect(receiver.spanCount()).toBe(3)
      expect(receiver.requestCount({ path: "/v1/traces", contentType: "application/x-protobuf" })).toBe(3)
      expect(receiver.requestCount({ contentType: "application/json" })).toBe(0)
      expect(receiver.statusCounts()).toEqual({ 200: 3 })
      expect(byName(produced, "charge").parentSpanContext?.spanId).toBe(
        byName(produced, "checkout").spanContext().spanId
      )
    }))

  it.scoped("decodes OTLP/JSON spans from the real OTLP/http exporter into the same shape", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const produced = yield* emitSpans(new JsonTraceExporter({ url: receiver.endpoints.traces }))
      const received = yield* receiver.awaitSpans(3)
      expectSpansDecoded(received, produced, "json")
      expect(receiver.requestCount({ path: "/v1/traces", contentType: "application/json" })).toBe(3)
    }))

  it.scoped("accepts gzip-compressed protobuf and JSON", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const proto = yield* emitSpans(
        new ProtoTraceExporter({ url: receiver.endpoints.traces, compression: CompressionAlgorithm.GZIP })
      )
      const json = yield* emitSpans(
        new JsonTraceExporter({ url: receiver.endpoints.traces, compression: CompressionAlgorithm.GZIP })
      )
      const received = yield* receiver.awaitSpans(6)
      expectSpansDecoded(received.filter((s) => s.encoding === "protobuf"), proto, "protobuf")
      expectSpansDecoded(received.filter((s) => s.encoding === "json"), json, "json")
      expect(receiver.requestCount({ contentEncoding: "gzip" })).toBe(6)
      expect(receiver.requestCount({ contentEncoding: "gzip", contentType: "application/x-protobuf" })).toBe(3)
    }))

  it.scoped("decodes protobuf metrics: monotonic int counter, up-down counter, explicit-bucket histogram", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      yield* emitMetrics(new ProtoMetricExporter({ url: receiver.endpoints.metrics }))
      const points = yield* receiver.awaitDataPoints(4)
      expectMetricsDecoded(points, "cumulative", "protobuf")
      expect(receiver.requestCount({ path: "/v1/metrics", contentType: "application/x-protobuf" })).toBe(1)
    }))

  it.scoped("decodes OTLP/JSON metrics with delta temporality, gzip-compressed", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      yield* emitMetrics(
        new JsonMetricExporter({
          url: receiver.endpoints.metrics,
          temporalityPreference: AggregationTemporalityPreference.DELTA,
          compression: CompressionAlgorithm.GZIP
        })
      )
      const points = yield* receiver.awaitDataPoints(4)
      expectMetricsDecoded(points, "delta", "json")
      expect(receiver.requestCount({ signal: "metrics", contentType: "application/json", contentEncoding: "gzip" }))
        .toBe(1)
    }))

  it.scoped("a queued 503 is retried by the exporter and the spans arrive exactly once", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      receiver.queueBehaviours({ status: 503, retryAfter: 0 })
      const produced = yield* emitSpans(new ProtoTraceExporter({ url: receiver.endpoints.traces }))
      const received = yield* receiver.awaitSpans(3)
      expectSpansDecoded(received, produced, "protobuf")
      expect(receiver.statusCounts()).toEqual({ 503: 1, 200: 3 })
      expect(receiver.requestCount({ status: 503 })).toBe(1)
      expect(receiver.requests()[0]).toMatchObject({ status: 503, outcome: "answered", signal: "traces" })
    }))

  it.scoped("switching at runtime: 503 with backoff, then 200 lets the retry through", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      receiver.setBehaviour({ status: 503 })
      const { tracer, provider } = yield* tracing(new JsonTraceExporter({ url: receiver.endpoints.traces }))
      tracer.startSpan("retried").end()
      // Wait for the refused attempt, then open the gate before the exporter's ~1s backoff ends.
      while (receiver.requestCount({ status: 503 }) < 1) yield* Effect.promise(() => sleep(10))
      receiver.setBehaviour({ status: 200 })
      yield* Effect.promise(() => provider.forceFlush())
      const [span] = yield* receiver.awaitSpans(1)
      expect(span!.name).toBe("retried")
      expect(receiver.statusCounts()).toEqual({ 503: 1, 200: 1 })
    }))

  it.scoped("429 with Retry-After is honoured by the exporter", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      receiver.queueBehaviours({ status: 429, retryAfter: 1 })
      yield* emitSpans(new ProtoTraceExporter({ url: receiver.endpoints.traces }))
      yield* receiver.awaitSpans(3)
      // Three concurrent exports (one per span): the first is refused and retried last.
      const requests = receiver.requests()
      const refused = requests[0]
      const retried = requests[requests.length - 1]
      expect(requests).toHaveLength(4)
      expect(refused!.status).toBe(429)
      expect(retried!.status).toBe(200)
      expect(retried!.receivedAtMillis - refused!.receivedAtMillis).toBeGreaterThanOrEqual(900)
    }))

  it.scoped("500 is not retried and nothing is kept", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      receiver.setBehaviour({ status: 500 })
      const exporter = new ProtoTraceExporter({ url: receiver.endpoints.traces })
      const { memory, provider, tracer } = yield* tracing(new InMemorySpanExporter())
      tracer.startSpan("lost").end()
      yield* Effect.promise(() => provider.forceFlush())
      const result = yield* Effect.async<{ code: ExportResultCode }>((resume) =>
        exporter.export(memory.getFinishedSpans(), (r) => resume(Effect.succeed(r)))
      )
      expect(result.code).toBe(ExportResultCode.FAILED)
      expect(receiver.statusCounts()).toEqual({ 500: 1 })
      expect(receiver.spanCount()).toBe(0)
      yield* Effect.promise(() => exporter.shutdown())
    }))

  it.scoped("a delayed answer slows the export; past the exporter's timeout the data is not kept", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      receiver.setBehaviour({ delayMillis: 300 })
      const started = Date.now()
      yield* emitSpans(new ProtoTraceExporter({ url: receiver.endpoints.traces }))
      expect(Date.now() - started).toBeGreaterThanOrEqual(280)
      expect(receiver.spanCount()).toBe(3)

      receiver.reset()
      receiver.setBehaviour({ delayMillis: 4000 })
      yield* emitSpans(new ProtoTraceExporter({ url: receiver.endpoints.traces, timeoutMillis: 250 }))
      expect(receiver.requests().length).toBeGreaterThanOrEqual(3)
      yield* Effect.promise(() => sleep(50))
      expect(receiver.requests().every((r) => r.outcome === "abandoned" && r.status === undefined)).toBe(true)
      expect(receiver.spanCount()).toBe(0)
    }))

  it.scoped("a hanging receiver times the exporter out; closing the scope drops the connection", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      receiver.setBehaviour({ hang: true })
      const exporter = new ProtoTraceExporter({ url: receiver.endpoints.traces, timeoutMillis: 300 })
      const { memory, provider, tracer } = yield* tracing(new InMemorySpanExporter())
      tracer.startSpan("stuck").end()
      yield* Effect.promise(() => provider.forceFlush())
      const started = Date.now()
      const result = yield* Effect.async<{ code: ExportResultCode }>((resume) =>
        exporter.export(memory.getFinishedSpans(), (r) => resume(Effect.succeed(r)))
      )
      expect(result.code).toBe(ExportResultCode.FAILED)
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
      expect(receiver.requests()[0]).toMatchObject({ outcome: "hung", status: undefined })
      expect(receiver.spanCount()).toBe(0)
    }))

  it.scoped("a hung request stays open until the receiver closes", () =>
    Effect.gen(function*() {
      const { receiver, response } = yield* Effect.scoped(
        Effect.gen(function*() {
          const receiver = yield* OtlpReceiver.make()
          receiver.setBehaviour({ hang: true })
          const response = fetch(receiver.endpoints.traces, {
            method: "POST",
            body: "{}",
            headers: { "content-type": "application/json" }
          }).then(() => "answered", () => "dropped")
          while (receiver.requestCount() < 1) yield* Effect.promise(() => sleep(10))
          return { receiver, response }
        })
      )
      expect(yield* Effect.promise(() => response)).toBe("dropped")
      const refused = yield* Effect.promise(() => fetch(receiver.url).then(() => "up", () => "closed"))
      expect(refused).toBe("closed")
    }))

  it.scoped("refuse: the port refuses connections, then listens again on the same port (a collector down, then back)", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ behaviour: { refuse: true } })
      const attempt = Effect.promise(() =>
        fetch(receiver.endpoints.traces, {
          method: "POST",
          body: "{}",
          headers: { "content-type": "application/json" }
        }).then(
          (response) => `answered ${response.status}`,
          (error: any) => String(error?.cause?.code ?? error)
        )
      )
      // Listening stops in the background: wait until the port refuses.
      const refused = yield* attempt.pipe(
        Effect.repeat({ until: (outcome) => outcome === "ECONNREFUSED", times: 100 })
      )
      expect(refused).toBe("ECONNREFUSED")
      receiver.setBehaviour({})
      const answered = yield* attempt.pipe(
        Effect.repeat({ until: (outcome) => outcome === "answered 200", times: 100 })
      )
      expect(answered).toBe("answered 200")
      expect(receiver.requestCount({ status: 200 })).toBe(1)
    }))

  it.scoped("blackhole: the connection is accepted, the request is never read nor answered", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ behaviour: { blackhole: true } })
      const outcome = yield* Effect.promise(() =>
        fetch(receiver.endpoints.traces, {
          method: "POST",
          body: "{}",
          headers: { "content-type": "application/json" },
          signal: AbortSignal.timeout(300)
        }).then((response) => `answered ${response.status}`, (error: any) => String(error?.name))
      )
      expect(outcome).toBe("TimeoutError")
      expect(receiver.requestCount()).toBe(0)
      receiver.setBehaviour({})
      const response = yield* post(receiver.endpoints.traces, "{}", { "content-type": "application/json" })
      expect(response.status).toBe(200)
    }))

  it.effect("awaitSpans fails with the count seen when the timeout passes", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      yield* emitSpans(new ProtoTraceExporter({ url: receiver.endpoints.traces }))
      const error = yield* Effect.flip(receiver.awaitSpans(5, { timeout: "200 millis" }))
      expect(error._tag).toBe("OtlpReceiverTimeoutError")
      expect(error).toMatchObject({ what: "spans", expected: 5, seen: 3 })
      expect(error.message).toContain("saw 3")
      const filtered = yield* receiver.awaitSpans(1, { filter: (s) => s.name === "charge", timeout: "1 second" })
      expect(filtered).toHaveLength(3)
    }).pipe(Effect.scoped))

  it.scoped("logs are accepted and counted; bad requests are refused and counted", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const logs = {
        resourceLogs: [{
          resource: { attributes: [{ key: "service.name", value: { stringValue: "svc" } }] },
          scopeLogs: [{
            scope: { name: "logger" },
            logRecords: [{
              timeUnixNano: "1700000000000000000",
              severityNumber: 9,
              severityText: "INFO",
              body: { stringValue: "hello" },
              attributes: [{ key: "n", value: { intValue: "42" } }],
              traceId: "5B8EFFF798038103D269B633813FC60C"
            }]
          }]
        }]
      }
      const json = JSON.stringify(logs)
      expect((yield* post(receiver.endpoints.logs, json, { "content-type": "application/json" })).status).toBe(200)
      const gz = new Uint8Array(Zlib.gzipSync(json))
      const answer = yield* post(receiver.endpoints.logs, gz, {
        "content-type": "application/json; charset=utf-8",
        "content-encoding": "gzip"
      })
      expect(answer).toEqual({ status: 200, text: "{}" })
      expect(receiver.logRecordCount()).toBe(2)
      expect(receiver.logRecords()[0]).toMatchObject({
        resource: { "service.name": "svc" },
        severityNumber: 9,
        severityText: "INFO",
        body: "hello",
        attributes: { n: 42 },
        traceId: "5b8efff798038103d269b633813fc60c",
        timeUnixNano: 1700000000000000000n,
        encoding: "json"
      })
      expect(receiver.requestCount({ path: "/v1/logs" })).toBe(2)

      expect((yield* post(receiver.endpoints.traces, "x", { "content-type": "text/plain" })).status).toBe(415)
      const garbage = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff])
      expect((yield* post(receiver.endpoints.traces, garbage, { "content-type": "application/x-protobuf" })).status)
        .toBe(400)
      expect((yield* post(`${receiver.url}/v1/profiles`, "{}", { "content-type": "application/json" })).status).toBe(
        404
      )
      expect(receiver.statusCounts()).toEqual({ 200: 2, 415: 1, 400: 1, 404: 1 })
      expect(receiver.requests().find((r) => r.status === 400)!.error).toContain("undecodable")
      expect(receiver.spanCount()).toBe(0)
    }))

  it.effect("the layer provides the receiver through its tag", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.OtlpReceiver
      yield* emitMetrics(new ProtoMetricExporter({ url: receiver.endpoints.metrics }))
      expect(yield* receiver.awaitDataPoints(1, { filter: (p) => p.name === "order.value" })).toHaveLength(4)
    }).pipe(Effect.scoped, Effect.provide(OtlpReceiver.layer())))

  it.effect("start() serves plain scripts; retain: false keeps only counts; close() stops it", () =>
    Effect.gen(function*() {
      const receiver = yield* Effect.promise(() => OtlpReceiver.start({ retain: false }))
      yield* emitSpans(new ProtoTraceExporter({ url: receiver.endpoints.traces })).pipe(Effect.scoped)
      expect(receiver.spanCount()).toBe(3)
      expect(receiver.spans()).toHaveLength(0)
      yield* Effect.promise(() => receiver.close())
      const after = yield* Effect.promise(() => fetch(receiver.url).then(() => "up", () => "closed"))
      expect(after).toBe("closed")
    }))
})

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

const TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

/** One unary OTLP/gRPC call with the real `@grpc/grpc-js` client; the status it ended with. */
const grpcExport = (receiver: OtlpReceiver.OtlpReceiver, body: Uint8Array, deadlineMillis = 2_000) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Grpc.Client(`127.0.0.1:${receiver.port}`, Grpc.credentials.createInsecure())),
    (client) =>
      Effect.async<{ readonly code: number; readonly details: string; readonly metadata: Grpc.Metadata | undefined }>(
        (resume) => {
          const metadata = new Grpc.Metadata()
          metadata.set("x-tenant", "acme")
          client.makeUnaryRequest(
            TRACE_EXPORT,
            (bytes: Buffer) => bytes,
            (bytes: Buffer) => bytes,
            Buffer.from(body),
            metadata,
            { deadline: Date.now() + deadlineMillis },
            (error) =>
              resume(Effect.succeed(
                error === null
                  ? { code: 0, details: "", metadata: undefined }
                  : { code: error.code, details: error.details, metadata: error.metadata }
              ))
          )
        }
      ),
    (client) => Effect.sync(() => client.close())
  )

describe("OtlpReceiver over gRPC", () => {
  it.scoped("answers the official TraceService/Export; an empty request is a valid one", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc" })
      expect(receiver.endpoints.traces).toBe(receiver.url)
      const result = yield* grpcExport(receiver, new Uint8Array())
      expect(result.code).toBe(Grpc.status.OK)
      expect(receiver.requests()).toMatchObject([
        { protocol: "grpc", path: TRACE_EXPORT, signal: "traces", grpcCode: 0, status: 200, outcome: "answered" }
      ])
      expect(receiver.requests()[0]!.headers["x-tenant"]).toBe("acme")
    }))

  it.scoped("an undecodable message is INVALID_ARGUMENT and nothing is kept", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc" })
      const result = yield* grpcExport(receiver, Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f]))
      expect(result.code).toBe(Grpc.status.INVALID_ARGUMENT)
      expect(receiver.requests()[0]!.error).toContain("undecodable")
      expect(receiver.spanCount()).toBe(0)
    }))

  it.scoped("HTTP statuses become gRPC codes; 429 with retryAfter carries a google.rpc.RetryInfo", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc" })
      receiver.queueBehaviours({ status: 503 }, { status: 429 }, { status: 429, retryAfter: 7 }, { grpcCode: 7 })
      const codes: Array<number> = []
      let details: ReadonlyArray<Grpc.MetadataValue> = []
      for (let i = 0; i < 4; i++) {
        const result = yield* grpcExport(receiver, new Uint8Array())
        codes.push(result.code)
        if (i === 2) details = result.metadata?.get("grpc-status-details-bin") ?? []
      }
      expect(codes).toEqual([
        Grpc.status.UNAVAILABLE,
        Grpc.status.RESOURCE_EXHAUSTED,
        Grpc.status.RESOURCE_EXHAUSTED,
        Grpc.status.PERMISSION_DENIED
      ])
      expect(details).toHaveLength(1)
      const status = Buffer.from(details[0] as Buffer)
      expect(status.toString("latin1")).toContain("type.googleapis.com/google.rpc.RetryInfo")
      // google.rpc.Status.code (field 1, varint) is RESOURCE_EXHAUSTED.
      expect([status[0], status[1]]).toEqual([0x08, Grpc.status.RESOURCE_EXHAUSTED])
      expect(receiver.requests().map((r) => r.grpcCode)).toEqual([14, 8, 8, 7])
    }))

  it.scoped("hang: the client's deadline passes (DEADLINE_EXCEEDED) and the request is abandoned", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc", behaviour: { hang: true } })
      const result = yield* grpcExport(receiver, new Uint8Array(), 300)
      expect(result.code).toBe(Grpc.status.DEADLINE_EXCEEDED)
      // The server learns of the cancellation from the client's RST_STREAM, just after.
      for (let i = 0; i < 200 && receiver.requests()[0]?.outcome !== "abandoned"; i++) {
        yield* Effect.promise(() => sleep(10))
      }
      expect(receiver.requests().map((r) => r.outcome)).toEqual(["abandoned"])
    }))

  it.scoped("refuse and blackhole apply below gRPC: UNAVAILABLE, then a deadline with nothing read", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc", behaviour: { refuse: true } })
      const refused = yield* grpcExport(receiver, new Uint8Array()).pipe(
        Effect.repeat({ until: (r) => r.code === Grpc.status.UNAVAILABLE, times: 100 })
      )
      expect(refused.code).toBe(Grpc.status.UNAVAILABLE)
      receiver.setBehaviour({ blackhole: true })
      const held = yield* grpcExport(receiver, new Uint8Array(), 500).pipe(
        Effect.repeat({ until: (r) => r.code === Grpc.status.DEADLINE_EXCEEDED, times: 100 })
      )
      expect(held.code).toBe(Grpc.status.DEADLINE_EXCEEDED)
      expect(receiver.requestCount()).toBe(0)
      receiver.setBehaviour({})
      const answered = yield* grpcExport(receiver, new Uint8Array())
      expect(answered.code).toBe(Grpc.status.OK)
      expect(receiver.requestCount({ status: 200 })).toBe(1)
    }))
})

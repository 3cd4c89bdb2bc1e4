/**
 * OTLP/gRPC end to end: the production layer, configured only through `OTEL_*` variables,
 * exports to a real `@grpc/grpc-js` server on loopback implementing the official OTLP collector
 * services (OtlpReceiver with `protocol: "grpc"`), which decodes every request with the
 * opentelemetry-proto schema. Covers delivery of traces and metrics, headers as metadata, gzip,
 * endpoint forms, and the retry rules of the OTLP spec for gRPC status codes; the delivery
 * equation (exported + dropped + failed + abandoned = ended) is checked after every shutdown.
 */
import { Telemetry } from "@effect-telemetry/core"
import { OtlpReceiver } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import { exportWith } from "./fixtures/exportWith.js"

/** A loopback TCP relay to `port` counting the bytes clients send (what went over the wire). */
const countingRelay = (port: number) =>
  Effect.acquireRelease(
    Effect.async<{ readonly port: number; readonly sent: () => number; readonly server: Net.Server }>((resume) => {
      let sent = 0
      const server = Net.createServer((client) => {
        const upstream = Net.connect(port, "127.0.0.1")
        client.on("data", (chunk: Buffer) => {
          sent += chunk.length
        })
        client.pipe(upstream).on("error", () => client.destroy())
        upstream.pipe(client).on("error", () => upstream.destroy())
        client.on("close", () => upstream.destroy())
        upstream.on("close", () => client.destroy())
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({
          port: (server.address() as Net.AddressInfo).port,
          sent: () => sent,
          server
        })))
    }),
    ({ server }) => Effect.sync(() => server.close())
  )

const TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
const METRICS_EXPORT = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
const LOGS_EXPORT = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

describe("OTLP/gRPC", () => {
  it.scopedLive("traces and metrics reach a gRPC collector, with headers as metadata, gzip-compressed", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc" })
      const { stats } = yield* exportWith({
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_HEADERS: "x-tenant=acme,authorization=Bearer%20t0k3n",
        OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
        OTEL_METRICS_EXPORTER: "otlp"
      }, 25)
      expect(stats).toMatchObject({ exported: 25, failed: 0, abandoned: 0, dropped: 0 })

      const spans = receiver.spans()
      expect(spans).toHaveLength(25)
      expect(new Set(spans.map((span) => span.attributes["work.index"]))).toEqual(
        new Set(Array.from({ length: 25 }, (_, i) => i))
      )
      expect(spans.every((span) => span.name === "grpc.work" && span.encoding === "protobuf")).toBe(true)
      expect(spans[0]!.resource["service.name"]).toBe("grpc-test")
      const point = receiver.dataPoints().find((p) => p.name === "test.grpc.orders")
      expect(point).toMatchObject({ type: "sum", isMonotonic: true })
      expect(point!.value).toBeGreaterThanOrEqual(25)

      const requests = receiver.requests()
      expect(new Set(requests.map((r) => r.path))).toEqual(new Set([TRACE_EXPORT, METRICS_EXPORT]))
      for (const request of requests) {
        expect(request).toMatchObject({ protocol: "grpc", grpcCode: 0, outcome: "answered" })
        expect(request.headers["x-tenant"]).toBe("acme")
        expect(request.headers["authorization"]).toBe("Bearer t0k3n")
        expect(request.headers["user-agent"]).toContain("effect-telemetry")
      }
    }))

  it.scopedLive("log records take the same transport: LogsService/Export, with the span's ids", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc" })
      yield* Effect.logInfo("order placed").pipe(
        Effect.withSpan("checkout"),
        Effect.provide(Telemetry.layer({ serviceName: "grpc-logs", prometheusServer: false })),
        Effect.scoped,
        Effect.withConfigProvider(ConfigProvider.fromMap(
          new Map([
            ["OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"],
            ["OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url],
            ["OTEL_METRICS_EXPORTER", "none"],
            ["OTEL_LOGS_EXPORTER", "otlp"]
          ])
        ))
      )
      const record = receiver.logRecords().find((r) => r.body === "order placed")
      expect(record).toBeDefined()
      const span = receiver.spans().find((s) => s.name === "checkout")!
      expect(record!.traceId).toBe(span.traceId)
      expect(record!.spanId).toBe(span.spanId)
      expect(receiver.requestCount({ path: LOGS_EXPORT })).toBeGreaterThan(0)
    }))

  it.scopedLive("OTEL_EXPORTER_OTLP_COMPRESSION=gzip compresses the messages on the wire", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc" })
      const sentWith = (compression: string) =>
        Effect.gen(function*() {
          const relay = yield* countingRelay(receiver.port)
          const { stats } = yield* exportWith({
            OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
            OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${relay.port}`,
            OTEL_EXPORTER_OTLP_COMPRESSION: compression,
            OTEL_METRICS_EXPORTER: "none"
          }, 300)
          expect(stats.exported).toBe(300)
          return relay.sent()
        })
      const plain = yield* sentWith("none")
      const gzip = yield* sentWith("gzip")
      // The same 300 spans, decoded alike by the receiver; repeated names and resource compress.
      expect(receiver.spanCount()).toBe(600)
      expect(gzip).toBeLessThan(plain * 0.8)
    }))

  it.scopedLive("a host:port endpoint is plaintext with OTEL_EXPORTER_OTLP_INSECURE=true; per-signal protocol", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc" })
      const { stats } = yield* exportWith({
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `127.0.0.1:${receiver.port}`,
        OTEL_EXPORTER_OTLP_TRACES_INSECURE: "true",
        OTEL_METRICS_EXPORTER: "none"
      }, 3)
      expect(stats.exported).toBe(3)
      expect(receiver.spanCount()).toBe(3)
      expect(receiver.requests().every((r) => r.path === TRACE_EXPORT && r.contentEncoding === undefined)).toBe(
        true
      )
    }))

  it.scopedLive("UNAVAILABLE (503) is retried until the collector recovers; the data arrives once", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc" })
      receiver.queueBehaviours({ status: 503 }, { status: 503 })
      const { stats } = yield* exportWith({
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_METRICS_EXPORTER: "none"
      }, 5)
      expect(stats).toMatchObject({ exported: 5, failed: 0 })
      expect(receiver.spanCount()).toBe(5)
      expect(receiver.requests().map((r) => r.grpcCode)).toEqual([14, 14, 0])
    }))

  it.scopedLive("RESOURCE_EXHAUSTED is final without RetryInfo, retried after the delay its RetryInfo gives", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc" })
      const env = {
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_METRICS_EXPORTER: "none"
      }
      receiver.queueBehaviours({ status: 429 })
      const final = yield* exportWith(env, 4)
      expect(final.stats).toMatchObject({ exported: 0, failed: 4 })
      expect(final.stats.lastError).toContain("8 RESOURCE_EXHAUSTED")
      expect(receiver.requests().map((r) => r.grpcCode)).toEqual([8])

      receiver.reset()
      receiver.queueBehaviours({ status: 429, retryAfter: 0 })
      const retried = yield* exportWith(env, 4)
      expect(retried.stats).toMatchObject({ exported: 4, failed: 0 })
      expect(receiver.requests().map((r) => r.grpcCode)).toEqual([8, 0])
      expect(receiver.spanCount()).toBe(4)
    }))

  it.scopedLive("a header gRPC cannot send as metadata fails the export with why, and nothing hangs", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc" })
      // `!` is valid in an HTTP header name, not in a gRPC metadata key.
      const { stats } = yield* exportWith({
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_HEADERS: "x!tenant=acme",
        OTEL_METRICS_EXPORTER: "none"
      }, 2)
      expect(stats).toMatchObject({ exported: 0, failed: 2 })
      expect(stats.lastError).toContain("x!tenant")
      expect(receiver.requestCount()).toBe(0)
    }))

  it.scopedLive("a non-retryable code (INVALID_ARGUMENT) fails the export at once", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ protocol: "grpc", behaviour: { status: 400 } })
      const { stats } = yield* exportWith({
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_METRICS_EXPORTER: "none"
      }, 2)
      expect(stats).toMatchObject({ exported: 0, failed: 2 })
      expect(stats.lastError).toContain("3 INVALID_ARGUMENT")
      expect(receiver.requestCount()).toBe(1)
    }))
})

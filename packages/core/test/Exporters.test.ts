/**
 * The exporters as production builds them (not the test harness's trimmed ones): prom-client's
 * Node.js metrics and Effect's runtime metrics in the scrape, `/metrics` as a route of an app's
 * router, and the OTLP side's final collection at shutdown, on the resource the spans carry.
 */
import { Instrument, PrometheusMetrics, Telemetry } from "@effect-telemetry/core"
import { OtlpReceiver, TestTelemetry } from "@effect-telemetry/testing"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import { resourceFromAttributes } from "@opentelemetry/resources"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as RuntimeFlagsPatch from "effect/RuntimeFlagsPatch"
import * as TestServices from "effect/TestServices"
import { createServer } from "node:http"

const shutdownProbe = Instrument.counter({
  name: "test.exporters.final",
  unit: "{update}",
  description: "Updated by the tests just before they read or close the exporters."
})

describe("exporters as production builds them", () => {
  // Without TestTelemetry.layer: its per-test reset orphans Effect's own metric hooks.
  it.effect("the scrape with Node.js and Effect runtime metrics passes promtool; fiber lifetimes are in seconds", () =>
    Effect.gen(function*() {
      yield* Effect.forEach([1, 2, 3], () => Effect.fork(Effect.sleep("5 millis"))).pipe(
        Effect.flatMap(Fiber.joinAll),
        Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.RuntimeMetrics)),
        TestServices.provideLive
      )
      const exporter = PrometheusMetrics.make({ resource: resourceFromAttributes({ "service.name": "exporters" }) })
      const { body } = yield* exporter.scrape()
      expect(body).toContain("# TYPE nodejs_heap_size_used_bytes gauge")
      expect(body).toContain("# TYPE effect_fiber_lifetimes_seconds histogram")
      // Translated to seconds, so no label may still say milliseconds.
      expect(body).not.toMatch(/effect_fiber_lifetimes_seconds_bucket\{[^}]*milliseconds/)
      expect(TestTelemetry.promtoolCheck(body)).toEqual({ status: 0, output: "" })
    }))

  it.live("EFFECT_TELEMETRY_NODE_METRICS=false leaves prom-client's Node.js metrics out of Telemetry.layer's scrape", () =>
    Effect.gen(function*() {
      const scrapeWith = (env: Record<string, string>) =>
        Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.build(Telemetry.layer())
          return (yield* Context.get(context, PrometheusMetrics.PrometheusMetrics).scrape()).body
        })).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(
          new Map(Object.entries({ OTEL_TRACES_EXPORTER: "none", OTEL_METRICS_EXPORTER: "none", ...env }))
        )))
      // Core declares no `process.*` instrument, so any process_ series here is prom-client's.
      const nodeSeries = /^(?:# (?:HELP|TYPE) )?(?:nodejs|process)_/m
      const off = yield* scrapeWith({ EFFECT_TELEMETRY_NODE_METRICS: "false" })
      expect(off).toContain("target_info{")
      expect(off).not.toMatch(nodeSeries)
      const on = yield* scrapeWith({})
      expect(on).toContain("# TYPE nodejs_heap_size_used_bytes gauge")
      expect(on).toContain("# TYPE process_cpu_seconds_total counter")
      expect(on).not.toContain("nodejs_active_handles_total")
    }))

  it.live("closing Telemetry.layer exports a final metric collection, on the resource the spans carry", () =>
    Effect.scoped(Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      yield* Effect.scoped(
        Effect.gen(function*() {
          yield* Effect.void.pipe(Effect.withSpan("before.shutdown"))
          yield* shutdownProbe.add(1)
        }).pipe(Effect.provide(Telemetry.layer({
          serviceName: "exporters",
          tracesExporter: "otlp",
          metricsExporters: ["otlp"],
          otlpTraces: { url: receiver.endpoints.traces },
          otlpMetrics: { url: receiver.endpoints.metrics },
          // Far longer than the test: only the collection at shutdown can deliver the point.
          metricExportIntervalMillis: 600_000
        })))
      )
      const point = receiver.dataPoints().find((p) => p.name === "test.exporters.final")
      expect(point).toMatchObject({ value: 1, type: "sum", isMonotonic: true })
      const span = receiver.spans().find((s) => s.name === "before.shutdown")
      expect(span).toBeDefined()
      expect(point!.resource).toEqual(span!.resource)
      for (
        const key of [
          "service.name",
          "host.name",
          "process.pid",
          "process.runtime.name",
          "os.type",
          "telemetry.sdk.name"
        ]
      ) {
        expect(span!.resource).toHaveProperty([key])
      }
      expect(span!.resource["service.name"]).toBe("exporters")
    })))

  it.scopedLive("PrometheusMetrics.handler as a route of an app's router negotiates OpenMetrics over HTTP", () =>
    Effect.gen(function*() {
      yield* shutdownProbe.add(2)
      const app = HttpRouter.empty.pipe(
        HttpRouter.get("/metrics", PrometheusMetrics.handler),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const context = yield* Layer.build(
        HttpServer.serve(app).pipe(
          Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
        )
      )
      const address = Context.get(context, HttpServer.HttpServer).address
      if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
      const get = (accept?: string) =>
        Effect.promise(() =>
          fetch(`http://127.0.0.1:${address.port}/metrics`, { headers: accept ? { accept } : {} })
            .then(async (r) => ({ type: r.headers.get("content-type") ?? "", body: await r.text() }))
        )
      const text = yield* get()
      expect(text.type).toMatch(/^text\/plain; version=0\.0\.4/)
      expect(text.body).toContain("test_exporters_final_total 2")
      const open = yield* get("application/openmetrics-text; version=1.0.0; charset=utf-8, text/plain;q=0.5")
      expect(open.type).toMatch(/^application\/openmetrics-text; version=1\.0\.0/)
      expect(open.body).toContain("# TYPE test_exporters_final counter")
      expect(open.body.trimEnd().endsWith("# EOF")).toBe(true)
    }).pipe(Effect.provide(TestTelemetry.layer())))
})

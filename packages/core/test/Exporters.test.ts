/**
 * The exporters as production builds them (not the test harness's trimmed ones): prom-client's
 * Node.js metrics and Effect's runtime metrics in the scrape, and the OTLP side's final
 * collection at shutdown, on the resource the spans carry.
 */
import { Instrument, PrometheusMetrics, Telemetry } from "@effect-telemetry/core"
import { OtlpReceiver, TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import { resourceFromAttributes } from "@opentelemetry/resources"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as TestServices from "effect/TestServices"
import * as RuntimeFlagsPatch from "effect/RuntimeFlagsPatch"

const shutdownProbe = Instrument.counter({
  name: "test.exporters.final",
  unit: "{update}",
  description: "Updated once, just before the layer closes."
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

  it.live("closing Telemetry.layer exports a final metric collection, on the resource the spans carry", () =>
    Effect.scoped(Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make
      yield* Effect.scoped(Effect.gen(function*() {
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
      }))))
      const point = receiver.dataPoints().find((p) => p.name === "test.exporters.final")
      expect(point).toMatchObject({ value: 1, type: "sum", isMonotonic: true })
      const span = receiver.spans().find((s) => s.name === "before.shutdown")
      expect(span).toBeDefined()
      expect(point!.resource).toEqual(span!.resource)
      for (const key of ["service.name", "host.name", "process.pid", "process.runtime.name", "os.type", "telemetry.sdk.name"]) {
        expect(span!.resource).toHaveProperty([key])
      }
      expect(span!.resource["service.name"]).toBe("exporters")
    })))
})

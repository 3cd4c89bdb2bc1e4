import { FunctionTelemetry, Instrument, PrometheusMetrics, Telemetry } from "@effect-telemetry/core"
import { OtlpReceiver } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import { MeterProvider } from "@opentelemetry/sdk-metrics"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const options = {
  serviceName: "one-service",
  tracesExporter: "none",
  metricsExporters: ["prometheus"],
  logsExporter: "none",
  prometheusServer: false
} as const

const keysOf = <R>(context: Context.Context<R>) => [...context.unsafeMap.keys()].sort()

const served = Instrument.counter({
  name: "telemetry_test.served",
  unit: "{request}",
  description: "Requests served in the Telemetry layer test."
})

describe("Telemetry.layer", () => {
  it.scopedLive("leaves two services in the app's context: Telemetry and PrometheusMetrics", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const context = yield* Layer.build(
        Telemetry.layer({ ...options, tracesExporter: "otlp", otlpTraces: { url: receiver.endpoints.traces } })
      )
      // Every service in the context is copied by the router on every request: the parts'
      // own Tags (configuration, resource, delivery counts, meter provider) must not be there.
      expect(keysOf(context)).toEqual([PrometheusMetrics.PrometheusMetrics.key, Telemetry.Telemetry.key].sort())

      const telemetry = Context.get(context, Telemetry.Telemetry)
      expect(telemetry.config.serviceName).toBe("one-service")
      expect(telemetry.resource.attributes["service.name"]).toBe("one-service")
      expect(telemetry.meterProvider).toBeInstanceOf(MeterProvider)
      yield* Effect.void.pipe(Effect.withSpan("counted"), Effect.provide(context))
      expect((yield* telemetry.spans.stats).ended).toBe(1)
      expect((yield* telemetry.logs.stats).dropped).toBe(0)
    }))

  it.scoped("with function telemetry off it also leaves FunctionTelemetry.Enabled (false)", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(Telemetry.layer({ ...options, functionTelemetry: false }))
      expect(keysOf(context)).toEqual(
        [PrometheusMetrics.PrometheusMetrics.key, Telemetry.Telemetry.key, FunctionTelemetry.Enabled.key].sort()
      )
      expect(yield* FunctionTelemetry.Enabled.pipe(Effect.provide(context))).toBe(false)
    }))

  it.scopedLive("layerParts gives the parts' Tags back: PrometheusMetrics.layerServer serves /metrics beside it", () =>
    Effect.gen(function*() {
      const telemetry = Telemetry.layer(options)
      const metricsServer = PrometheusMetrics.layerServer({ host: "127.0.0.1", port: 0 }).pipe(
        Layer.provide(Telemetry.layerParts)
      )
      const context = yield* Layer.build(metricsServer.pipe(Layer.provideMerge(telemetry)))
      const { address } = Context.get(context, PrometheusMetrics.PrometheusServer)
      served.unsafeAdd(3, { route: "/orders" })
      const body = yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${address.port}/metrics`).then((response) => response.text())
      )
      expect(body).toContain(`telemetry_test_served_total{route="/orders"} 3`)
      // The parts' Tags served the server only: the app's context still holds the two services
      // and the server's address.
      expect(keysOf(context)).toEqual(
        [PrometheusMetrics.PrometheusMetrics.key, PrometheusMetrics.PrometheusServer.key, Telemetry.Telemetry.key]
          .sort()
      )
    }))
})

// The portable OTEL_* parsing (internal/env.ts) used directly, as a line for another Effect
// major would: a plain record in, the configuration and its warnings out. The same
// environment read through Effect's Config gives the same configuration.
import { TelemetryConfig } from "@effect-telemetry/core"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import * as Env from "../src/internal/env.js"

const viaEffect = (env: Readonly<Record<string, string>>) =>
  Effect.runSync(
    TelemetryConfig.load().pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )

describe("internal/env (portable)", () => {
  it("keeps the variables it reads, trimmed, and drops blank ones", () => {
    const env = Env.envFrom({
      OTEL_SERVICE_NAME: "  checkout ",
      OTEL_TRACES_SAMPLER: "   ",
      OTEL_PROPAGATORS: "",
      NOT_OURS: "x",
      OTEL_BSP_MAX_QUEUE_SIZE: undefined
    })
    expect([...env]).toEqual([["OTEL_SERVICE_NAME", "checkout"]])
  })

  it("resolves a plain record with warn-and-default issues, as through Effect's Config", () => {
    const record = {
      OTEL_SERVICE_NAME: "checkout",
      OTEL_RESOURCE_ATTRIBUTES: "service.version=1.2.3,deployment.environment.name=prod",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "1.5",
      OTEL_PROPAGATORS: "b3, bogus",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/",
      OTEL_EXPORTER_OTLP_HEADERS: "Authorization=Bearer%20secret,bad",
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "grpc",
      OTEL_BSP_MAX_QUEUE_SIZE: "100",
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "500",
      OTEL_METRIC_EXPORT_INTERVAL: "5s",
      EFFECT_TELEMETRY_FUNCTIONS: "yes"
    }
    const config = Env.resolve(Env.envFrom(record))
    expect(config).toEqual(viaEffect(record))

    expect(config.serviceName).toBe("checkout")
    expect(config.serviceVersion).toBe("1.2.3")
    expect(config.samplerRatio).toBe(Env.defaults.samplerRatio)
    expect(config.propagators).toEqual(["b3"])
    expect(config.otlpTraces.url).toBe("http://collector:4318/v1/traces")
    expect(config.otlpTraces.headers).toEqual({ authorization: "Bearer secret" })
    expect(config.otlpMetrics.url).toBe("http://collector:4318/")
    expect(config.batchSpanProcessor.maxExportBatchSize).toBe(100)
    expect(config.metricExportIntervalMillis).toBe(Env.defaults.metricExportIntervalMillis)
    expect(config.functionTelemetry).toBe(true)

    const warnings = config.issues.map(Env.formatIssue)
    expect(warnings).toEqual([
      `OTEL_TRACES_SAMPLER_ARG="1.5" is invalid (not a number in [0, 1]); using 1`,
      `OTEL_PROPAGATORS="b3, bogus" is invalid (entry "bogus": not one of tracecontext, baggage, b3, b3multi; skipped); using b3`,
      `OTEL_EXPORTER_OTLP_HEADERS="Authorization=***,***" is invalid (entry 2 has no "="; skipped); using authorization=***`,
      `OTEL_BSP_MAX_EXPORT_BATCH_SIZE="500" is invalid (greater than the queue size (100); clamped); using 100`,
      `OTEL_METRIC_EXPORT_INTERVAL="5s" is invalid (not an integer); using 60000`,
      `EFFECT_TELEMETRY_FUNCTIONS="yes" is invalid (not true or false); using true`
    ])
    // Header values are credentials: never in a warning.
    expect(warnings.join("\n")).not.toContain("secret")
  })

  it("resolves the trace view's switch from two values", () => {
    expect(Env.resolveTraceView(undefined, "production")).toEqual({ enabled: false, issues: [] })
    const invalid = Env.resolveTraceView("maybe", undefined)
    expect(invalid.enabled).toBe(true)
    expect(invalid.issues.map(Env.formatIssue)).toEqual([
      `EFFECT_TELEMETRY_TRACEVIEW="maybe" is invalid (not true or false); using true (NODE_ENV is not production)`
    ])
  })
})

import { TelemetryConfig } from "@effect-telemetry/core"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as internal from "../src/internal/config.js"
import { makePki } from "./fixtures/tls.js"

type Config = TelemetryConfig.Resolved
type Env = Readonly<Record<string, string>>

// PEM files for the TLS variables, removed after the file's tests.
const pki = makePki()
afterAll(() => pki.remove())

// The environment is always a map: never process.env, so a developer's OTEL_* cannot leak in.
const withEnv = (env: Env) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const loadFrom = (env: Env, overrides?: TelemetryConfig.Overrides) => TelemetryConfig.load(overrides).pipe(withEnv(env))

interface Logged {
  readonly level: string
  readonly message: string
}

/** Runs `self` with a logger that only collects, and returns what it logged. */
const captureLogs = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const logs: Array<Logged> = []
    const collector = Logger.make(({ logLevel, message }) => {
      logs.push({ level: logLevel.label, message: Array.isArray(message) ? message.join(" ") : String(message) })
    })
    const result = yield* self.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, collector)))
    return [result, logs] as const
  })

const expectedDefaults: Omit<Config, "issues"> = {
  disabled: false,
  serviceName: "unknown_service:node",
  serviceVersion: undefined,
  resourceAttributes: {},
  sampler: "parentbased_always_on",
  samplerRatio: 1,
  propagators: ["tracecontext", "baggage"],
  tracesExporter: "otlp",
  metricsExporters: ["otlp"],
  otlpTraces: {
    url: "http://localhost:4318/v1/traces",
    headers: {},
    protocol: "http/protobuf",
    timeoutMillis: 10_000,
    compression: "none",
    insecure: false,
    certificate: undefined,
    clientKey: undefined,
    clientCertificate: undefined
  },
  otlpMetrics: {
    url: "http://localhost:4318/v1/metrics",
    headers: {},
    protocol: "http/protobuf",
    timeoutMillis: 10_000,
    compression: "none",
    insecure: false,
    certificate: undefined,
    clientKey: undefined,
    clientCertificate: undefined
  },
  temporalityPreference: "cumulative",
  batchSpanProcessor: {
    scheduleDelayMillis: 5_000,
    exportTimeoutMillis: 30_000,
    maxQueueSize: 16_384,
    maxExportBatchSize: 512
  },
  logsExporter: "otlp",
  otlpLogs: {
    url: "http://localhost:4318/v1/logs",
    headers: {},
    protocol: "http/protobuf",
    timeoutMillis: 10_000,
    compression: "none",
    insecure: false,
    certificate: undefined,
    clientKey: undefined,
    clientCertificate: undefined
  },
  batchLogRecordProcessor: {
    scheduleDelayMillis: 1_000,
    exportTimeoutMillis: 30_000,
    maxQueueSize: 2_048,
    maxExportBatchSize: 512
  },
  metricExportIntervalMillis: 60_000,
  metricExportTimeoutMillis: 30_000,
  prometheusHost: "localhost",
  prometheusPort: 9464,
  shutdownTimeoutMillis: 30_000,
  functionTelemetry: true,
  effectRuntimeMetrics: true,
  nodeMetrics: true,
  metricCardinalityLimit: 2_000
}

describe("TelemetryConfig", () => {
  it.effect("no variables: every default, no issues", () =>
    Effect.gen(function*() {
      const config = yield* loadFrom({})
      expect(config).toEqual({ ...expectedDefaults, issues: [] })
    }))

  it.effect("blank values are unset and values are trimmed", () =>
    Effect.gen(function*() {
      const config = yield* loadFrom({
        OTEL_SERVICE_NAME: "   ",
        OTEL_TRACES_SAMPLER: "",
        OTEL_EXPORTER_OTLP_TIMEOUT: "\t",
        OTEL_PROPAGATORS: " b3 , baggage ",
        OTEL_BSP_MAX_QUEUE_SIZE: " 100 "
      })
      expect(config.issues).toEqual([])
      expect(config.serviceName).toBe("unknown_service:node")
      expect(config.sampler).toBe("parentbased_always_on")
      expect(config.otlpTraces.timeoutMillis).toBe(10_000)
      expect(config.propagators).toEqual(["b3", "baggage"])
      expect(config.batchSpanProcessor.maxQueueSize).toBe(100)
    }))

  describe("valid values", () => {
    // [variable, value, read the field, expected]; extra variables in a fifth column.
    const valid: ReadonlyArray<readonly [string, string, (config: Config) => unknown, unknown, Env?]> = [
      ["OTEL_SDK_DISABLED", "true", (c) => c.disabled, true],
      ["OTEL_SDK_DISABLED", "TRUE", (c) => c.disabled, true],
      ["OTEL_SDK_DISABLED", "false", (c) => c.disabled, false],
      ["OTEL_SERVICE_NAME", "orders", (c) => c.serviceName, "orders"],
      ["OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,team=payments", (c) => c.resourceAttributes, {
        "deployment.environment": "prod",
        team: "payments"
      }],
      ["OTEL_RESOURCE_ATTRIBUTES", "service.version=1.2.3", (c) => c.serviceVersion, "1.2.3"],
      ["OTEL_TRACES_SAMPLER", "always_on", (c) => c.sampler, "always_on"],
      ["OTEL_TRACES_SAMPLER", "always_off", (c) => c.sampler, "always_off"],
      ["OTEL_TRACES_SAMPLER", "traceidratio", (c) => c.sampler, "traceidratio"],
      ["OTEL_TRACES_SAMPLER", "parentbased_always_on", (c) => c.sampler, "parentbased_always_on"],
      ["OTEL_TRACES_SAMPLER", "parentbased_always_off", (c) => c.sampler, "parentbased_always_off"],
      ["OTEL_TRACES_SAMPLER", "ParentBased_TraceIdRatio", (c) => c.sampler, "parentbased_traceidratio"],
      ["OTEL_TRACES_SAMPLER_ARG", "0.25", (c) => c.samplerRatio, 0.25, { OTEL_TRACES_SAMPLER: "traceidratio" }],
      ["OTEL_TRACES_SAMPLER_ARG", "0", (c) => c.samplerRatio, 0, { OTEL_TRACES_SAMPLER: "parentbased_traceidratio" }],
      ["OTEL_TRACES_SAMPLER_ARG", "1", (c) => c.samplerRatio, 1, { OTEL_TRACES_SAMPLER: "traceidratio" }],
      ["OTEL_TRACES_SAMPLER_ARG", ".5", (c) => c.samplerRatio, 0.5, { OTEL_TRACES_SAMPLER: "traceidratio" }],
      ["OTEL_PROPAGATORS", "b3,b3multi", (c) => c.propagators, ["b3", "b3multi"]],
      ["OTEL_PROPAGATORS", "TraceContext,tracecontext,baggage", (c) => c.propagators, ["tracecontext", "baggage"]],
      ["OTEL_PROPAGATORS", "none", (c) => c.propagators, []],
      ["OTEL_PROPAGATORS", "NONE", (c) => c.propagators, []],
      ["OTEL_TRACES_EXPORTER", "console", (c) => c.tracesExporter, "console"],
      ["OTEL_TRACES_EXPORTER", "None", (c) => c.tracesExporter, "none"],
      ["OTEL_TRACES_EXPORTER", "otlp", (c) => c.tracesExporter, "otlp"],
      ["OTEL_METRICS_EXPORTER", "prometheus,otlp", (c) => c.metricsExporters, ["prometheus", "otlp"]],
      ["OTEL_METRICS_EXPORTER", "console", (c) => c.metricsExporters, ["console"]],
      ["OTEL_METRICS_EXPORTER", "none", (c) => c.metricsExporters, []],
      ["OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318", (c) => [c.otlpTraces.url, c.otlpMetrics.url], [
        "https://collector:4318/v1/traces",
        "https://collector:4318/v1/metrics"
      ]],
      [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://collector:4318/",
        (c) => c.otlpTraces.url,
        "http://collector:4318/v1/traces"
      ],
      ["OTEL_EXPORTER_OTLP_ENDPOINT", "http://gw/otlp//", (c) => c.otlpMetrics.url, "http://gw/otlp/v1/metrics"],
      [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "http://tempo:4318/custom",
        (c) => c.otlpTraces.url,
        "http://tempo:4318/custom"
      ],
      ["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "https://mimir/otlp", (c) => c.otlpMetrics.url, "https://mimir/otlp"],
      [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "api-key=secret,X-Tenant=a%20b",
        (c) => [c.otlpTraces.headers, c.otlpMetrics.headers],
        [
          { "api-key": "secret", "x-tenant": "a b" },
          { "api-key": "secret", "x-tenant": "a b" }
        ]
      ],
      ["OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-scope=traces", (c) => [c.otlpTraces.headers, c.otlpMetrics.headers], [
        { "x-scope": "traces" },
        {}
      ]],
      ["OTEL_EXPORTER_OTLP_METRICS_HEADERS", "x-scope=metrics", (c) => c.otlpMetrics.headers, { "x-scope": "metrics" }],
      ["OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", (c) => [c.otlpTraces.protocol, c.otlpMetrics.protocol], [
        "http/json",
        "http/json"
      ]],
      ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "HTTP/JSON", (c) => c.otlpTraces.protocol, "http/json"],
      ["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json", (c) => c.otlpMetrics.protocol, "http/json"],
      ["OTEL_EXPORTER_OTLP_TIMEOUT", "2500", (c) => [c.otlpTraces.timeoutMillis, c.otlpMetrics.timeoutMillis], [
        2500,
        2500
      ]],
      ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1000", (c) => c.otlpTraces.timeoutMillis, 1000],
      ["OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "3000", (c) => c.otlpMetrics.timeoutMillis, 3000],
      ["OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP", (c) => [c.otlpTraces.compression, c.otlpMetrics.compression], [
        "gzip",
        "gzip"
      ]],
      ["OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip", (c) => c.otlpTraces.compression, "gzip"],
      ["OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip", (c) => c.otlpMetrics.compression, "gzip"],
      ["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta", (c) => c.temporalityPreference, "delta"],
      ["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "LowMemory", (c) => c.temporalityPreference, "lowmemory"],
      ["OTEL_BSP_SCHEDULE_DELAY", "0", (c) => c.batchSpanProcessor.scheduleDelayMillis, 0],
      ["OTEL_BSP_SCHEDULE_DELAY", "200", (c) => c.batchSpanProcessor.scheduleDelayMillis, 200],
      ["OTEL_BSP_EXPORT_TIMEOUT", "1000", (c) => c.batchSpanProcessor.exportTimeoutMillis, 1000],
      ["OTEL_BSP_MAX_QUEUE_SIZE", "2048", (c) => c.batchSpanProcessor.maxQueueSize, 2048],
      ["OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1024", (c) => c.batchSpanProcessor.maxExportBatchSize, 1024],
      ["OTEL_METRIC_EXPORT_INTERVAL", "15000", (c) => c.metricExportIntervalMillis, 15_000],
      ["OTEL_METRIC_EXPORT_TIMEOUT", "5000", (c) => c.metricExportTimeoutMillis, 5000],
      ["OTEL_EXPORTER_PROMETHEUS_HOST", "0.0.0.0", (c) => c.prometheusHost, "0.0.0.0"],
      ["OTEL_EXPORTER_PROMETHEUS_PORT", "9100", (c) => c.prometheusPort, 9100],
      ["OTEL_EXPORTER_PROMETHEUS_PORT", "0", (c) => c.prometheusPort, 0],
      ["OTEL_EXPORTER_PROMETHEUS_PORT", "65535", (c) => c.prometheusPort, 65_535],
      ["EFFECT_TELEMETRY_SHUTDOWN_TIMEOUT", "5000", (c) => c.shutdownTimeoutMillis, 5000],
      ["EFFECT_TELEMETRY_FUNCTIONS", "false", (c) => c.functionTelemetry, false],
      ["EFFECT_TELEMETRY_FUNCTIONS", "True", (c) => c.functionTelemetry, true],
      ["EFFECT_TELEMETRY_RUNTIME_METRICS", "FALSE", (c) => c.effectRuntimeMetrics, false],
      ["EFFECT_TELEMETRY_NODE_METRICS", "false", (c) => c.nodeMetrics, false],
      ["EFFECT_TELEMETRY_METRIC_CARDINALITY_LIMIT", "500", (c) => c.metricCardinalityLimit, 500],
      ["OTEL_LOGS_EXPORTER", "Console", (c) => c.logsExporter, "console"],
      ["OTEL_LOGS_EXPORTER", "none", (c) => c.logsExporter, "none"],
      ["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs:4318/custom", (c) => c.otlpLogs.url, "http://logs:4318/custom"],
      ["OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-logs=1", (c) => c.otlpLogs.headers, { "x-logs": "1" }],
      ["OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json", (c) => c.otlpLogs.protocol, "http/json"],
      ["OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "2500", (c) => c.otlpLogs.timeoutMillis, 2500],
      ["OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip", (c) => c.otlpLogs.compression, "gzip"],
      ["OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", (c) => [c.otlpTraces.url, c.otlpMetrics.protocol], [
        "http://localhost:4317",
        "grpc"
      ]],
      ["OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317", (c) => [c.otlpTraces.url, c.otlpLogs.url], [
        "collector:4317",
        "collector:4317"
      ], { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }],
      ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc", (c) => [c.otlpTraces.url, c.otlpMetrics.url], [
        "http://collector:4317",
        "http://collector:4317/v1/metrics"
      ], { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4317" }],
      ["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "[::1]:4317", (c) => c.otlpMetrics.url, "[::1]:4317", {
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "grpc"
      }],
      ["OTEL_EXPORTER_OTLP_INSECURE", "true", (c) => [c.otlpTraces.insecure, c.otlpMetrics.insecure], [true, true]],
      ["OTEL_EXPORTER_OTLP_CERTIFICATE", pki.caCert, (c) => [c.otlpTraces.certificate, c.otlpLogs.certificate], [
        pki.caCert,
        pki.caCert
      ]],
      [
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        pki.clientKey,
        (c) => [c.otlpMetrics.clientKey, c.otlpTraces.clientCertificate],
        [
          pki.clientKey,
          pki.clientCert
        ],
        { OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: pki.clientCert }
      ],
      ["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", pki.clientCert, (c) => c.otlpLogs.clientCertificate, pki.clientCert, {
        OTEL_EXPORTER_OTLP_CLIENT_KEY: pki.clientKey
      }],
      ["OTEL_EXPORTER_OTLP_TRACES_INSECURE", "TRUE", (c) => [c.otlpTraces.insecure, c.otlpMetrics.insecure], [
        true,
        false
      ]],
      [
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        pki.caCert,
        (c) => [c.otlpTraces.certificate, c.otlpMetrics.certificate],
        [
          pki.caCert,
          undefined
        ]
      ],
      [
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
        pki.clientKey,
        (c) => [c.otlpTraces.clientKey, c.otlpMetrics.clientKey],
        [
          pki.clientKey,
          undefined
        ],
        { OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: pki.clientCert }
      ],
      [
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
        pki.clientCert,
        (c) => c.otlpTraces.clientCertificate,
        pki.clientCert,
        {
          OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: pki.clientKey
        }
      ],
      ["OTEL_EXPORTER_OTLP_METRICS_INSECURE", "TRUE", (c) => [c.otlpMetrics.insecure, c.otlpLogs.insecure], [
        true,
        false
      ]],
      [
        "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
        pki.caCert,
        (c) => [c.otlpMetrics.certificate, c.otlpLogs.certificate],
        [
          pki.caCert,
          undefined
        ]
      ],
      ["OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", pki.clientKey, (c) => [c.otlpMetrics.clientKey, c.otlpLogs.clientKey], [
        pki.clientKey,
        undefined
      ], { OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE: pki.clientCert }],
      [
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
        pki.clientCert,
        (c) => c.otlpMetrics.clientCertificate,
        pki.clientCert,
        {
          OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY: pki.clientKey
        }
      ],
      ["OTEL_EXPORTER_OTLP_LOGS_INSECURE", "TRUE", (c) => [c.otlpLogs.insecure, c.otlpTraces.insecure], [true, false]],
      ["OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", pki.caCert, (c) => [c.otlpLogs.certificate, c.otlpTraces.certificate], [
        pki.caCert,
        undefined
      ]],
      ["OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", pki.clientKey, (c) => [c.otlpLogs.clientKey, c.otlpTraces.clientKey], [
        pki.clientKey,
        undefined
      ], { OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE: pki.clientCert }],
      [
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
        pki.clientCert,
        (c) => c.otlpLogs.clientCertificate,
        pki.clientCert,
        {
          OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY: pki.clientKey
        }
      ],
      ["OTEL_BLRP_SCHEDULE_DELAY", "0", (c) => c.batchLogRecordProcessor.scheduleDelayMillis, 0],
      ["OTEL_BLRP_EXPORT_TIMEOUT", "5000", (c) => c.batchLogRecordProcessor.exportTimeoutMillis, 5000],
      ["OTEL_BLRP_MAX_QUEUE_SIZE", "100", (c) => c.batchLogRecordProcessor.maxQueueSize, 100],
      ["OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "64", (c) => c.batchLogRecordProcessor.maxExportBatchSize, 64]
    ]

    it("covers every variable", () => {
      expect(new Set(valid.map(([variable]) => variable))).toEqual(new Set(internal.variables))
    })

    for (const [variable, value, get, expected, extra] of valid) {
      it.effect(`${variable}=${JSON.stringify(value)}`, () =>
        Effect.gen(function*() {
          const config = yield* loadFrom({ ...extra, [variable]: value })
          expect(config.issues).toEqual([])
          expect(get(config)).toEqual(expected)
        }))
    }
  })

  describe("invalid values are reported and defaulted", () => {
    // [variable, value, reason (substring), fallback as reported, read the field, value used]
    const invalid: ReadonlyArray<
      readonly [string, string, string, string, (config: Config) => unknown, unknown, Env?]
    > = [
      ["OTEL_SDK_DISABLED", "yes", "not true or false", "false", (c) => c.disabled, false],
      ["OTEL_SDK_DISABLED", "1", "not true or false", "false", (c) => c.disabled, false],
      ["OTEL_RESOURCE_ATTRIBUTES", "novalue", `pair "novalue" has no "="`, "(empty)", (c) => c.resourceAttributes, {}],
      ["OTEL_RESOURCE_ATTRIBUTES", "=x", "empty key", "(empty)", (c) => c.resourceAttributes, {}],
      [
        "OTEL_RESOURCE_ATTRIBUTES",
        "k=%E0%A4%A",
        "not valid percent-encoding",
        "(empty)",
        (c) => c.resourceAttributes,
        {}
      ],
      [
        "OTEL_TRACES_SAMPLER",
        "jaeger_remote",
        "not supported",
        "parentbased_always_on",
        (c) => c.sampler,
        "parentbased_always_on"
      ],
      [
        "OTEL_TRACES_SAMPLER",
        "xray",
        "not supported",
        "parentbased_always_on",
        (c) => c.sampler,
        "parentbased_always_on"
      ],
      [
        "OTEL_TRACES_SAMPLER",
        "sometimes",
        "not one of",
        "parentbased_always_on",
        (c) => c.sampler,
        "parentbased_always_on"
      ],
      ["OTEL_TRACES_SAMPLER_ARG", "abc", "not a number in [0, 1]", "1", (c) => c.samplerRatio, 1, {
        OTEL_TRACES_SAMPLER: "traceidratio"
      }],
      ["OTEL_TRACES_SAMPLER_ARG", "1.5", "not a number in [0, 1]", "1", (c) => c.samplerRatio, 1, {
        OTEL_TRACES_SAMPLER: "traceidratio"
      }],
      ["OTEL_TRACES_SAMPLER_ARG", "-0.1", "not a number in [0, 1]", "1", (c) => c.samplerRatio, 1, {
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio"
      }],
      ["OTEL_TRACES_SAMPLER_ARG", "NaN", "not a number in [0, 1]", "1", (c) => c.samplerRatio, 1, {
        OTEL_TRACES_SAMPLER: "traceidratio"
      }],
      ["OTEL_PROPAGATORS", "xray", `entry "xray": not one of`, "tracecontext,baggage", (c) => c.propagators, [
        "tracecontext",
        "baggage"
      ]],
      ["OTEL_PROPAGATORS", "tracecontext,jaeger", `entry "jaeger"`, "tracecontext", (c) => c.propagators, [
        "tracecontext"
      ]],
      ["OTEL_PROPAGATORS", "none,b3", `"none" combined`, "b3", (c) => c.propagators, ["b3"]],
      ["OTEL_TRACES_EXPORTER", "zipkin", "not supported", "otlp", (c) => c.tracesExporter, "otlp"],
      ["OTEL_TRACES_EXPORTER", "jaeger", "not supported", "otlp", (c) => c.tracesExporter, "otlp"],
      ["OTEL_TRACES_EXPORTER", "kafka", "not one of otlp, console, none", "otlp", (c) => c.tracesExporter, "otlp"],
      [
        "OTEL_TRACES_EXPORTER",
        "console,otlp",
        `only one traces exporter`,
        "console",
        (c) => c.tracesExporter,
        "console"
      ],
      ["OTEL_METRICS_EXPORTER", "statsd", `entry "statsd"`, "otlp", (c) => c.metricsExporters, ["otlp"]],
      ["OTEL_METRICS_EXPORTER", "prometheus,none", `"none" combined`, "prometheus", (c) => c.metricsExporters, [
        "prometheus"
      ]],
      [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "not a url",
        "not a URL",
        "http://localhost:4318",
        (c) => c.otlpTraces.url,
        "http://localhost:4318/v1/traces"
      ],
      [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "localhost:4318",
        "only valid with the grpc protocol",
        "http://localhost:4318",
        (c) => c.otlpMetrics.url,
        "http://localhost:4318/v1/metrics"
      ],
      [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "ftp://collector",
        "not http or https",
        "http://localhost:4318",
        (c) => c.otlpTraces.url,
        "http://localhost:4318/v1/traces"
      ],
      [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "collector",
        "not a URL",
        "http://localhost:4318/v1/traces",
        (c) => c.otlpTraces.url,
        "http://localhost:4318/v1/traces"
      ],
      [
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "grpc://x",
        "not http or https",
        "http://collector/v1/metrics",
        (c) => c.otlpMetrics.url,
        "http://collector/v1/metrics",
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector"
        }
      ],
      ["OTEL_EXPORTER_OTLP_HEADERS", "api-key", `entry 1 has no "="`, "(empty)", (c) => c.otlpTraces.headers, {}],
      [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "bad name=x",
        "not a valid header name",
        "(empty)",
        (c) => c.otlpTraces.headers,
        {}
      ],
      [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "x=a%0D%0Aevil: 1",
        "control characters",
        "(empty)",
        (c) => c.otlpMetrics.headers,
        {}
      ],
      [
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "k=%zz",
        "not valid percent-encoding",
        "(empty)",
        (c) => c.otlpTraces.headers,
        {}
      ],
      ["OTEL_EXPORTER_OTLP_METRICS_HEADERS", "=v", "empty key", "(empty)", (c) => c.otlpMetrics.headers, {}],
      [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "grpc/web",
        "not one of http/protobuf, http/json, grpc",
        "http/protobuf",
        (c) => c.otlpTraces.protocol,
        "http/protobuf"
      ],
      [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "thrift",
        "not one of http/protobuf, http/json, grpc",
        "http/protobuf",
        (c) => c.otlpMetrics.protocol,
        "http/protobuf"
      ],
      [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "gRPC/json",
        "not one of",
        "http/protobuf",
        (c) => c.otlpTraces.protocol,
        "http/protobuf"
      ],
      // A per-signal variable falls back to the general one, not to the built-in default.
      [
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        "http/thrift",
        "not one of",
        "http/json",
        (c) => c.otlpMetrics.protocol,
        "http/json",
        {
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json"
        }
      ],
      ["OTEL_EXPORTER_OTLP_INSECURE", "yes", "not true or false", "false", (c) => c.otlpTraces.insecure, false],
      [
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "/nonexistent/ca.pem",
        "cannot read the file (ENOENT)",
        "the default",
        (c) => c.otlpTraces.certificate,
        undefined
      ],
      [
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        pki.clientCert,
        "no unencrypted PEM private key",
        "the default",
        (c) => c.otlpTraces.clientKey,
        undefined
      ],
      [
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        pki.clientKey,
        "no PEM certificate",
        "the default",
        (c) => c.otlpTraces.clientCertificate,
        undefined
      ],
      ["OTEL_EXPORTER_OTLP_TRACES_INSECURE", "1", "not true or false", "true", (c) => c.otlpTraces.insecure, true, {
        OTEL_EXPORTER_OTLP_INSECURE: "true"
      }],
      [
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        pki.dir,
        "cannot read the file (EISDIR)",
        "the default",
        (c) => c.otlpTraces.certificate,
        undefined
      ],
      // Without its certificate, a client key is reported and neither is used.
      [
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
        pki.clientKey,
        "needs OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE",
        "no client certificate",
        (c) => c.otlpTraces.clientKey,
        undefined
      ],
      [
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
        "missing.pem",
        "cannot read the file (ENOENT)",
        "the default",
        (c) => c.otlpTraces.clientCertificate,
        undefined
      ],
      ["OTEL_EXPORTER_OTLP_METRICS_INSECURE", "1", "not true or false", "true", (c) => c.otlpMetrics.insecure, true, {
        OTEL_EXPORTER_OTLP_INSECURE: "true"
      }],
      [
        "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
        pki.dir,
        "cannot read the file (EISDIR)",
        "the default",
        (c) => c.otlpMetrics.certificate,
        undefined
      ],
      // Without its certificate, a client key is reported and neither is used.
      [
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
        pki.clientKey,
        "needs OTEL_EXPORTER_OTLP_[METRICS_]CLIENT_CERTIFICATE",
        "no client certificate",
        (c) => c.otlpMetrics.clientKey,
        undefined
      ],
      [
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
        "missing.pem",
        "cannot read the file (ENOENT)",
        "the default",
        (c) => c.otlpMetrics.clientCertificate,
        undefined
      ],
      ["OTEL_EXPORTER_OTLP_LOGS_INSECURE", "1", "not true or false", "true", (c) => c.otlpLogs.insecure, true, {
        OTEL_EXPORTER_OTLP_INSECURE: "true"
      }],
      [
        "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
        pki.dir,
        "cannot read the file (EISDIR)",
        "the default",
        (c) => c.otlpLogs.certificate,
        undefined
      ],
      // Without its certificate, a client key is reported and neither is used.
      [
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
        pki.clientKey,
        "needs OTEL_EXPORTER_OTLP_[LOGS_]CLIENT_CERTIFICATE",
        "no client certificate",
        (c) => c.otlpLogs.clientKey,
        undefined
      ],
      [
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
        "missing.pem",
        "cannot read the file (ENOENT)",
        "the default",
        (c) => c.otlpLogs.clientCertificate,
        undefined
      ],
      ["OTEL_EXPORTER_OTLP_TIMEOUT", "5s", "not an integer", "10000", (c) => c.otlpTraces.timeoutMillis, 10_000],
      ["OTEL_EXPORTER_OTLP_TIMEOUT", "-1", "less than 1", "10000", (c) => c.otlpTraces.timeoutMillis, 10_000],
      ["OTEL_EXPORTER_OTLP_TIMEOUT", "0", "less than 1", "10000", (c) => c.otlpMetrics.timeoutMillis, 10_000],
      ["OTEL_EXPORTER_OTLP_TIMEOUT", "1.5", "not an integer", "10000", (c) => c.otlpTraces.timeoutMillis, 10_000],
      ["OTEL_EXPORTER_OTLP_TIMEOUT", "NaN", "not an integer", "10000", (c) => c.otlpTraces.timeoutMillis, 10_000],
      ["OTEL_EXPORTER_OTLP_TIMEOUT", "1e3", "not an integer", "10000", (c) => c.otlpTraces.timeoutMillis, 10_000],
      ["OTEL_EXPORTER_OTLP_TIMEOUT", "3000000000", "longest timer", "10000", (c) => c.otlpTraces.timeoutMillis, 10_000],
      ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10 s", "not an integer", "2000", (c) => c.otlpTraces.timeoutMillis, 2000, {
        OTEL_EXPORTER_OTLP_TIMEOUT: "2000"
      }],
      ["OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "-5", "less than 1", "10000", (c) => c.otlpMetrics.timeoutMillis, 10_000],
      [
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "brotli",
        "not one of gzip, none",
        "none",
        (c) => c.otlpTraces.compression,
        "none"
      ],
      [
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "zstd",
        "not one of gzip, none",
        "none",
        (c) => c.otlpTraces.compression,
        "none"
      ],
      [
        "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
        "deflate",
        "not one of gzip, none",
        "gzip",
        (c) => c.otlpMetrics.compression,
        "gzip",
        {
          OTEL_EXPORTER_OTLP_COMPRESSION: "gzip"
        }
      ],
      [
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "sometimes",
        "not one of cumulative, delta, lowmemory",
        "cumulative",
        (c) => c.temporalityPreference,
        "cumulative"
      ],
      ["OTEL_BSP_SCHEDULE_DELAY", "-5", "negative", "5000", (c) => c.batchSpanProcessor.scheduleDelayMillis, 5000],
      [
        "OTEL_BSP_SCHEDULE_DELAY",
        "5s",
        "not an integer",
        "5000",
        (c) => c.batchSpanProcessor.scheduleDelayMillis,
        5000
      ],
      ["OTEL_BSP_EXPORT_TIMEOUT", "0", "less than 1", "30000", (c) => c.batchSpanProcessor.exportTimeoutMillis, 30_000],
      ["OTEL_BSP_MAX_QUEUE_SIZE", "0", "less than 1", "16384", (c) => c.batchSpanProcessor.maxQueueSize, 16_384],
      ["OTEL_BSP_MAX_QUEUE_SIZE", "big", "not an integer", "16384", (c) => c.batchSpanProcessor.maxQueueSize, 16_384],
      [
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "abc",
        "not an integer",
        "512",
        (c) => c.batchSpanProcessor.maxExportBatchSize,
        512
      ],
      [
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "0",
        "less than 1",
        "512",
        (c) => c.batchSpanProcessor.maxExportBatchSize,
        512
      ],
      [
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "600",
        "greater than the queue size (100); clamped",
        "100",
        (c) => c.batchSpanProcessor.maxExportBatchSize,
        100,
        {
          OTEL_BSP_MAX_QUEUE_SIZE: "100"
        }
      ],
      ["OTEL_METRIC_EXPORT_INTERVAL", "1m", "not an integer", "60000", (c) => c.metricExportIntervalMillis, 60_000],
      ["OTEL_METRIC_EXPORT_INTERVAL", "0", "less than 1", "60000", (c) => c.metricExportIntervalMillis, 60_000],
      ["OTEL_METRIC_EXPORT_TIMEOUT", "-1", "less than 1", "30000", (c) => c.metricExportTimeoutMillis, 30_000],
      ["OTEL_EXPORTER_PROMETHEUS_PORT", "65536", "greater than 65535", "9464", (c) => c.prometheusPort, 9464],
      ["OTEL_EXPORTER_PROMETHEUS_PORT", "-1", "negative", "9464", (c) => c.prometheusPort, 9464],
      ["OTEL_EXPORTER_PROMETHEUS_PORT", "http", "not an integer", "9464", (c) => c.prometheusPort, 9464],
      ["EFFECT_TELEMETRY_SHUTDOWN_TIMEOUT", "30s", "not an integer", "30000", (c) => c.shutdownTimeoutMillis, 30_000],
      ["EFFECT_TELEMETRY_SHUTDOWN_TIMEOUT", "0", "less than 1", "30000", (c) => c.shutdownTimeoutMillis, 30_000],
      ["EFFECT_TELEMETRY_FUNCTIONS", "off", "not true or false", "true", (c) => c.functionTelemetry, true],
      ["EFFECT_TELEMETRY_RUNTIME_METRICS", "0", "not true or false", "true", (c) => c.effectRuntimeMetrics, true],
      ["EFFECT_TELEMETRY_NODE_METRICS", "no", "not true or false", "true", (c) => c.nodeMetrics, true],
      ["EFFECT_TELEMETRY_METRIC_CARDINALITY_LIMIT", "0", "less than 1", "2000", (c) => c.metricCardinalityLimit, 2000],
      [
        "EFFECT_TELEMETRY_METRIC_CARDINALITY_LIMIT",
        "2k",
        "not an integer",
        "2000",
        (c) => c.metricCardinalityLimit,
        2000
      ],
      ["OTEL_LOGS_EXPORTER", "syslog", "not one of otlp, console, none", "otlp", (c) => c.logsExporter, "otlp"],
      [
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "logs:4318",
        "",
        "http://localhost:4318/v1/logs",
        (c) => c.otlpLogs.url,
        "http://localhost:4318/v1/logs"
      ],
      ["OTEL_EXPORTER_OTLP_LOGS_HEADERS", "nokey", "has no", "(empty)", (c) => c.otlpLogs.headers, {}],
      [
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
        "thrift",
        "not one of",
        "http/protobuf",
        (c) => c.otlpLogs.protocol,
        "http/protobuf"
      ],
      ["OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "10s", "not an integer", "10000", (c) => c.otlpLogs.timeoutMillis, 10_000],
      ["OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "zstd", "not one of", "none", (c) => c.otlpLogs.compression, "none"],
      [
        "OTEL_BLRP_SCHEDULE_DELAY",
        "-5",
        "negative",
        "1000",
        (c) => c.batchLogRecordProcessor.scheduleDelayMillis,
        1000
      ],
      [
        "OTEL_BLRP_EXPORT_TIMEOUT",
        "0",
        "less than 1",
        "30000",
        (c) => c.batchLogRecordProcessor.exportTimeoutMillis,
        30_000
      ],
      ["OTEL_BLRP_MAX_QUEUE_SIZE", "0", "less than 1", "2048", (c) => c.batchLogRecordProcessor.maxQueueSize, 2048],
      [
        "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
        "4096",
        "greater than the queue size (2048); clamped",
        "2048",
        (c) => c.batchLogRecordProcessor.maxExportBatchSize,
        2048
      ]
    ]

    // OTEL_SERVICE_NAME and OTEL_EXPORTER_PROMETHEUS_HOST take any non-blank text.
    it("covers every variable that can be invalid", () => {
      const freeText = ["OTEL_SERVICE_NAME", "OTEL_EXPORTER_PROMETHEUS_HOST"]
      expect(new Set(invalid.map(([variable]) => variable))).toEqual(
        new Set(internal.variables.filter((name) => !freeText.includes(name)))
      )
    })

    const sensitive = (variable: string) => variable.includes("HEADERS")

    for (const [variable, value, reason, fallback, get, used, extra] of invalid) {
      it.effect(`${variable}=${JSON.stringify(value)}`, () =>
        Effect.gen(function*() {
          const config = yield* loadFrom({ ...extra, [variable]: value })
          expect(config.issues).toHaveLength(1)
          const [issue] = config.issues
          expect(issue!.variable).toBe(variable)
          // Header values may be credentials: only names reach an issue.
          if (!sensitive(variable)) expect(issue!.value).toBe(value)
          expect(issue!.reason).toContain(reason)
          expect(issue!.fallback).toBe(fallback)
          expect(get(config)).toEqual(used)
        }))
    }
  })

  it.effect("a list reports each bad entry and keeps the good ones", () =>
    Effect.gen(function*() {
      const config = yield* loadFrom({ OTEL_RESOURCE_ATTRIBUTES: "a=1,broken,=x,b=%ZZ,c=3" })
      expect(config.resourceAttributes).toEqual({ a: "1", c: "3" })
      expect(config.issues.map((issue) => issue.reason)).toEqual([
        `pair "broken" has no "="; skipped`,
        `pair "=x" has an empty key; skipped`,
        `value of "b" is not valid percent-encoding; skipped`
      ])
      expect(config.issues.every((issue) => issue.fallback === "a=1,c=3")).toBe(true)
    }))

  it.effect("the first supported traces exporter wins; the others are reported", () =>
    Effect.gen(function*() {
      const config = yield* loadFrom({ OTEL_TRACES_EXPORTER: "zipkin,console,otlp" })
      expect(config.tracesExporter).toBe("console")
      expect(config.issues.map((issue) => [issue.reason, issue.fallback])).toEqual([
        [`"zipkin" is not supported: use otlp (Zipkin and Jaeger accept OTLP)`, "console"],
        [`only one traces exporter is supported; "otlp" ignored`, "console"]
      ])
    }))

  it.effect("OTEL_TRACES_SAMPLER_ARG is only read for the ratio samplers", () =>
    Effect.gen(function*() {
      // jaeger_remote's argument is `key=value` pairs: one issue (the sampler), not two.
      const jaeger = yield* loadFrom({
        OTEL_TRACES_SAMPLER: "jaeger_remote",
        OTEL_TRACES_SAMPLER_ARG: "endpoint=http://localhost:14250,pollingIntervalMs=5000"
      })
      expect(jaeger.issues.map((issue) => issue.variable)).toEqual(["OTEL_TRACES_SAMPLER"])
      expect(jaeger.samplerRatio).toBe(1)
      const alwaysOn = yield* loadFrom({ OTEL_TRACES_SAMPLER: "always_on", OTEL_TRACES_SAMPLER_ARG: "0.5" })
      expect(alwaysOn.issues).toEqual([])
    }))

  it.effect("issues come in variable order", () =>
    Effect.gen(function*() {
      const config = yield* loadFrom({
        EFFECT_TELEMETRY_FUNCTIONS: "nope",
        OTEL_BSP_MAX_QUEUE_SIZE: "x",
        OTEL_PROPAGATORS: "xray",
        OTEL_EXPORTER_OTLP_TIMEOUT: "x",
        OTEL_SDK_DISABLED: "x"
      })
      expect(config.issues.map((issue) => issue.variable)).toEqual([
        "OTEL_SDK_DISABLED",
        "OTEL_PROPAGATORS",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "EFFECT_TELEMETRY_FUNCTIONS"
      ])
    }))

  describe("service name and resource attributes", () => {
    it.effect("service.name from OTEL_RESOURCE_ATTRIBUTES when OTEL_SERVICE_NAME is unset", () =>
      Effect.gen(function*() {
        const config = yield* loadFrom({ OTEL_RESOURCE_ATTRIBUTES: "service.name=billing,service.version=2.0.1" })
        expect(config.serviceName).toBe("billing")
        expect(config.serviceVersion).toBe("2.0.1")
      }))

    it.effect("OTEL_SERVICE_NAME wins over service.name", () =>
      Effect.gen(function*() {
        const config = yield* loadFrom({
          OTEL_SERVICE_NAME: "orders",
          OTEL_RESOURCE_ATTRIBUTES: "service.name=billing"
        })
        expect(config.serviceName).toBe("orders")
        expect(config.resourceAttributes).toEqual({ "service.name": "billing" })
      }))

    it.effect("the override wins over both", () =>
      Effect.gen(function*() {
        const config = yield* loadFrom({
          OTEL_SERVICE_NAME: "orders",
          OTEL_RESOURCE_ATTRIBUTES: "service.name=billing,service.version=1"
        }, { serviceName: "checkout", serviceVersion: "9" })
        expect(config.serviceName).toBe("checkout")
        expect(config.serviceVersion).toBe("9")
      }))

    it.effect("values are percent-decoded; keys are kept and `=` in a value survives", () =>
      Effect.gen(function*() {
        const config = yield* loadFrom({
          OTEL_RESOURCE_ATTRIBUTES: "note=hello%2C%20world%3Dyes, emoji = %F0%9F%98%80 ,plus=a+b,eq=a=b,empty="
        })
        expect(config.issues).toEqual([])
        expect(config.resourceAttributes).toEqual({
          note: "hello, world=yes",
          emoji: "😀",
          plus: "a+b",
          eq: "a=b",
          empty: ""
        })
      }))
  })

  describe("per-signal OTLP settings", () => {
    it.effect("per-signal variables win over the general ones, for their signal only", () =>
      Effect.gen(function*() {
        const config = yield* loadFrom({
          OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://tempo:4318/v1/traces",
          OTEL_EXPORTER_OTLP_HEADERS: "Authorization=Bearer%20general,x-tenant=a",
          OTEL_EXPORTER_OTLP_TRACES_HEADERS: "authorization=Bearer%20traces",
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/protobuf",
          OTEL_EXPORTER_OTLP_TIMEOUT: "2000",
          OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: "500",
          OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
          OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: "none"
        })
        expect(config.issues).toEqual([])
        expect(config.otlpTraces).toEqual({
          url: "http://tempo:4318/v1/traces",
          headers: { authorization: "Bearer traces", "x-tenant": "a" },
          protocol: "http/json",
          timeoutMillis: 500,
          compression: "gzip",
          insecure: false,
          certificate: undefined,
          clientKey: undefined,
          clientCertificate: undefined
        })
        expect(config.otlpMetrics).toEqual({
          url: "http://collector:4318/v1/metrics",
          headers: { authorization: "Bearer general", "x-tenant": "a" },
          protocol: "http/protobuf",
          timeoutMillis: 2000,
          compression: "none",
          insecure: false,
          certificate: undefined,
          clientKey: undefined,
          clientCertificate: undefined
        })
      }))

    it.effect("a malformed per-signal header keeps the general headers and the valid entries", () =>
      Effect.gen(function*() {
        const config = yield* loadFrom({
          OTEL_EXPORTER_OTLP_HEADERS: "a=1",
          OTEL_EXPORTER_OTLP_TRACES_HEADERS: "b=2,broken"
        })
        expect(config.otlpTraces.headers).toEqual({ a: "1", b: "2" })
        expect(config.otlpMetrics.headers).toEqual({ a: "1" })
        expect(config.issues).toEqual([{
          variable: "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
          value: "b=***,***",
          reason: `entry 2 has no "="; skipped`,
          fallback: "a=***,b=***"
        }])
      }))

    it.effect("header values never reach an issue or a warning", () =>
      Effect.gen(function*() {
        const [, logs] = yield* captureLogs(
          internal.loadAndReport({}).pipe(
            withEnv({ OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20s3cret,s3cret-token,x=%zzs3cret" })
          )
        )
        expect(logs).toHaveLength(2)
        for (const { message } of logs) {
          expect(message).not.toContain("s3cret")
          expect(message).toContain(`OTEL_EXPORTER_OTLP_HEADERS="authorization=***,***,x=***"`)
        }
      }))
  })

  describe("overrides", () => {
    it.effect("each override wins over its variable", () =>
      Effect.gen(function*() {
        const config = yield* loadFrom({
          OTEL_SERVICE_NAME: "from-env",
          OTEL_TRACES_SAMPLER: "always_off",
          OTEL_PROPAGATORS: "b3",
          OTEL_BSP_MAX_QUEUE_SIZE: "100",
          OTEL_BSP_SCHEDULE_DELAY: "200",
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://env:4318/v1/traces",
          OTEL_EXPORTER_OTLP_TRACES_HEADERS: "a=1",
          OTEL_EXPORTER_OTLP_TIMEOUT: "2000",
          OTEL_EXPORTER_PROMETHEUS_PORT: "9100"
        }, {
          serviceName: "orders",
          sampler: "traceidratio",
          samplerRatio: 0.1,
          propagators: [],
          batchSpanProcessor: { maxQueueSize: 50_000 },
          otlpTraces: { url: "http://override:4318/v1/traces", headers: { b: "2" } },
          prometheusPort: 0
        })
        expect(config.issues).toEqual([])
        expect(config.serviceName).toBe("orders")
        expect(config.sampler).toBe("traceidratio")
        expect(config.samplerRatio).toBe(0.1)
        expect(config.propagators).toEqual([])
        // A partial override keeps the other fields from the environment.
        expect(config.batchSpanProcessor).toEqual({
          scheduleDelayMillis: 200,
          exportTimeoutMillis: 30_000,
          maxQueueSize: 50_000,
          maxExportBatchSize: 512
        })
        expect(config.otlpTraces).toEqual({
          url: "http://override:4318/v1/traces",
          headers: { b: "2" },
          protocol: "http/protobuf",
          timeoutMillis: 2000,
          compression: "none",
          insecure: false,
          certificate: undefined,
          clientKey: undefined,
          clientCertificate: undefined
        })
        expect(config.prometheusPort).toBe(0)
      }))

    it.effect("an overridden variable is not read, so it is not reported", () =>
      Effect.gen(function*() {
        const config = yield* loadFrom(
          { OTEL_TRACES_SAMPLER: "xray", OTEL_EXPORTER_PROMETHEUS_PORT: "http", OTEL_SDK_DISABLED: "yes" },
          { sampler: "always_on", prometheusPort: 9000, disabled: true }
        )
        expect(config.issues).toEqual([])
        expect(config.sampler).toBe("always_on")
        expect(config.disabled).toBe(true)
      }))

    it.effect("the ratio from the environment applies to an overridden ratio sampler", () =>
      Effect.gen(function*() {
        const config = yield* loadFrom({ OTEL_TRACES_SAMPLER_ARG: "0.25" }, { sampler: "parentbased_traceidratio" })
        expect(config.samplerRatio).toBe(0.25)
      }))

    it.effect("layer provides the loaded configuration with overrides", () =>
      Effect.gen(function*() {
        const config = yield* TelemetryConfig.TelemetryConfig.pipe(
          Effect.provide(TelemetryConfig.layer({ serviceName: "orders" })),
          withEnv({ OTEL_SERVICE_NAME: "from-env", OTEL_TRACES_EXPORTER: "console" })
        )
        expect(config.serviceName).toBe("orders")
        expect(config.tracesExporter).toBe("console")
      }))

    it.effect("layerStatic ignores the environment", () =>
      Effect.gen(function*() {
        const config = yield* TelemetryConfig.TelemetryConfig.pipe(
          Effect.provide(TelemetryConfig.layerStatic({ prometheusPort: 0 })),
          withEnv({ OTEL_SERVICE_NAME: "from-env", OTEL_SDK_DISABLED: "maybe" })
        )
        expect(config).toEqual({ ...expectedDefaults, prometheusPort: 0, issues: [] })
      }))
  })

  describe("reportIssues", () => {
    it.effect("logs exactly one warning per issue", () =>
      Effect.gen(function*() {
        const config = yield* loadFrom({
          OTEL_TRACES_SAMPLER: "traceidratio",
          OTEL_TRACES_SAMPLER_ARG: "abc",
          OTEL_PROPAGATORS: "tracecontext,xray,jaeger",
          OTEL_BSP_SCHEDULE_DELAY: "5s"
        })
        expect(config.issues).toHaveLength(4)
        const [, logs] = yield* captureLogs(TelemetryConfig.reportIssues(config))
        expect(logs).toEqual([
          {
            level: "WARN",
            message: `OTEL_TRACES_SAMPLER_ARG="abc" is invalid (not a number in [0, 1]); using 1`
          },
          {
            level: "WARN",
            message:
              `OTEL_PROPAGATORS="tracecontext,xray,jaeger" is invalid (entry "xray": not one of tracecontext, baggage, b3, b3multi; skipped); using tracecontext`
          },
          {
            level: "WARN",
            message:
              `OTEL_PROPAGATORS="tracecontext,xray,jaeger" is invalid (entry "jaeger": not one of tracecontext, baggage, b3, b3multi; skipped); using tracecontext`
          },
          {
            level: "WARN",
            message: `OTEL_BSP_SCHEDULE_DELAY="5s" is invalid (not an integer); using 5000`
          }
        ])
      }))

    it.effect("logs nothing for a clean configuration", () =>
      Effect.gen(function*() {
        const [, logs] = yield* captureLogs(
          Effect.flatMap(loadFrom({ OTEL_SERVICE_NAME: "orders" }), TelemetryConfig.reportIssues)
        )
        expect(logs).toEqual([])
      }))

    it.effect("layer reports once, however many services read the configuration", () =>
      Effect.gen(function*() {
        const env = withEnv({ OTEL_TRACES_EXPORTER: "zipkin", OTEL_EXPORTER_PROMETHEUS_PORT: "99999" })
        const readTwice = Effect.zip(TelemetryConfig.TelemetryConfig, TelemetryConfig.TelemetryConfig)
        const [, logs] = yield* captureLogs(
          readTwice.pipe(Effect.provide(Layer.fresh(TelemetryConfig.layer())), env)
        )
        expect(logs.map((log) => log.message)).toEqual([
          `OTEL_TRACES_EXPORTER="zipkin" is invalid ("zipkin" is not supported: use otlp (Zipkin and Jaeger accept OTLP)); using otlp`,
          `OTEL_EXPORTER_PROMETHEUS_PORT="99999" is invalid (greater than 65535); using 9464`
        ])
      }))
  })
})

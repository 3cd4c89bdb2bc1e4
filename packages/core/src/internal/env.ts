/**
 * The OTEL_* (and EFFECT_TELEMETRY_*) variables to a configuration: parsing, validation,
 * fallbacks and the warnings for them. A portable module (no Effect, see
 * docs/ADDING-A-SURFACE.md): config.ts reads the variables through Effect's `Config` and
 * logs the issues; everything else is here.
 *
 * @internal
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type {
  BatchLogRecordProcessorSettings,
  BatchSpanProcessorSettings,
  Compression,
  ConfigIssue,
  LogsExporterName,
  MetricsExporterName,
  OtlpExporterSettings,
  OtlpProtocol,
  Overrides,
  PropagatorName,
  Resolved,
  SamplerName,
  TemporalityPreference,
  TracesExporterName
} from "../TelemetryConfig.js"

// -----------------------------------------------------------------------------
// variables
// -----------------------------------------------------------------------------

/** Every variable read, in the order issues are reported. @internal */
export const variables = [
  "OTEL_SDK_DISABLED",
  "OTEL_RESOURCE_ATTRIBUTES",
  "OTEL_SERVICE_NAME",
  "OTEL_TRACES_SAMPLER",
  "OTEL_TRACES_SAMPLER_ARG",
  "OTEL_PROPAGATORS",
  "OTEL_TRACES_EXPORTER",
  "OTEL_METRICS_EXPORTER",
  "OTEL_LOGS_EXPORTER",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_HEADERS",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_EXPORTER_OTLP_TIMEOUT",
  "OTEL_EXPORTER_OTLP_COMPRESSION",
  "OTEL_EXPORTER_OTLP_INSECURE",
  "OTEL_EXPORTER_OTLP_CERTIFICATE",
  "OTEL_EXPORTER_OTLP_CLIENT_KEY",
  "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
  "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
  "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
  "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
  "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
  "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
  "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
  "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
  "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
  "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
  "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
  "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
  "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
  "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
  "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
  "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
  "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
  "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
  "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
  "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
  "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
  "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
  "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
  "OTEL_EXPORTER_OTLP_LOGS_INSECURE",
  "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
  "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
  "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
  "OTEL_BSP_SCHEDULE_DELAY",
  "OTEL_BSP_EXPORT_TIMEOUT",
  "OTEL_BSP_MAX_QUEUE_SIZE",
  "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
  "OTEL_BLRP_SCHEDULE_DELAY",
  "OTEL_BLRP_EXPORT_TIMEOUT",
  "OTEL_BLRP_MAX_QUEUE_SIZE",
  "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
  "OTEL_METRIC_EXPORT_INTERVAL",
  "OTEL_METRIC_EXPORT_TIMEOUT",
  "OTEL_EXPORTER_PROMETHEUS_HOST",
  "OTEL_EXPORTER_PROMETHEUS_PORT",
  "EFFECT_TELEMETRY_SHUTDOWN_TIMEOUT",
  "EFFECT_TELEMETRY_FUNCTIONS",
  "EFFECT_TELEMETRY_RUNTIME_METRICS",
  "EFFECT_TELEMETRY_NODE_METRICS",
  "EFFECT_TELEMETRY_METRIC_CARDINALITY_LIMIT"
] as const

/** @internal */
export type Variable = typeof variables[number]

/** Set variables, trimmed; blank ones are absent (the spec treats an empty value as unset). @internal */
export type Env = ReadonlyMap<Variable, string>

/** A variable's value as {@link Env} holds it: trimmed, and absent when blank. @internal */
export const present = (value: string | undefined): string | undefined => {
  const trimmed = value?.trim()
  return trimmed === undefined || trimmed.length === 0 ? undefined : trimmed
}

/** The variables {@link resolve} reads, from a plain record such as `process.env`. @internal */
export const envFrom = (record: Readonly<Record<string, string | undefined>>): Env => {
  const env = new Map<Variable, string>()
  for (const name of variables) {
    const value = present(record[name])
    if (value !== undefined) env.set(name, value)
  }
  return env
}

// -----------------------------------------------------------------------------
// defaults
// -----------------------------------------------------------------------------

/** @internal */
export const defaults = {
  serviceName: "unknown_service:node",
  sampler: "parentbased_always_on" as SamplerName,
  samplerRatio: 1,
  propagators: ["tracecontext", "baggage"] as ReadonlyArray<PropagatorName>,
  tracesExporter: "otlp" as TracesExporterName,
  metricsExporters: ["otlp"] as ReadonlyArray<MetricsExporterName>,
  logsExporter: "otlp" as LogsExporterName,
  otlpEndpoint: "http://localhost:4318",
  otlpGrpcEndpoint: "http://localhost:4317",
  otlpProtocol: "http/protobuf" as OtlpProtocol,
  otlpTimeoutMillis: 10_000,
  otlpCompression: "none" as Compression,
  temporalityPreference: "cumulative" as TemporalityPreference,
  scheduleDelayMillis: 5_000,
  exportTimeoutMillis: 30_000,
  // The spec says 2048. A burst of 10,000 spans (one request fanning out, a batch job) would
  // then drop most of them before the first export; 16384 absorbs it for ~a few MB of memory.
  maxQueueSize: 16_384,
  maxExportBatchSize: 512,
  // OTEL_BLRP_* defaults as the spec gives them: 1 s delay, 2048 queued, batches of 512, 30 s.
  logScheduleDelayMillis: 1_000,
  logExportTimeoutMillis: 30_000,
  logMaxQueueSize: 2_048,
  logMaxExportBatchSize: 512,
  metricExportIntervalMillis: 60_000,
  metricExportTimeoutMillis: 30_000,
  prometheusHost: "localhost",
  prometheusPort: 9464,
  shutdownTimeoutMillis: 30_000,
  metricCardinalityLimit: 2_000
} as const

// -----------------------------------------------------------------------------
// parsers
// -----------------------------------------------------------------------------

/**
 * What parsing one value gave: the value to use (`undefined`: use the fallback; no parser
 * yields `undefined` as a value) and why parts of it were rejected. List parsers can keep the
 * valid entries and still reject others.
 */
interface Parsed<A> {
  readonly value: A | undefined
  readonly rejected: ReadonlyArray<string>
}

type Parser<A> = (raw: string) => Parsed<A>

const ok = <A>(value: A, rejected: ReadonlyArray<string> = []): Parsed<A> => ({ value, rejected })

const fail = (reason: string): Parsed<never> => ({ value: undefined, rejected: [reason] })

/** What is left of a list after rejecting entries; if nothing is, the fallback is used. */
const kept = <A>(value: A, empty: boolean, rejected: ReadonlyArray<string>): Parsed<A> =>
  empty && rejected.length > 0 ? { value: undefined, rejected } : ok(value, rejected)

const map = <A, B>(parse: Parser<A>, f: (a: A) => B): Parser<B> => (raw) => {
  const parsed = parse(raw)
  return { value: parsed.value === undefined ? undefined : f(parsed.value), rejected: parsed.rejected }
}

/** Any non-empty string (blank values never reach a parser). */
const text: Parser<string> = (raw) => ok(raw)

/** Only `true` / `false`, case-insensitive, as the spec's boolean rule says. */
const boolean: Parser<boolean> = (raw) => {
  const value = raw.toLowerCase()
  return value === "true" ? ok(true) : value === "false" ? ok(false) : fail("not true or false")
}

/**
 * One of `values`, case-insensitive. `unsupported` names values that are valid elsewhere in
 * OpenTelemetry but not here, so the warning says why rather than "unknown".
 */
const oneOf = <const A extends string>(
  values: ReadonlyArray<A>,
  unsupported: Readonly<Record<string, string>> = {}
): Parser<A> =>
(raw) => {
  const value = raw.toLowerCase()
  if ((values as ReadonlyArray<string>).includes(value)) return ok(value as A)
  return fail(
    Object.hasOwn(unsupported, value)
      ? `"${value}" is not supported: ${unsupported[value]}`
      : `not one of ${values.join(", ")}`
  )
}

// Node runs a timer longer than this immediately (it overflows to 1 ms), so a larger delay or
// timeout would silently become "no wait at all".
const maxTimerMillis = 2_147_483_647

/**
 * A decimal integer in `[min, max]`. Units (`5s`), fractions, exponents and a leading `+`
 * are rejected rather than guessed at; a negative value is reported as such. With `clamp`, a value above `max` is used as `max`.
 */
const integer = (options: {
  readonly min: number
  readonly max?: number | undefined
  readonly tooLarge?: string | undefined
  readonly clamp?: boolean | undefined
}): Parser<number> =>
(raw) => {
  if (!/^-?\d+$/.test(raw)) return fail("not an integer")
  const value = Number(raw) + 0 // no -0
  if (value < options.min) return fail(options.min === 0 ? "negative" : `less than ${options.min}`)
  const max = Math.min(options.max ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
  if (value <= max) return ok(value)
  const reason = options.tooLarge ?? `greater than ${max}`
  return options.clamp === true ? ok(max, [reason]) : fail(reason)
}

/** A duration in milliseconds: an integer, `> 0` unless `min` says otherwise. */
const millis = (min = 1): Parser<number> =>
  integer({ min, max: maxTimerMillis, tooLarge: `greater than ${maxTimerMillis} ms, the longest timer Node supports` })

/** A number in `[0, 1]`, decimal or exponent notation. */
const ratio: Parser<number> = (raw) => {
  const value = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw) ? Number(raw) : Number.NaN
  return value >= 0 && value <= 1 ? ok(value) : fail("not a number in [0, 1]")
}

/** An absolute `http:` or `https:` URL, kept as written. */
const httpUrl: Parser<string> = (raw) => {
  if (!URL.canParse(raw)) return fail("not a URL")
  const { protocol } = new URL(raw)
  return protocol === "http:" || protocol === "https:" ? ok(raw) : fail(`scheme ${protocol} is not http or https`)
}

// `host:port` (a name, an IPv4 address or a bracketed IPv6 address), as gRPC endpoints may be written.
const hostPort = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+):\d{1,5}$/i

/** An OTLP/gRPC endpoint: an `http:`/`https:` URL, or `host:port` without a scheme. */
const grpcEndpoint: Parser<string> = (raw) => hostPort.test(raw) ? ok(raw) : httpUrl(raw)

/**
 * A PEM file for a TLS variable, checked when the configuration is read so a typo is reported
 * at startup rather than as failed exports: a readable file (relative paths from the working
 * directory) holding a certificate, or an unencrypted private key. Kept as the path; reasons
 * never quote the file's content.
 */
const pemFile = (kind: "certificate" | "key"): Parser<string> => (raw) => {
  let content: Buffer
  try {
    content = Fs.readFileSync(Path.resolve(process.cwd(), raw))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return fail(`cannot read the file${code === undefined ? "" : ` (${code})`}`)
  }
  try {
    if (kind === "certificate") new Crypto.X509Certificate(content)
    else Crypto.createPrivateKey(content)
  } catch {
    return fail(
      kind === "certificate" ? "no PEM certificate in the file" : "no unencrypted PEM private key in the file"
    )
  }
  return ok(raw)
}

type TlsField = "certificate" | "clientKey" | "clientCertificate"

const splitList = (raw: string): Array<string> =>
  raw.split(",").map((entry) => entry.trim()).filter((entry) => entry.length > 0)

/**
 * A comma list of `entry` values, deduplicated. Invalid entries are rejected one by one and
 * the rest kept; if none is left, the fallback is used. With `none`, `none` alone is the empty
 * list (it means "nothing", not "default").
 */
const listOf = <A>(entry: Parser<A>, options: { readonly none: boolean }): Parser<ReadonlyArray<A>> => (raw) => {
  const entries = splitList(raw)
  if (options.none && entries.length === 1 && entries[0]!.toLowerCase() === "none") return ok([])
  const values: Array<A> = []
  const rejected: Array<string> = []
  for (const item of entries) {
    if (options.none && item.toLowerCase() === "none") {
      rejected.push(`"none" combined with other values; ignored`)
      continue
    }
    const parsed = entry(item)
    rejected.push(...parsed.rejected.map((reason) => `entry "${item}": ${reason}; skipped`))
    if (parsed.value !== undefined && !values.includes(parsed.value)) values.push(parsed.value)
  }
  return kept(values, values.length === 0, rejected)
}

/**
 * For variables that name one thing but are comma lists in the spec (`OTEL_TRACES_EXPORTER`):
 * the first valid entry wins, every other entry is reported.
 */
const firstOf = <A>(entry: Parser<A>, what: string): Parser<A> => (raw) => {
  let chosen: A | undefined
  const rejected: Array<string> = []
  for (const item of splitList(raw)) {
    if (chosen !== undefined) {
      rejected.push(`only one ${what} is supported; "${item}" ignored`)
      continue
    }
    const parsed = entry(item)
    rejected.push(...parsed.rejected)
    chosen = parsed.value
  }
  return { value: chosen, rejected }
}

// RFC 9110 token; anything else makes Node's HTTP client throw at export time.
const headerName = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
// No CR, LF or other control characters: a decoded `%0A` must not inject a header.
const headerValue = /^[\t\x20-\x7e\x80-\xff]*$/

/**
 * `key1=value1,key2=value2` with percent-encoded values (the W3C baggage octet rules used by
 * `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS`). A malformed pair is rejected
 * and skipped, the rest kept. For headers, names are lower-cased (so per-signal headers
 * replace general ones whatever their case) and reasons never quote a value: they may be
 * credentials.
 */
const keyValues = (options: { readonly headers: boolean }): Parser<Readonly<Record<string, string>>> => (raw) => {
  const result: Record<string, string> = {}
  const rejected: Array<string> = []
  splitList(raw).forEach((pair, index) => {
    const at = options.headers ? `entry ${index + 1}` : `pair "${pair}"`
    const eq = pair.indexOf("=")
    if (eq < 0) return rejected.push(`${at} has no "="; skipped`)
    const key = pair.slice(0, eq).trim()
    if (key.length === 0) return rejected.push(`${at} has an empty key; skipped`)
    let value: string
    try {
      value = decodeURIComponent(pair.slice(eq + 1).trim())
    } catch {
      return rejected.push(`value of "${key}" is not valid percent-encoding; skipped`)
    }
    if (options.headers) {
      const name = key.toLowerCase()
      if (!headerName.test(name)) return rejected.push(`"${key}" is not a valid header name; skipped`)
      if (!headerValue.test(value)) return rejected.push(`value of "${key}" has control characters; skipped`)
      result[name] = value
    } else {
      result[key] = value
    }
  })
  return kept(result, Object.keys(result).length === 0, rejected)
}

const sampler = oneOf<SamplerName>(
  [
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio"
  ],
  { jaeger_remote: "no remote sampler is bundled", xray: "no X-Ray sampler is bundled" }
)

const propagators = listOf(oneOf<PropagatorName>(["tracecontext", "baggage", "b3", "b3multi"]), { none: true })

const tracesExporter = firstOf(
  oneOf<TracesExporterName>(["otlp", "console", "none"], {
    zipkin: "use otlp (Zipkin and Jaeger accept OTLP)",
    jaeger: "use otlp (Jaeger accepts OTLP)"
  }),
  "traces exporter"
)

const logsExporter = firstOf(oneOf<LogsExporterName>(["otlp", "console", "none"]), "logs exporter")

const metricsExporters = listOf(oneOf<MetricsExporterName>(["otlp", "prometheus", "console"]), { none: true })

const protocol = oneOf<OtlpProtocol>(["http/protobuf", "http/json", "grpc"])

const compression = oneOf<Compression>(["gzip", "none"])

const temporality = oneOf<TemporalityPreference>(["cumulative", "delta", "lowmemory"])

const headers = keyValues({ headers: true })

// -----------------------------------------------------------------------------
// resolution
// -----------------------------------------------------------------------------

/** How a value appears in a warning: lists comma-separated, header values masked. */
const show = (value: unknown, sensitive: boolean): string => {
  if (value === undefined) return "the default"
  if (Array.isArray(value)) return value.length === 0 ? "none" : value.join(",")
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).map(([key, v]) => `${key}=${sensitive ? "***" : v}`)
    return entries.length === 0 ? "(empty)" : entries.join(",")
  }
  return String(value)
}

/** A header list as it may be logged: names kept, values (and name-less entries) masked. */
const redact = (raw: string): string =>
  raw.split(",").map((entry) => {
    const eq = entry.indexOf("=")
    return eq < 0 ? "***" : `${entry.slice(0, eq).trim()}=***`
  }).join(",")

const isRatioSampler = (name: SamplerName): boolean => name.endsWith("traceidratio")

/** Appends the signal path to the base endpoint, whatever trailing slashes it has. */
const signalUrl = (base: string, path: string): string => {
  const url = new URL(base)
  url.pathname = `${url.pathname.replace(/\/+$/, "")}${path}`
  return url.href
}

/**
 * The whole configuration from the environment and the overrides. Pure, except that the TLS
 * file variables are checked to name readable PEM files.
 *
 * A field given in `overrides` does not read its variable at all, so a broken variable that
 * is overridden in code is not reported: every issue's fallback is what is actually used.
 * Overrides are trusted, not validated.
 *
 * @internal
 */
export const resolve = (env: Env, overrides: Overrides = {}): Resolved => {
  const issues: Array<ConfigIssue> = []

  const read = <A>(
    variable: Variable,
    parse: Parser<A>,
    fallback: A,
    override: A | undefined,
    sensitive = false
  ): A => {
    if (override !== undefined) return override
    const raw = env.get(variable)
    if (raw === undefined) return fallback
    const parsed = parse(raw)
    const used = parsed.value === undefined ? fallback : parsed.value
    for (const reason of parsed.rejected) {
      issues.push({
        variable,
        value: sensitive ? redact(raw) : raw,
        reason,
        fallback: show(used, sensitive)
      })
    }
    return used
  }

  const disabled = read("OTEL_SDK_DISABLED", boolean, false, overrides.disabled)
  const resourceAttributes = read(
    "OTEL_RESOURCE_ATTRIBUTES",
    keyValues({ headers: false }),
    {},
    overrides.resourceAttributes
  )
  const serviceName = read(
    "OTEL_SERVICE_NAME",
    text,
    resourceAttributes["service.name"] ?? defaults.serviceName,
    overrides.serviceName
  )
  const sampler_ = read("OTEL_TRACES_SAMPLER", sampler, defaults.sampler, overrides.sampler)
  // The argument means something else to other samplers (jaeger_remote takes `key=value`
  // pairs), so it is only read for the ratio ones.
  const samplerRatio = isRatioSampler(sampler_)
    ? read("OTEL_TRACES_SAMPLER_ARG", ratio, defaults.samplerRatio, overrides.samplerRatio)
    : overrides.samplerRatio ?? defaults.samplerRatio

  const propagators_ = read("OTEL_PROPAGATORS", propagators, defaults.propagators, overrides.propagators)
  const tracesExporter_ = read(
    "OTEL_TRACES_EXPORTER",
    tracesExporter,
    defaults.tracesExporter,
    overrides.tracesExporter
  )
  const metricsExporters_ = read(
    "OTEL_METRICS_EXPORTER",
    metricsExporters,
    defaults.metricsExporters,
    overrides.metricsExporters
  )

  const general = {
    endpoint: read("OTEL_EXPORTER_OTLP_ENDPOINT", grpcEndpoint, defaults.otlpEndpoint, undefined),
    headers: read("OTEL_EXPORTER_OTLP_HEADERS", headers, {}, undefined, true),
    protocol: read("OTEL_EXPORTER_OTLP_PROTOCOL", protocol, defaults.otlpProtocol, undefined),
    timeoutMillis: read("OTEL_EXPORTER_OTLP_TIMEOUT", millis(), defaults.otlpTimeoutMillis, undefined),
    compression: read("OTEL_EXPORTER_OTLP_COMPRESSION", compression, defaults.otlpCompression, undefined),
    insecure: read("OTEL_EXPORTER_OTLP_INSECURE", boolean, false, undefined),
    certificate: read<string | undefined>(
      "OTEL_EXPORTER_OTLP_CERTIFICATE",
      pemFile("certificate"),
      undefined,
      undefined
    ),
    clientKey: read<string | undefined>("OTEL_EXPORTER_OTLP_CLIENT_KEY", pemFile("key"), undefined, undefined),
    clientCertificate: read<string | undefined>(
      "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
      pemFile("certificate"),
      undefined,
      undefined
    )
  }

  // Per-signal variables fall back to the general ones; headers merge over them. A per-signal
  // endpoint is the full URL, used as written. For gRPC no path is appended (the service name
  // routes the call) and `host:port` is allowed.
  // Unset (or invalid), the endpoint's default depends on each signal's protocol: 4318 for HTTP,
  // 4317 for gRPC. `host:port` suits gRPC only: reported once if an HTTP signal would use it.
  const endpointRaw = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
  const endpointSet = endpointRaw !== undefined && grpcEndpoint(endpointRaw).value !== undefined
  let endpointReported = false
  const otlp = (
    signal: "TRACES" | "METRICS" | "LOGS",
    path: string,
    override: Partial<OtlpExporterSettings> = {}
  ): OtlpExporterSettings => {
    const protocol_ = read(`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`, protocol, general.protocol, override.protocol)
    const grpc = protocol_ === "grpc"
    let base = endpointSet ? general.endpoint : undefined
    if (base !== undefined && !grpc && hostPort.test(base)) {
      if (!endpointReported) {
        endpointReported = true
        issues.push({
          variable: "OTEL_EXPORTER_OTLP_ENDPOINT",
          value: base,
          reason: `host:port without a scheme is only valid with the grpc protocol`,
          fallback: defaults.otlpEndpoint
        })
      }
      base = undefined
    }
    const fallbackUrl = grpc ? base ?? defaults.otlpGrpcEndpoint : signalUrl(base ?? defaults.otlpEndpoint, path)
    const tls = (name: "CERTIFICATE" | "CLIENT_KEY" | "CLIENT_CERTIFICATE", field: TlsField) =>
      read<string | undefined>(
        `OTEL_EXPORTER_OTLP_${signal}_${name}`,
        pemFile(field === "clientKey" ? "key" : "certificate"),
        general[field],
        override[field]
      )
    let clientKey = tls("CLIENT_KEY", "clientKey")
    let clientCertificate = tls("CLIENT_CERTIFICATE", "clientCertificate")
    // One without the other cannot authenticate (and gRPC refuses a key without a chain).
    // Overrides are trusted as given, like every other override.
    const overridden = override.clientKey !== undefined || override.clientCertificate !== undefined
    if (!overridden && (clientKey === undefined) !== (clientCertificate === undefined)) {
      const [present, missing] = clientKey === undefined
        ? ["CLIENT_CERTIFICATE", "CLIENT_KEY"]
        : ["CLIENT_KEY", "CLIENT_CERTIFICATE"]
      issues.push({
        variable: `OTEL_EXPORTER_OTLP_${signal}_${present}`,
        value: (clientKey ?? clientCertificate)!,
        reason: `needs OTEL_EXPORTER_OTLP_[${signal}_]${missing} too`,
        fallback: "no client certificate"
      })
      clientKey = undefined
      clientCertificate = undefined
    }
    return {
      url: read(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`, grpc ? grpcEndpoint : httpUrl, fallbackUrl, override.url),
      headers: read(
        `OTEL_EXPORTER_OTLP_${signal}_HEADERS`,
        map(headers, (own) => ({ ...general.headers, ...own })),
        general.headers,
        override.headers,
        true
      ),
      protocol: protocol_,
      timeoutMillis: read(
        `OTEL_EXPORTER_OTLP_${signal}_TIMEOUT`,
        millis(),
        general.timeoutMillis,
        override.timeoutMillis
      ),
      compression: read(
        `OTEL_EXPORTER_OTLP_${signal}_COMPRESSION`,
        compression,
        general.compression,
        override.compression
      ),
      insecure: read(`OTEL_EXPORTER_OTLP_${signal}_INSECURE`, boolean, general.insecure, override.insecure),
      certificate: tls("CERTIFICATE", "certificate"),
      clientKey,
      clientCertificate
    }
  }

  const otlpTraces = otlp("TRACES", "/v1/traces", overrides.otlpTraces)
  const otlpMetrics = otlp("METRICS", "/v1/metrics", overrides.otlpMetrics)
  const logsExporter_ = read("OTEL_LOGS_EXPORTER", logsExporter, defaults.logsExporter, overrides.logsExporter)
  const otlpLogs = otlp("LOGS", "/v1/logs", overrides.otlpLogs)
  const temporalityPreference = read(
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
    temporality,
    defaults.temporalityPreference,
    overrides.temporalityPreference
  )

  const bsp = overrides.batchSpanProcessor ?? {}
  const scheduleDelayMillis = read(
    "OTEL_BSP_SCHEDULE_DELAY",
    millis(0),
    defaults.scheduleDelayMillis,
    bsp.scheduleDelayMillis
  )
  const exportTimeoutMillis = read(
    "OTEL_BSP_EXPORT_TIMEOUT",
    millis(),
    defaults.exportTimeoutMillis,
    bsp.exportTimeoutMillis
  )
  const maxQueueSize = read("OTEL_BSP_MAX_QUEUE_SIZE", integer({ min: 1 }), defaults.maxQueueSize, bsp.maxQueueSize)
  const batchSpanProcessor: BatchSpanProcessorSettings = {
    scheduleDelayMillis,
    exportTimeoutMillis,
    maxQueueSize,
    // A batch can never be larger than the queue it is taken from (the SDK would throw).
    maxExportBatchSize: Math.min(
      read(
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        integer({
          min: 1,
          max: maxQueueSize,
          tooLarge: `greater than the queue size (${maxQueueSize}); clamped`,
          clamp: true
        }),
        defaults.maxExportBatchSize,
        bsp.maxExportBatchSize
      ),
      maxQueueSize
    )
  }

  // The same rules as OTEL_BSP_*, for the batch log record processor.
  const blrp = overrides.batchLogRecordProcessor ?? {}
  const logMaxQueueSize = read(
    "OTEL_BLRP_MAX_QUEUE_SIZE",
    integer({ min: 1 }),
    defaults.logMaxQueueSize,
    blrp.maxQueueSize
  )
  const batchLogRecordProcessor: BatchLogRecordProcessorSettings = {
    scheduleDelayMillis: read(
      "OTEL_BLRP_SCHEDULE_DELAY",
      millis(0),
      defaults.logScheduleDelayMillis,
      blrp.scheduleDelayMillis
    ),
    exportTimeoutMillis: read(
      "OTEL_BLRP_EXPORT_TIMEOUT",
      millis(),
      defaults.logExportTimeoutMillis,
      blrp.exportTimeoutMillis
    ),
    maxQueueSize: logMaxQueueSize,
    maxExportBatchSize: Math.min(
      read(
        "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
        integer({
          min: 1,
          max: logMaxQueueSize,
          tooLarge: `greater than the queue size (${logMaxQueueSize}); clamped`,
          clamp: true
        }),
        defaults.logMaxExportBatchSize,
        blrp.maxExportBatchSize
      ),
      logMaxQueueSize
    )
  }

  return {
    disabled,
    serviceName,
    serviceVersion: overrides.serviceVersion ?? resourceAttributes["service.version"],
    resourceAttributes,
    sampler: sampler_,
    samplerRatio,
    propagators: propagators_,
    tracesExporter: tracesExporter_,
    metricsExporters: metricsExporters_,
    otlpTraces,
    otlpMetrics,
    temporalityPreference,
    batchSpanProcessor,
    logsExporter: logsExporter_,
    otlpLogs,
    batchLogRecordProcessor,
    metricExportIntervalMillis: read(
      "OTEL_METRIC_EXPORT_INTERVAL",
      millis(),
      defaults.metricExportIntervalMillis,
      overrides.metricExportIntervalMillis
    ),
    metricExportTimeoutMillis: read(
      "OTEL_METRIC_EXPORT_TIMEOUT",
      millis(),
      defaults.metricExportTimeoutMillis,
      overrides.metricExportTimeoutMillis
    ),
    prometheusHost: read("OTEL_EXPORTER_PROMETHEUS_HOST", text, defaults.prometheusHost, overrides.prometheusHost),
    // 0 asks the OS for an ephemeral port (tests, sidecars that discover it).
    prometheusPort: read(
      "OTEL_EXPORTER_PROMETHEUS_PORT",
      integer({ min: 0, max: 65_535 }),
      defaults.prometheusPort,
      overrides.prometheusPort
    ),
    shutdownTimeoutMillis: read(
      "EFFECT_TELEMETRY_SHUTDOWN_TIMEOUT",
      millis(),
      defaults.shutdownTimeoutMillis,
      overrides.shutdownTimeoutMillis
    ),
    functionTelemetry: read("EFFECT_TELEMETRY_FUNCTIONS", boolean, true, overrides.functionTelemetry),
    effectRuntimeMetrics: read("EFFECT_TELEMETRY_RUNTIME_METRICS", boolean, true, overrides.effectRuntimeMetrics),
    nodeMetrics: read("EFFECT_TELEMETRY_NODE_METRICS", boolean, true, overrides.nodeMetrics),
    metricCardinalityLimit: read(
      "EFFECT_TELEMETRY_METRIC_CARDINALITY_LIMIT",
      integer({ min: 1 }),
      defaults.metricCardinalityLimit,
      overrides.metricCardinalityLimit
    ),
    issues
  }
}

/** The warning for one issue. @internal */
export const formatIssue = (issue: ConfigIssue): string =>
  `${issue.variable}=${JSON.stringify(issue.value)} is invalid (${issue.reason}); using ${issue.fallback}`

/** @internal */
export const fromOverrides = (overrides?: Overrides): Resolved => resolve(new Map(), overrides)

// -----------------------------------------------------------------------------
// the trace view's switch
// -----------------------------------------------------------------------------

/**
 * `EFFECT_TELEMETRY_TRACEVIEW` with the same rules as the others (boolean, reported and
 * defaulted when invalid). It is resolved on its own, not in {@link resolve}: the viewer's
 * layer is built before (and without) the Telemetry layer's configuration, and reporting it
 * there too would warn twice. The default is on unless `NODE_ENV` is `production`. Pure.
 *
 * @internal
 */
export const resolveTraceView = (
  raw: string | undefined,
  nodeEnv: string | undefined
): { readonly enabled: boolean; readonly issues: ReadonlyArray<ConfigIssue> } => {
  const fallback = nodeEnv !== "production"
  if (raw === undefined) return { enabled: fallback, issues: [] }
  const parsed = boolean(raw)
  return {
    enabled: parsed.value ?? fallback,
    issues: parsed.rejected.map((reason) => ({
      variable: "EFFECT_TELEMETRY_TRACEVIEW",
      value: raw,
      reason,
      fallback: `${fallback} (NODE_ENV ${fallback ? "is not" : "is"} production)`
    }))
  }
}

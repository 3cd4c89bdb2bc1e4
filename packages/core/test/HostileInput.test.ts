import { Instrument, PrometheusMetrics, Propagation, Telemetry } from "@effect-telemetry/core"
import * as ConfigInternal from "@effect-telemetry/core/internal/config"
import { TestServices, TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as fc from "fast-check"
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"

// --- propagation ---------------------------------------------------------------------------

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length })

/** The W3C Trace Context level 1 rule, written from the specification, not from the SDK. */
const w3cValid = (header: string): { traceId: string; parentId: string; flags: number } | undefined => {
  const match = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/.exec(header)
  if (match === null) return undefined
  const [, version, traceId, parentId, flags, rest] = match
  if (version === "ff") return undefined
  if (version === "00" && rest !== undefined) return undefined
  if (/^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return undefined
  return { traceId: traceId!, parentId: parentId!, flags: parseInt(flags!, 16) }
}

const validTraceparent = fc.record({
  traceId: hex(32).filter((id) => !/^0+$/.test(id)),
  parentId: hex(16).filter((id) => !/^0+$/.test(id)),
  flags: hex(2)
})

/** Near misses of a valid header: the mutations real proxies and broken clients produce. */
const mutated = fc.tuple(validTraceparent, fc.nat(9), fc.string({ maxLength: 8 })).map(
  ([{ flags, parentId, traceId }, how, noise]) => {
    switch (how) {
      case 0:
        return `00-${traceId.toUpperCase()}-${parentId}-${flags}`
      case 1:
        return `ff-${traceId}-${parentId}-${flags}`
      case 2:
        return `00-${traceId.slice(1)}-${parentId}-${flags}`
      case 3:
        return `00-${traceId}-${parentId}0-${flags}`
      case 4:
        return `00-${"0".repeat(32)}-${parentId}-${flags}`
      case 5:
        return `00-${traceId}-${"0".repeat(16)}-${flags}`
      case 6:
        return `00-${traceId}-${parentId}-${flags}-${noise}`
      case 7:
        return `00-${traceId.slice(0, 10)}${noise}${traceId.slice(10 + noise.length)}-${parentId}-${flags}`
      case 8:
        return `00_${traceId}_${parentId}_${flags}`
      default:
        // Surrounding whitespace is HTTP's optional whitespace, stripped before any parser.
        return `${noise.trim() === "" ? "x" : noise}00-${traceId}-${parentId}-${flags}`
    }
  }
)

const anyHeader = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 80 }),
  mutated,
  validTraceparent.map(({ flags, parentId, traceId }) => `00-${traceId}-${parentId}-${flags}`),
  fc.tuple(fc.constantFrom("01", "0a", "cc", "fe"), validTraceparent, fc.string({ maxLength: 8 })).map(
    ([version, { flags, parentId, traceId }, rest]) => `${version}-${traceId}-${parentId}-${flags}-${rest}`
  )
)

/** Header values as a Node server or a message broker may hand them over. */
const carrierValue = fc.oneof(
  anyHeader,
  fc.array(anyHeader, { minLength: 0, maxLength: 3 }),
  fc.constant(undefined)
)

const garbage = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })), { maxLength: 40 }).map((pairs) =>
    pairs.map(([k, v]) => `${k}=${v}`).join(",")
  ),
  fc.nat(64 * 1024).map((n) => "a=b,".repeat(n / 4)),
  fc.nat(64 * 1024).map((n) => "%".repeat(n))
)

// Propagation reads the global propagator, exactly as the production layer installs it.
const withPropagators = Layer.scopedDiscard(
  Effect.acquireRelease(
    Effect.sync(() => Propagation.install(Propagation.make(["tracecontext", "baggage"]))),
    () => Effect.void
  )
)

describe("Propagation.extract under hostile input", () => {
  it.effect("never throws, and continues a trace exactly when the W3C rule says the traceparent is valid", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(anyHeader, (header) => {
          const parent = Propagation.extract({ traceparent: header })
          const expected = w3cValid(header)
          if (expected === undefined) return Option.isNone(parent)
          return Option.isSome(parent) && parent.value.traceId === expected.traceId &&
            parent.value.spanId === expected.parentId && parent.value.sampled === ((expected.flags & 1) === 1)
        }),
        { numRuns: 2_000 }
      )
    ).pipe(Effect.provide(withPropagators)))

  it.effect("a valid traceparent round-trips through extract and inject (unknown flag bits cleared)", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(validTraceparent, fc.boolean(), ({ flags, parentId, traceId }, withState) => {
          const carrier = {
            traceparent: `00-${traceId}-${parentId}-${flags}`,
            ...(withState ? { tracestate: "v=1" } : {})
          }
          const parent = Propagation.extract(carrier)
          if (Option.isNone(parent)) return false
          const sampled = (parseInt(flags, 16) & 1) === 1 ? "01" : "00"
          const out = Propagation.inject(parent.value)
          return out.traceparent === `00-${traceId}-${parentId}-${sampled}` &&
            out.tracestate === (withState ? "v=1" : undefined)
        }),
        { numRuns: 1_000 }
      )
    ).pipe(Effect.provide(withPropagators)))

  it.effect("any carrier (arrays for repeated headers, garbage tracestate and baggage, huge values) never throws", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(carrierValue, garbage, garbage, (traceparent, tracestate, baggage) => {
          const parent = Propagation.extract({ traceparent, tracestate, baggage })
          // Repeated headers are one comma-joined field (RFC 9110), the value a Node server sees:
          // two version-00 traceparents never make a valid one.
          const field = Array.isArray(traceparent) ? traceparent.join(",") : traceparent
          return Option.isNone(parent) || (field !== undefined && w3cValid(field) !== undefined)
        }),
        { numRuns: 500 }
      )
    ).pipe(Effect.provide(withPropagators)))

  it.effect("two traceparent headers start a new trace, even when the first is valid (W3C test suite)", () =>
    Effect.sync(() => {
      const a = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
      const b = "00-11111111111111111111111111111111-2222222222222222-01"
      expect(Option.isNone(Propagation.extract({ traceparent: [a, b] }))).toBe(true)
      expect(Option.isNone(Propagation.extract({ traceparent: [a, a] }))).toBe(true)
      // One value in an array is one header.
      expect(Option.map(Propagation.extract({ traceparent: [a] }), (p) => p.traceId)).toEqual(
        Option.some("4bf92f3577b34da6a3ce929d0e0e4736")
      )
    }).pipe(Effect.provide(withPropagators)))

  it.effect("repeated tracestate headers are combined, as the W3C rule for list headers says", () =>
    Effect.sync(() => {
      const parent = Propagation.extract({
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        tracestate: ["a=1", "b=2"]
      })
      expect(Option.isSome(parent)).toBe(true)
      expect(Propagation.inject(Option.getOrThrow(parent)).tracestate).toBe("a=1,b=2")
    }).pipe(Effect.provide(withPropagators)))

  it.effect("an 8 KiB traceparent, tracestate and baggage are ignored, not parsed into a parent", () =>
    Effect.sync(() => {
      const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
      expect(Option.isNone(Propagation.extract({ traceparent: valid + "0".repeat(8192) }))).toBe(true)
      const parent = Propagation.extract({
        traceparent: valid,
        tracestate: "k=" + "v".repeat(8192),
        baggage: "k=" + "v".repeat(8192)
      })
      // The parent survives a tracestate the SDK refuses; the oversized state itself is dropped.
      expect(Option.map(parent, (p) => p.traceId)).toEqual(Option.some("4bf92f3577b34da6a3ce929d0e0e4736"))
      expect(Propagation.inject(Option.getOrThrow(parent)).tracestate ?? "").not.toContain("v".repeat(8192))
    }).pipe(Effect.provide(withPropagators)))
})

// --- Prometheus exposition -------------------------------------------------------------------

const hostileLabels = Instrument.counter({
  name: "test.hostile.labels",
  unit: "{value}",
  description: "Series whose label values need escaping in the exposition."
})

/** Label values as written, and what a Prometheus server must store for each. */
const hostileValues: ReadonlyArray<readonly [written: string, stored: string]> = [
  [`say "hi"`, `say "hi"`],
  ["C:\\temp\\", "C:\\temp\\"],
  ["line one\nline two", "line one\nline two"],
  ["\\n is not a newline", "\\n is not a newline"],
  ["quote at the end\"", "quote at the end\""],
  ["}, injected=\"1\"", "}, injected=\"1\""],
  ["tab\tand carriage\rreturn", "tab\tand carriage\rreturn"],
  ["utf-8 ✓ 😀 ü", "utf-8 ✓ 😀 ü"],
  // A lone surrogate (what a non-UTF-8 byte sequence becomes once decoded lossily, or a string
  // cut mid-pair) cannot be encoded as UTF-8: the guarantee is U+FFFD in its place, never an
  // invalid exposition.
  ["lone \uD800 surrogate", "lone \uFFFD surrogate"],
  [Buffer.from([0x62, 0xff, 0xfe, 0x61]).toString("utf8"), "b\uFFFD\uFFFDa"]
]

const TOKEN = "s3cret-scrape-token"

const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus"
const prometheusMissing = !existsSync(PROMETHEUS_BIN)
if (prometheusMissing && process.env.CI === "true") {
  throw new Error(`Prometheus binary not found at ${PROMETHEUS_BIN} (set PROMETHEUS_BIN); required in CI`)
}

const fetchJson = (url: string) => Effect.promise(() => fetch(url).then((r) => r.json() as Promise<any>))

/** A real Prometheus scraping `target` every second with the bearer token, for the scope's life. */
const startPrometheus = (target: string) =>
  Effect.gen(function*() {
    const port = yield* Effect.promise(TestServices.freePort)
    const dir = mkdtempSync(Path.join(tmpdir(), "prometheus-hostile-"))
    writeFileSync(
      Path.join(dir, "prometheus.yml"),
      [
        "global:",
        "  scrape_interval: 1s",
        "scrape_configs:",
        "  - job_name: hostile",
        "    scrape_interval: 1s",
        "    authorization:",
        `      credentials: ${TOKEN}`,
        "    static_configs:",
        `      - targets: ["${target}"]`
      ].join("\n")
    )
    const child = spawn(PROMETHEUS_BIN, [
      `--config.file=${Path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${Path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`
    ], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr = (stderr + String(chunk)).slice(-4000)))
    yield* Effect.addFinalizer(() =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve()
          child.once("exit", () => resolve())
          child.kill("SIGTERM")
        })
      ).pipe(Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
    )
    const url = `http://127.0.0.1:${port}`
    const ready = Effect.tryPromise(() => fetch(`${url}/-/ready`)).pipe(
      Effect.filterOrFail((response) => response.ok),
      Effect.retry({ times: 150, schedule: Schedule.spaced("100 millis") }),
      Effect.mapError(() => new Error(`Prometheus did not become ready; stderr:\n${stderr}`))
    )
    yield* Effect.orDie(ready)
    return url
  })

describe("Prometheus exposition of hostile label values", () => {
  it.scopedLive.skipIf(prometheusMissing)(
    "quotes, backslashes, newlines and non-UTF-8 survive a real Prometheus scrape (behind a bearer token)",
    () =>
      Effect.gen(function*() {
        for (const [written] of hostileValues) hostileLabels.unsafeAdd(1, { value: written })
        const server = yield* Layer.build(
          PrometheusMetrics.layerServer({ host: "127.0.0.1", port: 0, bearerToken: TOKEN })
        )
        const address = Context.get(server, PrometheusMetrics.PrometheusServer).address
        // The bind address is honoured: loopback only.
        expect(address.host).toBe("127.0.0.1")
        const prometheus = yield* startPrometheus(`127.0.0.1:${address.port}`)
        const query = `${prometheus}/api/v1/series?match[]=${encodeURIComponent("test_hostile_labels_total")}`
        const series = yield* fetchJson(query).pipe(
          Effect.map((body) => body.data as Array<Record<string, string>>),
          Effect.filterOrFail((data) => data.length >= hostileValues.length),
          Effect.retry({ times: 300, schedule: Schedule.spaced("100 millis") }),
          Effect.catchAll(() =>
            Effect.flatMap(fetchJson(`${prometheus}/api/v1/targets`), (targets) =>
              Effect.dieMessage(`series never appeared; targets: ${JSON.stringify(targets.data?.activeTargets)}`))
          )
        )
        expect(
          series.map((s) =>
            s.value
          ).sort()
        ).toEqual(hostileValues.map(([, stored]) => stored).sort())
        // What went over the wire: strict UTF-8, one line per series (no raw newline in a value).
        const bytes = yield* Effect.promise(() =>
          fetch(`http://127.0.0.1:${address.port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
            .then((r) => r.arrayBuffer())
        )
        const body = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
        expect(body.split("\n").filter((line) => line.startsWith("test_hostile_labels_total{")).length)
          .toBe(hostileValues.length)
      }).pipe(Effect.provide(TestTelemetry.layer())),
    60_000
  )

  it.scopedLive("/metrics with a bearer token answers 401 without it or with a wrong one, 200 with it", () =>
    Effect.gen(function*() {
      const server = yield* Layer.build(
        PrometheusMetrics.layerServer({ host: "127.0.0.1", port: 0, bearerToken: TOKEN })
      )
      const address = Context.get(server, PrometheusMetrics.PrometheusServer).address
      const url = `http://127.0.0.1:${address.port}/metrics`
      const status = (headers: Record<string, string>) =>
        Effect.promise(() =>
          fetch(url, { headers }).then(async (r) => ({
            status: r.status,
            body: await r.text(),
            auth: r.headers.get("www-authenticate")
          }))
        )
      const none = yield* status({})
      expect(none.status).toBe(401)
      expect(none.auth).toBe("Bearer")
      expect(none.body).not.toContain("target_info")
      expect((yield* status({ authorization: "Bearer wrong" })).status).toBe(401)
      expect((yield* status({ authorization: TOKEN })).status).toBe(401)
      expect((yield* status({ authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}` })).status).toBe(
        401
      )
      const ok = yield* status({ authorization: `Bearer ${TOKEN}` })
      expect(ok.status).toBe(200)
      expect(ok.body).toContain("target_info")
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("a /metrics port already in use fails with the port and OTEL_EXPORTER_PROMETHEUS_PORT named", () =>
    Effect.gen(function*() {
      const first = yield* Layer.build(PrometheusMetrics.layerServer({ host: "127.0.0.1", port: 0 }))
      const { port } = Context.get(first, PrometheusMetrics.PrometheusServer).address
      const error = yield* Effect.flip(Layer.build(PrometheusMetrics.layerServer({ host: "127.0.0.1", port })))
      expect(error._tag).toBe("PrometheusServerError")
      expect(error.message).toContain(`127.0.0.1:${port}`)
      expect(error.message).toContain("already in use")
      expect(error.message).toContain("OTEL_EXPORTER_PROMETHEUS_PORT")
      // The first server still answers.
      const status = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.status))
      expect(status).toBe(200)
    }).pipe(Effect.provide(TestTelemetry.layer())))
})

// --- invalid OTEL_* values -----------------------------------------------------------------

/** Warnings logged while `effect` runs, as text. */
const captureWarnings = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") {
        warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
      }
    })
    return Effect.map(
      Effect.provide(effect, Logger.replace(Logger.defaultLogger, logger)),
      (result) => [result, warnings] as const
    )
  })

// Any non-empty text is a valid service name or host; the sampler argument is only read for
// ratio samplers, so it is checked with one below.
const alwaysValid = new Set<string>(["OTEL_SERVICE_NAME", "OTEL_EXPORTER_PROMETHEUS_HOST", "OTEL_TRACES_SAMPLER_ARG"])

describe("invalid OTEL_* values", () => {
  it.live(
    "Telemetry.layer builds and serves with every variable set to garbage: one warning per variable",
    () =>
      Effect.gen(function*() {
        const env = new Map<string, string>(ConfigInternal.variables.map((name) => [name, "not valid!"]))
        const [ended, warnings] = yield* captureWarnings(
          Effect.scoped(Effect.gen(function*() {
            const context = yield* Layer.build(Telemetry.layer())
            const delivery = Context.get(context, Telemetry.Telemetry).spans
            yield* Effect.void.pipe(Effect.withSpan("still.serving"), Effect.provide(context))
            return (yield* delivery.stats).ended
          })).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(env)))
        )
        // Every fallback is the default: parentbased_always_on samples the span.
        expect(ended).toBe(1)
        for (const name of ConfigInternal.variables) {
          const own = warnings.filter((w) => w.startsWith(`${name}=`))
          expect({ name, count: own.length }).toEqual({ name, count: alwaysValid.has(name) ? 0 : 1 })
        }
      }),
    60_000
  )

  it.live("a garbage sampler argument for a ratio sampler is reported and 1 used", () =>
    Effect.gen(function*() {
      const env = new Map([
        ["OTEL_TRACES_SAMPLER", "traceidratio"],
        ["OTEL_TRACES_SAMPLER_ARG", "half"],
        ["OTEL_TRACES_EXPORTER", "none"],
        ["OTEL_METRICS_EXPORTER", "none"]
      ])
      const [ended, warnings] = yield* captureWarnings(
        Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.build(Telemetry.layer())
          yield* Effect.forEach(
            Array.from({ length: 20 }),
            () => Effect.void.pipe(Effect.withSpan("sampled"), Effect.provide(context))
          )
          return Context.get(context, Telemetry.Telemetry).spans.stats
        })).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(env)))
      )
      expect(warnings).toEqual([`OTEL_TRACES_SAMPLER_ARG="half" is invalid (not a number in [0, 1]); using 1`])
      // Without an exporter nothing is counted; the sampler ran at ratio 1 without failing.
      expect((yield* ended).ended).toBe(0)
    }))
})

/**
 * The flush guarantee of `Tracing.layer`: closing the layer delivers every span of a burst to
 * a real OTLP/HTTP receiver, or counts it.
 */
import { TelemetryConfig, TelemetryResource, Tracing } from "@effect-telemetry/core"
import { OtlpReceiver } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFile } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")

const tracing = (overrides: TelemetryConfig.Overrides) =>
  Tracing.layer().pipe(
    Layer.provideMerge(TelemetryResource.layer()),
    Layer.provideMerge(TelemetryConfig.layer({ serviceName: "flush", tracesExporter: "otlp", ...overrides }))
  )

/** Ends `count` spans in one burst, closes the layer, and returns the delivery counts after. */
const burst = (count: number, overrides: TelemetryConfig.Overrides) =>
  Effect.gen(function*() {
    const delivery = yield* Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(tracing(overrides))
      yield* Effect.void.pipe(
        Effect.withSpan("burst.span"),
        Effect.replicateEffect(count, { discard: true }),
        Effect.provide(context)
      )
      return Context.get(context, Tracing.SpanDelivery)
    }))
    return yield* delivery.stats
  })

describe("Tracing.layer flush on close", () => {
  for (const count of [1_000, 10_000]) {
    it.scopedLive(
      `a burst of ${count.toLocaleString("en")} spans with the default configuration all arrive`,
      () =>
        Effect.gen(function*() {
          const receiver = yield* OtlpReceiver.make()
          const stats = yield* burst(count, { otlpTraces: { url: receiver.endpoints.traces } })
          const received = receiver.spans()
          expect(received).toHaveLength(count)
          expect(new Set(received.map((s) => s.spanId)).size).toBe(count)
          expect(stats).toMatchObject({ ended: count, exported: count, dropped: 0, failed: 0 })
        }),
      60_000
    )
  }

  it.scopedLive("a burst of 100,000 spans: received + dropped = 100,000 exactly", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ retain: false })
      const stats = yield* burst(100_000, {
        otlpTraces: { url: receiver.endpoints.traces },
        // The default 30 s bound is for production; a slow CI machine gets more room.
        shutdownTimeoutMillis: 80_000
      })
      expect(stats.ended).toBe(100_000)
      expect(receiver.spanCount() + stats.dropped).toBe(100_000)
      expect(stats.exported).toBe(receiver.spanCount())
      expect(stats.failed).toBe(0)
    }), 120_000)

  /** Runs `npm run example:burst`'s program for `spans` against `receiver`; its last stdout line, parsed. */
  const runBurstExample = (spans: number, receiverUrl: string) =>
    Effect.async<Record<string, number>, Error>((resume) => {
      const child = execFile(
        "npx",
        ["tsx", "packages/core/examples/burst.ts", String(spans)],
        {
          cwd: root,
          env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl, OTEL_METRICS_EXPORTER: "none" },
          timeout: 90_000
        },
        (error, stdout, stderr) =>
          resume(
            error
              ? Effect.fail(new Error(`burst example failed: ${error.message}\n${stderr}`))
              : Effect.succeed(JSON.parse(stdout.trim().split("\n").at(-1)!))
          )
      )
      return Effect.sync(() => child.kill())
    })

  it.scopedLive("the burst example delivers 10,000 spans and says so on its last line", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ retain: false })
      const last = yield* runBurstExample(10_000, receiver.url)
      expect(last).toMatchObject({ created: 10_000, exported: 10_000, dropped: 0, failed: 0 })
      expect(receiver.spanCount()).toBe(10_000)
    }), 120_000)

  it.scopedLive(
    "the burst example at 100,000 spans: what arrives plus what it reports dropped is 100,000",
    () =>
      Effect.gen(function*() {
        const receiver = yield* OtlpReceiver.make({ retain: false })
        const last = yield* runBurstExample(100_000, receiver.url)
        expect(last.created).toBe(100_000)
        expect(receiver.spanCount() + last.dropped!).toBe(100_000)
        expect(last).toMatchObject({ exported: receiver.spanCount(), failed: 0 })
      }),
    120_000
  )
})

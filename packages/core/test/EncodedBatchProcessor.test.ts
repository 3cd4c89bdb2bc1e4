/**
 * The batch processor of an OTLP/protobuf export encodes each span as it ends and queues its
 * bytes: batches are cut as the SDK's batch processor cuts them (full batches at once, the rest
 * after the delay or at a flush), spans of several scopes share a request, and a span that
 * cannot be encoded is counted as failed while the others arrive. Against a real OTLP/HTTP
 * receiver on a loopback port.
 */
import { TelemetryConfig, Tracing } from "@effect-telemetry/core"
import { OtlpReceiver } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import { resourceFromAttributes } from "@opentelemetry/resources"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"

/** A provider exporting to `receiver` with our pipeline, its tracer, and its shutdown at scope end. */
const providerFor = (receiver: OtlpReceiver.OtlpReceiver, overrides: TelemetryConfig.Overrides = {}) =>
  Effect.gen(function*() {
    const config = yield* TelemetryConfig.load({
      serviceName: "encoded",
      tracesExporter: "otlp",
      ...overrides,
      otlpTraces: { url: receiver.endpoints.traces, ...overrides.otlpTraces }
    })
    const resource = resourceFromAttributes({ "service.name": "encoded" })
    const provider = yield* Effect.acquireRelease(
      Effect.sync(() => Tracing.makeProvider({ config, resource })),
      (provider) => Tracing.shutdown(provider, 5_000)
    )
    return { provider, tracer: Tracing.makeTracer(provider.provider, resource) }
  })

const spans = (count: number, tracer: ReturnType<typeof Tracing.makeTracer>, attributes = {}) =>
  Effect.void.pipe(
    Effect.withSpan("encoded.span", { attributes }),
    Effect.replicateEffect(count, { discard: true }),
    Effect.withTracer(tracer)
  )

/** Polls (real time) until the receiver holds `count` spans. */
const received = (receiver: OtlpReceiver.OtlpReceiver, count: number): Effect.Effect<void, never, Scope.Scope> =>
  Effect.sync(() => receiver.spanCount()).pipe(
    Effect.filterOrFail((n) => n >= count),
    Effect.retry({ times: 200, schedule: Schedule.spaced("25 millis") }),
    Effect.orDie,
    Effect.asVoid
  )

describe("EncodedBatchSpanProcessor", () => {
  it.scopedLive("full batches leave at once, the rest waits for the delay or a flush", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const { provider, tracer } = yield* providerFor(receiver, {
        batchSpanProcessor: { maxExportBatchSize: 10, scheduleDelayMillis: 600_000 }
      })
      yield* spans(25, tracer)
      yield* received(receiver, 20)
      // Two full batches, one request each; the five left wait (the delay is ten minutes).
      yield* Effect.sleep("200 millis")
      expect(receiver.spanCount()).toBe(20)
      expect(receiver.requestCount({ signal: "traces" })).toBe(2)
      yield* Effect.promise(() => provider.provider.forceFlush())
      expect(receiver.spanCount()).toBe(25)
      expect(receiver.requestCount({ signal: "traces" })).toBe(3)
      expect(new Set(receiver.spans().map((s) => s.spanId)).size).toBe(25)
      expect(provider.accounting.stats()).toMatchObject({ ended: 25, handed: 25, exported: 25, failed: 0 })
    }))

  it.scopedLive("a batch that is not full leaves after the delay", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const { tracer } = yield* providerFor(receiver, { batchSpanProcessor: { scheduleDelayMillis: 50 } })
      yield* spans(3, tracer)
      yield* received(receiver, 3)
      expect(receiver.requestCount({ signal: "traces" })).toBe(1)
    }))

  it.scopedLive("Effect spans and OTel API spans of one provider: one request, each span under its scope", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const { provider, tracer } = yield* providerFor(receiver)
      const library = provider.provider.getTracer("some.library", "2.0.0")
      yield* Effect.gen(function*() {
        for (let i = 0; i < 3; i++) {
          yield* Effect.void.pipe(Effect.withSpan(`effect.${i}`, { attributes: { i } }), Effect.withTracer(tracer))
          library.startSpan(`library.${i}`, { attributes: { i } }).end()
        }
      })
      yield* Effect.promise(() => provider.provider.forceFlush())
      expect(receiver.requestCount({ signal: "traces" })).toBe(1)
      const byName = new Map(receiver.spans().map((s) => [s.name, s]))
      for (let i = 0; i < 3; i++) {
        expect(byName.get(`effect.${i}`)).toMatchObject({ scope: { name: "encoded" }, attributes: { i } })
        expect(byName.get(`library.${i}`)).toMatchObject({ scope: { name: "some.library", version: "2.0.0" } })
        expect(byName.get(`effect.${i}`)?.resource).toMatchObject({ "service.name": "encoded" })
      }
    }))

  it.scopedLive("a span that cannot be encoded is counted as failed, saying why; the others arrive", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const { provider, tracer } = yield* providerFor(receiver)
      // Neither JSON nor a string: an attribute value no encoder can write.
      const unwritable = {
        toJSON() {
          throw new Error("no JSON for this value")
        },
        toString() {
          throw new Error("no string for this value")
        }
      }
      yield* spans(4, tracer)
      yield* spans(1, tracer, { unwritable })
      yield* spans(4, tracer)
      yield* Effect.promise(() => provider.provider.forceFlush())
      expect(receiver.spanCount()).toBe(8)
      expect(provider.accounting.stats()).toMatchObject({
        ended: 9,
        handed: 9,
        exported: 8,
        failed: 1,
        lastError: "no string for this value"
      })
    }))
})

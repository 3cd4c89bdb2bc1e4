/**
 * Effect spans are native (recorded in plain fields, handed to the SDK's processors as
 * ReadableSpans at end). What a collector receives must be what the SDK-span tracer sent
 * before, field for field, decoded with the official OTLP definitions; a sampled-out span
 * records nothing yet carries its ids for propagation.
 */
import { Propagation, TelemetryConfig, Tracing } from "@effect-telemetry/core"
import { OtlpReceiver, TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import type * as OtelApi from "@opentelemetry/api"
import { resourceFromAttributes } from "@opentelemetry/resources"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"

class PaymentDeclined extends Data.TaggedError("PaymentDeclined")<{ readonly message: string }> {}

const remoteTrace = (traceId: string) =>
  Option.getOrThrow(Propagation.extract({
    traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    tracestate: "vendor=value,other=1"
  }))

/** One trace of every kind of span content: kinds, parents, statuses, events, links, attribute types. */
const program = (traceId: string) =>
  Effect.gen(function*() {
    const remote = remoteTrace(traceId)
    yield* Effect.annotateCurrentSpan({
      text: "s",
      count: 1,
      ratio: 0.5,
      flag: true,
      big: 2n,
      names: ["a", "b"],
      numbers: [1, 2],
      object: { nested: 1 }
    })
    const span = yield* Effect.currentSpan
    span.event("cache.miss", 1_700_000_000_000_000_000n, { key: "k", hits: 0 })
    yield* Effect.void.pipe(Effect.withSpan("child.ok", { kind: "client", attributes: { k: "v" } }))
    yield* Effect.fail(new PaymentDeclined({ message: "card declined" })).pipe(
      Effect.withSpan("child.fail"),
      Effect.ignore
    )
    yield* Effect.die(new RangeError("out of range")).pipe(Effect.withSpan("child.die"), Effect.exit)
    yield* Effect.interrupt.pipe(Effect.withSpan("child.interrupted"), Effect.exit)
    yield* Tracing.setStatus({ code: "error", message: "explicit" }).pipe(Effect.withSpan("child.explicit"))
    yield* Tracing.setStatus({ code: "ok" }).pipe(Effect.withSpan("child.explicit-ok"))
    const link: Tracer.SpanLink = { _tag: "SpanLink", span: remote, attributes: { "link.reason": "batch" } }
    yield* Effect.void.pipe(Effect.withSpan("child.linked", { kind: "consumer", links: [link] }))
    yield* Effect.void.pipe(Effect.withSpan("root.new", { root: true, kind: "producer" }))
  }).pipe(Effect.withSpan("server.request", { kind: "server", parent: remoteTrace(traceId) }))

/** A received span without its ids and times, parents by name: what must not change. */
const shape = (span: OtlpReceiver.ReceivedSpan, byId: Map<string, OtlpReceiver.ReceivedSpan>) => ({
  name: span.name,
  kind: span.kind,
  parent: span.parentSpanId === undefined
    ? undefined
    : byId.get(span.parentSpanId)?.name ?? `remote ${span.parentSpanId}`,
  sameTrace: byId.has(span.parentSpanId ?? "") || span.parentSpanId === "00f067aa0ba902b7",
  traceState: span.traceState,
  status: span.status,
  attributes: span.attributes,
  events: span.events.map((e) => ({
    name: e.name,
    // The stack trace's text is the same code path, but its exact frames are not ours to pin.
    attributes: Object.fromEntries(Object.entries(e.attributes).filter(([k]) => k !== "exception.stacktrace")),
    hasStack: "exception.stacktrace" in e.attributes
  })),
  links: span.links.map((l) => ({ spanId: l.spanId, attributes: l.attributes })),
  resource: span.resource,
  scope: span.scope,
  duration: span.endTimeUnixNano >= span.startTimeUnixNano
})

describe("native spans", () => {
  it.scopedLive("export the same OTLP fields as SDK spans did, decoded by the official definitions", () =>
    Effect.gen(function*() {
      Propagation.install(Propagation.make(["tracecontext", "baggage"]))
      const receiver = yield* OtlpReceiver.make()
      const config = yield* TelemetryConfig.load({
        serviceName: "native-spans",
        tracesExporter: "otlp",
        otlpTraces: { url: receiver.endpoints.traces }
      })
      const resource = resourceFromAttributes({ "service.name": "native-spans", "service.version": "1.2.3" })
      const provider = Tracing.makeProvider({ config, resource, simple: true })
      const native = Tracing.makeTracer(provider.provider, resource)
      // A provider makeTracer did not build gets the SDK-span tracer: the behaviour before.
      const viaSdk = Tracing.makeTracer(
        { getTracer: (name, version, options) => provider.provider.getTracer(name, version, options) },
        resource
      )
      const nativeTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
      const sdkTrace = "5bf92f3577b34da6a3ce929d0e0e4737"
      yield* program(nativeTrace).pipe(Effect.withTracer(native))
      yield* program(sdkTrace).pipe(Effect.withTracer(viaSdk))
      yield* Tracing.shutdown(provider, 10_000)

      const received = receiver.spans()
      const byId = new Map(received.map((s) => [s.spanId, s]))
      const nativeSpans = received.filter((s) => s.traceId === nativeTrace)
      const sdkSpans = received.filter((s) => s.traceId === sdkTrace)
      expect(nativeSpans.map((s) => s.name).sort()).toEqual([
        "child.die",
        "child.explicit",
        "child.explicit-ok",
        "child.fail",
        "child.interrupted",
        "child.linked",
        "child.ok",
        "server.request"
      ])
      const sorted = (spans: ReadonlyArray<OtlpReceiver.ReceivedSpan>) =>
        spans.map((s) => shape(s, byId)).sort((a, b) => a.name.localeCompare(b.name))
      expect(sorted(nativeSpans)).toEqual(sorted(sdkSpans))

      // What those fields are, read once more on the native side.
      const get = (name: string) => nativeSpans.find((s) => s.name === name)!
      const server = get("server.request")
      expect(server.kind).toBe("server")
      expect(server.parentSpanId).toBe("00f067aa0ba902b7")
      expect(server.traceState).toBe("vendor=value,other=1")
      expect(server.status.code).toBe("unset")
      expect(server.attributes).toMatchObject({
        text: "s",
        count: 1,
        ratio: 0.5,
        flag: true,
        big: 2,
        names: ["a", "b"],
        numbers: [1, 2],
        object: "{\"nested\":1}"
      })
      expect(server.events).toEqual([
        { name: "cache.miss", timeUnixNano: 1_700_000_000_000_000_000n, attributes: { key: "k", hits: 0 } }
      ])
      expect(server.resource).toMatchObject({ "service.name": "native-spans", "service.version": "1.2.3" })
      expect(server.scope).toMatchObject({ name: "native-spans", version: "1.2.3" })
      expect(get("child.ok").parentSpanId).toBe(server.spanId)
      expect(get("child.ok").kind).toBe("client")
      const fail = get("child.fail")
      expect(fail.status).toEqual({ code: "error", message: "card declined" })
      expect(fail.attributes["error.type"]).toBe("PaymentDeclined")
      expect(fail.events[0]!.name).toBe("exception")
      expect(fail.events[0]!.attributes["exception.message"]).toBe("card declined")
      expect(get("child.die").attributes["error.type"]).toBe("RangeError")
      expect(get("child.interrupted").status.code).toBe("unset")
      expect(get("child.interrupted").attributes["effect.interrupted"]).toBe(true)
      expect(get("child.explicit").status).toEqual({ code: "error", message: "explicit" })
      expect(get("child.explicit-ok").status.code).toBe("ok")
      expect(get("child.linked").links).toEqual([
        { traceId: nativeTrace, spanId: "00f067aa0ba902b7", attributes: { "link.reason": "batch" } }
      ])
      const roots = received.filter((s) => s.name === "root.new")
      expect(roots).toHaveLength(2)
      for (const root of roots) {
        expect(root.parentSpanId).toBeUndefined()
        expect([nativeTrace, sdkTrace]).not.toContain(root.traceId)
      }
    }))

  it.effect("sampled out: nothing recorded or exported, ids and the unsampled flag still propagate", () =>
    Effect.gen(function*() {
      const seen = yield* Effect.gen(function*() {
        const span = yield* Effect.currentSpan
        yield* Effect.annotateCurrentSpan("ignored", 1)
        const child = yield* Effect.currentSpan.pipe(Effect.withSpan("child"))
        return { span, child, carrier: yield* Propagation.injectCurrent }
      }).pipe(Effect.withSpan("unsampled"))
      expect(seen.span.sampled).toBe(false)
      expect(seen.span.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(seen.span.spanId).toMatch(/^[0-9a-f]{16}$/)
      expect(seen.carrier.traceparent).toBe(`00-${seen.span.traceId}-${seen.span.spanId}-00`)
      // The child follows its parent's decision, in the same trace.
      expect(seen.child.sampled).toBe(false)
      expect(seen.child.traceId).toBe(seen.span.traceId)
      expect(yield* TestTelemetry.spans).toEqual([])
      const delivery = yield* Tracing.SpanDelivery
      expect(yield* delivery.stats).toMatchObject({ ended: 0, exported: 0, dropped: 0 })
      // With no recording there is no OTel span to write into either.
      expect(Tracing.otelSpanOf(seen.span)?.isRecording()).toBe(false)
    }).pipe(Effect.provide(TestTelemetry.layer({ sampler: "always_off" }))))

  it.effect("ids: lowercase hex of their length, every digit at every position, none repeated", () =>
    Effect.gen(function*() {
      const spans = yield* Effect.forEach(
        Array.from({ length: 4000 }),
        () => Effect.currentSpan.pipe(Effect.withSpan("id", { root: true }))
      )
      for (const [ids, length] of [[spans.map((s) => s.traceId), 32], [spans.map((s) => s.spanId), 16]] as const) {
        expect(new Set(ids).size).toBe(ids.length)
        const digits = Array.from({ length }, () => new Set<string>())
        for (const id of ids) {
          expect(id).toMatch(length === 32 ? /^[0-9a-f]{32}$/ : /^[0-9a-f]{16}$/)
          for (let i = 0; i < length; i++) digits[i]!.add(id[i]!)
        }
        // 4,000 ids miss a given digit at a given position with probability (15/16)^4000.
        expect(digits.map((seen) => seen.size)).toEqual(Array.from({ length }, () => 16))
      }
    }).pipe(Effect.provide(TestTelemetry.layer({ sampler: "always_off" }))))

  it.effect("a remote parent's sampled flag decides under parentbased: 01 records, 00 does not", () =>
    Effect.gen(function*() {
      const child = (flags: string) =>
        Effect.currentSpan.pipe(
          Effect.withSpan("from.remote"),
          Propagation.withParentFrom({ traceparent: `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-${flags}` })
        )
      const sampled = yield* child("01")
      const unsampled = yield* child("00")
      expect(sampled.sampled).toBe(true)
      expect(unsampled.sampled).toBe(false)
      expect(unsampled.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736")
      const spans = yield* TestTelemetry.spans
      expect(spans.map((s) => s.spanContext().spanId)).toEqual([sampled.spanId])
    }).pipe(Effect.provide(TestTelemetry.layer({ sampler: "parentbased_always_off" }))))

  it.effect("traceidratio follows the SDK's ratio sampler on the trace id", () =>
    Effect.gen(function*() {
      const spans = yield* Effect.replicateEffect(Effect.currentSpan.pipe(Effect.withSpan("r")), 400)
      const recorded = yield* TestTelemetry.spans
      const sampled = spans.filter((s) => s.sampled)
      // Ratio 0.5 over 400 random trace ids: far from none and from all.
      expect(sampled.length).toBeGreaterThan(100)
      expect(sampled.length).toBeLessThan(300)
      expect(recorded.map((s) => s.spanContext().spanId).sort()).toEqual(sampled.map((s) => s.spanId).sort())
    }).pipe(Effect.provide(TestTelemetry.layer({ sampler: "traceidratio", samplerRatio: 0.5 }))))

  it.effect("the OTel view of a span writes into it: updateName, attributes, status", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const span = yield* Effect.currentSpan
        const otel: OtelApi.Span = Tracing.otelSpanOf(span)!
        otel.updateName("renamed")
        otel.setAttribute("via.api", "yes")
        otel.addEvent("api.event", { n: 1 })
        expect(otel.isRecording()).toBe(true)
      }).pipe(Effect.withSpan("original"))
      const [span] = yield* TestTelemetry.spans
      expect(span!.name).toBe("renamed")
      expect(span!.attributes["via.api"]).toBe("yes")
      expect(span!.events.map((e) => e.name)).toEqual(["api.event"])
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scoped("span limits from the environment bound attributes and events, and say how many were dropped", () =>
    Effect.gen(function*() {
      const saved = { ...process.env }
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.env.OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT = "2"
          process.env.OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT = "3"
          process.env.OTEL_SPAN_EVENT_COUNT_LIMIT = "1"
        }),
        () =>
          Effect.sync(() => {
            for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key]
            Object.assign(process.env, saved)
          })
      )
      const spans = yield* Effect.gen(function*() {
        const span = yield* Effect.currentSpan
        span.event("first", 1n, {})
        span.event("second", 2n, {})
        yield* Effect.annotateCurrentSpan({ a: "long value", b: "x", c: "dropped" })
      }).pipe(Effect.withSpan("limited"), Effect.zipRight(TestTelemetry.spans), Effect.provide(TestTelemetry.layer()))
      const [span] = spans
      expect(span!.attributes).toEqual({ a: "lon", b: "x" })
      expect(span!.droppedAttributesCount).toBe(1)
      // The SDK keeps the newest events past the limit.
      expect(span!.events.map((e) => e.name)).toEqual(["second"])
      expect(span!.droppedEventsCount).toBe(1)
    }))
})

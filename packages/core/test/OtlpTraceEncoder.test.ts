/**
 * Our OTLP trace encoder writes what the SDK's `ProtobufTraceSerializer` writes: for SDK spans
 * (a real BasicTracerProvider, its limits and sanitising), for spans any processor may hand
 * over (every AnyValue kind: bytes, kvlists, mixed and nested arrays, values the SDK skips),
 * and for our native spans (their fields read directly). Both requests are decoded with the
 * official definitions and compared; the bytes are compared too.
 */
import { TelemetryConfig, Tracing } from "@effect-telemetry/core"
import { decodeProtobuf } from "@effect-telemetry/testing/internal/decode"
import * as OtelApi from "@opentelemetry/api"
import type { ExportResult } from "@opentelemetry/core"
import { TraceState } from "@opentelemetry/core"
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer"
import { resourceFromAttributes } from "@opentelemetry/resources"
import type { ReadableSpan, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as EffectTracer from "effect/Tracer"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { cachedAttribute, EncodedSpanQueue, serializeTraceRequest } from "../src/internal/otlpTraceEncoder.js"

// -----------------------------------------------------------------------------
// comparison
// -----------------------------------------------------------------------------

/** Ours and the SDK's request for `spans`: decoded equal, byte for byte equal. */
const expectSame = (spans: ReadonlyArray<ReadableSpan>): void => {
  // Ours first: native spans are read from their raw fields before anything converted them.
  const ours = serializeTraceRequest(spans)
  const theirs = ProtobufTraceSerializer.serializeRequest(spans as Array<ReadableSpan>)!
  expect(decodeProtobuf("traces", ours)).toEqual(decodeProtobuf("traces", theirs))
  expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true)
  // And again, once the spans' ReadableSpan view was read.
  expect(Buffer.from(serializeTraceRequest(spans)).equals(Buffer.from(theirs))).toBe(true)
}

const collector = (into: Array<ReadableSpan>): SpanProcessor => ({
  onStart: () => {},
  onEnd: (span) => {
    into.push(span)
  },
  forceFlush: async () => {},
  shutdown: async () => {}
})

type Generated<T> = T extends fc.Arbitrary<infer A> ? A : never

// -----------------------------------------------------------------------------
// values
// -----------------------------------------------------------------------------

const anyChar = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  // lone surrogates included
  fc.string({ unit: anyChar }),
  fc.string({ unit: fc.constantFrom("a", "é", "€", "𝄞", "\u0000"), minLength: 40, maxLength: 200 }),
  fc.constantFrom("x".repeat(200), "y".repeat(20_000), "é".repeat(70), "")
)
const key = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom("0", "12", "http.route", "a", "b"),
  fc.nat(99).map(String)
)
const integer = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(
    0,
    -0,
    -1,
    127,
    128,
    2 ** 31,
    -(2 ** 31),
    2 ** 32 - 1,
    2 ** 32,
    2 ** 53,
    2 ** 53 + 2,
    2 ** 62,
    2 ** 63,
    -(2 ** 63),
    2 ** 64,
    -(2 ** 64)
  )
)
const number = fc.oneof(integer, fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 0.5, -1e300))
/** What the SDK's span accepts as an attribute value. */
const sdkValue: fc.Arbitrary<OtelApi.AttributeValue> = fc.oneof(
  text,
  number,
  fc.boolean(),
  fc.array(fc.oneof(text, fc.constant(null), fc.constant(undefined)), { maxLength: 4 }) as fc.Arbitrary<
    OtelApi.AttributeValue
  >,
  fc.array(fc.oneof(number, fc.constant(null)), { maxLength: 4 }) as fc.Arbitrary<OtelApi.AttributeValue>,
  fc.array(fc.boolean(), { maxLength: 4 })
)
const sdkAttributes = fc.dictionary(key, sdkValue, { maxKeys: 8 })

/** Anything a hand-made ReadableSpan may carry. */
const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    text,
    number,
    fc.boolean(),
    fc.constantFrom(null, undefined, 5n, Symbol("s")),
    fc.uint8Array({ maxLength: 20 }),
    fc.constant(Buffer.from("buf")),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(key, tie("value"), { maxKeys: 4 })
  )
})).value
const anyAttributes = fc.dictionary(key, anyValue, { maxKeys: 6 })

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length })
const traceState = fc.option(fc.constantFrom("a=1", "vendor=value,other=1", "k=v,x=y,z=w"), { nil: undefined })
const hrTime = fc.tuple(fc.integer({ min: 0, max: 4_000_000_000 }), fc.integer({ min: 0, max: 999_999_999 }))

// -----------------------------------------------------------------------------
// SDK spans
// -----------------------------------------------------------------------------

const limits = fc.option(
  fc.record({
    attributeCountLimit: fc.integer({ min: 0, max: 4 }),
    attributeValueLengthLimit: fc.integer({ min: 1, max: 10 }),
    eventCountLimit: fc.integer({ min: 0, max: 3 }),
    linkCountLimit: fc.integer({ min: 0, max: 3 }),
    attributePerEventCountLimit: fc.integer({ min: 0, max: 3 }),
    attributePerLinkCountLimit: fc.integer({ min: 0, max: 3 })
  }),
  { nil: undefined }
)

const sdkLink = fc.record({
  traceId: hex(32),
  spanId: hex(16),
  traceFlags: fc.constantFrom(0, 1, 3, 255),
  isRemote: fc.option(fc.boolean(), { nil: undefined }),
  traceState,
  attributes: fc.option(sdkAttributes, { nil: undefined })
})

const sdkSpan = fc.record({
  resource: fc.nat(2),
  scope: fc.nat(3),
  name: text,
  kind: fc.constantFrom(0, 1, 2, 3, 4),
  attributes: sdkAttributes,
  later: fc.option(sdkAttributes, { nil: undefined }),
  events: fc.array(fc.record({ name: text, attributes: fc.option(sdkAttributes, { nil: undefined }), time: hrTime }), {
    maxLength: 4
  }),
  links: fc.array(sdkLink, { maxLength: 4 }),
  status: fc.option(
    fc.record({ code: fc.constantFrom(0, 1, 2), message: fc.option(text, { nil: undefined }) }),
    { nil: undefined }
  ),
  parent: fc.option(
    fc.record({
      traceId: hex(32),
      spanId: hex(16),
      traceFlags: fc.constantFrom(0, 1),
      isRemote: fc.boolean(),
      traceState
    }),
    { nil: undefined }
  ),
  start: hrTime,
  duration: fc.integer({ min: 0, max: 10_000_000 })
})

/** An SDK span with these attributes and nothing else. */
const sdkSpanOf = (attributes: Record<string, unknown>): Generated<typeof sdkSpan> => ({
  resource: 0,
  scope: 0,
  name: "GET /users/:id",
  kind: 1,
  attributes: attributes as Generated<typeof sdkSpan>["attributes"],
  later: undefined,
  events: [],
  links: [],
  status: undefined,
  parent: undefined,
  start: [1_700_000_000, 0],
  duration: 1_000
})

const scopes = [
  { name: "scope-a", version: undefined, schemaUrl: undefined },
  { name: "scope-b", version: "1.0.0", schemaUrl: undefined },
  { name: "scope-c", version: "2.0", schemaUrl: "https://opentelemetry.io/schemas/1.21.0" },
  { name: "", version: "", schemaUrl: "" }
]

const sdkSpans = (
  batch: ReadonlyArray<Generated<typeof sdkSpan>>,
  spanLimits: Generated<typeof limits>
): Array<ReadableSpan> => {
  const out: Array<ReadableSpan> = []
  const providers = [
    resourceFromAttributes({ "service.name": "a", "service.instance.id": "é-1" }),
    resourceFromAttributes({ "service.name": "b", count: 3, ratio: 0.5, list: ["x", "y"] }, {
      schemaUrl: "https://opentelemetry.io/schemas/1.26.0"
    }),
    resourceFromAttributes({})
  ].map((resource) =>
    new BasicTracerProvider({ resource, spanProcessors: [collector(out)], ...(spanLimits ? { spanLimits } : {}) })
  )
  for (const s of batch) {
    const scope = scopes[s.scope]!
    const tracer = providers[s.resource]!.getTracer(scope.name, scope.version, { schemaUrl: scope.schemaUrl })
    const context = s.parent === undefined ? OtelApi.ROOT_CONTEXT : OtelApi.trace.setSpanContext(
      OtelApi.ROOT_CONTEXT,
      {
        traceId: s.parent.traceId,
        spanId: s.parent.spanId,
        traceFlags: s.parent.traceFlags,
        isRemote: s.parent.isRemote,
        traceState: s.parent.traceState === undefined ? undefined : new TraceState(s.parent.traceState)
      }
    )
    const span = tracer.startSpan(s.name, {
      kind: s.kind,
      attributes: s.attributes,
      startTime: s.start,
      links: s.links.map((l) => ({
        context: {
          traceId: l.traceId,
          spanId: l.spanId,
          traceFlags: l.traceFlags,
          isRemote: l.isRemote,
          traceState: l.traceState === undefined ? undefined : new TraceState(l.traceState)
        },
        attributes: l.attributes
      }))
    }, context)
    if (s.later) span.setAttributes(s.later)
    for (const e of s.events) span.addEvent(e.name, e.attributes, e.time)
    if (s.status) span.setStatus(s.status)
    span.end([s.start[0] + Math.floor(s.duration / 1000), s.start[1]])
  }
  return out
}

// -----------------------------------------------------------------------------
// hand-made ReadableSpans
// -----------------------------------------------------------------------------

const resources = [
  resourceFromAttributes({ "service.name": "made", nested: ["a"] }),
  resourceFromAttributes({ x: 1 }, { schemaUrl: "https://example.com/schema" })
]
const madeScopes = [
  { name: "made" },
  { name: "made", version: "1", schemaUrl: "s" },
  // A scope with attributes (the serializer writes them when present).
  { name: "attributed", attributes: { "scope.key": "v", n: 2 }, droppedAttributesCount: 3 },
  { name: "attributed-empty", attributes: {} }
]

const madeSpan = fc.record({
  resource: fc.nat(1),
  scope: fc.nat(3),
  traceId: fc.oneof(hex(32), fc.constant("4BF92F3577B34DA6A3CE929D0E0E4736")),
  spanId: hex(16),
  traceFlags: fc.constantFrom(0, 1, 0x81),
  traceState,
  parent: fc.option(
    fc.record({ spanId: fc.oneof(hex(16), fc.constant("")), isRemote: fc.option(fc.boolean(), { nil: undefined }) }),
    { nil: undefined }
  ),
  name: text,
  kind: fc.option(fc.constantFrom(0, 1, 2, 3, 4), { nil: undefined }),
  start: hrTime,
  end: hrTime,
  attributes: anyAttributes,
  droppedAttributesCount: fc.nat(1000),
  events: fc.array(
    fc.record({
      name: text,
      time: hrTime,
      attributes: fc.option(anyAttributes, { nil: undefined }),
      droppedAttributesCount: fc.option(fc.nat(300), { nil: undefined })
    }),
    { maxLength: 3 }
  ),
  droppedEventsCount: fc.nat(300),
  links: fc.array(
    fc.record({
      context: fc.record({
        traceId: hex(32),
        spanId: hex(16),
        traceFlags: fc.constantFrom(0, 1),
        isRemote: fc.option(fc.boolean(), { nil: undefined })
      }),
      attributes: fc.option(anyAttributes, { nil: undefined }),
      droppedAttributesCount: fc.option(fc.nat(300), { nil: undefined })
    }),
    { maxLength: 3 }
  ),
  droppedLinksCount: fc.nat(300),
  status: fc.record({ code: fc.constantFrom(0, 1, 2), message: fc.option(text, { nil: undefined }) })
})

const madeSpans = (batch: ReadonlyArray<Generated<typeof madeSpan>>) =>
  batch.map((s): ReadableSpan => {
    const context: OtelApi.SpanContext = {
      traceId: s.traceId,
      spanId: s.spanId,
      traceFlags: s.traceFlags,
      traceState: s.traceState === undefined ? undefined : new TraceState(s.traceState)
    }
    return {
      name: s.name,
      kind: s.kind as OtelApi.SpanKind,
      spanContext: () => context,
      parentSpanContext: s.parent === undefined
        ? undefined
        : { traceId: s.traceId, spanId: s.parent.spanId, traceFlags: 1, isRemote: s.parent.isRemote },
      startTime: s.start,
      endTime: s.end,
      status: s.status,
      attributes: s.attributes as OtelApi.Attributes,
      links: s.links as Array<OtelApi.Link>,
      events: s.events as ReadableSpan["events"],
      duration: [0, 0],
      ended: true,
      resource: resources[s.resource]!,
      instrumentationScope: madeScopes[s.scope]!,
      droppedAttributesCount: s.droppedAttributesCount,
      droppedEventsCount: s.droppedEventsCount,
      droppedLinksCount: s.droppedLinksCount
    }
  })

// -----------------------------------------------------------------------------
// native spans
// -----------------------------------------------------------------------------

/** What an Effect span may be annotated with: anything. */
const effectValue: fc.Arbitrary<unknown> = fc.oneof(
  text,
  number,
  fc.boolean(),
  fc.constantFrom(undefined, null, 5n, -(2n ** 70n), Symbol("s"), () => 1, new Date(0)),
  fc.array(text, { maxLength: 3 }),
  fc.array(number, { maxLength: 3 }),
  fc.array(fc.boolean(), { maxLength: 3 }),
  fc.array(fc.oneof(text, number, fc.constant(null)), { maxLength: 3 }),
  fc.dictionary(key, fc.oneof(text, number), { maxKeys: 3 })
)
const effectAttributes = fc.dictionary(key, effectValue, { maxKeys: 8 })

type Ending = "succeed" | "fail" | "die" | "interrupt" | "error status" | "ok status" | "unset status"
const nativeSpan = fc.record({
  name: text,
  kind: fc.constantFrom<EffectTracer.SpanKind>("internal", "client", "server", "producer", "consumer"),
  attributes: effectAttributes,
  annotations: effectAttributes,
  events: fc.array(
    fc.record({
      name: text,
      time: fc.bigInt({ min: 0n, max: 2n ** 62n }),
      attributes: fc.option(effectAttributes, { nil: undefined })
    }),
    { maxLength: 4 }
  ),
  links: fc.array(
    fc.record({ traceId: hex(32), spanId: hex(16), sampled: fc.boolean(), attributes: effectAttributes }),
    { maxLength: 4 }
  ),
  ending: fc.constantFrom<Ending>("succeed", "fail", "die", "interrupt", "error status", "ok status", "unset status"),
  message: text,
  child: fc.boolean(),
  remoteParent: fc.boolean()
})

const nativeLimitVariables = {
  OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: "3",
  OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: "5",
  OTEL_SPAN_EVENT_COUNT_LIMIT: "2",
  OTEL_SPAN_LINK_COUNT_LIMIT: "2",
  OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT: "1",
  OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT: "1"
}

const nativeProvider = (limited: boolean, out: Array<ReadableSpan>) => {
  const saved = { ...process.env }
  if (limited) Object.assign(process.env, nativeLimitVariables)
  try {
    const config = Effect.runSync(TelemetryConfig.load({ serviceName: "native", tracesExporter: "none" }))
    const resource = resourceFromAttributes({ "service.name": "native", "service.version": "1" })
    const discard: SpanExporter = {
      export: (_: Array<ReadableSpan>, done: (result: ExportResult) => void) => done({ code: 0 }),
      shutdown: async () => {}
    }
    const provider = Tracing.makeProvider({ config, resource, exporter: discard, spanProcessors: [collector(out)] })
    return Tracing.makeTracer(provider.provider, resource)
  } finally {
    for (const name of Object.keys(nativeLimitVariables)) {
      if (saved[name] === undefined) delete process.env[name]
      else process.env[name] = saved[name]
    }
  }
}

const remoteParent: EffectTracer.ExternalSpan = {
  _tag: "ExternalSpan",
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  sampled: true,
  context: Effect.runSync(Effect.context<never>())
}

const runNative = (tracer: EffectTracer.Tracer, s: Generated<typeof nativeSpan>) => {
  const body = Effect.gen(function*() {
    yield* Effect.annotateCurrentSpan(s.annotations)
    const span = yield* Effect.currentSpan
    for (const e of s.events) span.event(e.name, e.time, e.attributes as Record<string, unknown> | undefined)
    switch (s.ending) {
      case "fail":
        return yield* Effect.fail(new Error(s.message))
      case "die":
        return yield* Effect.die(s.message)
      case "interrupt":
        return yield* Effect.interrupt
      case "error status":
        return yield* Tracing.setStatus({ code: "error", message: s.message })
      case "ok status":
        return yield* Tracing.setStatus({ code: "ok" })
      case "unset status":
        return yield* Tracing.setStatus({ code: "unset" })
    }
  })
  const links = s.links.map((l): EffectTracer.SpanLink => ({
    _tag: "SpanLink",
    span: { ...remoteParent, traceId: l.traceId, spanId: l.spanId, sampled: l.sampled },
    attributes: l.attributes
  }))
  const options = {
    kind: s.kind,
    attributes: s.attributes,
    links,
    ...(s.remoteParent ? { parent: remoteParent } : {})
  }
  const traced = s.child
    ? body.pipe(Effect.withSpan(s.name, options), Effect.withSpan("outer"))
    : body.pipe(Effect.withSpan(s.name, options))
  return Effect.runSync(Effect.exit(Effect.withTracer(traced, tracer)))
}

// -----------------------------------------------------------------------------

describe("OTLP trace encoder", () => {
  it("an empty batch", () => {
    expectSame([])
  })

  it("SDK spans: every field, limits, resources and scopes", () => {
    fc.assert(
      fc.property(fc.array(sdkSpan, { maxLength: 12 }), limits, (batch, spanLimits) => {
        expectSame(sdkSpans(batch, spanLimits))
      }),
      { numRuns: 300 }
    )
  })

  it("hand-made ReadableSpans: every AnyValue kind, odd ids, scope attributes", () => {
    fc.assert(
      fc.property(fc.array(madeSpan, { maxLength: 8 }), (batch) => {
        expectSame(madeSpans(batch))
      }),
      { numRuns: 300 }
    )
  })

  it("native spans: attributes, events, links, statuses, limits", () => {
    const unlimited: Array<ReadableSpan> = []
    const limited: Array<ReadableSpan> = []
    const tracers = [nativeProvider(false, unlimited), nativeProvider(true, limited)] as const
    fc.assert(
      fc.property(fc.array(nativeSpan, { minLength: 1, maxLength: 6 }), fc.boolean(), (batch, useLimits) => {
        const out = useLimits ? limited : unlimited
        out.length = 0
        for (const s of batch) expect(Exit.isExit(runNative(tracers[useLimits ? 1 : 0], s))).toBe(true)
        expect(out.length).toBeGreaterThanOrEqual(batch.length)
        expectSame(out)
      }),
      { numRuns: 300 }
    )
  })

  it("attributes that repeat are copied from the cache: the same bytes, the cache bounded", () => {
    const out: Array<ReadableSpan> = []
    const tracer = nativeProvider(false, out)
    const run = (attributes: Record<string, unknown>) =>
      Effect.runSync(Effect.withTracer(Effect.void.pipe(Effect.withSpan("GET /users/:id", { attributes })), tracer))
    // Values alike under SameValueZero but not as attributes ("1", 1, true), values that encode
    // alike (0 and -0), a double, NaN, a value too long to cache, a key too long to cache, a
    // key whose values keep changing, a value with a lone surrogate.
    const longKey = "k".repeat(200)
    // UTF-8 cannot carry a lone surrogate (both encoders write U+FFFD): not cached.
    const lone = "\ud800" + "x".repeat(20)
    const repeated = [
      { "http.request.method": "GET", "cache.n": 1, "cache.flag": true, "cache.ratio": 0.5, "cache.zero": 0 },
      { "http.request.method": "POST", "cache.n": "1", "cache.flag": 1, "cache.ratio": 1, "cache.zero": -0 },
      { "http.request.method": "GET", "cache.n": true, "cache.nan": Number.NaN, "cache.long": "é".repeat(300) },
      { "http.request.method": "GET", "cache.n": true, "cache.nan": Number.NaN, [longKey]: "v", "cache.lone": lone }
    ]
    for (let batch = 0; batch < 4; batch++) {
      out.length = 0
      for (let i = 0; i < 60; i++) run({ ...repeated[i % 4], "url.path": `/users/${batch * 60 + i}` })
      expectSame(out)
      // SDK spans carrying the same attributes go through the same cache, and so do events',
      // links' and resources' attributes (the resource's are written once per batch).
      const withEventAndLink = {
        ...sdkSpanOf(repeated[batch]!),
        events: [{
          name: "retry",
          attributes: { ...repeated[batch], "cache.event": "retry" },
          time: [1_700_000_000, 5]
        }],
        links: [{
          traceId: "0af7651916cd43dd8448eb211c80319c",
          spanId: "b7ad6b7169203331",
          traceFlags: 1,
          isRemote: true,
          traceState: undefined,
          attributes: { "cache.link": 7 }
        }]
      } as unknown as Generated<typeof sdkSpan>
      expectSame(sdkSpans([withEventAndLink, withEventAndLink], undefined))
    }
    expect(cachedAttribute("cache.event").values).toBe(1)
    expect(cachedAttribute("cache.link").values).toBe(1)
    // Each method was written once, then copied; the path, with more distinct values than a key
    // may cache, stopped caching them; the long value and the long key were never cached.
    expect(cachedAttribute("http.request.method").values).toBe(2)
    expect(cachedAttribute("cache.n").values).toBe(3)
    expect(cachedAttribute("cache.zero").values).toBe(1)
    expect(cachedAttribute("url.path").values).toBe(null)
    expect(cachedAttribute("cache.long").values).toBe(0)
    expect(cachedAttribute(longKey).values).toBe(undefined)
    expect(cachedAttribute("cache.lone").values).toBe(0)
    // Keys past the bound: the cache starts over instead of growing.
    out.length = 0
    for (let i = 0; i < 600; i++) run({ [`key.${i}`]: "v", "http.request.method": "GET" })
    expectSame(out.slice(-100))
    expect(cachedAttribute("key.599").values).toBe(1)
    expect(cachedAttribute("key.0").keys).toBeLessThanOrEqual(256)
  })

  it("native and SDK spans in one batch", () => {
    const native: Array<ReadableSpan> = []
    const tracer = nativeProvider(false, native)
    fc.assert(
      fc.property(fc.array(nativeSpan, { maxLength: 3 }), fc.array(sdkSpan, { maxLength: 3 }), (a, b) => {
        native.length = 0
        for (const s of a) runNative(tracer, s)
        const sdk = sdkSpans(b, undefined)
        expectSame([...native.slice(0, 2), ...sdk, ...native.slice(2)])
      }),
      { numRuns: 100 }
    )
  })

  it("spans encoded as they end, cut in batches of any size: each batch is the SDK's request for its spans", () => {
    const native: Array<ReadableSpan> = []
    const tracer = nativeProvider(false, native)
    const queue = new EncodedSpanQueue()
    fc.assert(
      fc.property(
        fc.array(nativeSpan, { maxLength: 4 }),
        fc.array(sdkSpan, { maxLength: 4 }),
        fc.array(madeSpan, { maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }),
        (a, b, c, cuts) => {
          native.length = 0
          for (const s of a) runNative(tracer, s)
          // Interleaved: resources and scopes change from span to span, and come back.
          const pools = [native.slice(), sdkSpans(b, undefined), madeSpans(c)]
          const spans: Array<ReadableSpan> = []
          for (let i = 0; pools.some((pool) => pool.length > 0); i++) {
            const next = pools[i % 3]!.shift()
            if (next !== undefined) spans.push(next)
          }
          // Encoded at their end, before anything read their ReadableSpan view.
          for (const span of spans) queue.push(span)
          expect(queue.length).toBe(spans.length)
          let taken = 0
          for (let i = 0; queue.length > 0; i++) {
            const batch = queue.take(cuts[i % cuts.length]!)
            const expected = spans.slice(taken, taken + batch.length)
            taken += batch.length
            const theirs = ProtobufTraceSerializer.serializeRequest(expected)!
            expect(decodeProtobuf("traces", batch.body)).toEqual(decodeProtobuf("traces", theirs))
            expect(Buffer.from(batch.body).equals(Buffer.from(theirs))).toBe(true)
          }
          expect(taken).toBe(spans.length)
          expect(queue.byteLength).toBe(0)
        }
      ),
      { numRuns: 200 }
    )
  })

  it("the queue lets a burst's buffers go once it empties", () => {
    const out: Array<ReadableSpan> = []
    const tracer = nativeProvider(false, out)
    const big = "v".repeat(10_000)
    for (let i = 0; i < 1_000; i++) {
      Effect.runSync(Effect.withTracer(Effect.void.pipe(Effect.withSpan("burst", { attributes: { big } })), tracer))
    }
    const queue = new EncodedSpanQueue()
    for (const span of out) queue.push(span)
    expect(queue.byteLength).toBeGreaterThan(10_000_000)
    const first = queue.take(600)
    expect(first.length).toBe(600)
    expect(queue.length).toBe(400)
    expect(queue.byteLength).toBeGreaterThan(4_000_000)
    const rest = queue.take(1_000)
    expect(rest.length).toBe(400)
    expect(queue.byteLength).toBe(0)
    expect(queue.byteCapacity).toBeLessThanOrEqual(64 * 1024)
    expect(Buffer.from(rest.body).equals(Buffer.from(ProtobufTraceSerializer.serializeRequest(out.slice(600))!))).toBe(
      true
    )
    expect(queue.take(10)).toMatchObject({ length: 0 })
  })
})

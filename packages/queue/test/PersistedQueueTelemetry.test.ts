import { TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as PersistedQueueRedis from "@effect/experimental/PersistedQueue/Redis"
import { describe, expect, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { Redis } from "ioredis"
import { PersistedQueueTelemetry } from "../src/index.js"
import { redisUnavailable, redisUrl, unique } from "./services.js"

const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })

class PaymentDeclined extends Data.TaggedError("PaymentDeclined")<{}> {}

const redisOptions = () => {
  const url = new URL(redisUrl)
  return {
    host: url.hostname,
    port: url.port === "" ? 6379 : Number(url.port),
    username: url.username === "" ? undefined : decodeURIComponent(url.username),
    password: url.password === "" ? undefined : decodeURIComponent(url.password),
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined
  }
}

/** A plain ioredis client for fixtures, closed (and the test's keys deleted) with the scope. */
const redisFixture = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(redisOptions())),
    (redis) =>
      Effect.promise(async () => {
        const keys = await redis.keys(`${prefix}*`)
        if (keys.length > 0) await redis.del(...keys)
        await redis.quit()
      })
  )

const stores = [
  { store: "memory", unavailable: undefined, layer: (_prefix: string) => PersistedQueue.layerStoreMemory },
  {
    store: "redis",
    unavailable: redisUnavailable,
    layer: (prefix: string) =>
      PersistedQueueRedis.layerStore({ ...redisOptions(), prefix, pollInterval: "20 millis" }) as Layer.Layer<
        PersistedQueue.PersistedQueueStore
      >
  }
] as const

const system = "effect_persisted_queue"

const base = (name: string, operation: "send" | "process") => ({
  "messaging.system": system,
  "messaging.destination.name": name,
  "messaging.operation.type": operation,
  "messaging.operation.name": operation === "send" ? "offer" : "take"
})

const processCount = (name: string, attributes: Record<string, string>) =>
  Effect.map(
    TestTelemetry.metricPoint("messaging.process.duration", { ...base(name, "process"), ...attributes }),
    (point) => (point.value as { count: number }).count
  )

const inFlight = (name: string) =>
  TestTelemetry.metricValue("messaging.process.active", {
    "messaging.system": system,
    "messaging.destination.name": name
  })

for (const { layer: storeLayer, store, unavailable } of stores) {
  describe.skipIf(unavailable !== undefined)(`PersistedQueueTelemetry (${store} store)`, () => {
    const prefix = unique(`pq_${store}`) + ":"
    const env = () =>
      Layer.mergeAll(
        PersistedQueueTelemetry.layer().pipe(Layer.provideMerge(storeLayer(prefix))),
        TestTelemetry.layer()
      )

    it.scopedLive("an offer in a server span and a take in another fiber are one trace: send, then process as its child", () =>
      Effect.gen(function*() {
        if (store === "redis") yield* redisFixture(prefix)
        const name = unique("orders")
        const queue = yield* PersistedQueue.make({ name, schema: Order })
        const received = yield* Deferred.make<{ readonly id: string; readonly amount: number }>()
        // Forked before the request span exists: the consumer fiber has no span of its own.
        const consumer = yield* queue.take((order) =>
          Effect.void.pipe(Effect.withSpan("charge card"), Effect.zipRight(Deferred.succeed(received, order)))
        ).pipe(Effect.fork)
        const id = yield* queue.offer({ id: "o-1", amount: 3 }).pipe(
          Effect.withSpan("POST /orders", { kind: "server" })
        )
        yield* Fiber.join(consumer)
        expect(yield* Deferred.await(received)).toEqual({ id: "o-1", amount: 3 })

        const server = yield* TestTelemetry.spanNamed("POST /orders")
        const send = yield* TestTelemetry.spanNamed(`send ${name}`)
        const processed = yield* TestTelemetry.spanNamed(`process ${name}`)
        const charge = yield* TestTelemetry.spanNamed("charge card")
        expect(TestTelemetry.kindOf(send)).toBe("producer")
        expect(TestTelemetry.kindOf(processed)).toBe("consumer")
        expect(TestTelemetry.parentSpanId(send)).toBe(server.spanContext().spanId)
        expect(TestTelemetry.parentSpanId(processed)).toBe(send.spanContext().spanId)
        expect(TestTelemetry.parentSpanId(charge)).toBe(processed.spanContext().spanId)
        const traceIds = new Set([server, send, processed, charge].map(TestTelemetry.traceId))
        expect(traceIds.size).toBe(1)
        expect(send.attributes).toEqual({ ...base(name, "send"), "messaging.message.id": id })
        expect(processed.attributes).toEqual({
          ...base(name, "process"),
          "messaging.message.id": id,
          "effect.messaging.delivery.attempt": 1,
          result: "ack"
        })
        expect(TestTelemetry.statusOf(processed)).toBe("unset")

        expect(yield* TestTelemetry.metricValue("messaging.client.sent.messages", base(name, "send"))).toBe(1)
        expect(yield* TestTelemetry.metricValue("messaging.client.consumed.messages", base(name, "process"))).toBe(1)
        expect(yield* processCount(name, { result: "ack" })).toBe(1)
        expect(yield* inFlight(name)).toBe(0)
        expect(
          yield* TestTelemetry.prometheusValue("messaging_client_sent_messages_total", {
            messaging_system: system,
            messaging_destination_name: name,
            messaging_operation_type: "send",
            messaging_operation_name: "offer"
          })
        ).toBe(1)
      }).pipe(Effect.provide(env())))

    it.scopedLive("a failed handler is retried: result error then ack, both process spans continue the producer's trace", () =>
      Effect.gen(function*() {
        if (store === "redis") yield* redisFixture(prefix)
        const name = unique("retry")
        const queue = yield* PersistedQueue.make({ name, schema: Order })
        yield* queue.offer({ id: "o-2", amount: 5 }).pipe(Effect.withSpan("POST /orders", { kind: "server" }))
        let calls = 0
        const handler = () => Effect.suspend(() => (++calls === 1 ? Effect.fail(new PaymentDeclined()) : Effect.void))
        const first = yield* queue.take(handler).pipe(Effect.exit)
        expect(Exit.isFailure(first)).toBe(true)
        yield* queue.take(handler)

        const send = yield* TestTelemetry.spanNamed(`send ${name}`)
        const runs = yield* TestTelemetry.spansNamed(`process ${name}`)
        expect(runs.map((s) => s.attributes["effect.messaging.delivery.attempt"])).toEqual([1, 2])
        expect(runs.map((s) => TestTelemetry.parentSpanId(s))).toEqual([
          send.spanContext().spanId,
          send.spanContext().spanId
        ])
        expect(runs.map(TestTelemetry.statusOf)).toEqual(["error", "unset"])
        expect(runs[0]!.attributes["error.type"]).toBe("PaymentDeclined")
        expect(runs.map((s) => s.attributes.result)).toEqual(["error", "ack"])

        expect(yield* TestTelemetry.metricValue("messaging.client.consumed.messages", base(name, "process"))).toBe(2)
        expect(yield* processCount(name, { result: "error", "error.type": "PaymentDeclined" })).toBe(1)
        expect(yield* processCount(name, { result: "ack" })).toBe(1)
        expect(yield* inFlight(name)).toBe(0)
      }).pipe(Effect.provide(env())))

    it.scopedLive("an uninstrumented consumer (PersistedQueue.layer on the same store) decodes what the instrumented producer offered, with its own schema", () =>
      Effect.gen(function*() {
        if (store === "redis") yield* redisFixture(prefix)
        const name = unique("plain_reader")
        const queue = yield* PersistedQueue.make({ name, schema: Order })
        yield* queue.offer({ id: "o-10", amount: 7 }).pipe(Effect.withSpan("POST /orders"))
        yield* queue.offer({ id: "o-11", amount: 8 }).pipe(Effect.withSpan("POST /orders"))
        expect((yield* TestTelemetry.spansNamed(`send ${name}`)).length).toBe(2)

        // @effect/experimental's own factory over the same store: no telemetry at all.
        const plain = yield* PersistedQueue.makeFactory
        const sameSchema = yield* plain.make({ name, schema: Order })
        const offered = new Map([["o-10", { id: "o-10", amount: 7 }], ["o-11", { id: "o-11", amount: 8 }]])
        const whole = yield* sameSchema.take((order) => Effect.succeed(order))
        // Decoded exactly: the context property is not in the value.
        expect(whole).toEqual(offered.get(whole.id))
        // Another service reads the queue with a schema of its own (a class with one field).
        class OrderRef extends Schema.Class<OrderRef>("OrderRef")({ id: Schema.String }) {}
        const ownSchema = yield* plain.make({ name, schema: OrderRef })
        const ref = yield* ownSchema.take((order) => Effect.succeed(order))
        expect(ref).toBeInstanceOf(OrderRef)
        expect({ ...ref }).toEqual({ id: [...offered.keys()].find((id) => id !== whole.id) })
        expect((yield* TestTelemetry.spansNamed(`process ${name}`)).length).toBe(0)
      }).pipe(Effect.provide(env())))

    it.scopedLive("a Class or a tagged union element carries the context inline: the instrumented consumer continues the trace, a plain one decodes the same value", () =>
      Effect.gen(function*() {
        if (store === "redis") yield* redisFixture(prefix)
        class Refund extends Schema.Class<Refund>("Refund")({ id: Schema.String, amount: Schema.Number }) {}
        const Event = Schema.Union(
          Schema.TaggedStruct("Placed", { id: Schema.String }),
          Schema.TaggedStruct("Cancelled", { id: Schema.String, reason: Schema.String })
        )
        const plain = yield* PersistedQueue.makeFactory
        const cases = [
          { label: "class", schema: Refund as Schema.Schema<any, any>, value: new Refund({ id: "r-1", amount: 3 }) },
          { label: "union", schema: Event, value: { _tag: "Cancelled", id: "o-17", reason: "late" } }
        ]
        for (const { label, schema, value } of cases) {
          const name = unique(`inline_${label}`)
          const queue = yield* PersistedQueue.make({ name, schema })
          yield* queue.offer(value).pipe(Effect.withSpan("POST /orders"))
          yield* queue.offer(value).pipe(Effect.withSpan("POST /orders"))
          expect(yield* queue.take((got) => Effect.succeed(got))).toEqual(value)
          const reader = yield* plain.make({ name, schema })
          expect(yield* reader.take((got) => Effect.succeed(got))).toEqual(value)
          // The stores take in different orders: the parent is one of the two sends.
          const sends = (yield* TestTelemetry.spansNamed(`send ${name}`)).map((send) => send.spanContext().spanId)
          const processed = yield* TestTelemetry.spanNamed(`process ${name}`)
          expect(sends).toContain(TestTelemetry.parentSpanId(processed))
        }
      }).pipe(Effect.provide(env())))

    it.scopedLive("an envelope offered by an earlier version is still decoded and continues its trace", () =>
      Effect.gen(function*() {
        if (store === "redis") yield* redisFixture(prefix)
        const name = unique("old_envelope")
        const rawStore = yield* PersistedQueue.PersistedQueueStore
        const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
        yield* rawStore.offer({
          name,
          id: "old-1",
          element: {
            [PersistedQueueTelemetry.ENVELOPE_KEY]: 1,
            headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
            element: { id: "o-12", amount: 2 }
          },
          isCustomId: true
        })
        const queue = yield* PersistedQueue.make({ name, schema: Order })
        expect(yield* queue.take((order) => Effect.succeed(order))).toEqual({ id: "o-12", amount: 2 })
        const processed = yield* TestTelemetry.spanNamed(`process ${name}`)
        expect(TestTelemetry.traceId(processed)).toBe(traceId)
        expect(TestTelemetry.parentSpanId(processed)).toBe("00f067aa0ba902b7")
        expect(processed.attributes.result).toBe("ack")
      }).pipe(Effect.provide(env())))

    it.scopedLive("an element that is not an object (string, record, strict struct) is stored as is: any consumer decodes it, the instrumented one in a root span", () =>
      Effect.gen(function*() {
        if (store === "redis") yield* redisFixture(prefix)
        const plain = yield* PersistedQueue.makeFactory
        const cases = [
          { label: "string", schema: Schema.String as Schema.Schema<any, any>, value: "o-13" },
          { label: "record", schema: Schema.Record({ key: Schema.String, value: Schema.Number }), value: { a: 1 } },
          {
            label: "strict",
            schema: Order.annotations({ parseOptions: { onExcessProperty: "error" } }),
            value: { id: "o-14", amount: 1 }
          }
        ]
        for (const { label, schema, value } of cases) {
          const name = unique(`nonobject_${label}`)
          const queue = yield* PersistedQueue.make({ name, schema })
          yield* queue.offer(value).pipe(Effect.withSpan("POST /orders"))
          yield* queue.offer(value).pipe(Effect.withSpan("POST /orders"))
          const reader = yield* plain.make({ name, schema })
          expect(yield* reader.take((got) => Effect.succeed(got))).toEqual(value)
          expect(yield* queue.take((got) => Effect.succeed(got))).toEqual(value)
          const processed = yield* TestTelemetry.spanNamed(`process ${name}`)
          expect(TestTelemetry.parentSpanId(processed)).toBeUndefined()
        }
      }).pipe(Effect.provide(env())))

    it.scopedLive("nonObjectElements: \"envelope\" keeps the trace of a non-object element between instrumented services", () =>
      Effect.gen(function*() {
        if (store === "redis") yield* redisFixture(prefix)
        const enveloping = yield* Layer.build(PersistedQueueTelemetry.layer({ nonObjectElements: "envelope" }))
        const name = unique("envelope_opt")
        const queue = yield* PersistedQueue.make({ name, schema: Schema.String }).pipe(Effect.provide(enveloping))
        yield* queue.offer("o-15").pipe(Effect.withSpan("POST /orders"))
        expect(yield* queue.take((got) => Effect.succeed(got))).toBe("o-15")
        const send = yield* TestTelemetry.spanNamed(`send ${name}`)
        const processed = yield* TestTelemetry.spanNamed(`process ${name}`)
        expect(TestTelemetry.parentSpanId(processed)).toBe(send.spanContext().spanId)
      }).pipe(Effect.provide(env())))

    it.scopedLive("an element offered without the envelope is processed in a root Consumer span with the messaging attributes", () =>
      Effect.gen(function*() {
        if (store === "redis") yield* redisFixture(prefix)
        const name = unique("legacy")
        const rawStore = yield* PersistedQueue.PersistedQueueStore
        yield* rawStore.offer({ name, id: "legacy-1", element: { id: "o-3", amount: 1 }, isCustomId: true })
        const queue = yield* PersistedQueue.make({ name, schema: Order })
        const got = yield* queue.take((order) => Effect.succeed(order)).pipe(Effect.withSpan("consumer loop"))
        expect(got).toEqual({ id: "o-3", amount: 1 })

        const processed = yield* TestTelemetry.spanNamed(`process ${name}`)
        expect(TestTelemetry.parentSpanId(processed)).toBeUndefined()
        expect(TestTelemetry.kindOf(processed)).toBe("consumer")
        expect(processed.attributes).toMatchObject({ ...base(name, "process"), "messaging.message.id": "legacy-1" })
        expect(yield* processCount(name, { result: "ack" })).toBe(1)
      }).pipe(Effect.provide(env())))

    it.scopedLive("an interrupted handler requeues the element: result nack, span Unset, in-flight back to 0", () =>
      Effect.gen(function*() {
        if (store === "redis") yield* redisFixture(prefix)
        const name = unique("interrupt")
        const queue = yield* PersistedQueue.make({ name, schema: Order })
        const id = yield* queue.offer({ id: "o-4", amount: 2 })
        const started = yield* Deferred.make<void>()
        const fiber = yield* queue.take(() => Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.never)))
          .pipe(
            Effect.fork
          )
        yield* Deferred.await(started)
        expect(yield* inFlight(name)).toBe(1)
        yield* Fiber.interrupt(fiber)
        expect(yield* inFlight(name)).toBe(0)
        expect(yield* processCount(name, { result: "nack" })).toBe(1)
        const interrupted = yield* TestTelemetry.spanNamed(`process ${name}`)
        expect(TestTelemetry.statusOf(interrupted)).toBe("unset")
        expect(interrupted.attributes["effect.interrupted"]).toBe(true)

        const again = yield* queue.take((_, meta) => Effect.succeed(meta))
        expect(again).toEqual({ id, attempts: 0 })
      }).pipe(Effect.provide(env())))

    it.scopedLive("an offer that cannot be encoded is counted as a failed send with error.type", () =>
      Effect.gen(function*() {
        if (store === "redis") yield* redisFixture(prefix)
        const name = unique("badoffer")
        const queue = yield* PersistedQueue.make({ name, schema: Order })
        const exit = yield* queue.offer({ id: "o-5", amount: "lots" } as any).pipe(Effect.exit)
        expect(Exit.isFailure(exit)).toBe(true)
        const send = yield* TestTelemetry.spanNamed(`send ${name}`)
        expect(TestTelemetry.statusOf(send)).toBe("error")
        expect(send.attributes["error.type"]).toBe("ParseError")
        expect(
          yield* TestTelemetry.metricValue("messaging.client.sent.messages", {
            ...base(name, "send"),
            "error.type": "ParseError"
          })
        ).toBe(1)
      }).pipe(Effect.provide(env())))
  })
}

describe.skipIf(redisUnavailable !== undefined)("PersistedQueueTelemetry (Redis, two services, failures)", () => {
  const prefix = unique("pq_fail") + ":"
  const env = () =>
    Layer.mergeAll(
      PersistedQueueTelemetry.layer().pipe(
        Layer.provideMerge(PersistedQueueRedis.layerStore({ ...redisOptions(), prefix, pollInterval: "20 millis" }))
      ),
      TestTelemetry.layer()
    )

  it.scopedLive("a consumer with its own Redis connection (another service) continues the producer's trace", () =>
    Effect.gen(function*() {
      yield* redisFixture(prefix)
      const name = unique("twoservices")
      const consumerService = yield* Layer.build(
        PersistedQueueTelemetry.layer().pipe(
          Layer.provide(PersistedQueueRedis.layerStore({ ...redisOptions(), prefix, pollInterval: "20 millis" }))
        )
      )
      const producerQueue = yield* PersistedQueue.make({ name, schema: Order })
      const consumerQueue = yield* PersistedQueue.make({ name, schema: Order }).pipe(Effect.provide(consumerService))
      const consumer = yield* consumerQueue.take((order) => Effect.succeed(order.id)).pipe(Effect.fork)
      yield* producerQueue.offer({ id: "o-8", amount: 1 }).pipe(Effect.withSpan("POST /orders", { kind: "server" }))
      expect(yield* Fiber.join(consumer)).toBe("o-8")
      const server = yield* TestTelemetry.spanNamed("POST /orders")
      const send = yield* TestTelemetry.spanNamed(`send ${name}`)
      const processed = yield* TestTelemetry.spanNamed(`process ${name}`)
      expect(TestTelemetry.parentSpanId(processed)).toBe(send.spanContext().spanId)
      expect(TestTelemetry.traceId(processed)).toBe(TestTelemetry.traceId(server))
    }).pipe(Effect.provide(env())))

  it.scopedLive("the stored element is the encoded value plus the documented trace property", () =>
    Effect.gen(function*() {
      const redis = yield* redisFixture(prefix)
      const name = unique("format")
      const queue = yield* PersistedQueue.make({ name, schema: Order })
      const id = yield* queue.offer({ id: "o-9", amount: 4 }).pipe(Effect.withSpan("POST /orders"))
      const stored = JSON.parse((yield* Effect.promise(() => redis.lrange(`${prefix}${name}`, 0, -1)))[0]!)
      const send = yield* TestTelemetry.spanNamed(`send ${name}`)
      expect(stored.id).toBe(id)
      expect(PersistedQueueTelemetry.isEnvelope(stored.element)).toBe(false)
      expect(stored.element).toEqual({
        id: "o-9",
        amount: 4,
        [PersistedQueueTelemetry.TRACE_KEY]: {
          traceparent: `00-${TestTelemetry.traceId(send)}-${send.spanContext().spanId}-01`
        }
      })
      expect(PersistedQueueTelemetry.unwrap(stored.element)).toEqual({
        headers: stored.element[PersistedQueueTelemetry.TRACE_KEY],
        element: { id: "o-9", amount: 4 }
      })
    }).pipe(Effect.provide(env())))

  it.scopedLive("a store that refuses the offer is a failed send with the store's error type", () =>
    Effect.gen(function*() {
      const redis = yield* redisFixture(prefix)
      const name = unique("refused")
      // The queue key holds a string: Redis answers WRONGTYPE to the push.
      yield* Effect.promise(() => redis.set(`${prefix}${name}`, "not a list"))
      const queue = yield* PersistedQueue.make({ name, schema: Order })
      const exit = yield* queue.offer({ id: "o-6", amount: 1 }).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(
        yield* TestTelemetry.metricValue("messaging.client.sent.messages", {
          ...base(name, "send"),
          "error.type": "PersistedQueueError"
        })
      ).toBe(1)
      expect(TestTelemetry.statusOf(yield* TestTelemetry.spanNamed(`send ${name}`))).toBe("error")
    }).pipe(Effect.provide(env())))

  it.scopedLive("a completion Redis rejects is result ack_error, an Error span, and in-flight back to 0", () =>
    Effect.gen(function*() {
      const redis = yield* redisFixture(prefix)
      const name = unique("settle")
      const queue = yield* PersistedQueue.make({ name, schema: Order })
      yield* queue.offer({ id: "o-7", amount: 1 }).pipe(Effect.withSpan("POST /orders", { kind: "server" }))
      // While the handler runs, the pending hash becomes a string: the completion's HDEL fails.
      const exit = yield* queue.take(() =>
        Effect.promise(() =>
          redis.del(`${prefix}${name}:pending`).then(() => redis.set(`${prefix}${name}:pending`, "x"))
        )
      ).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)

      const processed = yield* TestTelemetry.spanNamed(`process ${name}`)
      expect(TestTelemetry.statusOf(processed)).toBe("error")
      expect(processed.attributes.result).toBe("ack_error")
      expect(processed.attributes["error.type"]).toBe("ReplyError")
      expect(yield* processCount(name, { result: "ack_error", "error.type": "ReplyError" })).toBe(1)
      expect(yield* inFlight(name)).toBe(0)
    }).pipe(Effect.provide(env())))
})

describe("PersistedQueueTelemetry entry points", () => {
  it("layer is a function, as on every surface; make is the factory's Effect, as PersistedQueue.makeFactory", () => {
    expect(typeof PersistedQueueTelemetry.layer).toBe("function")
    expect(Effect.isEffect(PersistedQueueTelemetry.make)).toBe(true)
  })

  it.effect("an unknown nonObjectElements fails the layer with a TelemetryOptionsError", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(PersistedQueueTelemetry.layer({ nonObjectElements: "wrap" as any })).pipe(
        Effect.provide(PersistedQueue.layerStoreMemory),
        Effect.scoped,
        Effect.flip
      )
      expect(error).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
      expect(error.message).toBe(
        `PersistedQueueTelemetry: option nonObjectElements must be one of "plain", "envelope", got "wrap"`
      )
    }))
})

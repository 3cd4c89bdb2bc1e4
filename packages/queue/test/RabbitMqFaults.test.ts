// RabbitMQ connection loss during consume, through a TCP proxy in front of the shared broker
// (which is never stopped): the consumer fiber fails with a typed RabbitMqError naming the
// loss, the metrics record it, and a supervisor that rebuilds the connection (the documented
// recovery) ends with every message acknowledged exactly once.
import { TcpProxy, TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import type * as amqp from "amqplib"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as RabbitMq from "../src/RabbitMq.js"
import { amqpUnavailable, amqpUrl, unique } from "./services.js"

const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.retry(effect, Schedule.spaced("20 millis").pipe(Schedule.upTo("20 seconds")))

const base = (queue: string) => ({
  "messaging.system": "rabbitmq",
  "messaging.destination.name": queue,
  "messaging.operation.type": "process",
  "messaging.operation.name": "consume"
})

const processCount = (queue: string, attributes: Record<string, string>) =>
  TestTelemetry.metricPoint("messaging.process.duration", { ...base(queue), ...attributes }).pipe(
    Effect.map((point) => (point.value as { count: number }).count),
    Effect.orElseSucceed(() => 0)
  )

const inFlight = (queue: string) =>
  TestTelemetry.metricValue("messaging.process.active", {
    "messaging.system": "rabbitmq",
    "messaging.destination.name": queue
  })

const consumerErrors = (queue: string, errorType: string) =>
  TestTelemetry.metricValue("messaging.consumer.errors", {
    "messaging.system": "rabbitmq",
    "messaging.destination.name": queue,
    "error.type": errorType
  })

/** The message ids the consumer acknowledged, one per `process` span with `result=ack`. */
const ackedIds = (queue: string) =>
  Effect.map(
    TestTelemetry.spansNamed(`process ${queue}`),
    (spans) =>
      spans.filter((s) => s.attributes.result === "ack").map((s) => String(s.attributes["messaging.message.id"]))
  )

/**
 * N durable messages consumed through the proxy by a supervisor that rebuilds the connection
 * whenever the consumer fiber fails (the recovery the README documents). Message K is in its
 * handler when `fault` breaks the connection; the handler returns once the client has seen
 * the loss, so its ack cannot be sent.
 */
const scenario = (fault: "cut" | "down") =>
  Effect.gen(function*() {
    const N = 40
    const K = 12
    const publisher = yield* RabbitMq.RabbitMq
    const queue = unique(`faults_${fault}`)
    yield* Effect.acquireRelease(
      publisher.withChannel((channel) => channel.assertQueue(queue, { durable: true })),
      () => Effect.ignore(publisher.withChannel((channel) => channel.deleteQueue(queue)))
    )
    const ids = Array.from({ length: N }, (_, i) => `m-${i + 1}`)
    for (const id of ids) yield* publisher.sendToQueue(queue, id, { messageId: id, persistent: true })

    const proxy = yield* TcpProxy.make({ target: TcpProxy.targetOf(amqpUrl) })
    const handled: Array<{ id: string; redelivered: boolean }> = []
    const blocked = yield* Deferred.make<amqp.ChannelModel>()
    const release = yield* Deferred.make<void>()
    const failures: Array<RabbitMq.RabbitMqError> = []

    const consumeOnce = Effect.scoped(
      Effect.flatMap(
        RabbitMq.consume(queue, (message) =>
          Effect.gen(function*() {
            handled.push({ id: String(message.properties.messageId), redelivered: message.fields.redelivered })
            if (handled.length === K) {
              yield* Deferred.succeed(blocked, (yield* RabbitMq.RabbitMq).connection)
              yield* Deferred.await(release)
            }
          })),
        Fiber.join
      )
    ).pipe(Effect.provide(RabbitMq.layer({ url: proxy.urlFor(amqpUrl) })))
    const supervisor = yield* consumeOnce.pipe(
      // the options are valid: only the connection can fail here
      Effect.catchTag("TelemetryOptionsError", Effect.die),
      Effect.tapError((error) => Effect.sync(() => failures.push(error))),
      Effect.retry(Schedule.spaced("100 millis")),
      Effect.fork
    )

    const connection = yield* Deferred.await(blocked)
    const closed = Effect.async<void>((resume) => void connection.once("close", () => resume(Effect.void)))
    // AMQP acks are not confirmed: give the acks of the messages before K time to reach the
    // broker, or the loss could take one with it (the message would then be redelivered).
    yield* Effect.sleep("300 millis")
    expect(proxy.connections()).toBe(1)
    const lostConnection = yield* Effect.fork(closed)
    yield* fault === "cut" ? proxy.cut : proxy.down
    yield* Fiber.join(lostConnection)
    yield* Deferred.succeed(release, undefined)
    if (fault === "down") {
      // Reconnecting is refused until the service is back.
      yield* eventually(Effect.filterOrFail(Effect.sync(() => failures.length), (n) => n >= 2))
      yield* proxy.up
    }
    yield* eventually(Effect.filterOrFail(ackedIds(queue), (acked) => acked.length >= N))
    // Anything still to come would show up as a second ack.
    yield* Effect.sleep("300 millis")
    yield* Fiber.interrupt(supervisor)

    // The consumer fiber failed with a typed error naming the connection loss.
    const [lost, ...reconnects] = failures
    expect(lost._tag).toBe("RabbitMqError")
    expect(lost.reason).toBe("ConnectionLost")
    expect(lost.message).toMatch(/^the connection to RabbitMQ at 127\.0\.0\.1:\d+ was lost: /)
    if (fault === "down") {
      expect(reconnects.length).toBeGreaterThanOrEqual(1)
      for (const error of reconnects) expect(error.reason).toBe("Connect")
    } else expect(reconnects).toEqual([])

    // Metrics: K is result=ack_error, once; every message is an ack, once; in-flight is 0.
    expect(yield* processCount(queue, { result: "ack_error", "error.type": "Settle" })).toBe(1)
    expect(yield* processCount(queue, { result: "ack" })).toBe(N)
    expect(yield* inFlight(queue)).toBe(0)
    // The stopped consumer itself is counted once (the refused reconnects never started one).
    expect(yield* consumerErrors(queue, "ConnectionLost")).toBe(1)

    // Every message acked exactly once. Only K, whose ack could not be sent, was handled twice,
    // the second time as a redelivery; the deliveries buffered behind it were dropped with the
    // channel (redelivered, handled once); nothing acked before the loss came back.
    const acked = yield* ackedIds(queue)
    expect([...acked].sort()).toEqual([...ids].sort())
    const handledIds = handled.map((h) => h.id)
    expect(handledIds.slice(0, K)).toEqual(ids.slice(0, K))
    const afterLoss = handled.slice(K)
    expect(afterLoss.filter((h) => ids.slice(0, K - 1).includes(h.id))).toEqual([])
    expect(handled.length).toBe(N + 1)
    expect(afterLoss.filter((h) => h.id === ids[K - 1])).toEqual([{ id: ids[K - 1], redelivered: true }])
  }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(RabbitMq.layer({ url: amqpUrl }), TestTelemetry.layer())))

describe.skipIf(amqpUnavailable !== undefined)(
  "RabbitMQ connection loss during consume (real RabbitMQ behind a TcpProxy)",
  () => {
    it.live(
      "a cut connection fails the consumer with ConnectionLost and ack_error; reconnected, every message is acked exactly once",
      () => scenario("cut")
    )

    it.live(
      "RabbitMQ down: reconnecting fails with Connect until it is up; then every message is acked exactly once",
      () => scenario("down")
    )

    it.live("an idle consumer whose connection is lost is counted in messaging.consumer.errors (it has no span to show it)", () =>
      Effect.gen(function*() {
        const publisher = yield* RabbitMq.RabbitMq
        const queue = unique("faults_idle")
        yield* Effect.acquireRelease(
          publisher.withChannel((channel) => channel.assertQueue(queue, { durable: false })),
          () => Effect.ignore(publisher.withChannel((channel) => channel.deleteQueue(queue)))
        )
        const proxy = yield* TcpProxy.make({ target: TcpProxy.targetOf(amqpUrl) })
        const consumer = yield* Effect.scoped(
          Effect.flatMap(RabbitMq.consume(queue, () => Effect.void), Fiber.join).pipe(
            // the options are valid: only the connection can fail here
            Effect.catchTag("TelemetryOptionsError", Effect.die)
          )
        ).pipe(Effect.provide(RabbitMq.layer({ url: proxy.urlFor(amqpUrl) })), Effect.flip, Effect.fork)
        // Subscribed (the broker counts the consumer), so the cut hits an idle consumer.
        yield* eventually(Effect.filterOrFail(
          publisher.withChannel((channel) => channel.checkQueue(queue)),
          (info) => info.consumerCount === 1
        ))
        yield* proxy.cut
        const error = yield* Fiber.join(consumer)
        expect(error.reason).toBe("ConnectionLost")
        expect(yield* consumerErrors(queue, "ConnectionLost")).toBe(1)
        expect(yield* TestTelemetry.spansNamed(`process ${queue}`)).toEqual([])
      }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(RabbitMq.layer({ url: amqpUrl }), TestTelemetry.layer()))))
  }
)

// RabbitMq.consumeManual on the real broker: the handler settles each message itself, and the
// telemetry still records exactly one outcome per message, whatever the handler does.
import { TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as RabbitMq from "../src/RabbitMq.js"
import * as T from "./rabbit.js"
import { amqpUnavailable } from "./services.js"

class PaymentDeclined extends Data.TaggedError("PaymentDeclined")<{}> {}

const consumed = (queue: string) =>
  TestTelemetry.metricValue("messaging.client.consumed.messages", T.base(queue, "process"))

describe.skipIf(amqpUnavailable !== undefined)("RabbitMq.consumeManual (real RabbitMQ)", () => {
  it.live("a handler that acks itself is result ack in the producer's trace; a second ack fails with AlreadySettled, is not sent, not counted", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* T.tempQueue("manual_ack")
      const second: Array<RabbitMq.RabbitMqError> = []
      yield* RabbitMq.consumeManual(queue, (message) =>
        Effect.gen(function*() {
          yield* message.ack()
          second.push(yield* Effect.flip(message.ack()))
          second.push(yield* Effect.flip(message.nack(false)))
        }))
      yield* rabbit.sendToQueue(queue, "o-1").pipe(Effect.withSpan("POST /orders", { kind: "server" }))
      // Were the second ack sent, the broker would close the channel (unknown delivery tag,
      // PRECONDITION_FAILED) and this message would never be handled.
      yield* rabbit.sendToQueue(queue, "o-2")
      yield* T.equalsEventually(T.processCount(queue, { result: "ack" }), 2)

      expect(second.map((error) => error.reason)).toEqual([
        "AlreadySettled",
        "AlreadySettled",
        "AlreadySettled",
        "AlreadySettled"
      ])
      expect(second[0]!.message).toMatch(/was already settled \(ack\); the ack was not sent$/)
      expect(yield* consumed(queue)).toBe(2)
      expect(yield* T.inFlight(queue)).toBe(0)
      yield* T.equalsEventually(T.messageCount(queue), 0)
      const spans = yield* T.eventually(
        Effect.filterOrFail(TestTelemetry.spansNamed(`process ${queue}`), (s) => s.length === 2, () => "waiting")
      )
      const send = (yield* TestTelemetry.spansNamed(`send ${queue}`))[0]!
      expect(TestTelemetry.parentSpanId(spans[0]!)).toBe(send.spanContext().spanId)
      expect(spans.map((span) => span.attributes.result)).toEqual(["ack", "ack"])
      expect(spans.map(TestTelemetry.statusOf)).toEqual(["unset", "unset"])
    }).pipe(Effect.scoped, Effect.provide(T.env())))

  it.live("nack() requeues by default and nack(false) dead-letters: result nack, span Unset", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const deadLetters = yield* T.tempQueue("manual_dlq")
      const queue = yield* T.tempQueue("manual_nack", {
        arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": deadLetters }
      })
      // First delivery: nack() (requeued); the redelivery: nack(false) (dead-lettered).
      yield* RabbitMq.consumeManual(queue, (message) => message.nack(message.fields.redelivered ? false : undefined))
      yield* rabbit.sendToQueue(queue, "unwanted")
      yield* T.equalsEventually(T.processCount(queue, { result: "nack" }), 2)
      yield* T.equalsEventually(T.messageCount(deadLetters), 1)
      const spans = yield* TestTelemetry.spansNamed(`process ${queue}`)
      expect(spans.map((span) => span.attributes["effect.messaging.redelivered"])).toEqual([false, true])
      expect(spans.map(TestTelemetry.statusOf)).toEqual(["unset", "unset"])
      expect(spans.map((span) => span.attributes["error.type"])).toEqual([undefined, undefined])
      expect(yield* consumed(queue)).toBe(2)
      expect(yield* T.inFlight(queue)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(T.env())))

  it.live("a handler that ends without settling fails with Unsettled: result error, requeued once then rejected; a late ack is refused", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* T.tempQueue("manual_forgot")
      const kept: Array<RabbitMq.ManualMessage> = []
      yield* RabbitMq.consumeManual(queue, (message) => Effect.sync(() => kept.push(message)))
      yield* rabbit.sendToQueue(queue, "forgotten")
      yield* T.equalsEventually(T.processCount(queue, { result: "error", "error.type": "Unsettled" }), 2)
      // Not a third time: the default requeueOnFailure ("once") rejected the redelivery.
      yield* Effect.sleep("300 millis")
      expect(yield* consumed(queue)).toBe(2)
      expect(yield* T.messageCount(queue)).toBe(0)
      const spans = yield* TestTelemetry.spansNamed(`process ${queue}`)
      expect(spans.map(TestTelemetry.statusOf)).toEqual(["error", "error"])
      expect(spans.map((span) => span.attributes["error.type"])).toEqual(["Unsettled", "Unsettled"])

      // A fiber the handler left behind acks after the consumer settled: refused, never sent.
      const late = yield* Effect.flip(kept[0]!.ack())
      expect(late.reason).toBe("AlreadySettled")
      expect(late.message).toContain("by the consumer, after the handler ended")
      expect(yield* T.processCount(queue, { result: "error", "error.type": "Unsettled" })).toBe(2)
      expect(yield* T.inFlight(queue)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(T.env())))

  it.live("a handler that fails before settling is nacked per requeueOnFailure; one that fails after its ack keeps result ack, span Error", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* T.tempQueue("manual_fail")
      yield* RabbitMq.consumeManual(
        queue,
        (message) =>
          message.content.toString() === "after"
            ? Effect.zipRight(message.ack(), new PaymentDeclined())
            : new PaymentDeclined(),
        { requeueOnFailure: "never" }
      )
      yield* rabbit.sendToQueue(queue, "before")
      yield* rabbit.sendToQueue(queue, "after")
      yield* T.equalsEventually(T.processCount(queue, { result: "error", "error.type": "PaymentDeclined" }), 1)
      yield* T.equalsEventually(T.processCount(queue, { result: "ack", "error.type": "PaymentDeclined" }), 1)
      yield* Effect.sleep("300 millis")
      // Neither comes back: one rejected ("never"), one acked.
      expect(yield* consumed(queue)).toBe(2)
      expect(yield* T.messageCount(queue)).toBe(0)
      const spans = yield* TestTelemetry.spansNamed(`process ${queue}`)
      expect(spans.map(TestTelemetry.statusOf)).toEqual(["error", "error"])
      expect(spans.map((span) => span.attributes.result).sort()).toEqual(["ack", "error"])
      expect(yield* T.inFlight(queue)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(T.env())))

  it.live("an ack or nack on a closed channel fails with reason Settle: result ack_error / nack_error, counted once, redelivered", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      for (const call of ["ack", "nack"] as const) {
        const queue = yield* T.tempQueue(`manual_${call}_error`)
        const consumerSide = yield* T.otherConnection
        const failed = yield* Deferred.make<RabbitMq.RabbitMqError>()
        yield* RabbitMq.consumeManual(queue, (message) =>
          Effect.promise(() => consumerSide.connection.close()).pipe(
            Effect.zipRight(call === "ack" ? message.ack() : message.nack()),
            // The handler swallows the failure: the outcome is still the failed call.
            Effect.catchAll((error) => Deferred.succeed(failed, error))
          )).pipe(Effect.provideService(RabbitMq.RabbitMq, consumerSide))
        yield* rabbit.sendToQueue(queue, "o-3")
        const error = yield* Deferred.await(failed)
        expect(error.reason).toBe("Settle")
        yield* T.equalsEventually(T.processCount(queue, { result: `${call}_error`, "error.type": "Settle" }), 1)
        const processed = yield* T.eventually(TestTelemetry.spanNamed(`process ${queue}`))
        expect(TestTelemetry.statusOf(processed)).toBe("error")
        expect(processed.attributes.result).toBe(`${call}_error`)
        expect(yield* consumed(queue)).toBe(1)
        expect(yield* T.inFlight(queue)).toBe(0)
        // The broker never saw the settlement: the message is back in the queue.
        yield* T.equalsEventually(T.messageCount(queue), 1)
      }
    }).pipe(Effect.scoped, Effect.provide(T.env())))

  it.live("options are validated as consume's, before any channel opens", () =>
    Effect.gen(function*() {
      const queue = yield* T.tempQueue("manual_options")
      const error = yield* Effect.flip(RabbitMq.consumeManual(queue, (message) => message.ack(), { concurrency: 0 }))
      expect(error).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
      expect(error.message).toBe("RabbitMq: option concurrency must be a positive integer, got 0")
    }).pipe(Effect.scoped, Effect.provide(T.env())))
})

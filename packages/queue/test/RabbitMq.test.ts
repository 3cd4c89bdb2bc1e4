import { Propagation, TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as amqp from "amqplib"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as RabbitMq from "../src/RabbitMq.js"
import {
  base,
  env,
  equalsEventually,
  eventually,
  inFlight,
  messageCount,
  otherConnection,
  processCount,
  tempQueue
} from "./rabbit.js"
import { amqpUnavailable, amqpUrl, unique } from "./services.js"

class PaymentDeclined extends Data.TaggedError("PaymentDeclined")<{}> {}

describe.skipIf(amqpUnavailable !== undefined)("RabbitMq (real RabbitMQ)", () => {
  it.live("a publish in a server span and a consumer on another connection are one trace: send, then process as its child", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* tempQueue("orders")
      const consumerSide = yield* otherConnection
      const received = yield* Deferred.make<string>()
      yield* RabbitMq.consume(queue, (message) =>
        Effect.void.pipe(
          Effect.withSpan("charge card"),
          Effect.zipRight(Deferred.succeed(received, message.content.toString()))
        )).pipe(Effect.provideService(RabbitMq.RabbitMq, consumerSide))
      yield* rabbit.sendToQueue(queue, "o-1", { messageId: "m-1" }).pipe(
        Effect.withSpan("POST /orders", { kind: "server" })
      )
      expect(yield* Deferred.await(received)).toBe("o-1")

      const processed = yield* eventually(TestTelemetry.spanNamed(`process ${queue}`))
      const server = yield* TestTelemetry.spanNamed("POST /orders")
      const send = yield* TestTelemetry.spanNamed(`send ${queue}`)
      const charge = yield* TestTelemetry.spanNamed("charge card")
      expect(TestTelemetry.kindOf(send)).toBe("producer")
      expect(TestTelemetry.kindOf(processed)).toBe("consumer")
      expect(TestTelemetry.parentSpanId(send)).toBe(server.spanContext().spanId)
      expect(TestTelemetry.parentSpanId(processed)).toBe(send.spanContext().spanId)
      expect(TestTelemetry.parentSpanId(charge)).toBe(processed.spanContext().spanId)
      expect(new Set([server, send, processed, charge].map(TestTelemetry.traceId)).size).toBe(1)
      const url = new URL(amqpUrl)
      const serverAttributes = {
        "server.address": url.hostname,
        "server.port": url.port === "" ? 5672 : Number(url.port)
      }
      expect(send.attributes).toEqual({
        ...base(queue, "send"),
        "messaging.message.id": "m-1",
        "messaging.rabbitmq.destination.routing_key": queue,
        ...serverAttributes
      })
      expect(processed.attributes).toMatchObject({
        ...base(queue, "process"),
        "messaging.message.id": "m-1",
        "messaging.rabbitmq.destination.routing_key": queue,
        "effect.messaging.redelivered": false,
        result: "ack",
        ...serverAttributes
      })
      expect(typeof processed.attributes["messaging.rabbitmq.message.delivery_tag"]).toBe("number")
      expect(JSON.stringify([send.attributes, processed.attributes])).not.toContain(url.password || "guest:")

      expect(yield* TestTelemetry.metricValue("messaging.client.sent.messages", base(queue, "send"))).toBe(1)
      expect(yield* TestTelemetry.metricValue("messaging.client.consumed.messages", base(queue, "process"))).toBe(1)
      expect(yield* processCount(queue, { result: "ack" })).toBe(1)
      expect(yield* inFlight(queue)).toBe(0)
      expect(
        yield* TestTelemetry.prometheusValue("messaging_process_duration_seconds_count", {
          messaging_system: "rabbitmq",
          messaging_destination_name: queue,
          messaging_operation_type: "process",
          messaging_operation_name: "consume",
          result: "ack"
        })
      ).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.live("a message from an uninstrumented publisher, or with a malformed traceparent, is processed in a root Consumer span", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* tempQueue("foreign")
      // Published straight on the channel: no producer span, no context in the headers.
      yield* rabbit.withChannel(async (channel) => {
        channel.sendToQueue(queue, Buffer.from("plain"))
        channel.sendToQueue(queue, Buffer.from("bad"), { headers: { traceparent: "00-zz-zz-01" } })
      })
      yield* RabbitMq.consume(queue, () => Effect.void)
      yield* equalsEventually(Effect.map(TestTelemetry.spansNamed(`process ${queue}`), (spans) => spans.length), 2)

      for (const span of yield* TestTelemetry.spansNamed(`process ${queue}`)) {
        expect(TestTelemetry.kindOf(span)).toBe("consumer")
        expect(TestTelemetry.parentSpanId(span)).toBeUndefined()
        expect(span.attributes).toMatchObject({ ...base(queue, "process"), result: "ack" })
      }
      expect(yield* TestTelemetry.metricValue("messaging.client.consumed.messages", base(queue, "process"))).toBe(2)
      expect(yield* processCount(queue, { result: "ack" })).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.live("a failed handler nacks, the broker redelivers, and both deliveries are counted in the producer's trace", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* tempQueue("redeliver")
      let calls = 0
      yield* RabbitMq.consume(
        queue,
        () => Effect.suspend(() => (++calls === 1 ? Effect.fail(new PaymentDeclined()) : Effect.void))
      )
      yield* rabbit.sendToQueue(queue, "o-2").pipe(Effect.withSpan("POST /orders", { kind: "server" }))

      yield* equalsEventually(processCount(queue, { result: "ack" }), 1)
      expect(yield* processCount(queue, { result: "error", "error.type": "PaymentDeclined" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("messaging.client.consumed.messages", base(queue, "process"))).toBe(2)
      expect(yield* inFlight(queue)).toBe(0)
      const send = yield* TestTelemetry.spanNamed(`send ${queue}`)
      const runs = yield* eventually(
        Effect.filterOrFail(
          TestTelemetry.spansNamed(`process ${queue}`),
          (spans) => spans.length === 2,
          () => "waiting"
        )
      )
      expect(runs.map((s) => s.attributes["effect.messaging.redelivered"])).toEqual([false, true])
      expect(runs.map(TestTelemetry.statusOf)).toEqual(["error", "unset"])
      expect(runs.every((s) => TestTelemetry.parentSpanId(s) === send.spanContext().spanId)).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.live("a message that keeps failing is requeued once, then rejected (requeueOnFailure: once)", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* tempQueue("poison")
      yield* RabbitMq.consume(queue, () => Effect.fail(new PaymentDeclined()))
      yield* rabbit.sendToQueue(queue, "poison")
      yield* equalsEventually(processCount(queue, { result: "error", "error.type": "PaymentDeclined" }), 2)
      // Nothing comes back a third time.
      yield* Effect.sleep("300 millis")
      expect(yield* TestTelemetry.metricValue("messaging.client.consumed.messages", base(queue, "process"))).toBe(2)
      expect(yield* messageCount(queue)).toBe(0)
      expect(yield* inFlight(queue)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.live("a handler failing with Nack dead-letters the message: result nack, span not Error", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const deadLetters = yield* tempQueue("dlq")
      const queue = yield* tempQueue("rejecting", {
        arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": deadLetters }
      })
      yield* RabbitMq.consume(queue, () => Effect.fail(new RabbitMq.Nack({ requeue: false })))
      yield* rabbit.sendToQueue(queue, "unwanted")
      yield* equalsEventually(processCount(queue, { result: "nack" }), 1)
      const processed = yield* eventually(TestTelemetry.spanNamed(`process ${queue}`))
      expect(TestTelemetry.statusOf(processed)).toBe("unset")
      expect(processed.attributes["error.type"]).toBeUndefined()
      yield* equalsEventually(messageCount(deadLetters), 1)
      expect(yield* inFlight(queue)).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.live("a publish the broker refuses or cannot route fails, is an Error span and counted with error.type", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const missingExchange = unique("no_such_exchange")
      const refused = yield* rabbit.publish(missingExchange, "key", "x").pipe(Effect.flip)
      expect(refused.replyCode).toBe(404)
      expect(refused.replyText).toBe("NOT_FOUND")
      const missingQueue = unique("no_such_queue")
      const unroutable = yield* rabbit.sendToQueue(missingQueue, "x").pipe(Effect.flip)
      expect(unroutable.reason).toBe("Unroutable")
      // The publisher channel the 404 closed is reopened for the next publish.
      const queue = yield* tempQueue("after_failure")
      yield* rabbit.sendToQueue(queue, "ok")

      expect(
        yield* TestTelemetry.metricValue("messaging.client.sent.messages", {
          ...base(missingExchange, "send"),
          "error.type": "NOT_FOUND"
        })
      ).toBe(1)
      expect(
        yield* TestTelemetry.metricValue("messaging.client.sent.messages", {
          ...base(missingQueue, "send"),
          "error.type": "unroutable"
        })
      ).toBe(1)
      expect(yield* TestTelemetry.metricValue("messaging.client.sent.messages", base(queue, "send"))).toBe(1)
      const failedSend = yield* TestTelemetry.spanNamed(`send ${missingQueue}`)
      expect(TestTelemetry.statusOf(failedSend)).toBe("error")
      expect(failedSend.attributes["error.type"]).toBe("unroutable")
      expect(yield* messageCount(queue)).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.live("an ack on a connection that closed under the handler is result ack_error, and in-flight returns to 0", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* tempQueue("settle")
      const consumerSide = yield* otherConnection
      yield* RabbitMq.consume(queue, () => Effect.promise(() => consumerSide.connection.close())).pipe(
        Effect.provideService(RabbitMq.RabbitMq, consumerSide)
      )
      yield* rabbit.sendToQueue(queue, "o-3")
      yield* equalsEventually(processCount(queue, { result: "ack_error", "error.type": "Settle" }), 1)
      const processed = yield* eventually(TestTelemetry.spanNamed(`process ${queue}`))
      expect(TestTelemetry.statusOf(processed)).toBe("error")
      expect(processed.attributes.result).toBe("ack_error")
      expect(yield* inFlight(queue)).toBe(0)
      // The broker never saw the ack: the message is still there.
      yield* equalsEventually(messageCount(queue), 1)
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.live("a nack on a connection that closed under a failed handler is result nack_error with the settle's error.type", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* tempQueue("nack_error")
      const consumerSide = yield* otherConnection
      yield* RabbitMq.consume(
        queue,
        () => Effect.promise(() => consumerSide.connection.close()).pipe(Effect.zipRight(new PaymentDeclined()))
      ).pipe(Effect.provideService(RabbitMq.RabbitMq, consumerSide))
      yield* rabbit.sendToQueue(queue, "o-5")
      yield* equalsEventually(processCount(queue, { result: "nack_error", "error.type": "Settle" }), 1)
      const processed = yield* eventually(TestTelemetry.spanNamed(`process ${queue}`))
      expect(TestTelemetry.statusOf(processed)).toBe("error")
      expect(processed.attributes.result).toBe("nack_error")
      expect(processed.attributes["error.type"]).toBe("Settle")
      expect(yield* inFlight(queue)).toBe(0)
      yield* equalsEventually(messageCount(queue), 1)
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.live("an uninstrumented consumer (plain amqplib) reads the body unchanged and the W3C context in the AMQP headers", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* tempQueue("plain_consumer")
      const body = JSON.stringify({ id: "o-6", amount: 12 })
      // The caller continues a remote trace that carries a tracestate: both travel on.
      const remote = {
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        tracestate: "vendor=opaque"
      }
      yield* rabbit.sendToQueue(queue, body, { messageId: "m-6", headers: { tenant: "acme" } }).pipe(
        Propagation.withParentFrom(remote)
      )
      const send = yield* TestTelemetry.spanNamed(`send ${queue}`)
      expect(TestTelemetry.traceId(send)).toBe("4bf92f3577b34da6a3ce929d0e0e4736")

      // Another process that knows nothing of this package: amqplib on its own connection.
      const plain = yield* Effect.acquireRelease(
        Effect.promise(() => amqp.connect(amqpUrl)),
        (connection) => Effect.promise(() => connection.close())
      )
      const message = yield* Effect.promise(async () => {
        const channel = await plain.createChannel()
        const got = await channel.get(queue, { noAck: true })
        await channel.close()
        return got
      })
      if (message === false) return expect.fail("the message is not in the queue")
      expect(message.content.toString("utf8")).toBe(body)
      expect(message.properties.messageId).toBe("m-6")
      expect(message.properties.headers).toEqual({
        tenant: "acme",
        traceparent: `00-${TestTelemetry.traceId(send)}-${send.spanContext().spanId}-01`,
        tracestate: "vendor=opaque"
      })

      // The same message read by an instrumented consumer continues the trace, tracestate kept.
      yield* rabbit.sendToQueue(queue, body).pipe(Propagation.withParentFrom(remote))
      yield* RabbitMq.consume(queue, () => Effect.void)
      const processed = yield* eventually(TestTelemetry.spanNamed(`process ${queue}`))
      const second = (yield* TestTelemetry.spansNamed(`send ${queue}`))[1]!
      expect(TestTelemetry.parentSpanId(processed)).toBe(second.spanContext().spanId)
      expect(processed.spanContext().traceState?.serialize()).toBe("vendor=opaque")
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.live("closing the consumer's scope interrupts the handler: requeued, result nack, in-flight back to 0", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* tempQueue("interrupt")
      const scope = yield* Scope.make()
      const started = yield* Deferred.make<void>()
      yield* RabbitMq.consume(queue, () => Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.never)))
        .pipe(
          Scope.extend(scope)
        )
      yield* rabbit.sendToQueue(queue, "o-4")
      yield* Deferred.await(started)
      expect(yield* inFlight(queue)).toBe(1)
      yield* Scope.close(scope, Exit.void)
      expect(yield* inFlight(queue)).toBe(0)
      expect(yield* processCount(queue, { result: "nack" })).toBe(1)
      const processed = yield* TestTelemetry.spanNamed(`process ${queue}`)
      expect(TestTelemetry.statusOf(processed)).toBe("unset")
      expect(processed.attributes["effect.interrupted"]).toBe(true)
      yield* equalsEventually(messageCount(queue), 1)
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.live("with concurrency, in-flight counts the handlers running and returns to 0; a defect is result error", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* tempQueue("concurrent")
      const release = yield* Deferred.make<void>()
      yield* RabbitMq.consume(
        queue,
        (message) =>
          message.content.toString() === "boom"
            ? Effect.die(new RangeError("bad input"))
            : Deferred.await(release),
        { concurrency: 3, requeueOnFailure: "never" }
      )
      for (const body of ["a", "b", "c"]) yield* rabbit.sendToQueue(queue, body)
      yield* equalsEventually(inFlight(queue), 3)
      yield* Deferred.succeed(release, undefined)
      yield* equalsEventually(processCount(queue, { result: "ack" }), 3)
      yield* rabbit.sendToQueue(queue, "boom")
      yield* equalsEventually(processCount(queue, { result: "error", "error.type": "RangeError" }), 1)
      expect(yield* inFlight(queue)).toBe(0)
      const prefetch = yield* Effect.flip(RabbitMq.consume(queue, () => Effect.void, { prefetch: 0 }))
      expect(prefetch).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
      expect(prefetch.message).toBe("RabbitMq: option prefetch must be a positive integer, got 0")
      const requeue = yield* Effect.flip(
        RabbitMq.consumeBatch(queue, () => Effect.void, {
          size: 2,
          within: "1 second",
          requeueOnFailure: "twice" as any
        })
      )
      expect(requeue.message).toBe(
        `RabbitMq: option requeueOnFailure must be one of "once", "always", "never", got "twice"`
      )
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.live("a batch is one root process span linked to each message's producer", () =>
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      const queue = yield* tempQueue("batch")
      const sizes: Array<number> = []
      yield* RabbitMq.consumeBatch(queue, (messages) => Effect.sync(() => sizes.push(messages.length)), {
        size: 3,
        within: "5 seconds"
      })
      for (const n of [1, 2, 3]) {
        yield* rabbit.sendToQueue(queue, `o-${n}`).pipe(Effect.withSpan(`request ${n}`, { kind: "server" }))
      }
      yield* equalsEventually(processCount(queue, { result: "ack" }), 1)
      expect(sizes).toEqual([3])
      const batch = yield* eventually(TestTelemetry.spanNamed(`process ${queue}`))
      expect(TestTelemetry.parentSpanId(batch)).toBeUndefined()
      expect(batch.attributes["messaging.batch.message_count"]).toBe(3)
      const sends = yield* TestTelemetry.spansNamed(`send ${queue}`)
      expect(batch.links.map((link) => link.context.spanId).sort()).toEqual(
        sends.map((s) => s.spanContext().spanId).sort()
      )
      expect(yield* TestTelemetry.metricValue("messaging.client.consumed.messages", base(queue, "process"))).toBe(3)
      expect(yield* inFlight(queue)).toBe(0)
      yield* equalsEventually(messageCount(queue), 0)
    }).pipe(Effect.scoped, Effect.provide(env())))

  it.live("layerConfig reads the URL from Config; a connection failure names the server, never the credentials", () =>
    Effect.gen(function*() {
      const configured = yield* Effect.scoped(
        Effect.map(RabbitMq.RabbitMq, (rabbit) => rabbit.serverPort).pipe(
          Effect.provide(RabbitMq.layerConfig({ url: Config.redacted("AMQP_URL") })),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["AMQP_URL", amqpUrl]])))
        )
      )
      expect(configured).toBe(new URL(amqpUrl).port === "" ? 5672 : Number(new URL(amqpUrl).port))
      const error = yield* RabbitMq.make({ url: "amqp://alice:s3cret@127.0.0.1:1" }).pipe(Effect.scoped, Effect.flip)
      expect(error.reason).toBe("Connect")
      expect(error.message).toContain("127.0.0.1:1")
      expect(error.message).not.toContain("s3cret")
    }).pipe(Effect.scoped, Effect.provide(TestTelemetry.layer())))
})

// What the RabbitMQ tests share: the layer, metric readers and throwaway queues on the real broker.
import { TestTelemetry } from "@effect-telemetry/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as RabbitMq from "../src/RabbitMq.js"
import { amqpUrl, unique } from "./services.js"

export const env = () => Layer.mergeAll(RabbitMq.layer({ url: Redacted.make(amqpUrl) }), TestTelemetry.layer())

export const base = (destination: string, operation: "send" | "process") => ({
  "messaging.system": "rabbitmq",
  "messaging.destination.name": destination,
  "messaging.operation.type": operation,
  "messaging.operation.name": operation === "send" ? "publish" : "consume"
})

/** Retries until `effect` succeeds (spans and settlements land after the handler returns). */
export const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.retry(effect, Schedule.spaced("20 millis").pipe(Schedule.upTo("10 seconds")))

export const equalsEventually = <E, R>(effect: Effect.Effect<number, E, R>, expected: number) =>
  eventually(Effect.filterOrFail(effect, (value) => value === expected, (value) => `got ${value}, want ${expected}`))

export const processCount = (queue: string, attributes: Record<string, string>) =>
  Effect.map(
    TestTelemetry.metricPoint("messaging.process.duration", { ...base(queue, "process"), ...attributes }),
    (point) => (point.value as { count: number }).count
  )

export const inFlight = (queue: string) =>
  TestTelemetry.metricValue("messaging.process.active", {
    "messaging.system": "rabbitmq",
    "messaging.destination.name": queue
  })

/** A fresh queue, deleted with the scope. */
export const tempQueue = (label: string, options?: Record<string, unknown>) =>
  Effect.gen(function*() {
    const rabbit = yield* RabbitMq.RabbitMq
    const name = unique(label)
    yield* Effect.acquireRelease(
      rabbit.withChannel((channel) => channel.assertQueue(name, { durable: false, ...options })),
      () => Effect.ignore(rabbit.withChannel((channel) => channel.deleteQueue(name)))
    )
    return name
  })

export const messageCount = (queue: string) =>
  Effect.flatMap(
    RabbitMq.RabbitMq,
    (rabbit) => rabbit.withChannel((channel) => channel.checkQueue(queue).then((q) => q.messageCount))
  )

/** A second connection: the consumer side of the tests, as in another service. */
export const otherConnection = RabbitMq.make({ url: amqpUrl })

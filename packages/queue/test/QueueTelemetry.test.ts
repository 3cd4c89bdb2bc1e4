import { Propagation } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import { SpanKind } from "@opentelemetry/api"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import { QueueTelemetry } from "../src/index.js"

/** A message of a broker this package does not cover: a body and headers. */
interface Message {
  readonly body: string
  readonly headers: Record<string, string>
}

const destination = { system: "inproc", destination: "jobs" } as const

describe("QueueTelemetry", () => {
  it.live("send and process over any transport: the carrier the producer sends is the consumer's parent", () =>
    Effect.gen(function*() {
      const transport = yield* Queue.unbounded<Message>()
      const settled: Array<string> = []
      const consumer = yield* Effect.fork(
        Effect.flatMap(Queue.take(transport), (message) =>
          QueueTelemetry.process(
            { ...destination, operationName: "receive", carrier: message.headers },
            Effect.succeed(message.body.length),
            (exit) => Effect.sync(() => settled.push(Exit.isSuccess(exit) ? "ack" : "nack"))
          ))
      )
      yield* QueueTelemetry.send(
        { ...destination, operationName: "put", messageId: "j-1" },
        (headers) => Queue.offer(transport, { body: "resize", headers })
      ).pipe(Effect.withSpan("request", { kind: "server" }))
      expect(yield* Fiber.join(consumer)).toBe(6)
      expect(settled).toEqual(["ack"])

      const send = yield* TestTelemetry.spanNamed("send jobs")
      const processed = yield* TestTelemetry.spanNamed("process jobs")
      expect(TestTelemetry.parentSpanId(processed)).toBe(send.spanContext().spanId)
      expect(TestTelemetry.traceId(processed)).toBe(TestTelemetry.traceId(send))
      const sendAttributes = {
        "messaging.system": "inproc",
        "messaging.destination.name": "jobs",
        "messaging.operation.name": "put",
        "messaging.operation.type": "send"
      }
      expect(yield* TestTelemetry.metricValue("messaging.client.sent.messages", sendAttributes)).toBe(1)
      const sendDuration = yield* TestTelemetry.metricPoint("messaging.client.operation.duration", sendAttributes)
      expect((sendDuration.value as { count: number }).count).toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("the spans and metrics a send and a process record are the ones QueueTelemetry.signals declares", () =>
    Effect.gen(function*() {
      const transport = yield* Queue.unbounded<Message>()
      const consumer = yield* Effect.fork(
        Effect.flatMap(Queue.take(transport), (message) =>
          QueueTelemetry.process(
            { ...destination, operationName: "receive", carrier: message.headers },
            Effect.void,
            () => Effect.void
          ))
      )
      yield* QueueTelemetry.send(
        { ...destination, operationName: "put" },
        (headers) => Queue.offer(transport, { body: "x", headers })
      )
      yield* Fiber.join(consumer)
      const kinds: Record<string, SpanKind> = { Producer: SpanKind.PRODUCER, Consumer: SpanKind.CONSUMER }
      // A declared name's `{placeholder}` stands for the destination.
      const declared = QueueTelemetry.signals.spans.map((span) => ({
        name: span.name.replace(/\{[^}]+\}/g, destination.destination),
        kind: kinds[span.kind]
      }))
      const recorded = (yield* TestTelemetry.spans).map((span) => ({ name: span.name, kind: span.kind }))
      expect(recorded.map((span) => span.name).sort()).toEqual(["process jobs", "send jobs"])
      for (const span of recorded) expect(declared).toContainEqual(span)
      const metrics = QueueTelemetry.signals.metrics.map((metric) => metric.instrument.descriptor.name)
      for (
        const name of [
          "messaging.client.sent.messages",
          "messaging.client.operation.duration",
          "messaging.client.consumed.messages",
          "messaging.process.duration",
          "messaging.process.active"
        ]
      ) {
        expect(yield* TestTelemetry.metricData(name), name).toBeDefined()
        expect(metrics).toContain(name)
      }
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("an unsampled producer keeps the consumer unsampled while both are still counted", () =>
    Effect.gen(function*() {
      const transport = yield* Queue.unbounded<Message>()
      const consumer = yield* Effect.fork(
        Effect.flatMap(Queue.take(transport), (message) =>
          QueueTelemetry.process(
            { ...destination, operationName: "receive", carrier: message.headers },
            Effect.void,
            () => Effect.void
          ))
      )
      const unsampledCaller = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00" }
      yield* QueueTelemetry.send(
        { ...destination, operationName: "put" },
        (headers) => Queue.offer(transport, { body: "x", headers })
      ).pipe(Propagation.withParentFrom(unsampledCaller))
      yield* Fiber.join(consumer)
      expect(yield* TestTelemetry.spans).toEqual([])
      expect(
        yield* TestTelemetry.metricValue("messaging.client.consumed.messages", {
          "messaging.system": "inproc",
          "messaging.destination.name": "jobs",
          "messaging.operation.name": "receive",
          "messaging.operation.type": "process"
        })
      ).toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer({ sampler: "parentbased_always_on" }))))

  it.live("a settle that dies is ack_error after a success, nack_error after a failure, with the defect's type", () =>
    Effect.gen(function*() {
      const settleDies = () => Effect.die(new RangeError("lost connection"))
      const acked = yield* QueueTelemetry.process(
        { ...destination, operationName: "receive" },
        Effect.succeed("done"),
        settleDies
      ).pipe(Effect.exit)
      // The handler's value is not returned: the message was not settled.
      expect(Exit.isFailure(acked)).toBe(true)
      const nacked = yield* QueueTelemetry.process(
        { ...destination, operationName: "receive" },
        Effect.fail("bad input"),
        settleDies
      ).pipe(Effect.exit)
      expect(Exit.isFailure(nacked)).toBe(true)
      const processed = yield* TestTelemetry.spansNamed("process jobs")
      expect(processed.map((span) => TestTelemetry.parentSpanId(span))).toEqual([undefined, undefined])
      expect(processed.map(TestTelemetry.statusOf)).toEqual(["error", "error"])
      expect(processed.map((span) => span.attributes.result)).toEqual(["ack_error", "nack_error"])
      expect(processed.map((span) => span.attributes["error.type"])).toEqual(["RangeError", "RangeError"])
      for (const result of ["ack_error", "nack_error"]) {
        const point = yield* TestTelemetry.metricPoint("messaging.process.duration", {
          "messaging.system": "inproc",
          "messaging.destination.name": "jobs",
          "messaging.operation.name": "receive",
          "messaging.operation.type": "process",
          result,
          "error.type": "RangeError"
        })
        expect((point.value as { count: number }).count).toBe(1)
      }
      expect(
        yield* TestTelemetry.metricValue("messaging.process.active", {
          "messaging.system": "inproc",
          "messaging.destination.name": "jobs"
        })
      )
        .toBe(0)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("the messaging metrics are exposed with their Prometheus types and pass promtool", () =>
    Effect.gen(function*() {
      yield* QueueTelemetry.send({ ...destination, operationName: "put" }, () => Effect.void)
      yield* QueueTelemetry.send({ ...destination, operationName: "put" }, () => Effect.fail("refused"))
        .pipe(Effect.ignore)
      yield* QueueTelemetry.process({ ...destination, operationName: "receive" }, Effect.void, () => Effect.void)
      const text = yield* TestTelemetry.scrape()
      expect(text).toContain("# TYPE messaging_client_sent_messages_total counter")
      expect(text).toContain("# TYPE messaging_client_consumed_messages_total counter")
      expect(text).toContain("# TYPE messaging_client_operation_duration_seconds histogram")
      expect(text).toContain("# TYPE messaging_process_duration_seconds histogram")
      expect(text).toContain("# TYPE messaging_process_active gauge")
      expect(TestTelemetry.promtoolCheck(text)).toEqual({ status: 0, output: "" })
    }).pipe(Effect.provide(TestTelemetry.layer())))
})

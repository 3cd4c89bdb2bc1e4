import { Attributes, Instrument, Instrumentation, Propagation, Tracing } from "@effect-telemetry/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import * as Semconv from "./semconv.js"

/** @internal */
export const sentMessages = Instrument.counter({
  name: Semconv.METRIC_MESSAGING_CLIENT_SENT_MESSAGES,
  unit: "{message}",
  description: "Messages a producer attempted to send, with error.type when the send failed."
})

/** @internal */
export const consumedMessages = Instrument.counter({
  name: Semconv.METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES,
  unit: "{message}",
  description: "Messages delivered to a consumer handler (redeliveries included)."
})

/** @internal */
export const operationDuration = Instrument.histogram({
  name: Semconv.METRIC_MESSAGING_CLIENT_OPERATION_DURATION,
  unit: "s",
  description: "Duration of send operations, until the store accepted or the broker confirmed the message."
})

/** @internal */
export const processDuration = Instrument.histogram({
  name: Semconv.METRIC_MESSAGING_PROCESS_DURATION,
  unit: "s",
  description:
    "Duration of processing a message or a batch, settlement included, by result (ack, nack, error, ack_error, nack_error)."
})

/** @internal */
export const active = Instrument.upDownCounter({
  name: Semconv.METRIC_MESSAGING_PROCESS_ACTIVE,
  unit: "{message}",
  description: "Messages being processed now, per destination."
})

/** @internal */
export const consumerErrors = Instrument.counter({
  name: Semconv.METRIC_MESSAGING_CONSUMER_ERRORS,
  unit: "{error}",
  description: "Consumers that stopped on a failure (lost connection, cancelled subscription), by error.type."
})

/**
 * How a message was settled: `ack`, `nack` (on purpose or after an interruption), `error` (nacked
 * or retried because the handler failed), `ack_error`/`nack_error` (the ack or nack call itself
 * failed: the broker or store never learnt the outcome).
 *
 * @internal
 */
export type Result = typeof Semconv.MESSAGING_RESULTS[number]

/**
 * What a settle function reports when the message was settled by someone else than the
 * consumer loop (a handler that acks itself): the result to record and, when that ack or nack
 * failed, its cause.
 *
 * @internal
 */
export interface Settled {
  readonly result: Result
  readonly failure?: Cause.Cause<unknown> | undefined
}

/** Where a message goes or comes from: the attributes every metric carries. @internal */
export interface Destination {
  readonly system: string
  readonly destination: string
  readonly operationName: string
}

const metricAttributes = (d: Destination, operationType: string): Record<string, string> => ({
  [Semconv.ATTR_MESSAGING_SYSTEM]: d.system,
  [Semconv.ATTR_MESSAGING_DESTINATION_NAME]: d.destination,
  [Semconv.ATTR_MESSAGING_OPERATION_NAME]: d.operationName,
  [Semconv.ATTR_MESSAGING_OPERATION_TYPE]: operationType
})

const spanAttributes = (
  d: Destination,
  operationType: string,
  messageId: string | undefined,
  extra: Record<string, unknown> | undefined
): Record<string, unknown> => ({
  ...extra,
  ...metricAttributes(d, operationType),
  ...(messageId !== undefined && messageId !== "" ? { [Semconv.ATTR_MESSAGING_MESSAGE_ID]: messageId } : {})
})

/** @internal */
export interface Sender {
  /**
   * A `send {destination}` Producer span around `publish`, which receives the carrier to put in
   * the message; `sent.messages` counts every attempt, failed and interrupted ones included.
   */
  <A, E, R>(
    publish: (carrier: Record<string, string>) => Effect.Effect<A, E, R>,
    messageId?: string | undefined,
    attributes?: Record<string, unknown> | undefined
  ): Effect.Effect<A, E, R>
}

/**
 * The sends to one destination, built once per destination: their span name and attribute
 * sets are not rebuilt per message. `errorType` classifies a failure for `error.type`
 * (default: the error's `_tag` or class).
 *
 * @internal
 */
export const sender = (destination: Destination, errorType?: ((error: any) => string) | undefined): Sender => {
  const attributes = metricAttributes(destination, "send")
  const operation = Instrumentation.operation<any, any>({
    span: { name: `${Semconv.SPAN_MESSAGING_SEND} ${destination.destination}`, kind: "producer", attributes },
    count: sentMessages,
    duration: operationDuration,
    errorType,
    attributes: (_exit, errorType) =>
      errorType === undefined ? attributes : Attributes.extend(attributes, { [Semconv.ATTR_ERROR_TYPE]: errorType })
  })
  return (publish, messageId, extra) =>
    operation(
      Effect.flatMap(Propagation.injectCurrent, publish),
      spanAttributes(destination, "send", messageId, extra)
    )
}

/** @internal */
export interface SendOptions<E> extends Destination {
  readonly messageId?: string | undefined
  readonly attributes?: Record<string, unknown> | undefined
  readonly errorType?: ((error: E) => string) | undefined
}

/** One send to a destination given per call (`QueueTelemetry.send`). @internal */
export const send = <A, E, R>(
  options: SendOptions<E>,
  publish: (carrier: Record<string, string>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => sender(options, options.errorType)(publish, options.messageId, options.attributes)

/** @internal */
export interface ProcessOptions<E> extends Destination {
  readonly messageId?: string | undefined
  readonly attributes?: Record<string, unknown> | undefined
  /** The producer's context (parent of the span); none: a root Consumer span. */
  readonly parent: Option.Option<Tracer.AnySpan>
  /** Batch: the context of each message, as span links. */
  readonly links?: ReadonlyArray<Tracer.AnySpan> | undefined
  /** Messages processed together (1 unless a batch). */
  readonly count?: number | undefined
  /** A failure that is a deliberate rejection, not an error (result `nack`, span not Error). */
  readonly isNack?: ((error: E) => boolean) | undefined
  /** `error.type` of a failure of the settle call, and of a handler failure (default: `_tag` or class). */
  readonly errorType?: ((error: unknown) => string) | undefined
}

const resultOf = <A, E>(exit: Exit.Exit<A, E>, isNack: ((error: E) => boolean) | undefined): Result => {
  if (Exit.isSuccess(exit)) return "ack"
  if (isDeliberate(exit.cause, isNack)) return "nack"
  return "error"
}

/** An interruption or a deliberate rejection: the message is nacked, but nothing failed. */
const isDeliberate = <E>(cause: Cause.Cause<E>, isNack: ((error: E) => boolean) | undefined): boolean => {
  if (Cause.isInterruptedOnly(cause)) return true
  const failure = Cause.failureOption(cause)
  return Option.isSome(failure) && isNack !== undefined && isNack(failure.value)
}

/**
 * A `process {destination}` Consumer span over handling a message and settling it.
 *
 * The handler runs interruptibly; the settle call and the accounting do not, so whatever ends
 * the handler (success, failure, defect, interruption), the message is settled once, one
 * `process.duration` point is recorded and `process.active` returns. `settle` either settles
 * from the handler's exit (an ack after a success, a nack otherwise: a failure of that call is
 * `ack_error` or `nack_error`) or reports a settlement made by the handler itself
 * ({@link Settled}). A failed settle call wins over the handler's exit: its cause is the
 * `error.type` and the span is Error.
 *
 * @internal
 */
export const process = <A, E, R, E2, R2>(
  options: ProcessOptions<E>,
  handle: Effect.Effect<A, E, R>,
  settle: (exit: Exit.Exit<A, E>) => Effect.Effect<Settled | void, E2, R2>
): Effect.Effect<A, E | E2, R | R2> => {
  const count = options.count ?? 1
  const activeAttributes = {
    [Semconv.ATTR_MESSAGING_SYSTEM]: options.system,
    [Semconv.ATTR_MESSAGING_DESTINATION_NAME]: options.destination
  }
  const body = Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const span = yield* Effect.currentSpan.pipe(Effect.option)
      const start = performance.now()
      consumedMessages.unsafeAdd(count, metricAttributes(options, "process"))
      const exit = yield* Effect.exit(restore(handle))
      const settleExit = yield* Effect.exit(settle(exit))
      const settled: Settled = Exit.isFailure(settleExit)
        ? { result: Exit.isSuccess(exit) ? "ack_error" : "nack_error", failure: settleExit.cause }
        : settleExit.value ?? { result: resultOf(exit, options.isNack) }
      const attributes: Record<string, string> = Attributes.extend(metricAttributes(options, "process"), {
        [Semconv.ATTR_RESULT]: settled.result
      })
      const handlerFailed = Exit.isFailure(exit) && !isDeliberate(exit.cause, options.isNack)
      if (settled.failure !== undefined) {
        attributes[Semconv.ATTR_ERROR_TYPE] = Instrumentation.errorTypeOfCause(
          settled.failure,
          options.errorType
        )
      } else if (handlerFailed) {
        attributes[Semconv.ATTR_ERROR_TYPE] = Instrumentation.errorTypeOfCause(exit.cause, options.errorType)
      }
      processDuration.unsafeRecord((performance.now() - start) / 1000, attributes)
      if (Option.isSome(span)) {
        span.value.attribute(Semconv.ATTR_RESULT, settled.result)
        if (settled.failure !== undefined) {
          span.value.attribute(Semconv.ATTR_ERROR_TYPE, attributes[Semconv.ATTR_ERROR_TYPE])
          Tracing.setSpanStatus(span.value, {
            code: "error",
            message: Cause.pretty(settled.failure).split("\n")[0]
          })
        } else if (handlerFailed) {
          // The handler's error.type may be the settle classifier's (a RabbitMqError's reason).
          span.value.attribute(Semconv.ATTR_ERROR_TYPE, attributes[Semconv.ATTR_ERROR_TYPE])
        } else if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
          // A deliberate rejection is the handler's decision, not a failure of the consumer.
          Tracing.setSpanStatus(span.value, { code: "unset" })
        }
      }
      if (Exit.isFailure(settleExit)) return yield* Effect.failCause(settleExit.cause)
      return yield* exit
    }).pipe(
      // Around the accounting, so even a defect in it cannot leave the in-flight count up.
      (accounted) =>
        Effect.zipRight(
          Effect.sync(() => active.unsafeAdd(count, activeAttributes)),
          Effect.ensuring(accounted, Effect.sync(() => active.unsafeAdd(-count, activeAttributes)))
        )
    )
  )
  const links = (options.links ?? []).map((span): Tracer.SpanLink => ({ _tag: "SpanLink", span, attributes: {} }))
  const spanOptions = {
    kind: "consumer" as const,
    captureStackTrace: false,
    attributes: {
      ...spanAttributes(options, "process", options.messageId, options.attributes),
      ...(options.count !== undefined && options.links !== undefined
        ? { [Semconv.ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: count }
        : {})
    },
    links
  }
  const name = `${Semconv.SPAN_MESSAGING_PROCESS} ${options.destination}`
  return Option.match(options.parent, {
    // No context in the message: a root span, never a child of whatever span started the consumer.
    onNone: () => Effect.withSpan(body, name, { ...spanOptions, root: true }),
    onSome: (parent) => Effect.withSpan(body, name, { ...spanOptions, parent })
  })
}

/** Header values as a carrier: strings kept, buffers decoded, anything else dropped. @internal */
export const carrierOf = (headers: Record<string, unknown> | undefined): Record<string, string> => {
  const carrier: Record<string, string> = {}
  if (headers === undefined || headers === null || typeof headers !== "object") return carrier
  for (const key of Object.keys(headers)) {
    const value = headers[key]
    if (typeof value === "string") carrier[key.toLowerCase()] = value
    else if (value instanceof Uint8Array) carrier[key.toLowerCase()] = Buffer.from(value).toString("utf8")
  }
  return carrier
}

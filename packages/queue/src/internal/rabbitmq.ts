import { Instrumentation, Propagation, TelemetryOptionsError, Tracing } from "@effect-telemetry/core"
import type * as amqp from "amqplib"
import { connect } from "amqplib"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { BatchOptions, ConsumeOptions, ManualMessage, Options, RabbitMqService } from "../RabbitMq.js"
import * as Messaging from "./messaging.js"
import * as Semconv from "./semconv.js"

/** @internal */
export type Reason =
  | "Connect"
  | "ConnectionLost"
  | "Channel"
  | "Publish"
  | "Nacked"
  | "Unroutable"
  | "Settle"
  | "AlreadySettled"
  | "Unsettled"
  | "Consume"

/** @internal */
export class RabbitMqError extends Data.TaggedError("RabbitMqError")<{
  readonly reason: Reason
  readonly message: string
  /** The AMQP reply code when the broker closed the channel or connection (404, 406…). */
  readonly replyCode?: number | undefined
  /** The AMQP reply text name (`NOT_FOUND`, `PRECONDITION_FAILED`…). */
  readonly replyText?: string | undefined
  readonly cause?: unknown
}> {}

/** @internal */
export class Nack extends Data.TaggedError("Nack")<{ readonly requeue: boolean }> {}

/** `error.type` of a RabbitMQ failure: the AMQP reply name, else the reason. @internal */
export const errorTypeOf = (error: unknown): string => {
  if (error instanceof RabbitMqError) {
    if (error.reason === "Unroutable") return Semconv.MESSAGING_ERROR_UNROUTABLE
    return error.replyText ?? error.reason
  }
  return Tracing.errorTypeOf(error)
}

const fromAmqp = (reason: Reason, message: string, cause: unknown): RabbitMqError => {
  const code = typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined
  const text = cause instanceof Error ? /\b\d{3} \(([A-Z-]+)\)/.exec(cause.message)?.[1] : undefined
  return new RabbitMqError({
    reason,
    message: cause instanceof Error ? `${message}: ${cause.message}` : message,
    replyCode: typeof code === "number" ? code : undefined,
    replyText: text?.replace(/-/g, "_"),
    cause
  })
}

/** @internal */
export class RabbitMq extends Context.Tag("@effect-telemetry/queue/RabbitMq")<RabbitMq, RabbitMqService>() {}

/** Host and port for `server.*`, never the credentials. @internal */
export const serverOf = (url: string): { readonly address: string; readonly port: number } => {
  try {
    const parsed = new URL(url)
    const tls = parsed.protocol === "amqps:"
    return { address: parsed.hostname, port: parsed.port === "" ? (tls ? 5671 : 5672) : Number(parsed.port) }
  } catch {
    return { address: "unknown", port: 5672 }
  }
}

const toBuffer = (content: Uint8Array | string): Buffer =>
  typeof content === "string"
    ? Buffer.from(content, "utf8")
    : Buffer.from(content.buffer, content.byteOffset, content.byteLength)

const closeQuietly = (closable: { close(): Promise<void> }) =>
  Effect.promise(() => closable.close().catch(() => undefined))

/** Connections this module is closing: their consumers end quietly instead of reporting an error. */
const closing = new WeakSet<amqp.ChannelModel>()

/** Why a connection failed (socket error, heartbeat timeout, broker's close): set before its channels close. */
const connectionErrors = new WeakMap<amqp.ChannelModel, unknown>()

/**
 * A failure on a connection that was lost is the loss (`ConnectionLost`, its cause named), not
 * the "channel closed" it surfaces as; otherwise `reason` with `message`.
 */
const failureOn = (
  connection: amqp.ChannelModel,
  server: { readonly address: string; readonly port: number },
  reason: Reason,
  message: string,
  cause: unknown
): RabbitMqError => {
  const lost = connectionErrors.get(connection)
  return lost === undefined
    ? fromAmqp(reason, message, cause)
    : fromAmqp("ConnectionLost", `the connection to RabbitMQ at ${server.address}:${server.port} was lost`, lost)
}

/** @internal */
export const make = (options: Options): Effect.Effect<RabbitMqService, RabbitMqError, Scope.Scope> =>
  Effect.gen(function*() {
    const url = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url
    const server = serverOf(url)
    const connection = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => connect(url, options.socketOptions),
        // The URL may hold credentials: the message names the server only.
        catch: (cause) => fromAmqp("Connect", `cannot connect to RabbitMQ at ${server.address}:${server.port}`, cause)
      }),
      (connection) =>
        Effect.suspend(() => {
          closing.add(connection)
          return closeQuietly(connection)
        })
    )
    // Without a listener an 'error' event would crash the process; kept to name the loss.
    connection.on("error", (error) => connectionErrors.set(connection, error))

    // One confirm channel for publishes, reopened after the broker closes it (a 404 on an exchange).
    let current: amqp.ConfirmChannel | undefined
    const serverErrors = new WeakMap<amqp.ConfirmChannel, unknown>()
    const returned = new Set<string>()
    const lock = yield* Effect.makeSemaphore(1)
    const publisher = lock.withPermits(1)(Effect.suspend(() => {
      if (current !== undefined) return Effect.succeed(current)
      return Effect.tryPromise({
        try: () => connection.createConfirmChannel(),
        catch: (cause) => failureOn(connection, server, "Channel", "cannot open a confirm channel", cause)
      }).pipe(Effect.tap((channel) =>
        Effect.sync(() => {
          current = channel
          channel.on("error", (error) => serverErrors.set(channel, error))
          channel.on("close", () => {
            if (current === channel) current = undefined
          })
          // The broker returns an unroutable mandatory message before it confirms it.
          channel.on("return", (message: amqp.Message) => {
            const id = message.properties.messageId
            if (typeof id === "string") returned.add(id)
          })
        })
      ))
    }))
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => (current === undefined ? Effect.void : closeQuietly(current)))
    )

    const confirm = (
      channel: amqp.ConfirmChannel,
      exchange: string,
      routingKey: string,
      content: Buffer,
      publishOptions: amqp.Options.Publish & { readonly messageId: string }
    ) =>
      Effect.async<void, RabbitMqError>((resume) => {
        try {
          channel.publish(exchange, routingKey, content, publishOptions, (error) => {
            if (error === null || error === undefined) {
              if (returned.delete(publishOptions.messageId)) {
                resume(Effect.fail(
                  new RabbitMqError({
                    reason: "Unroutable",
                    message: `no queue is bound for routing key ${JSON.stringify(routingKey)} on exchange ${
                      JSON.stringify(exchange)
                    }`
                  })
                ))
              } else resume(Effect.void)
            } else if (error.message === "message nacked") {
              resume(Effect.fail(new RabbitMqError({ reason: "Nacked", message: "the broker refused the message" })))
            } else {
              resume(
                Effect.fail(
                  fromAmqp(
                    "Publish",
                    "the channel closed before the broker confirmed",
                    serverErrors.get(channel) ?? error
                  )
                )
              )
            }
          })
        } catch (cause) {
          resume(Effect.fail(fromAmqp("Publish", "cannot publish", serverErrors.get(channel) ?? cause)))
        }
      })

    // One sender per destination (exchange, or queue for the default exchange); cleared past a
    // bound so generated destination names cannot grow it forever.
    const senders = new Map<string, Messaging.Sender>()
    const senderTo = (destination: string): Messaging.Sender => {
      let sender = senders.get(destination)
      if (sender === undefined) {
        if (senders.size >= 1_000) senders.clear()
        sender = Messaging.sender(
          { system: Semconv.MESSAGING_SYSTEM_RABBITMQ, destination, operationName: "publish" },
          errorTypeOf
        )
        senders.set(destination, sender)
      }
      return sender
    }

    const publish: RabbitMqService["publish"] = (exchange, routingKey, content, publishOptions) =>
      Effect.suspend(() => {
        const messageId = publishOptions?.messageId ?? crypto.randomUUID()
        const destination = exchange === "" ? routingKey : exchange
        return senderTo(destination)(
          (carrier) =>
            Effect.flatMap(publisher, (channel) =>
              confirm(channel, exchange, routingKey, toBuffer(content), {
                mandatory: true,
                ...publishOptions,
                messageId,
                // The span's context wins over a stale one the caller may have copied from another message.
                headers: { ...publishOptions?.headers, ...carrier }
              })),
          messageId,
          {
            [Semconv.ATTR_MESSAGING_RABBITMQ_ROUTING_KEY]: routingKey,
            [Semconv.ATTR_SERVER_ADDRESS]: server.address,
            [Semconv.ATTR_SERVER_PORT]: server.port
          }
        )
      })

    const withChannel: RabbitMqService["withChannel"] = (f) =>
      Effect.acquireUseRelease(
        Effect.tryPromise({
          try: () => connection.createChannel(),
          catch: (cause) => failureOn(connection, server, "Channel", "cannot open a channel", cause)
        }),
        (channel) => {
          let serverError: unknown
          channel.on("error", (error) => (serverError = error))
          return Effect.tryPromise({
            try: () => f(channel),
            catch: (cause) => fromAmqp("Channel", "channel operation failed", serverError ?? cause)
          })
        },
        closeQuietly
      )

    return {
      connection,
      serverAddress: server.address,
      serverPort: server.port,
      publish,
      sendToQueue: (queue, content, publishOptions) => publish("", queue, content, publishOptions),
      withChannel
    }
  })

/** @internal */
export type RequeueOnFailure = "always" | "never" | "once"

const positive = (name: string, value: number | undefined, fallback: number): number =>
  TelemetryOptionsError.positiveInteger("RabbitMq", name, value, fallback)

const requeueOf = (value: RequeueOnFailure | undefined): RequeueOnFailure =>
  TelemetryOptionsError.literal("RabbitMq", "requeueOnFailure", value, ["once", "always", "never"], "once")

/**
 * Whether a message whose handler did not succeed goes back to the queue: an interrupted
 * handler's always (the consumer is stopping: the work was not done, someone else should do
 * it), a `Nack`'s as asked, another failure's per `requeueOnFailure`.
 */
const requeueAfter = (
  cause: Cause.Cause<unknown>,
  message: amqp.ConsumeMessage,
  requeueOnFailure: RequeueOnFailure
): boolean => {
  if (Cause.isInterruptedOnly(cause)) return true
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure) && failure.value instanceof Nack) return failure.value.requeue
  return requeueOnFailure === "always" || (requeueOnFailure === "once" && !message.fields.redelivered)
}

const settleFailure = (cause: unknown) => fromAmqp("Settle", "cannot settle the message: the channel is closed", cause)

/** How the handler's exit settles the messages; fails when the channel is gone. */
const settleAll = (
  channel: amqp.Channel,
  messages: ReadonlyArray<amqp.ConsumeMessage>,
  exit: Exit.Exit<unknown, unknown>,
  requeueOnFailure: RequeueOnFailure
) =>
  Effect.try({
    try: () => {
      for (const message of messages) {
        if (Exit.isSuccess(exit)) channel.ack(message)
        else channel.nack(message, false, requeueAfter(exit.cause, message, requeueOnFailure))
      }
    },
    catch: settleFailure
  })

const consumer = <A, E, R>(
  queue: string,
  prefetch: number,
  run: (
    channel: amqp.Channel,
    rabbit: RabbitMqService,
    messages: Stream.Stream<amqp.ConsumeMessage, RabbitMqError>
  ) => Effect.Effect<A, E, R>
): Effect.Effect<Fiber.RuntimeFiber<A, E | RabbitMqError>, RabbitMqError, RabbitMq | R | Scope.Scope> =>
  Effect.gen(function*() {
    const rabbit = yield* RabbitMq
    const server = { address: rabbit.serverAddress, port: rabbit.serverPort }
    const channel = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => rabbit.connection.createChannel(),
        catch: (cause) => failureOn(rabbit.connection, server, "Channel", "cannot open a consumer channel", cause)
      }),
      closeQuietly
    )
    let serverError: unknown
    let open = true
    const mailbox = yield* Mailbox.make<amqp.ConsumeMessage, RabbitMqError>()
    channel.on("error", (error) => (serverError = error))
    channel.on("close", () => {
      open = false
      mailbox.unsafeDone(
        closing.has(rabbit.connection) ? Exit.void : Exit.fail(
          serverError !== undefined
            ? fromAmqp("Consume", `the broker closed the consumer channel of ${queue}`, serverError)
            : failureOn(rabbit.connection, server, "Consume", `the consumer channel of ${queue} closed`, undefined)
        )
      )
    })
    yield* Effect.tryPromise({
      try: () => channel.prefetch(prefetch),
      catch: (cause) => fromAmqp("Consume", "cannot set the prefetch", cause)
    })
    yield* Effect.tryPromise({
      try: () =>
        channel.consume(queue, (message) => {
          if (message === null) {
            mailbox.unsafeDone(
              Exit.fail(
                new RabbitMqError({ reason: "Consume", message: `the broker cancelled the consumer of ${queue}` })
              )
            )
          } else mailbox.unsafeOffer(message)
        }, { noAck: false }),
      catch: (cause) => fromAmqp("Consume", `cannot consume from ${queue}`, serverError ?? cause)
    })
    // Deliveries still buffered when the channel closed can no longer be acked and the broker
    // requeues them: handling them would only do the work twice. One per chunk, so each is
    // checked when the handler takes it, not when the mailbox was drained.
    const messages = Mailbox.toStream(mailbox).pipe(Stream.rechunk(1), Stream.filter(() => open))
    return yield* run(channel, rabbit, messages).pipe(
      Effect.tapErrorCause((cause) => {
        if (Cause.isInterruptedOnly(cause)) return Effect.void
        // Counted here, not only logged: a consumer that dies while idle has no span to show it.
        Messaging.consumerErrors.unsafeAdd(1, {
          [Semconv.ATTR_MESSAGING_SYSTEM]: Semconv.MESSAGING_SYSTEM_RABBITMQ,
          [Semconv.ATTR_MESSAGING_DESTINATION_NAME]: queue,
          [Semconv.ATTR_ERROR_TYPE]: Instrumentation.errorTypeOfCause(
            cause,
            (error) => error instanceof RabbitMqError ? error.reason : Tracing.errorTypeOf(error)
          )
        })
        return Effect.logError(`RabbitMQ consumer of ${queue} stopped`, cause)
      }),
      Effect.forkScoped
    )
  })

const processAttributes = (rabbit: RabbitMqService, message: amqp.ConsumeMessage): Record<string, unknown> => ({
  [Semconv.ATTR_MESSAGING_RABBITMQ_ROUTING_KEY]: message.fields.routingKey,
  [Semconv.ATTR_MESSAGING_RABBITMQ_DELIVERY_TAG]: message.fields.deliveryTag,
  [Semconv.ATTR_MESSAGING_REDELIVERED]: message.fields.redelivered,
  [Semconv.ATTR_SERVER_ADDRESS]: rabbit.serverAddress,
  [Semconv.ATTR_SERVER_PORT]: rabbit.serverPort
})

const parentOf = (message: amqp.ConsumeMessage) =>
  Propagation.extract(Messaging.carrierOf(message.properties.headers as Record<string, unknown> | undefined))

const isNack = (error: unknown) => error instanceof Nack

/**
 * One `process {queue}` span over `handle` and `settle` (a message or a batch). The span and
 * metrics have the outcome, so a failed handler or settle call ends here and never stops the
 * consumer; only a defect is logged.
 */
const handled = <E, R>(
  queue: string,
  options: Pick<Messaging.ProcessOptions<E>, "attributes" | "count" | "links" | "messageId" | "parent">,
  handle: Effect.Effect<void, E, R>,
  settle: (exit: Exit.Exit<void, E>) => Effect.Effect<Messaging.Settled | void, RabbitMqError>
): Effect.Effect<void, never, R> =>
  Messaging.process(
    {
      system: Semconv.MESSAGING_SYSTEM_RABBITMQ,
      destination: queue,
      operationName: "consume",
      isNack,
      errorType: errorTypeOf,
      ...options
    },
    handle,
    settle
  ).pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) || !Cause.isDie(cause)
        ? Effect.void
        : Effect.logWarning(`RabbitMQ handler of ${queue} died`, cause)
    )
  )

const consumeOptions = (options: ConsumeOptions | undefined) =>
  TelemetryOptionsError.attempt(() => {
    const concurrency = positive("concurrency", options?.concurrency, 1)
    return {
      concurrency,
      prefetch: positive("prefetch", options?.prefetch, Math.max(10, concurrency)),
      requeueOnFailure: requeueOf(options?.requeueOnFailure)
    }
  })

/** The span attributes and parent of one message. */
const messageOptions = (rabbit: RabbitMqService, message: amqp.ConsumeMessage) => ({
  messageId: message.properties.messageId as string | undefined,
  parent: parentOf(message),
  attributes: processAttributes(rabbit, message)
})

/** A started consumer: its fiber, once the broker registered it. */
type Consuming<R> = Effect.Effect<
  Fiber.RuntimeFiber<void, RabbitMqError>,
  RabbitMqError | TelemetryOptionsError.TelemetryOptionsError,
  RabbitMq | R | Scope.Scope
>

/** What a consumer does with one delivery: the handler to run and how to settle after it. */
interface Delivery<E, R> {
  readonly handle: Effect.Effect<void, E, R>
  readonly settle: (exit: Exit.Exit<void, E>) => Effect.Effect<Messaging.Settled | void, RabbitMqError>
}

/** One `process {queue}` span per delivery, `concurrency` at a time. */
const consumeEach = <E, R>(
  queue: string,
  options: ConsumeOptions | undefined,
  delivery: (channel: amqp.Channel, message: amqp.ConsumeMessage, requeueOnFailure: RequeueOnFailure) => Delivery<E, R>
): Consuming<R> =>
  Effect.flatMap(
    consumeOptions(options),
    ({ concurrency, prefetch, requeueOnFailure }) =>
      consumer(queue, prefetch, (channel, rabbit, messages) =>
        messages.pipe(
          Stream.mapEffect(
            (message) => {
              const { handle, settle } = delivery(channel, message, requeueOnFailure)
              return handled(queue, messageOptions(rabbit, message), handle, settle)
            },
            { concurrency, unordered: true }
          ),
          Stream.runDrain
        ))
  )

/** @internal */
export const consume = <E, R>(
  queue: string,
  handler: (message: amqp.ConsumeMessage) => Effect.Effect<void, E, R>,
  options?: ConsumeOptions
): Consuming<R> =>
  consumeEach(queue, options, (channel, message, requeueOnFailure) => ({
    handle: Effect.suspend(() => handler(message)),
    settle: (exit) => settleAll(channel, [message], exit, requeueOnFailure)
  }))

/**
 * The message with its own `ack`/`nack`. The first call settles it (and is what the telemetry
 * records, failed or not); any later call, from the handler or a fiber it left behind, fails
 * with `AlreadySettled` and never reaches the channel: a second ack of one delivery tag is a
 * channel error that would close the consumer.
 */
const manualMessage = (
  channel: amqp.Channel,
  queue: string,
  message: amqp.ConsumeMessage
) => {
  let settled: Messaging.Settled | "by the consumer" | undefined
  const once = (kind: "ack" | "nack", call: () => void): Effect.Effect<void, RabbitMqError> =>
    Effect.suspend(() => {
      if (settled !== undefined) {
        return Effect.fail(
          new RabbitMqError({
            reason: "AlreadySettled",
            message: `message ${message.fields.deliveryTag} of ${queue} was already settled (${
              settled === "by the consumer" ? "by the consumer, after the handler ended" : settled.result
            }); the ${kind} was not sent`
          })
        )
      }
      try {
        call()
        settled = { result: kind }
        return Effect.void
      } catch (cause) {
        const error = settleFailure(cause)
        settled = { result: kind === "ack" ? "ack_error" : "nack_error", failure: Cause.fail(error) }
        return Effect.fail(error)
      }
    })
  const manual: ManualMessage = {
    content: message.content,
    fields: message.fields,
    properties: message.properties,
    ack: () => once("ack", () => channel.ack(message)),
    nack: (requeue = true) => once("nack", () => channel.nack(message, false, requeue))
  }
  /** A handler that ended without settling (success) fails with `Unsettled`. */
  const checked = <E, R>(handle: Effect.Effect<void, E, R>): Effect.Effect<void, E | RabbitMqError, R> =>
    Effect.zipRight(
      handle,
      Effect.suspend(() =>
        settled === undefined
          ? Effect.fail(
            new RabbitMqError({
              reason: "Unsettled",
              message: `the handler of ${queue} ended without acking or nacking message ${message.fields.deliveryTag}`
            })
          )
          : Effect.void
      )
    )
  const settle = (
    exit: Exit.Exit<void, unknown>,
    requeueOnFailure: RequeueOnFailure
  ): Effect.Effect<Messaging.Settled | void, RabbitMqError> =>
    Effect.suspend(() => {
      if (settled !== undefined && settled !== "by the consumer") return Effect.succeed(settled)
      settled = "by the consumer"
      return settleAll(channel, [message], exit, requeueOnFailure)
    })
  return { manual, checked, settle }
}

/** @internal */
export const consumeManual = <E, R>(
  queue: string,
  handler: (message: ManualMessage) => Effect.Effect<void, E, R>,
  options?: ConsumeOptions
): Consuming<R> =>
  consumeEach(queue, options, (channel, message, requeueOnFailure) => {
    const { checked, manual, settle } = manualMessage(channel, queue, message)
    return {
      handle: checked(Effect.suspend(() => handler(manual))),
      settle: (exit) => settle(exit, requeueOnFailure)
    }
  })

/** @internal */
export const consumeBatch = <E, R>(
  queue: string,
  handler: (messages: ReadonlyArray<amqp.ConsumeMessage>) => Effect.Effect<void, E, R>,
  options: BatchOptions
): Consuming<R> =>
  Effect.flatMap(
    TelemetryOptionsError.attempt(() => {
      const size = positive("size", options.size, 1)
      return {
        size,
        // Fewer unacknowledged messages than a batch would only ever fill batches by timeout.
        prefetch: positive("prefetch", options.prefetch, size),
        requeueOnFailure: requeueOf(options.requeueOnFailure)
      }
    }),
    ({ prefetch, requeueOnFailure, size }) =>
      consumer(queue, prefetch, (channel, rabbit, messages) =>
        messages.pipe(
          Stream.groupedWithin(size, options.within),
          Stream.mapEffect((chunk) => {
            const batch = Chunk.toReadonlyArray(chunk)
            return handled(
              queue,
              {
                // A batch has many producers: each is a link, none the parent.
                parent: Option.none(),
                links: batch.flatMap((message) => Option.toArray(parentOf(message))),
                count: batch.length,
                attributes: {
                  [Semconv.ATTR_SERVER_ADDRESS]: rabbit.serverAddress,
                  [Semconv.ATTR_SERVER_PORT]: rabbit.serverPort
                }
              },
              Effect.suspend(() => handler(batch)),
              (exit) => settleAll(channel, batch, exit, requeueOnFailure)
            )
          }),
          Stream.runDrain
        ))
  )

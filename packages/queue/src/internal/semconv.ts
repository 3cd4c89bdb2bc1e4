/**
 * The names `@effect-telemetry/queue` emits. OpenTelemetry's messaging conventions are still
 * experimental, so they are defined here (as OTel's instrumentation-pg keeps its own
 * `semconv.ts`) and an upstream rename cannot change them; the stable `error.type`,
 * `server.address` and `server.port` are imported from `@opentelemetry/semantic-conventions`.
 *
 * @internal
 */
import { Semconv } from "@effect-telemetry/core"

export { ATTR_ERROR_TYPE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from "@opentelemetry/semantic-conventions"

/** The outcome attribute of the kit, shared with core's function metrics. @internal */
export const ATTR_RESULT = Semconv.ATTR_RESULT

/** Semconv: the messaging product (`rabbitmq`, or ours for PersistedQueue). @internal */
export const ATTR_MESSAGING_SYSTEM = "messaging.system"
/** Semconv: the queue (PersistedQueue name, AMQP queue) or the AMQP exchange a message is published to. @internal */
export const ATTR_MESSAGING_DESTINATION_NAME = "messaging.destination.name"
/** Semconv: `send` | `receive` | `process` | `settle`. @internal */
export const ATTR_MESSAGING_OPERATION_TYPE = "messaging.operation.type"
/** Semconv: the system's own name of the operation (`publish`, `consume`, `offer`, `take`). @internal */
export const ATTR_MESSAGING_OPERATION_NAME = "messaging.operation.name"
/** Semconv: the message id (span only: unbounded). @internal */
export const ATTR_MESSAGING_MESSAGE_ID = "messaging.message.id"
/** Semconv: number of messages in a batch operation. @internal */
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count"
/** Semconv: the AMQP routing key. @internal */
export const ATTR_MESSAGING_RABBITMQ_ROUTING_KEY = "messaging.rabbitmq.destination.routing_key"
/** Semconv: the AMQP delivery tag of a consumed message. @internal */
export const ATTR_MESSAGING_RABBITMQ_DELIVERY_TAG = "messaging.rabbitmq.message.delivery_tag"
/** Delivery attempt of a consumed message, 1 for the first (ours). @internal */
export const ATTR_MESSAGING_DELIVERY_ATTEMPT = "effect.messaging.delivery.attempt"
/** Whether the broker delivered the message before (ours; AMQP `redelivered`). @internal */
export const ATTR_MESSAGING_REDELIVERED = "effect.messaging.redelivered"
/** `messaging.system` of RabbitMQ (semconv). @internal */
export const MESSAGING_SYSTEM_RABBITMQ = "rabbitmq"
/** `messaging.system` of `@effect/experimental` PersistedQueue (ours). @internal */
export const MESSAGING_SYSTEM_PERSISTED_QUEUE = "effect_persisted_queue"
/** `error.type` of a RabbitMQ publish the broker returned because no queue was bound (ours). @internal */
export const MESSAGING_ERROR_UNROUTABLE = "unroutable"
/** Semconv: messages a producer attempted to send, `error.type` on failure. @internal */
export const METRIC_MESSAGING_CLIENT_SENT_MESSAGES = "messaging.client.sent.messages"
/** Semconv: messages delivered to a consumer. @internal */
export const METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES = "messaging.client.consumed.messages"
/** Semconv: duration of send operations (until the broker confirmed), seconds. @internal */
export const METRIC_MESSAGING_CLIENT_OPERATION_DURATION = "messaging.client.operation.duration"
/** Semconv: duration of processing a message (or a batch), seconds, by `result` (ours). @internal */
export const METRIC_MESSAGING_PROCESS_DURATION = "messaging.process.duration"
/** Messages being processed now, per destination (ours). @internal */
export const METRIC_MESSAGING_PROCESS_ACTIVE = "messaging.process.active"
/** Consumers that stopped on a failure, by `error.type` (ours). @internal */
export const METRIC_MESSAGING_CONSUMER_ERRORS = "messaging.consumer.errors"
/** Span name prefix of producers: `send {destination}`. @internal */
export const SPAN_MESSAGING_SEND = "send"
/** Span name prefix of consumers: `process {destination}`. @internal */
export const SPAN_MESSAGING_PROCESS = "process"
/**
 * The values of `result` on `process` spans and `messaging.process.duration` (ours): `ack`,
 * `nack` (on purpose or after an interruption), `error` (the handler failed), `ack_error` /
 * `nack_error` (the ack or nack call itself failed).
 *
 * @internal
 */
export const MESSAGING_RESULTS = ["ack", "nack", "error", "ack_error", "nack_error"] as const

/**
 * The names core itself emits and the ones every surface shares through the kit (`error.type`,
 * `effect.interrupted`, `result`, the advised duration buckets).
 *
 * Each surface owns its own names (`packages/<surface>/src/internal/semconv.ts`): stable
 * OpenTelemetry names imported from `@opentelemetry/semantic-conventions`, experimental ones
 * and ours defined there. The CDC and queue sections below are still here until those
 * surfaces move theirs (docs/ADDING-A-SURFACE.md).
 *
 * @since 0.1.0
 */

// --- general -----------------------------------------------------------------------------

/** @since 0.1.0 @category attributes */
export const ATTR_ERROR_TYPE = "error.type"
/** Value of `error.type` when no better class name is known (semconv `_OTHER`). @since 0.1.0 */
export const ERROR_TYPE_OTHER = "_OTHER"
/** Attribute of the one overflow series a metric gets past its cardinality limit. @since 0.1.0 @category attributes */
export const ATTR_METRIC_OVERFLOW = "otel.metric.overflow"
/** Set on a span whose fiber was interrupted: cancellation, which leaves the status Unset. @since 0.1.0 @category attributes */
export const ATTR_EFFECT_INTERRUPTED = "effect.interrupted"
/** @since 0.1.0 @category attributes */
export const ATTR_SERVER_ADDRESS = "server.address"
/** @since 0.1.0 @category attributes */
export const ATTR_SERVER_PORT = "server.port"
/** The value that replaces a redacted header, query parameter or argument. @since 0.1.0 @category values */
export const REDACTED = "REDACTED"

// --- function telemetry (ours) -----------------------------------------------------------

/** @since 0.1.0 @category attributes */
export const ATTR_FUNCTION_NAME = "function"
/** `ok` | `error` | `interrupted` @since 0.1.0 @category attributes */
export const ATTR_RESULT = "result"
/** @since 0.1.0 @category metrics */
export const METRIC_FUNCTION_CALLS = "function.calls"
/** @since 0.1.0 @category metrics */
export const METRIC_FUNCTION_DURATION = "function.duration"
/** @since 0.1.0 @category metrics */
export const METRIC_FUNCTION_ACTIVE = "function.active"

// --- SDK self-observability (semconv `otel.sdk.*`) ----------------------------------------

/** Spans that ended and were offered to the span processor; `error.type=queue_full` when dropped. @since 0.1.0 @category metrics */
export const METRIC_SDK_SPAN_PROCESSED = "otel.sdk.processor.span.processed"
/** Spans handed to the exporter; `error.type` set when the export failed. @since 0.1.0 @category metrics */
export const METRIC_SDK_SPAN_EXPORTED = "otel.sdk.exporter.span.exported"
/** `error.type` value for a span dropped because the processor queue was full. @since 0.1.0 */
export const ERROR_TYPE_QUEUE_FULL = "queue_full"

// --- queue (names used by @effect-telemetry/queue) ---
/** Semconv: the messaging product (`rabbitmq`, or ours for PersistedQueue). @since 0.1.0 @category attributes */
export const ATTR_MESSAGING_SYSTEM = "messaging.system"
/** Semconv: the queue (PersistedQueue name, AMQP queue) or the AMQP exchange a message is published to. @since 0.1.0 @category attributes */
export const ATTR_MESSAGING_DESTINATION_NAME = "messaging.destination.name"
/** Semconv: `send` | `receive` | `process` | `settle`. @since 0.1.0 @category attributes */
export const ATTR_MESSAGING_OPERATION_TYPE = "messaging.operation.type"
/** Semconv: the system's own name of the operation (`publish`, `consume`, `offer`, `take`). @since 0.1.0 @category attributes */
export const ATTR_MESSAGING_OPERATION_NAME = "messaging.operation.name"
/** Semconv: the message id (span only: unbounded). @since 0.1.0 @category attributes */
export const ATTR_MESSAGING_MESSAGE_ID = "messaging.message.id"
/** Semconv: number of messages in a batch operation. @since 0.1.0 @category attributes */
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count"
/** Semconv: the AMQP routing key. @since 0.1.0 @category attributes */
export const ATTR_MESSAGING_RABBITMQ_ROUTING_KEY = "messaging.rabbitmq.destination.routing_key"
/** Semconv: the AMQP delivery tag of a consumed message. @since 0.1.0 @category attributes */
export const ATTR_MESSAGING_RABBITMQ_DELIVERY_TAG = "messaging.rabbitmq.message.delivery_tag"
/** Delivery attempt of a consumed message, 1 for the first (ours; PersistedQueue counts failures, RabbitMQ knows only first or redelivered). @since 0.1.0 @category attributes */
export const ATTR_MESSAGING_DELIVERY_ATTEMPT = "effect.messaging.delivery.attempt"
/** Whether the broker delivered the message before (ours; AMQP `redelivered`). @since 0.1.0 @category attributes */
export const ATTR_MESSAGING_REDELIVERED = "effect.messaging.redelivered"
/** `messaging.system` of RabbitMQ (semconv). @since 0.1.0 */
export const MESSAGING_SYSTEM_RABBITMQ = "rabbitmq"
/** `messaging.system` of `@effect/experimental` PersistedQueue (ours). @since 0.1.0 */
export const MESSAGING_SYSTEM_PERSISTED_QUEUE = "effect_persisted_queue"
/** `result` of a processed message that was acknowledged. @since 0.1.0 */
export const MESSAGING_RESULT_ACK = "ack"
/** `result` of a message rejected on purpose or requeued by an interrupted handler. @since 0.1.0 */
export const MESSAGING_RESULT_NACK = "nack"
/** `result` of a message whose handler failed (it is rejected or retried). @since 0.1.0 */
export const MESSAGING_RESULT_ERROR = "error"
/** `result` when the ack/nack itself failed (the broker or store never learnt the outcome). @since 0.1.0 */
export const MESSAGING_RESULT_SETTLE_ERROR = "settle_error"
/** `error.type` of a RabbitMQ publish the broker returned because no queue was bound (ours). @since 0.1.0 */
export const MESSAGING_ERROR_UNROUTABLE = "unroutable"
/** Semconv: messages a producer attempted to send, `error.type` on failure. @since 0.1.0 @category metrics */
export const METRIC_MESSAGING_CLIENT_SENT_MESSAGES = "messaging.client.sent.messages"
/** Semconv: messages delivered to a consumer. @since 0.1.0 @category metrics */
export const METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES = "messaging.client.consumed.messages"
/** Semconv: duration of send operations (until the broker confirmed), seconds. @since 0.1.0 @category metrics */
export const METRIC_MESSAGING_CLIENT_OPERATION_DURATION = "messaging.client.operation.duration"
/** Semconv: duration of processing a message (or a batch), seconds, by `result` (ours). @since 0.1.0 @category metrics */
export const METRIC_MESSAGING_PROCESS_DURATION = "messaging.process.duration"
/** Messages being processed now, per destination (ours). @since 0.1.0 @category metrics */
export const METRIC_MESSAGING_PROCESS_ACTIVE = "messaging.process.active"
/** Consumers that stopped on a failure (a lost connection, a cancelled subscription), by `error.type` (ours). @since 0.1.0 @category metrics */
export const METRIC_MESSAGING_CONSUMER_ERRORS = "messaging.consumer.errors"
/** Span name prefix of producers: `send {destination}`. @since 0.1.0 @category spans */
export const SPAN_MESSAGING_SEND = "send"
/** Span name prefix of consumers: `process {destination}`. @since 0.1.0 @category spans */
export const SPAN_MESSAGING_PROCESS = "process"
// (end queue)

// --- cdc (names used by @effect-telemetry/cdc) ---
/** Replication slot the changes come from. @since 0.1.0 @category attributes */
export const ATTR_CDC_SLOT = "cdc.slot"
/** Publication the slot decodes with. @since 0.1.0 @category attributes */
export const ATTR_CDC_PUBLICATION = "cdc.publication"
/** Schema-qualified table of a change (`public.orders`). @since 0.1.0 @category attributes */
export const ATTR_CDC_TABLE = "cdc.table"
/** `insert` | `update` | `delete` | `truncate` @since 0.1.0 @category attributes */
export const ATTR_CDC_OPERATION = "cdc.operation"
/** @since 0.1.0 @category attributes */
export const ATTR_CDC_TRANSACTION_XID = "cdc.transaction.xid"
/** LSN of the commit record (`0/16B3748`). @since 0.1.0 @category attributes */
export const ATTR_CDC_TRANSACTION_COMMIT_LSN = "cdc.transaction.commit_lsn"
/** LSN just past the commit record: what acknowledging the transaction confirms. @since 0.1.0 @category attributes */
export const ATTR_CDC_TRANSACTION_END_LSN = "cdc.transaction.end_lsn"
/** @since 0.1.0 @category attributes */
export const ATTR_CDC_TRANSACTION_CHANGES = "cdc.transaction.changes"
/** Semconv `db.system.name` (`postgresql`), named here so it cannot clash with another section. @since 0.1.0 @category attributes */
export const ATTR_CDC_DB_SYSTEM_NAME = "db.system.name"
/** @since 0.1.0 @category metrics */
export const METRIC_CDC_CHANGES = "cdc.changes"
/** @since 0.1.0 @category metrics */
export const METRIC_CDC_ERRORS = "cdc.errors"
/** @since 0.1.0 @category metrics */
export const METRIC_CDC_REPLICATION_LAG = "cdc.replication.lag"
/** @since 0.1.0 @category metrics */
export const METRIC_CDC_RETAINED_WAL = "cdc.retained_wal"
// (end cdc)

// --- histogram boundaries ----------------------------------------------------------------

/**
 * The OpenTelemetry advised boundaries for durations in seconds, used by every duration
 * histogram unless it declares its own.
 *
 * @since 0.1.0
 * @category boundaries
 */
export const DURATION_SECONDS_BOUNDARIES: ReadonlyArray<number> = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.25,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10
]

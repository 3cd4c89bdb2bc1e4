/**
 * @since 0.1.0
 */

/** `@effect/experimental` PersistedQueue with producer/consumer spans (context in an envelope) and messaging metrics. @since 0.1.0 */
export * as PersistedQueueTelemetry from "./PersistedQueueTelemetry.js"

/** The messaging metrics and the `send`/`process` combinators behind every queue. @since 0.1.0 */
export * as QueueTelemetry from "./QueueTelemetry.js"

/** RabbitMQ (amqplib) publisher and consumers with context in the AMQP headers and the same messaging signals. @since 0.1.0 */
export * as RabbitMq from "./RabbitMq.js"

/**
 * The package index holds what needs no broker client. RabbitMQ is the subpath
 * `@effect-telemetry/queue/RabbitMq`: `amqplib` (and `@types/amqplib`) are optional peers,
 * loaded only by apps that import that module.
 *
 * @since 0.1.0
 */

/** `@effect/experimental` PersistedQueue with producer/consumer spans (context in the stored element) and messaging metrics. @since 0.1.0 */
export * as PersistedQueueTelemetry from "./PersistedQueueTelemetry.js"

/** The messaging metrics and the `send`/`process` combinators behind every queue. @since 0.1.0 */
export * as QueueTelemetry from "./QueueTelemetry.js"

/**
 * Every span and metric `@effect-telemetry/queue` emits (PersistedQueue, RabbitMQ and
 * `QueueTelemetry`'s own combinators), declared once: docs/SIGNALS.md's tables for it are
 * generated from this (`npx tsx scripts/signals.ts`).
 *
 * @internal
 */
import { Signals } from "@effect-telemetry/core"
import * as Messaging from "./messaging.js"
import * as Semconv from "./semconv.js"

const results = Semconv.MESSAGING_RESULTS.map((result) => `\`${result}\``).join(" \\| ")

/** @internal */
export const signals: Signals.Catalogue = Signals.make({
  surface: "queue",
  spans: [
    {
      name: `${Semconv.SPAN_MESSAGING_SEND} {destination}`,
      kind: "Producer",
      attributes:
        "`messaging.system`, `messaging.destination.name`, `messaging.operation.type=send`, `messaging.operation.name` (`offer` \\| `publish`); `messaging.message.id` when known; RabbitMQ: `messaging.rabbitmq.destination.routing_key`, `server.address`, `server.port`; `error.type` on failure",
      meaning:
        "One per offer or publish, child of the current span; its context is injected into the message. Ends when the store accepted or the broker confirmed. Error when the send failed: encoding, store refusal, broker `nack`, channel closed by the broker (`error.type` = reply name, `NOT_FOUND`), unroutable mandatory message (`error.type=unroutable`). Unset with `effect.interrupted` when the sender was interrupted."
    },
    {
      name: `${Semconv.SPAN_MESSAGING_PROCESS} {destination}`,
      kind: "Consumer",
      attributes:
        `\`messaging.system\`, \`messaging.destination.name\`, \`messaging.operation.type=process\`, \`messaging.operation.name\` (\`take\` \\| \`consume\`), \`result\` *(ours)* = ${results}; \`messaging.message.id\` when known; PersistedQueue: \`effect.messaging.delivery.attempt\` *(ours, 1 for the first)*; RabbitMQ: \`messaging.rabbitmq.destination.routing_key\`, \`messaging.rabbitmq.message.delivery_tag\`, \`effect.messaging.redelivered\` *(ours)*, \`server.address\`, \`server.port\`; \`error.type\` on Error`,
      meaning:
        "One per delivery, over the handler and the settlement (ack/nack, store completion). Child of the producer's `send` span (same trace, across fibers, connections and processes); a root span with the same attributes when the message has no valid context. Error when the handler fails or dies, or when the settle call fails (`result=ack_error` or `nack_error` by the call that failed, `error.type` of the settle failure). Unset on success, on a deliberate `Nack`, and on interruption (`effect.interrupted=true`, `result=nack`, message requeued)."
    },
    {
      name: `${Semconv.SPAN_MESSAGING_PROCESS} {queue}`,
      nameNote: "(RabbitMQ `consumeBatch`)",
      kind: "Consumer",
      attributes: "as above without the per-message attributes, plus `messaging.batch.message_count`",
      meaning:
        "One per batch, a root span with a link to the `send` span of each message that carried a context. Status as above."
    }
  ],
  metrics: [
    {
      instrument: Messaging.sentMessages,
      attributes:
        "always `messaging.system`, `messaging.destination.name`, `messaging.operation.name`, `messaging.operation.type=send`; `error.type` for a failed send (`interrupted` when the sender was interrupted)",
      meaning: "Every send attempt."
    },
    {
      instrument: Messaging.operationDuration,
      attributes: "as `messaging.client.sent.messages`",
      meaning: "Duration of a send until the store accepted or the broker confirmed."
    },
    {
      instrument: Messaging.consumedMessages,
      attributes:
        "always `messaging.system`, `messaging.destination.name`, `messaging.operation.name`, `messaging.operation.type=process`",
      meaning: "Deliveries handed to a handler (a batch adds its size), redeliveries and retries included."
    },
    {
      instrument: Messaging.processDuration,
      attributes:
        `as \`messaging.client.consumed.messages\`, plus always \`result\` *(ours)* = ${results} (the ack or nack call failed); \`error.type\` for \`error\`, \`ack_error\` and \`nack_error\`, and for a manual-ack handler that failed after settling`,
      meaning: "One point per message (per batch for batches), handler and settlement."
    },
    {
      instrument: Messaging.active,
      ours: true,
      attributes: "always `messaging.system`, `messaging.destination.name`",
      meaning:
        "Messages being processed now (a batch counts its size); returns to 0 after success, failure, defect, interruption and a failed settle."
    },
    {
      instrument: Messaging.consumerErrors,
      ours: true,
      attributes:
        "always `messaging.system`, `messaging.destination.name`, `error.type` (RabbitMQ: the error's reason, e.g. `ConnectionLost`, `Consume`)",
      meaning:
        "A consumer that stopped on a failure (lost connection, cancelled subscription); one that dies while idle has no span, so this is where it shows. RabbitMQ consumers."
    }
  ]
})

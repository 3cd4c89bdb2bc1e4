/**
 * Every attribute, metric and span name the project emits, in one place.
 *
 * Surfaces import these constants instead of retyping strings, so a rename is one edit and
 * `docs/SIGNALS.md` can be checked against a single list. Names follow the OpenTelemetry
 * semantic conventions where they exist; the rest are ours and documented as such.
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

// --- http (names used by @effect-telemetry/http) ---

/** @since 0.1.0 @category attributes */
export const ATTR_HTTP_REQUEST_METHOD = "http.request.method"
/** The method as received when it is not a known one (then `http.request.method` is `_OTHER`). @since 0.1.0 @category attributes */
export const ATTR_HTTP_REQUEST_METHOD_ORIGINAL = "http.request.method_original"
/** Value of `http.request.method` for a method outside the known set. @since 0.1.0 */
export const HTTP_METHOD_OTHER = "_OTHER"
/** @since 0.1.0 @category attributes */
export const ATTR_HTTP_ROUTE = "http.route"
/** `http.route` of a request no route matched (ours: a fixed value keeps the series bounded). @since 0.1.0 */
export const HTTP_ROUTE_UNMATCHED = "_unmatched"
/** @since 0.1.0 @category attributes */
export const ATTR_HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
/** @since 0.1.0 @category attributes */
export const ATTR_HTTP_REQUEST_BODY_SIZE = "http.request.body.size"
/** @since 0.1.0 @category attributes */
export const ATTR_HTTP_RESPONSE_BODY_SIZE = "http.response.body.size"
/** Prefix of captured request headers: `http.request.header.<lower-case name>`. @since 0.1.0 @category attributes */
export const ATTR_HTTP_REQUEST_HEADER_PREFIX = "http.request.header."
/** Prefix of captured response headers: `http.response.header.<lower-case name>`. @since 0.1.0 @category attributes */
export const ATTR_HTTP_RESPONSE_HEADER_PREFIX = "http.response.header."
/** @since 0.1.0 @category attributes */
export const ATTR_URL_FULL = "url.full"
/** @since 0.1.0 @category attributes */
export const ATTR_URL_PATH = "url.path"
/** @since 0.1.0 @category attributes */
export const ATTR_URL_QUERY = "url.query"
/** @since 0.1.0 @category attributes */
export const ATTR_URL_SCHEME = "url.scheme"
/** @since 0.1.0 @category attributes */
export const ATTR_CLIENT_ADDRESS = "client.address"
/** @since 0.1.0 @category attributes */
export const ATTR_USER_AGENT_ORIGINAL = "user_agent.original"
/** @since 0.1.0 @category attributes */
export const ATTR_NETWORK_PROTOCOL_VERSION = "network.protocol.version"
/** What replaces a credential or sensitive value in recorded URLs and headers (semconv). @since 0.1.0 */
export const REDACTED = "REDACTED"
/** @since 0.1.0 @category metrics */
export const METRIC_HTTP_SERVER_REQUEST_DURATION = "http.server.request.duration"
/** @since 0.1.0 @category metrics */
export const METRIC_HTTP_SERVER_ACTIVE_REQUESTS = "http.server.active_requests"
/** @since 0.1.0 @category metrics */
export const METRIC_HTTP_SERVER_REQUEST_BODY_SIZE = "http.server.request.body.size"
/** @since 0.1.0 @category metrics */
export const METRIC_HTTP_SERVER_RESPONSE_BODY_SIZE = "http.server.response.body.size"
/** @since 0.1.0 @category metrics */
export const METRIC_HTTP_CLIENT_REQUEST_DURATION = "http.client.request.duration"
// (end http)

// --- process (names used by @effect-telemetry/process) ---
/** Name given to a supervised background process (ours; low cardinality). @since 0.1.0 @category attributes */
export const ATTR_PROCESS_NAME = "process.name"
/** 1-based run number of scheduled work (ours, span only). @since 0.1.0 @category attributes */
export const ATTR_PROCESS_RUN = "process.run"
/** Semconv: exit code of a child process. @since 0.1.0 @category attributes */
export const ATTR_PROCESS_EXIT_CODE = "process.exit.code"
/** Semconv: the command used to launch a child process (executable as given). @since 0.1.0 @category attributes */
export const ATTR_PROCESS_COMMAND = "process.command"
/** Semconv (opt-in): all arguments, credentials in URLs redacted. @since 0.1.0 @category attributes */
export const ATTR_PROCESS_COMMAND_ARGS = "process.command_args"
/** Semconv: file name of the executable (`node` for `/usr/bin/node`). @since 0.1.0 @category attributes */
export const ATTR_PROCESS_EXECUTABLE_NAME = "process.executable.name"
/** Semconv: number of arguments (executable included). @since 0.1.0 @category attributes */
export const ATTR_PROCESS_ARGS_COUNT = "process.args_count"
/** Semconv: pid of the child process, on its Client span. @since 0.1.0 @category attributes */
export const ATTR_PROCESS_PID = "process.pid"
/** Background processes started, by `process.name` (ours). @since 0.1.0 @category metrics */
export const METRIC_PROCESS_STARTED = "process.started"
/** Background processes ended, by `process.name` and `result` (ours). @since 0.1.0 @category metrics */
export const METRIC_PROCESS_TERMINATED = "process.terminated"
/** Background processes running now, by `process.name` (ours). @since 0.1.0 @category metrics */
export const METRIC_PROCESS_ACTIVE = "process.active"
/** Lifetime of a background process or one scheduled run, by `process.name` and `result` (ours). @since 0.1.0 @category metrics */
export const METRIC_PROCESS_DURATION = "process.duration"
/** Duration of child process commands, by `process.executable.name` and `process.exit.code` (ours). @since 0.1.0 @category metrics */
export const METRIC_PROCESS_COMMAND_DURATION = "process.command.duration"
/** Span name prefix of background processes: `process mailer`. @since 0.1.0 @category spans */
export const SPAN_PROCESS_PREFIX = "process"
/** Span name prefix of child process commands: `exec node`. @since 0.1.0 @category spans */
export const SPAN_COMMAND_PREFIX = "exec"
/** Environment variables carrying trace context to child processes (OTel env carrier spec). @since 0.1.0 */
export const ENV_CARRIER_VARIABLES: ReadonlyArray<string> = ["TRACEPARENT", "TRACESTATE", "BAGGAGE"]
// (end process)

// --- sql (names used by @effect-telemetry/sql) ---
/** Semconv: the database product (`postgresql`, `mysql`, `sqlite`, `microsoft.sql_server`). @since 0.1.0 @category attributes */
export const ATTR_DB_SYSTEM_NAME = "db.system.name"
/** Semconv: the database (Postgres: the database name). @since 0.1.0 @category attributes */
export const ATTR_DB_NAMESPACE = "db.namespace"
/** Semconv: the SQL keyword of the statement (`SELECT`, `INSERT`), from a fixed list. @since 0.1.0 @category attributes */
export const ATTR_DB_OPERATION_NAME = "db.operation.name"
/** Semconv: the first table the statement names, schema-qualified as written, quotes removed. @since 0.1.0 @category attributes */
export const ATTR_DB_COLLECTION_NAME = "db.collection.name"
/** Semconv: the statement text with placeholders; literals replaced by `?`, parameter values never included. @since 0.1.0 @category attributes */
export const ATTR_DB_QUERY_TEXT = "db.query.text"
/** Semconv: the database's status code of a failed statement (Postgres SQLSTATE, `23505`). @since 0.1.0 @category attributes */
export const ATTR_DB_RESPONSE_STATUS_CODE = "db.response.status_code"
/** How a transaction ended: `commit` | `rollback` (ours). @since 0.1.0 @category attributes */
export const ATTR_DB_TRANSACTION_OUTCOME = "db.transaction.outcome"
/** Nesting depth of a transaction: 0 for the outer one, 1+ for savepoints (ours). @since 0.1.0 @category attributes */
export const ATTR_DB_TRANSACTION_DEPTH = "db.transaction.depth"
/** Semconv: duration of a statement, seconds. @since 0.1.0 @category metrics */
export const METRIC_DB_CLIENT_OPERATION_DURATION = "db.client.operation.duration"
/** Statements executed, by `result` (`ok` | `error`) (ours). @since 0.1.0 @category metrics */
export const METRIC_DB_CLIENT_OPERATIONS = "db.client.operations"
/** Name of the span around `withTransaction` (ours; semconv defines none). @since 0.1.0 @category spans */
export const SPAN_DB_TRANSACTION = "transaction"
/** `error.type` of a statement whose fiber was interrupted before it completed. @since 0.1.0 */
export const DB_ERROR_TYPE_INTERRUPTED = "interrupted"
// (end sql)

// --- kv (names used by @effect-telemetry/kv) ---
/** Name the application gives a store (`sessions`, `cache`) (ours). @since 0.1.0 @category attributes */
export const ATTR_KV_NAMESPACE = "kv.namespace"
/** `get` | `set` | `remove` | `has` | `clear` | `size` | `modify` (ours). @since 0.1.0 @category attributes */
export const ATTR_KV_OPERATION = "kv.operation"
/** `ok` | `not_found` | `error` (ours). @since 0.1.0 @category attributes */
export const ATTR_KV_RESULT = "kv.result"
/** Duration of KeyValueStore operations, seconds (ours). @since 0.1.0 @category metrics */
export const METRIC_KV_OPERATION_DURATION = "kv.operation.duration"
/** KeyValueStore operations by `kv.result` (ours). @since 0.1.0 @category metrics */
export const METRIC_KV_OPERATIONS = "kv.operations"
// (end kv)

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
/** `error.type` of a send whose fiber was interrupted before the outcome was known (ours). @since 0.1.0 */
export const MESSAGING_ERROR_INTERRUPTED = "interrupted"
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

// --- workflow (names used by @effect-telemetry/workflow) ---
/** The workflow's registered name. @since 0.1.0 @category attributes */
export const ATTR_WORKFLOW_NAME = "workflow.name"
/** The deterministic execution id the engine derives from the payload. @since 0.1.0 @category attributes */
export const ATTR_WORKFLOW_EXECUTION_ID = "workflow.execution.id"
/** Whether a run continues an execution that suspended before (a resume). @since 0.1.0 @category attributes */
export const ATTR_WORKFLOW_RESUMED = "workflow.resumed"
/** How a run ended: `completed` | `failed` | `suspended` | `interrupted`. @since 0.1.0 @category attributes */
export const ATTR_WORKFLOW_RUN_RESULT = "workflow.run.result"
/** @since 0.1.0 @category attributes */
export const ATTR_ACTIVITY_NAME = "activity.name"
/** The attempt number, 1 for the first (`Activity.CurrentAttempt`). @since 0.1.0 @category attributes */
export const ATTR_ACTIVITY_ATTEMPT = "activity.attempt"
/** Span name prefix of a workflow run: `workflow {workflow.name}`. @since 0.1.0 @category spans */
export const SPAN_WORKFLOW_RUN = "workflow"
/** Span name prefix of an activity attempt: `activity {activity.name}`. @since 0.1.0 @category spans */
export const SPAN_ACTIVITY_ATTEMPT = "activity"
/** @since 0.1.0 @category metrics */
export const METRIC_WORKFLOW_STARTED = "workflow.started"
/** @since 0.1.0 @category metrics */
export const METRIC_WORKFLOW_COMPLETED = "workflow.completed"
/** @since 0.1.0 @category metrics */
export const METRIC_WORKFLOW_FAILED = "workflow.failed"
/** @since 0.1.0 @category metrics */
export const METRIC_WORKFLOW_SUSPENDED = "workflow.suspended"
/** @since 0.1.0 @category metrics */
export const METRIC_WORKFLOW_DURATION = "workflow.duration"
/** @since 0.1.0 @category metrics */
export const METRIC_ACTIVITY_ATTEMPTS = "activity.attempts"
/** @since 0.1.0 @category metrics */
export const METRIC_ACTIVITY_RETRIES = "activity.retries"
/** @since 0.1.0 @category metrics */
export const METRIC_ACTIVITY_DURATION = "activity.duration"
/**
 * Boundaries for whole-workflow durations in seconds: workflows sleep and wait for signals,
 * so they run from milliseconds to days (10 ms to 7 days).
 *
 * @since 0.1.0
 * @category boundaries
 */
export const WORKFLOW_DURATION_SECONDS_BOUNDARIES: ReadonlyArray<number> = [
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
  30,
  60,
  300,
  900,
  1800,
  3600,
  10800,
  21600,
  43200,
  86400,
  259200,
  604800
]
// (end workflow)

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

/**
 * Boundaries for payload sizes in bytes (0 B to 64 MiB by powers of four).
 *
 * @since 0.1.0
 * @category boundaries
 */
export const SIZE_BYTES_BOUNDARIES: ReadonlyArray<number> = [
  0,
  64,
  256,
  1024,
  4096,
  16384,
  65536,
  262144,
  1048576,
  4194304,
  16777216,
  67108864
]

/**
 * The names `@effect-telemetry/sql` emits. Stable database conventions come from
 * `@opentelemetry/semantic-conventions`; the experimental and our own are defined here, as
 * OTel's instrumentation-pg does, so an experimental rename upstream cannot change them.
 *
 * @internal
 */
import { Semconv } from "@effect-telemetry/core"

export {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  METRIC_DB_CLIENT_OPERATION_DURATION
} from "@opentelemetry/semantic-conventions"

/** The outcome attribute of the kit (`ok` / `error`), shared with core's function metrics. @internal */
export const ATTR_RESULT = Semconv.ATTR_RESULT

/** `commit` or `rollback` (ours). @internal */
export const ATTR_DB_TRANSACTION_OUTCOME = "db.transaction.outcome"
/** 0 for a transaction, 1+ for a savepoint (ours). @internal */
export const ATTR_DB_TRANSACTION_DEPTH = "db.transaction.depth"
/** Statement executions by outcome (ours; OTel has only the duration). @internal */
export const METRIC_DB_CLIENT_OPERATIONS = "db.client.operations"
/** The span of one `withTransaction` (ours). @internal */
export const SPAN_DB_TRANSACTION = "transaction"

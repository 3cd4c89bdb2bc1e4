/**
 * The names `@effect-telemetry/kv` emits. OpenTelemetry has no conventions for key-value
 * stores in general, so all are ours except the stable `error.type`, imported from
 * `@opentelemetry/semantic-conventions` (as OTel's own instrumentations do).
 *
 * @internal
 */
export { ATTR_ERROR_TYPE } from "@opentelemetry/semantic-conventions"

/** The store's namespace (`KvTelemetry.layer({ namespace })`). @internal */
export const ATTR_KV_NAMESPACE = "kv.namespace"
/** The operation: `get`, `set`, `remove`, `has`, `clear`, `size`, `modify`. @internal */
export const ATTR_KV_OPERATION = "kv.operation"
/** `ok`, `not_found` or `error`. @internal */
export const ATTR_KV_RESULT = "kv.result"
/** @internal */
export const METRIC_KV_OPERATION_DURATION = "kv.operation.duration"
/** @internal */
export const METRIC_KV_OPERATIONS = "kv.operations"

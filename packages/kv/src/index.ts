/**
 * @since 0.1.0
 */

/** The instrumented KeyValueStore layer and the `kv.*` metrics. @since 0.1.0 */
export * as KvTelemetry from "./KvTelemetry.js"

/** A KeyValueStore on Redis, prefix-scoped. @since 0.1.0 */
export * as RedisKeyValueStore from "./RedisKeyValueStore.js"

/**
 * @since 0.1.0
 */

/** The instrumented SqlClient layer and the `db.client.*` metrics. @since 0.1.0 */
export * as SqlTelemetry from "./SqlTelemetry.js"

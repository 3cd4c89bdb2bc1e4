/**
 * @since 0.1.0
 */

/** In-memory telemetry layers and assertion helpers. @since 0.1.0 */
export * as TestTelemetry from "./TestTelemetry.js"

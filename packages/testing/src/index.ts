/**
 * @since 0.1.0
 */

/** In-memory telemetry layers and assertion helpers. @since 0.1.0 */
export * as TestTelemetry from "./TestTelemetry.js"

/** A real OTLP/HTTP receiver (protobuf and JSON, gzip, fault injection) for tests and benchmarks. @since 0.1.0 */
export * as OtlpReceiver from "./OtlpReceiver.js"

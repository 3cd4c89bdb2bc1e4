/**
 * @since 0.1.0
 */

/** In-memory telemetry layers and assertion helpers. @since 0.1.0 */
export * as TestTelemetry from "./TestTelemetry.js"

/** The real services integration tests run against: URLs, availability, unique names, free ports. @since 0.1.0 */
export * as TestServices from "./TestServices.js"

/** A real OTLP receiver over HTTP (protobuf and JSON, gzip) or gRPC, TLS/mTLS, fault injection, for tests and benchmarks. @since 0.1.0 */
export * as OtlpReceiver from "./OtlpReceiver.js"

/** A loopback TCP proxy in front of a real service, to cut connections or take it down in tests. @since 0.1.0 */
export * as TcpProxy from "./TcpProxy.js"

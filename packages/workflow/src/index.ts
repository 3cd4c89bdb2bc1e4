/**
 * @since 0.1.0
 */

/** The instrumented WorkflowEngine layer and the workflow metrics. @since 0.1.0 */
export * as WorkflowTelemetry from "./WorkflowTelemetry.js"

/**
 * The names `@effect-telemetry/process` emits. The `process.*` attributes are OpenTelemetry's
 * experimental process conventions, defined here rather than imported from the incubating
 * entry point (as OTel's instrumentation-pg does), so an upstream rename cannot change them;
 * the stable `error.type` is imported.
 *
 * @internal
 */
import { Semconv } from "@effect-telemetry/core"

export { ATTR_ERROR_TYPE } from "@opentelemetry/semantic-conventions"

/** The outcome attribute of the kit, shared with core's function metrics. @internal */
export const ATTR_RESULT = Semconv.ATTR_RESULT

/** The process's name as given to the layer (ours). @internal */
export const ATTR_PROCESS_NAME = "process.name"
/** The run number of a restarted background process (ours). @internal */
export const ATTR_PROCESS_RUN = "process.run"
/** Experimental semconv. @internal */
export const ATTR_PROCESS_EXIT_CODE = "process.exit.code"
/** Experimental semconv. @internal */
export const ATTR_PROCESS_COMMAND = "process.command"
/** Experimental semconv. @internal */
export const ATTR_PROCESS_COMMAND_ARGS = "process.command_args"
/** Experimental semconv. @internal */
export const ATTR_PROCESS_EXECUTABLE_NAME = "process.executable.name"
/** Experimental semconv. @internal */
export const ATTR_PROCESS_ARGS_COUNT = "process.args_count"
/** Experimental semconv. @internal */
export const ATTR_PROCESS_PID = "process.pid"
/** @internal */
export const METRIC_PROCESS_STARTED = "process.started"
/** @internal */
export const METRIC_PROCESS_TERMINATED = "process.terminated"
/** @internal */
export const METRIC_PROCESS_ACTIVE = "process.active"
/** @internal */
export const METRIC_PROCESS_DURATION = "process.duration"
/** @internal */
export const METRIC_PROCESS_COMMAND_DURATION = "process.command.duration"
/** Span name prefix of a background process run: `process {name}`. @internal */
export const SPAN_PROCESS_PREFIX = "process"
/** Span name prefix of a child command: `exec {executable}`. @internal */
export const SPAN_COMMAND_PREFIX = "exec"
/** Environment variables a child reads its trace context from. @internal */
export const ENV_CARRIER_VARIABLES: ReadonlyArray<string> = ["TRACEPARENT", "TRACESTATE", "BAGGAGE"]

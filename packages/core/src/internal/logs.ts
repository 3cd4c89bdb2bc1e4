/**
 * The logs signal's machinery: Effect's logger output as OTel log records, and delivery
 * accounting (a bounded queue whose drops
 * are counted, and every record handed to the exporter either exported, failed or abandoned at
 * the shutdown deadline), as the spans have it.
 */
import type { AttributeValue, Context as OtelContext } from "@opentelemetry/api"
import { ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api"
import type { AnyValue, Logger as OtelLogger, LogRecord } from "@opentelemetry/api-logs"
import { SeverityNumber } from "@opentelemetry/api-logs"
import type { LogRecordExporter, LogRecordProcessor, ReadableLogRecord, SdkLogRecord } from "@opentelemetry/sdk-logs"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as Inspectable from "effect/Inspectable"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as Tracer from "effect/Tracer"
import * as Instrument from "../Instrument.js"
import type { DeliveryAccounting } from "./delivery.js"
import { AccountingExporter, AccountingProcessor } from "./delivery.js"
import type { Abortable } from "./export.js"
import { errorTypeOf } from "./tracer.js"

// -----------------------------------------------------------------------------
// names
// -----------------------------------------------------------------------------

/** @internal */
export const METRIC_LOG_RECORDS = "log.records"
/** @internal */
export const METRIC_SDK_LOG_PROCESSED = "otel.sdk.processor.log.processed"
/** @internal */
export const METRIC_SDK_LOG_EXPORTED = "otel.sdk.exporter.log.exported"
/** @internal */
export const ATTR_LOG_SEVERITY = "log.severity"

// -----------------------------------------------------------------------------
// severity
// -----------------------------------------------------------------------------

/** The OTel severity of an Effect log level: its number and short name (data model §Severity). @internal */
export interface Severity {
  readonly number: SeverityNumber
  readonly text: "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR" | "FATAL"
}

/** @internal */
export const severities: Readonly<Record<LogLevel.LogLevel["_tag"], Severity | undefined>> = {
  All: undefined,
  None: undefined,
  Trace: { number: SeverityNumber.TRACE, text: "TRACE" },
  Debug: { number: SeverityNumber.DEBUG, text: "DEBUG" },
  Info: { number: SeverityNumber.INFO, text: "INFO" },
  Warning: { number: SeverityNumber.WARN, text: "WARN" },
  Error: { number: SeverityNumber.ERROR, text: "ERROR" },
  Fatal: { number: SeverityNumber.FATAL, text: "FATAL" }
}

/** `undefined` for `All` and `None`, which are filters, not levels a message is logged at. @internal */
export const severityOf = (level: LogLevel.LogLevel): Severity | undefined => severities[level._tag]

// -----------------------------------------------------------------------------
// instruments
// -----------------------------------------------------------------------------

/** @internal */
export const logRecords = Instrument.counter({
  name: METRIC_LOG_RECORDS,
  unit: "{log_record}",
  description: "Messages logged through Effect's logger, by severity (counted once each, exported or not)."
})

/** @internal */
export const processed = Instrument.counter({
  name: METRIC_SDK_LOG_PROCESSED,
  unit: "{log_record}",
  description: "Log records offered to the batch processor; error.type=queue_full when it dropped them."
})

/** @internal */
export const exported = Instrument.counter({
  name: METRIC_SDK_LOG_EXPORTED,
  unit: "{log_record}",
  description: "Log records handed to the log exporter; error.type is set when the export failed."
})

// Built once: a fixed attribute set per level keeps the hot path allocation-free.
const severityAttributes: Readonly<Record<string, Readonly<Record<string, string>> | undefined>> = Object.fromEntries(
  Object.entries(severities).map(([tag, severity]) => [
    tag,
    severity === undefined ? undefined : { [ATTR_LOG_SEVERITY]: severity.text }
  ])
)

/**
 * Counts every message once. One module-level value: Effect keeps loggers in a set, so adding
 * it again (two telemetry layers, a test harness inside an app layer) cannot count twice.
 *
 * @internal
 */
export const countingLogger: Logger.Logger<unknown, void> = Logger.make(({ logLevel }) => {
  const attributes = severityAttributes[logLevel._tag]
  if (attributes !== undefined) logRecords.unsafeAdd(1, attributes)
})

// -----------------------------------------------------------------------------
// records
// -----------------------------------------------------------------------------

const isPrimitive = (value: unknown): value is string | number | boolean =>
  typeof value === "string" || typeof value === "number" || typeof value === "boolean"

/** An annotation as an attribute value: primitives and arrays of one primitive type as they are, the rest as text. */
const attributeValueOf = (value: unknown): AttributeValue => {
  if (isPrimitive(value)) return value
  if (typeof value === "bigint") return value.toString()
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value as Array<string>
  if (Array.isArray(value) && value.every((item) => typeof item === "number")) return value as Array<number>
  if (Array.isArray(value) && value.every((item) => typeof item === "boolean")) return value as Array<boolean>
  if (value instanceof Error) return `${value.name}: ${value.message}`
  return Inspectable.toStringUnknown(value, 0)
}

const bodyPart = (value: unknown): AnyValue => {
  if (isPrimitive(value)) return value
  if (value instanceof Error) return `${value.name}: ${value.message}`
  return Inspectable.toStringUnknown(value, 0)
}

/** The body: one message as itself, several (`Effect.log("a", 1)`) as a list. @internal */
export const bodyOf = (message: unknown): AnyValue => {
  if (!Array.isArray(message)) return bodyPart(message)
  return message.length === 1 ? bodyPart(message[0]) : message.map(bodyPart)
}

/** `exception.*` (semconv) of a cause with a failure or defect; `effect.interrupted` for an interruption alone. */
const addCause = (attributes: Record<string, AttributeValue>, cause: Cause.Cause<unknown>): void => {
  if (Cause.isEmpty(cause)) return
  if (Cause.isInterruptedOnly(cause)) {
    attributes["effect.interrupted"] = true
    return
  }
  const error = Cause.squash(cause)
  attributes["exception.type"] = errorTypeOf(error)
  attributes["exception.message"] = error instanceof Error ? error.message : Inspectable.toStringUnknown(error, 0)
  attributes["exception.stacktrace"] = Cause.pretty(cause, { renderErrorCause: true })
}

/**
 * The context a record is emitted in: the fiber's current span (Effect's or an external one)
 * with its sampled flag, else the root, so the SDK never reads an unrelated ambient context.
 */
const contextOf = (refs: FiberRefs.FiberRefs): OtelContext => {
  const span = Context.getOption(FiberRefs.getOrDefault(refs, FiberRef.currentContext), Tracer.ParentSpan)
  if (span._tag === "None") return ROOT_CONTEXT
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: span.value.traceId,
    spanId: span.value.spanId,
    traceFlags: span.value.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: span.value._tag === "ExternalSpan"
  })
}

/**
 * Effect's logger output as log records of `otelLogger`: severity, the message as body, the
 * fiber's annotations as attributes, the cause as `exception.*`, the current span's ids.
 *
 * @internal
 */
export const makeLogger = (otelLogger: OtelLogger): Logger.Logger<unknown, void> =>
  Logger.make((options) => {
    const severity = severityOf(options.logLevel)
    const attributes: Record<string, AttributeValue> = {}
    for (const [key, value] of options.annotations) attributes[key] = attributeValueOf(value)
    addCause(attributes, options.cause)
    const record: LogRecord = {
      timestamp: options.date,
      body: bodyOf(options.message),
      attributes,
      context: contextOf(options.context)
    }
    if (severity !== undefined) {
      ;(record as { severityNumber?: SeverityNumber }).severityNumber = severity.number
      ;(record as { severityText?: string }).severityText = severity.text
    }
    otelLogger.emit(record)
  })

// -----------------------------------------------------------------------------
// export
// -----------------------------------------------------------------------------

/** The log record exporter with delivery accounting (see `AccountingExporter`). @internal */
export class AccountingLogRecordExporter extends AccountingExporter<ReadableLogRecord> implements LogRecordExporter {
  constructor(inner: LogRecordExporter & Partial<Abortable>, accounting: DeliveryAccounting) {
    super(inner, accounting, exported)
  }
}

/** The log record processor with delivery accounting (see `AccountingProcessor`). @internal */
export class AccountingLogRecordProcessor extends AccountingProcessor<LogRecordProcessor>
  implements LogRecordProcessor
{
  constructor(inner: LogRecordProcessor, accounting: DeliveryAccounting) {
    super(inner, accounting, processed)
  }

  onEmit(record: SdkLogRecord, context?: OtelContext): void {
    if (this.admit()) this.inner.onEmit(record, context)
  }
}

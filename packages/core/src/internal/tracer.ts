/**
 * The Effect `Tracer`: native spans (internal/span.ts) fed to the SDK provider's processors
 * when the provider is one `Tracing.makeProvider` built, else spans of an OpenTelemetry SDK
 * tracer (any other provider).
 *
 * It differs from `@effect/opentelemetry`'s in three ways that are the point of this
 * project: a remote parent's sampled flag and `tracestate` are honoured (theirs default an
 * ExternalSpan to sampled and drop tracestate); a successful span leaves its status Unset, as
 * the OTel specification asks of instrumentation (theirs sets Ok, which hides the status a
 * surface sets, like Error on an HTTP 500 returned as a value); and a surface can set the
 * status explicitly before the span ends.
 */
import * as OtelApi from "@opentelemetry/api"
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as EffectTracer from "effect/Tracer"
import * as Semconv from "../Semconv.js"
import * as NativeSpans from "./span.js"

/** @internal */
export type AttributeInput = unknown

/** @internal */
export const toAttributeValue = NativeSpans.toAttributeValue

/** The class of an error for `error.type`: its `_tag`, its constructor name, or `_OTHER`. @internal */
export const errorTypeOf = NativeSpans.errorTypeOf

/** Span context of any Effect span, as OpenTelemetry sees it. @internal */
export const spanContextOf = (span: EffectTracer.AnySpan): OtelApi.SpanContext =>
  span instanceof TelemetrySpan ? span.otelSpan.spanContext() : NativeSpans.spanContextOf(span)

/**
 * An OTel context whose active span is `span`. A span keeps the last one it made: the tracer
 * asks for it each time a fiber resumes, and building a context copies a map.
 *
 * @internal
 */
export const otelContextOf = (span: EffectTracer.AnySpan, base: OtelApi.Context = OtelApi.ROOT_CONTEXT) =>
  span instanceof NativeSpans.NativeSpan || span instanceof TelemetrySpan
    ? span.otelContextOn(base)
    : OtelApi.trace.setSpanContext(base, spanContextOf(span))

// `@opentelemetry/api` 1.x keeps its globals under this key; a context manager is registered
// there or nowhere. Read on each fiber resumption, so a manager registered late still counts.
const otelApiGlobal = Symbol.for("opentelemetry.js.api.1")
// The globals object, once the API made it, stays the same object (unregistering deletes its
// fields): kept here, the check is one field read on every fiber operation.
let apiGlobals: { context?: unknown } | undefined
/** Whether an OTel context manager is registered (else the active context is the root one). @internal */
export const hasContextManager = (): boolean => {
  if (apiGlobals === undefined) {
    apiGlobals = (globalThis as { [otelApiGlobal]?: { context?: unknown } })[otelApiGlobal]
    if (apiGlobals === undefined) return false
  }
  return apiGlobals.context !== undefined
}

/** @internal */
export type ExplicitStatus = NativeSpans.ExplicitStatus

/** @internal */
export class TelemetrySpan implements EffectTracer.Span {
  readonly _tag = "Span"
  readonly otelSpan: OtelApi.Span
  readonly spanId: string
  readonly traceId: string
  readonly sampled: boolean
  readonly attributes = new Map<string, unknown>()
  status: EffectTracer.SpanStatus
  /** Set by a surface that knows better than the exit (an HTTP 500 returned as a value). */
  explicitStatus: ExplicitStatus | undefined = undefined
  private otelContextBase: OtelApi.Context | undefined = undefined
  private otelContext: OtelApi.Context | undefined = undefined

  constructor(
    tracer: OtelApi.Tracer,
    readonly name: string,
    readonly parent: Option.Option<EffectTracer.AnySpan>,
    readonly context: Context.Context<never>,
    readonly links: Array<EffectTracer.SpanLink>,
    startTime: bigint,
    readonly kind: EffectTracer.SpanKind,
    root: boolean
  ) {
    // Without an Effect parent, an OTel span active around the fiber (code instrumented by
    // another OTel library calling into Effect) is the parent.
    const parentContext = parent._tag === "Some" && !root
      ? otelContextOf(parent.value)
      : !hasContextManager()
      ? OtelApi.ROOT_CONTEXT // what `context.active()` is without a manager; no copy made
      : root
      ? OtelApi.trace.deleteSpan(OtelApi.context.active())
      : OtelApi.context.active()
    this.otelSpan = tracer.startSpan(
      name,
      {
        startTime: NativeSpans.hrTime(startTime),
        kind: NativeSpans.kindMap[kind],
        ...(links.length > 0
          ? {
            links: links.map((link) => ({
              context: spanContextOf(link.span),
              attributes: NativeSpans.toAttributes(link.attributes)
            }))
          }
          : {})
      },
      parentContext
    )
    const spanContext = this.otelSpan.spanContext()
    this.spanId = spanContext.spanId
    this.traceId = spanContext.traceId
    this.sampled = (spanContext.traceFlags & OtelApi.TraceFlags.SAMPLED) === OtelApi.TraceFlags.SAMPLED
    this.status = { _tag: "Started", startTime }
  }

  /** `base` with this span active, made once per distinct base. */
  otelContextOn(base: OtelApi.Context): OtelApi.Context {
    if (this.otelContextBase !== base || this.otelContext === undefined) {
      this.otelContextBase = base
      this.otelContext = OtelApi.trace.setSpan(base, this.otelSpan)
    }
    return this.otelContext
  }

  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
    // A sampled-out span records nothing; skip the conversion, it is the common cost.
    if (this.sampled) this.otelSpan.setAttribute(key, toAttributeValue(value))
  }

  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    if (this.sampled) this.otelSpan.addEvent(name, NativeSpans.toAttributes(attributes), NativeSpans.hrTime(startTime))
  }

  addLinks(links: ReadonlyArray<EffectTracer.SpanLink>): void {
    this.links.push(...links)
    this.otelSpan.addLinks(
      links.map((link) => ({
        context: spanContextOf(link.span),
        attributes: NativeSpans.toAttributes(link.attributes)
      }))
    )
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
    const hrTime = NativeSpans.hrTime(endTime)
    if (this.explicitStatus !== undefined) {
      this.otelSpan.setStatus(this.explicitStatus)
    } else if (exit._tag === "Failure" && !Cause.isInterruptedOnly(exit.cause)) {
      const failure = Cause.failureOption(exit.cause)
      const original = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(exit.cause))
      const pretty = Cause.prettyErrors(exit.cause)[0]
      if (pretty !== undefined) {
        this.otelSpan.recordException(
          { name: pretty.name, message: pretty.message, stack: pretty.stack },
          hrTime
        )
        if (!this.attributes.has(Semconv.ATTR_ERROR_TYPE)) {
          this.otelSpan.setAttribute(Semconv.ATTR_ERROR_TYPE, errorTypeOf(original))
        }
        this.otelSpan.setStatus({ code: OtelApi.SpanStatusCode.ERROR, message: pretty.message })
      }
    } else if (exit._tag === "Failure") {
      // Interruption is cancellation, not an error: status stays Unset, the attribute says why.
      this.otelSpan.setAttribute(Semconv.ATTR_EFFECT_INTERRUPTED, true)
    }
    this.otelSpan.end(hrTime)
  }
}

/** The OTel parent of a span: its Effect parent's context, else the active OTel span's. */
const parentContextOf = (
  parent: Option.Option<EffectTracer.AnySpan>,
  root: boolean
): OtelApi.SpanContext | undefined => {
  if (root) return undefined
  if (parent._tag === "Some") return spanContextOf(parent.value)
  // Without an Effect parent, an OTel span active around the fiber (code instrumented by
  // another OTel library calling into Effect) is the parent.
  return hasContextManager() ? OtelApi.trace.getSpanContext(OtelApi.context.active()) : undefined
}

const contextHook = <X>(execution: () => X, fiber: { readonly currentSpan?: EffectTracer.AnySpan | undefined }): X => {
  // A manager can be unregistered again (tests do): then `context.with` would do nothing.
  if (!hasContextManager()) return execution()
  const current = fiber.currentSpan
  if (current === undefined) return execution()
  // OTel-instrumented libraries called inside the fiber see its span as their parent.
  return OtelApi.context.with(otelContextOf(current, OtelApi.context.active()), execution)
}

// Effect's own tracer's hook, the very function (the operation and nothing else): the run loop
// calls the same code as under Effect's native tracer, and profiles count it as Effect's.
const passThrough: EffectTracer.Tracer["context"] = Effect.runSync(Effect.tracer).context

/**
 * A tracer whose per-operation `context` hook is Effect's pass-through until an OTel context
 * manager is registered, then {@link contextHook}. The hook runs for every fiber operation
 * (~100 per HTTP request): checking for a manager there cost ~2 µs per request over sockets.
 * Each span start checks instead; an OTel context only matters inside a span, so a manager
 * registered late takes effect from the next span any fiber starts.
 */
const makeTracer = (
  span: (...args: Parameters<EffectTracer.Tracer["span"]>) => EffectTracer.Span
): EffectTracer.Tracer => {
  const tracer = EffectTracer.make({
    span(name, parent, context, links, startTime, kind, options) {
      if (tracer.context === passThrough && hasContextManager()) {
        ;(tracer as { context: EffectTracer.Tracer["context"] }).context = contextHook
      }
      return span(name, parent, context, links, startTime, kind, options)
    },
    context: hasContextManager() ? contextHook : passThrough
  })
  return tracer
}

/**
 * The native tracer: spans recorded in plain fields, sampled once at start, handed to the
 * setup's processors as `ReadableSpan`s when a sampled one ends.
 *
 * @internal
 */
export const makeNative = (setup: NativeSpans.Setup): EffectTracer.Tracer =>
  makeTracer((name, parent, context, links, startTime, kind, options) => {
    const root = options?.root === true
    const parentSpan = !root && parent._tag === "Some" ? parent.value : undefined
    return new NativeSpans.NativeSpan(
      setup,
      name,
      parent,
      context,
      links.slice(),
      startTime,
      kind,
      parentContextOf(parent, root),
      parentSpan instanceof NativeSpans.NativeSpan
    )
  })

/** @internal */
export const make = (tracer: OtelApi.Tracer): EffectTracer.Tracer =>
  makeTracer((name, parent, context, links, startTime, kind, options) =>
    new TelemetrySpan(tracer, name, parent, context, links.slice(), startTime, kind, options?.root === true)
  )

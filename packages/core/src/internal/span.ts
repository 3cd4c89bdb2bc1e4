/**
 * The Effect-native span: it records into plain fields and becomes an SDK `ReadableSpan` only
 * when a sampled span ends, for the same span processors and exporters the SDK provider has.
 *
 * The sampling decision is made once, at start, with the configured sampler's rules. A
 * sampled-out span records nothing: it carries its ids and flags, for propagation and for the
 * decisions of its children. The OTel SDK span this replaces was built for every span,
 * sampled or not, with its attribute sanitising, its context copies and its processor calls:
 * the largest per-request cost in the profiles.
 */
import { OtelTraceFlags, OtelTraceState } from "@effect/opentelemetry/Tracer"
import * as OtelApi from "@opentelemetry/api"
import type { InstrumentationScope } from "@opentelemetry/core"
import { getNumberFromEnv } from "@opentelemetry/core"
import type * as Resources from "@opentelemetry/resources"
import type { ReadableSpan, SpanProcessor, TimedEvent } from "@opentelemetry/sdk-trace-base"
import { SamplingDecision, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as EffectTracer from "effect/Tracer"
import * as Semconv from "../Semconv.js"

// Semconv's exception attributes (stable), as the SDK's recordException writes them.
const ATTR_EXCEPTION_TYPE = "exception.type"
const ATTR_EXCEPTION_MESSAGE = "exception.message"
const ATTR_EXCEPTION_STACKTRACE = "exception.stacktrace"
import type { SamplerName } from "../TelemetryConfig.js"
import { nativeFields } from "./otlpTraceEncoder.js"
import type { NativeFields } from "./otlpTraceEncoder.js"

// ---------------------------------------------------------------------------------------------
// ids

// Char codes of the hex digits. An id is made with one `String.fromCharCode` call: a flat
// string. Concatenated pieces make a rope (a tree of 3 to 7 string objects per id), which a
// sampled span keeps alive until its batch is exported and which costs the scavenger a copy of
// each piece: ids as ropes cost ~100 ns more per span, in their making and their collection.
const hexCode: ReadonlyArray<number> = Array.from({ length: 16 }, (_, i) => i.toString(16).charCodeAt(0))

const random32 = (): number => (Math.random() * 0x100000000) >>> 0

/** 16 random hex digits, never all zeros (an invalid span id). @internal */
export const randomSpanId = (): string => {
  const a = random32()
  const b = random32()
  if ((a | b) === 0) return randomSpanId()
  const h = hexCode
  // dprint-ignore
  return String.fromCharCode(
    h[a >>> 28]!, h[(a >>> 24) & 15]!, h[(a >>> 20) & 15]!, h[(a >>> 16) & 15]!,
    h[(a >>> 12) & 15]!, h[(a >>> 8) & 15]!, h[(a >>> 4) & 15]!, h[a & 15]!,
    h[b >>> 28]!, h[(b >>> 24) & 15]!, h[(b >>> 20) & 15]!, h[(b >>> 16) & 15]!,
    h[(b >>> 12) & 15]!, h[(b >>> 8) & 15]!, h[(b >>> 4) & 15]!, h[b & 15]!
  )
}

/** 32 random hex digits, never all zeros (an invalid trace id). @internal */
export const randomTraceId = (): string => {
  const a = random32()
  const b = random32()
  const c = random32()
  const d = random32()
  if ((a | b | c | d) === 0) return randomTraceId()
  const h = hexCode
  // dprint-ignore
  return String.fromCharCode(
    h[a >>> 28]!, h[(a >>> 24) & 15]!, h[(a >>> 20) & 15]!, h[(a >>> 16) & 15]!,
    h[(a >>> 12) & 15]!, h[(a >>> 8) & 15]!, h[(a >>> 4) & 15]!, h[a & 15]!,
    h[b >>> 28]!, h[(b >>> 24) & 15]!, h[(b >>> 20) & 15]!, h[(b >>> 16) & 15]!,
    h[(b >>> 12) & 15]!, h[(b >>> 8) & 15]!, h[(b >>> 4) & 15]!, h[b & 15]!,
    h[c >>> 28]!, h[(c >>> 24) & 15]!, h[(c >>> 20) & 15]!, h[(c >>> 16) & 15]!,
    h[(c >>> 12) & 15]!, h[(c >>> 8) & 15]!, h[(c >>> 4) & 15]!, h[c & 15]!,
    h[d >>> 28]!, h[(d >>> 24) & 15]!, h[(d >>> 20) & 15]!, h[(d >>> 16) & 15]!,
    h[(d >>> 12) & 15]!, h[(d >>> 8) & 15]!, h[(d >>> 4) & 15]!, h[d & 15]!
  )
}

// ---------------------------------------------------------------------------------------------
// sampling

/**
 * The decision of one of the configured samplers (OTEL_TRACES_SAMPLER), made from the parent's
 * span context and the trace id, as the SDK's samplers make it: parent-based ones follow the
 * parent's sampled flag (remote or local), the ratio one is the SDK's own.
 *
 * @internal
 */
export type Decide = (parent: OtelApi.SpanContext | undefined, traceId: string) => boolean

/** @internal */
export const makeDecide = (sampler: SamplerName, ratio: number): Decide => {
  const ratioSampler = new TraceIdRatioBasedSampler(ratio)
  const byRatio = (traceId: string) =>
    ratioSampler.shouldSample(OtelApi.ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED
  const followParent = (root: (traceId: string) => boolean): Decide => (parent, traceId) =>
    parent === undefined ? root(traceId) : (parent.traceFlags & OtelApi.TraceFlags.SAMPLED) !== 0
  switch (sampler) {
    case "always_on":
      return () => true
    case "always_off":
      return () => false
    case "traceidratio":
      return (_, traceId) => byRatio(traceId)
    case "parentbased_always_on":
      return followParent(() => true)
    case "parentbased_always_off":
      return followParent(() => false)
    case "parentbased_traceidratio":
      return followParent(byRatio)
  }
}

// ---------------------------------------------------------------------------------------------
// limits

/** The SDK's span limits, from the same environment variables and with the same defaults. @internal */
export interface SpanLimits {
  readonly attributeCountLimit: number
  readonly attributeValueLengthLimit: number
  readonly eventCountLimit: number
  readonly linkCountLimit: number
  readonly attributePerEventCountLimit: number
  readonly attributePerLinkCountLimit: number
}

/** @internal */
export const limitsFromEnv = (): SpanLimits => {
  const attributeCountLimit = getNumberFromEnv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT") ??
    getNumberFromEnv("OTEL_ATTRIBUTE_COUNT_LIMIT") ?? 128
  const attributeValueLengthLimit = getNumberFromEnv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT") ??
    getNumberFromEnv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT") ?? Infinity
  return {
    attributeCountLimit,
    attributeValueLengthLimit: attributeValueLengthLimit > 0 ? attributeValueLengthLimit : Infinity,
    eventCountLimit: getNumberFromEnv("OTEL_SPAN_EVENT_COUNT_LIMIT") ?? 128,
    linkCountLimit: getNumberFromEnv("OTEL_SPAN_LINK_COUNT_LIMIT") ?? 128,
    attributePerEventCountLimit: getNumberFromEnv("OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT") ?? 128,
    attributePerLinkCountLimit: getNumberFromEnv("OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT") ?? 128
  }
}

// ---------------------------------------------------------------------------------------------
// attribute values

/** An Effect attribute value as an OTel attribute value. @internal */
export const toAttributeValue = (value: unknown): OtelApi.AttributeValue => {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value
    case "bigint":
      return Number(value)
    case "undefined":
      return "undefined"
    case "symbol":
    case "function":
      return String(value)
  }
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value as Array<string>
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) return value as Array<number>
  if (Array.isArray(value) && value.every((v) => typeof v === "boolean")) return value as Array<boolean>
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}

/** Effect attributes (of a link or event) as OTel attributes, unbounded; `undefined` stays so. @internal */
export const toAttributes = (record: Readonly<Record<string, unknown>> | undefined): OtelApi.Attributes | undefined => {
  if (record === undefined) return undefined
  const out: OtelApi.Attributes = {}
  for (const key in record) out[key] = toAttributeValue(record[key])
  return out
}

const truncate = (value: OtelApi.AttributeValue, limit: number): OtelApi.AttributeValue => {
  if (limit === Infinity) return value
  if (typeof value === "string") return value.length <= limit ? value : value.substring(0, limit)
  if (Array.isArray(value)) {
    return (value as Array<unknown>).map((v) =>
      typeof v === "string" && v.length > limit ? v.substring(0, limit) : v
    ) as OtelApi.AttributeValue
  }
  return value
}

/** Attributes of an event or link, bounded: [attributes, dropped]. */
const boundedAttributes = (
  record: Readonly<Record<string, unknown>> | undefined,
  countLimit: number,
  lengthLimit: number
): [OtelApi.Attributes, number] => {
  const out: OtelApi.Attributes = {}
  let count = 0
  let dropped = 0
  if (record === undefined) return [out, 0]
  for (const key in record) {
    const value = record[key]
    if (value === undefined || value === null || key.length === 0) continue
    if (count >= countLimit) {
      dropped++
      continue
    }
    out[key] = truncate(toAttributeValue(value), lengthLimit)
    count++
  }
  return [out, dropped]
}

// ---------------------------------------------------------------------------------------------
// span context of any Effect span

/** @internal */
export interface ExplicitStatus {
  readonly code: OtelApi.SpanStatusCode
  readonly message?: string | undefined
}

/** Span context of any Effect span, as OpenTelemetry sees it. @internal */
export const spanContextOf = (span: EffectTracer.AnySpan): OtelApi.SpanContext => {
  if (span instanceof NativeSpan) return span.spanContext()
  // An ExternalSpan made by Propagation.extract carries the remote flags and tracestate.
  const flags = Context.getOption(span.context, OtelTraceFlags)
  const state = Context.getOption(span.context, OtelTraceState)
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    isRemote: span._tag === "ExternalSpan",
    traceFlags: Option.getOrElse(flags, () => span.sampled ? OtelApi.TraceFlags.SAMPLED : OtelApi.TraceFlags.NONE),
    traceState: Option.getOrUndefined(state)
  }
}

// ---------------------------------------------------------------------------------------------
// the tracer's shared state

/** What every span of one tracer shares. @internal */
export interface Setup {
  readonly decide: Decide
  readonly processors: ReadonlyArray<SpanProcessor>
  readonly resource: Resources.Resource
  readonly scope: InstrumentationScope
  readonly limits: SpanLimits
}

/** Effect's span kinds as OTel's (the native span and the SDK-span tracer both use it). @internal */
export const kindMap = {
  internal: OtelApi.SpanKind.INTERNAL,
  client: OtelApi.SpanKind.CLIENT,
  server: OtelApi.SpanKind.SERVER,
  producer: OtelApi.SpanKind.PRODUCER,
  consumer: OtelApi.SpanKind.CONSUMER
} as const

/** Effect's nanosecond clock reading as an OTel `HrTime`. @internal */
export const hrTime = (nanos: bigint): OtelApi.HrTime => {
  // Two Number conversions instead of two bigint divisions: the seconds fit a double exactly.
  const seconds = Number(nanos / 1_000_000_000n)
  return [seconds, Number(nanos - BigInt(seconds) * 1_000_000_000n)]
}

/** The class of an error for `error.type`: its `_tag`, its constructor name, or `_OTHER`. @internal */
export const errorTypeOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const tag = (error as { _tag?: unknown })._tag
    if (typeof tag === "string" && tag !== "") return tag
    const name = (error as { name?: unknown }).name
    if (typeof name === "string" && name !== "" && name !== "Error") return name
    const ctor = (error as object).constructor?.name
    if (ctor && ctor !== "Object") return ctor
  }
  return "_OTHER"
}

type RawEvent = readonly [name: string, time: bigint, attributes: Readonly<Record<string, unknown>> | undefined]

// ---------------------------------------------------------------------------------------------
// the span

/** @internal */
export class NativeSpan implements EffectTracer.Span {
  readonly _tag = "Span"
  readonly spanId: string
  readonly traceId: string
  readonly sampled: boolean
  readonly attributes = new Map<string, unknown>()
  readonly links: Array<EffectTracer.SpanLink>
  status: EffectTracer.SpanStatus
  /** Set by a surface that knows better than the exit (an HTTP 500 returned as a value). */
  explicitStatus: ExplicitStatus | undefined = undefined
  /** The exported name (a surface renames its span once the route is known). */
  name: string
  /** The parent as OpenTelemetry sees it, when valid. */
  readonly parentSpanContext: OtelApi.SpanContext | undefined
  readonly traceState: OtelApi.TraceState | undefined
  events: Array<RawEvent> | undefined = undefined
  private context_: OtelApi.SpanContext | undefined = undefined
  private apiSpan: ApiSpan | undefined = undefined
  private otelContextBase: OtelApi.Context | undefined = undefined
  private otelContext: OtelApi.Context | undefined = undefined

  constructor(
    readonly setup: Setup,
    name: string,
    readonly parent: Option.Option<EffectTracer.AnySpan>,
    readonly context: Context.Context<never>,
    links: Array<EffectTracer.SpanLink>,
    startTime: bigint,
    readonly kind: EffectTracer.SpanKind,
    /** The parent as OpenTelemetry sees it: the Effect parent's, or the active OTel span's. */
    parentContext: OtelApi.SpanContext | undefined,
    /** The parent context is one of ours, valid by construction. */
    trusted: boolean
  ) {
    this.name = name
    this.links = links
    this.status = { _tag: "Started", startTime }
    const valid = parentContext !== undefined && (trusted || OtelApi.trace.isSpanContextValid(parentContext))
    this.parentSpanContext = valid ? parentContext : undefined
    this.traceId = valid ? parentContext!.traceId : randomTraceId()
    this.spanId = randomSpanId()
    this.traceState = valid ? parentContext!.traceState : undefined
    this.sampled = setup.decide(this.parentSpanContext, this.traceId)
  }

  spanContext(): OtelApi.SpanContext {
    if (this.context_ === undefined) {
      this.context_ = {
        traceId: this.traceId,
        spanId: this.spanId,
        traceFlags: this.sampled ? OtelApi.TraceFlags.SAMPLED : OtelApi.TraceFlags.NONE,
        traceState: this.traceState,
        isRemote: false
      }
    }
    return this.context_
  }

  /** The span as `@opentelemetry/api` code sees it (made on first use). */
  otelSpan(): OtelApi.Span {
    if (this.apiSpan === undefined) this.apiSpan = new ApiSpan(this)
    return this.apiSpan
  }

  /** `base` with this span active, made once per distinct base. */
  otelContextOn(base: OtelApi.Context): OtelApi.Context {
    if (this.otelContextBase !== base || this.otelContext === undefined) {
      this.otelContextBase = base
      this.otelContext = OtelApi.trace.setSpan(base, this.otelSpan())
    }
    return this.otelContext
  }

  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
  }

  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    if (!this.sampled || this.status._tag === "Ended") return
    if (this.events === undefined) this.events = []
    this.events.push([name, startTime, attributes])
  }

  addLinks(links: ReadonlyArray<EffectTracer.SpanLink>): void {
    for (const link of links) this.links.push(link)
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    if (this.status._tag === "Ended") return
    const startTime = this.status.startTime
    this.status = { _tag: "Ended", startTime, endTime, exit }
    if (!this.sampled) return
    const processors = this.setup.processors
    if (processors.length === 0) return
    const readable = new ExportedSpan(this, startTime, endTime, exit)
    for (let i = 0; i < processors.length; i++) processors[i]!.onEnd(readable)
  }
}

// The status of every span that ends without an error or an explicit status: shared, frozen
// (processors and exporters only read a ReadableSpan).
const unsetStatus: OtelApi.SpanStatus = Object.freeze({ code: OtelApi.SpanStatusCode.UNSET })

// Keys an attributes object does not own as it owns others: Object.prototype's.
const objectKeys: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype))

/** What an {@link ExportedSpan} makes when a reader asks for its OTel fields (our encoder never does). */
interface Converted {
  startTime: OtelApi.HrTime | undefined
  endTime: OtelApi.HrTime | undefined
  duration: OtelApi.HrTime | undefined
  attributes: OtelApi.Attributes | undefined
  events: Array<TimedEvent> | undefined
  links: Array<OtelApi.Link> | undefined
  droppedAttributes: number
  droppedEvents: number
  droppedLinks: number
}

/**
 * A sampled span that ended, as the SDK's processors and exporters read it. Attributes, events
 * and links are converted on first read: the batch processor reads them when it exports, off
 * the request path. Our OTLP encoder reads the attributes and the clock readings without that
 * conversion ({@link NativeFields}): the attributes object cost ~2 µs per 11-attribute span.
 *
 * It stays alive until its batch is exported (batches of 512, every 5 s by default, from a queue
 * of up to 16,384), so the scavenger copies it, once or twice: what only a reader of the OTel
 * fields needs lives in one object made on that first read, and what every span of a tracer
 * shares is read through its setup.
 */
class ExportedSpan implements ReadableSpan, NativeFields {
  readonly name: string
  readonly kind: OtelApi.SpanKind
  readonly parentSpanContext: OtelApi.SpanContext | undefined
  readonly status: OtelApi.SpanStatus
  private readonly setup: Setup
  private readonly context_: OtelApi.SpanContext
  readonly startNanos: bigint
  readonly endNanos: bigint
  private rawAttributes: ReadonlyMap<string, unknown> | undefined
  private rawEvents: Array<RawEvent> | undefined
  private rawLinks: ReadonlyArray<EffectTracer.SpanLink> | undefined
  /** Attributes the exit adds (error.type, effect.interrupted) over the span's own. */
  private readonly exitAttributes: OtelApi.Attributes | undefined
  private converted_: Converted | undefined = undefined

  constructor(span: NativeSpan, startTime: bigint, endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
    this.name = span.name
    this.kind = kindMap[span.kind]
    this.context_ = span.spanContext()
    this.parentSpanContext = span.parentSpanContext
    this.startNanos = startTime
    this.endNanos = endTime
    this.setup = span.setup
    this.rawAttributes = span.attributes
    this.rawEvents = span.events
    this.rawLinks = span.links.length > 0 ? span.links : undefined
    const explicit = span.explicitStatus
    let status: OtelApi.SpanStatus = unsetStatus
    let exitAttributes: OtelApi.Attributes | undefined
    if (explicit !== undefined) {
      if (explicit.code === OtelApi.SpanStatusCode.ERROR) {
        status = explicit.message !== undefined
          ? { code: explicit.code, message: explicit.message }
          : { code: explicit.code }
      } else if (explicit.code === OtelApi.SpanStatusCode.OK) {
        status = { code: OtelApi.SpanStatusCode.OK }
      }
    } else if (exit._tag === "Failure" && !Cause.isInterruptedOnly(exit.cause)) {
      const failure = Cause.failureOption(exit.cause)
      const original = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(exit.cause))
      const pretty = Cause.prettyErrors(exit.cause)[0]
      if (pretty !== undefined) {
        const attributes: Record<string, unknown> = {}
        if (pretty.name) attributes[ATTR_EXCEPTION_TYPE] = pretty.name
        if (pretty.message) attributes[ATTR_EXCEPTION_MESSAGE] = pretty.message
        if (pretty.stack) attributes[ATTR_EXCEPTION_STACKTRACE] = pretty.stack
        if (pretty.name || pretty.message) {
          this.rawEvents = [...(this.rawEvents ?? []), ["exception", endTime, attributes]]
        }
        if (!span.attributes.has(Semconv.ATTR_ERROR_TYPE)) {
          exitAttributes = { [Semconv.ATTR_ERROR_TYPE]: errorTypeOf(original) }
        }
        status = { code: OtelApi.SpanStatusCode.ERROR, message: pretty.message }
      }
    } else if (exit._tag === "Failure") {
      // Interruption is cancellation, not an error: status stays Unset, the attribute says why.
      exitAttributes = { [Semconv.ATTR_EFFECT_INTERRUPTED]: true }
    }
    this.status = status
    this.exitAttributes = exitAttributes
  }

  spanContext(): OtelApi.SpanContext {
    return this.context_
  }

  get ended(): boolean {
    return true
  }

  get resource(): Resources.Resource {
    return this.setup.resource
  }

  get instrumentationScope(): InstrumentationScope {
    return this.setup.scope
  }

  private get converted(): Converted {
    if (this.converted_ === undefined) {
      this.converted_ = {
        startTime: undefined,
        endTime: undefined,
        duration: undefined,
        attributes: undefined,
        events: undefined,
        links: undefined,
        droppedAttributes: 0,
        droppedEvents: 0,
        droppedLinks: 0
      }
    }
    return this.converted_
  }

  /** For our OTLP encoder: the raw fields it writes from directly. */
  get [nativeFields](): NativeFields {
    return this
  }

  /**
   * The attributes `attributes` makes, in its order, without making it (the OTLP encoder writes
   * them as they come). -1 when only the object can say: made already, a key an object orders
   * first (an array index) or would not own (`__proto__`, `toString`…), an exit attribute the
   * span set itself.
   */
  eachAttribute<S>(visit: (sink: S, key: string, value: OtelApi.AttributeValue) => void, sink: S): number {
    const raw = this.rawAttributes
    if (raw === undefined) return -1
    const exit = this.exitAttributes
    if (exit !== undefined) {
      for (const key in exit) if (raw.has(key)) return -1
    }
    const { attributeCountLimit, attributeValueLengthLimit } = this.setup.limits
    let count = 0
    let dropped = 0
    for (const [key, value] of raw) {
      if (value === undefined || value === null || key.length === 0) continue
      const first = key.charCodeAt(0)
      if ((first >= 48 && first <= 57) || objectKeys.has(key)) return -1
      if (count >= attributeCountLimit) {
        dropped++
        continue
      }
      count++
      visit(sink, key, truncate(toAttributeValue(value), attributeValueLengthLimit))
    }
    if (exit !== undefined) {
      for (const key in exit) {
        const value = exit[key]
        if (value === undefined || value === null) continue
        if (count >= attributeCountLimit) {
          dropped++
          continue
        }
        count++
        visit(sink, key, truncate(toAttributeValue(value), attributeValueLengthLimit))
      }
    }
    return dropped
  }

  /** For our OTLP encoder: no events and no links, none dropped, without making either array. */
  get bare(): boolean {
    const converted = this.converted_
    if (converted === undefined) return this.rawEvents === undefined && this.rawLinks === undefined
    const noEvents = converted.events === undefined
      ? this.rawEvents === undefined
      : converted.events.length === 0 && converted.droppedEvents === 0
    if (!noEvents) return false
    return converted.links === undefined
      ? this.rawLinks === undefined
      : converted.links.length === 0 && converted.droppedLinks === 0
  }

  // The times as HrTime, made when first read: the batch processor's export reads them, off
  // the request path; ending a span only keeps Effect's two clock readings.
  get startTime(): OtelApi.HrTime {
    const converted = this.converted
    if (converted.startTime === undefined) converted.startTime = hrTime(this.startNanos)
    return converted.startTime
  }

  get endTime(): OtelApi.HrTime {
    const converted = this.converted
    if (converted.endTime === undefined) converted.endTime = hrTime(this.endNanos)
    return converted.endTime
  }

  get duration(): OtelApi.HrTime {
    const converted = this.converted
    if (converted.duration === undefined) {
      converted.duration = hrTime(this.endNanos > this.startNanos ? this.endNanos - this.startNanos : 0n)
    }
    return converted.duration
  }

  // Counted by the conversions below, whichever a reader asks for first.
  get droppedAttributesCount(): number {
    void this.attributes
    return this.converted.droppedAttributes
  }

  get droppedEventsCount(): number {
    void this.events
    return this.converted.droppedEvents
  }

  get droppedLinksCount(): number {
    void this.links
    return this.converted.droppedLinks
  }

  get attributes(): OtelApi.Attributes {
    const converted = this.converted
    if (converted.attributes === undefined) {
      const { attributeCountLimit, attributeValueLengthLimit } = this.setup.limits
      const out: OtelApi.Attributes = {}
      let count = 0
      let dropped = 0
      const add = (key: string, value: unknown) => {
        if (value === undefined || value === null || key.length === 0) return
        if (!(key in out)) {
          if (count >= attributeCountLimit) {
            dropped++
            return
          }
          count++
        }
        out[key] = truncate(toAttributeValue(value), attributeValueLengthLimit)
      }
      if (this.rawAttributes !== undefined) { for (const [key, value] of this.rawAttributes) add(key, value) }
      if (this.exitAttributes !== undefined) {
        for (const key in this.exitAttributes) add(key, this.exitAttributes[key])
      }
      converted.attributes = out
      converted.droppedAttributes = dropped
      this.rawAttributes = undefined
    }
    return converted.attributes
  }

  get events(): Array<TimedEvent> {
    const converted = this.converted
    if (converted.events === undefined) {
      const raw = this.rawEvents ?? []
      const { attributePerEventCountLimit, attributeValueLengthLimit, eventCountLimit } = this.setup.limits
      // The SDK keeps the newest events past the limit.
      const first = Math.max(0, raw.length - eventCountLimit)
      converted.droppedEvents = first
      const out: Array<TimedEvent> = []
      for (let i = first; i < raw.length; i++) {
        const [name, time, record] = raw[i]!
        const [attributes, droppedAttributesCount] = boundedAttributes(
          record,
          attributePerEventCountLimit,
          attributeValueLengthLimit
        )
        out.push({ name, attributes, time: hrTime(time), droppedAttributesCount })
      }
      converted.events = out
      this.rawEvents = undefined
    }
    return converted.events
  }

  get links(): Array<OtelApi.Link> {
    const converted = this.converted
    if (converted.links === undefined) {
      const raw = this.rawLinks ?? []
      const { attributePerLinkCountLimit, attributeValueLengthLimit, linkCountLimit } = this.setup.limits
      const first = Math.max(0, raw.length - linkCountLimit)
      converted.droppedLinks = first
      const out: Array<OtelApi.Link> = []
      for (let i = first; i < raw.length; i++) {
        const link = raw[i]!
        const [attributes, dropped] = boundedAttributes(
          link.attributes,
          attributePerLinkCountLimit,
          attributeValueLengthLimit
        )
        const converted: {
          context: OtelApi.SpanContext
          attributes?: OtelApi.Attributes
          droppedAttributesCount?: number
        } = {
          context: spanContextOf(link.span)
        }
        if (Object.keys(attributes).length > 0) converted.attributes = attributes
        if (dropped > 0) converted.droppedAttributesCount = dropped
        out.push(converted)
      }
      converted.links = out
      this.rawLinks = undefined
    }
    return converted.links
  }
}

/**
 * A native span as `@opentelemetry/api` code sees it: the active span inside its fiber (the
 * parent of spans that OTel-instrumented libraries start) and what `Tracing.otelSpanOf`
 * returns. Writes go to the native span; the Effect span's own end ends it.
 */
class ApiSpan implements OtelApi.Span {
  constructor(readonly span: NativeSpan) {}
  spanContext(): OtelApi.SpanContext {
    return this.span.spanContext()
  }
  setAttribute(key: string, value: OtelApi.AttributeValue): this {
    this.span.attribute(key, value)
    return this
  }
  setAttributes(attributes: OtelApi.Attributes): this {
    for (const key in attributes) this.span.attribute(key, attributes[key])
    return this
  }
  addEvent(name: string, attributesOrTime?: OtelApi.Attributes | OtelApi.TimeInput, time?: OtelApi.TimeInput): this {
    const attributes = isTimeInput(attributesOrTime) ? undefined : attributesOrTime
    const at = isTimeInput(attributesOrTime) ? attributesOrTime : time
    this.span.event(name, toNanos(at), attributes)
    return this
  }
  addLink(link: OtelApi.Link): this {
    return this.addLinks([link])
  }
  addLinks(links: Array<OtelApi.Link>): this {
    this.span.addLinks(links.map((link) => ({
      _tag: "SpanLink" as const,
      span: {
        _tag: "ExternalSpan" as const,
        spanId: link.context.spanId,
        traceId: link.context.traceId,
        sampled: (link.context.traceFlags & OtelApi.TraceFlags.SAMPLED) !== 0,
        context: emptyContext
      },
      attributes: link.attributes ?? {}
    })))
    return this
  }
  setStatus(status: OtelApi.SpanStatus): this {
    this.span.explicitStatus = { code: status.code, message: status.message }
    return this
  }
  updateName(name: string): this {
    this.span.name = name
    return this
  }
  end(): void {
    // The Effect span ends with its scope.
  }
  isRecording(): boolean {
    return this.span.sampled && this.span.status._tag === "Started"
  }
  recordException(exception: OtelApi.Exception, time?: OtelApi.TimeInput): void {
    const attributes: Record<string, unknown> = {}
    if (typeof exception === "string") attributes[ATTR_EXCEPTION_MESSAGE] = exception
    else {
      const type = exception.code !== undefined ? String(exception.code) : exception.name
      if (type) attributes[ATTR_EXCEPTION_TYPE] = type
      if (exception.message) attributes[ATTR_EXCEPTION_MESSAGE] = exception.message
      if (exception.stack) attributes[ATTR_EXCEPTION_STACKTRACE] = exception.stack
    }
    this.span.event("exception", toNanos(time), attributes)
  }
}

const emptyContext = Context.empty()

const isTimeInput = (value: unknown): value is OtelApi.TimeInput =>
  typeof value === "number" || value instanceof Date || (Array.isArray(value) && value.length === 2)

const toNanos = (time: OtelApi.TimeInput | undefined): bigint => {
  if (time === undefined) return BigInt(Date.now()) * 1_000_000n
  if (typeof time === "number") {
    // The SDK reads a number below 1e12-ish as performance.now() millis; epoch millis otherwise.
    const millis = time < 1e12 ? performance.timeOrigin + time : time
    return BigInt(Math.round(millis * 1_000_000))
  }
  if (time instanceof Date) return BigInt(time.getTime()) * 1_000_000n
  return BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])
}

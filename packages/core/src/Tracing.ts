/**
 * The Tracer layer: an OpenTelemetry SDK tracer provider behind Effect's `Tracer`, with the
 * configured sampler, exporter and batch span processor, and a shutdown guarantee.
 *
 * **Shutdown guarantee.** The layer is scoped. Closing it flushes the processor, then shuts
 * the provider down, within `shutdownTimeoutMillis` (one deadline shared with the metrics of
 * the same `Telemetry` layer). When the deadline passes, exports in flight are aborted, retry
 * timers cleared and sockets destroyed, so nothing of ours keeps the process alive. Every
 * sampled span that ended is counted once: exported, dropped (queue full,
 * `otel.sdk.processor.span.processed{error.type="queue_full"}`, or ended after the shutdown
 * began), failed (the collector refused it) or abandoned (the deadline passed first). One line
 * at shutdown gives the counts and the last error.
 *
 * @example
 * ```ts
 * const program = myApp.pipe(Effect.provide(Tracing.layer().pipe(
 *   Layer.provide(TelemetryResource.layer()),
 *   Layer.provide(TelemetryConfig.layer({ serviceName: "orders" }))
 * )))
 * ```
 *
 * @since 0.1.0
 */
import { Resource } from "@effect/opentelemetry/Resource"
import * as OtelApi from "@opentelemetry/api"
import type * as Resources from "@opentelemetry/resources"
import type { Sampler, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base"
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler
} from "@opentelemetry/sdk-trace-base"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Delivery from "./internal/delivery.js"
import { EncodedBatchSpanProcessor } from "./internal/encodedBatchProcessor.js"
import * as Export from "./internal/export.js"
import * as SignalPipeline from "./internal/signalPipeline.js"
import * as internalSignals from "./internal/signals.js"
import * as NativeSpans from "./internal/span.js"
import * as internalTracer from "./internal/tracer.js"
import type { Catalogue } from "./Signals.js"
import type { Resolved } from "./TelemetryConfig.js"
import { TelemetryConfig } from "./TelemetryConfig.js"

/** @since 0.1.0 @category models */
export type DeliveryStats = Delivery.DeliveryStats

/** What the {@link SpanDelivery} Tag serves. @since 0.1.0 @category models */
export interface SpanDeliveryService {
  /** Counts so far: ended, dropped, handed to the exporter, exported, failed. */
  readonly stats: Effect.Effect<DeliveryStats>
}

/**
 * Delivery counts of the running tracer provider (for health endpoints and tests).
 *
 * @since 0.1.0
 * @category tags
 */
export class SpanDelivery extends Context.Tag("@effect-telemetry/core/SpanDelivery")<
  SpanDelivery,
  SpanDeliveryService
>() {}

/**
 * The sampler for a configuration (the SDK's samplers, never our own).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSampler = (config: Pick<Resolved, "sampler" | "samplerRatio">): Sampler => {
  switch (config.sampler) {
    case "always_on":
      return new AlwaysOnSampler()
    case "always_off":
      return new AlwaysOffSampler()
    case "traceidratio":
      return new TraceIdRatioBasedSampler(config.samplerRatio)
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() })
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.samplerRatio) })
  }
}

/**
 * The exporter for a configuration, or `undefined` for `none`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeExporter = (config: Resolved): SpanExporter | undefined =>
  SignalPipeline.exporterFor<SpanExporter>(config.tracesExporter, {
    console: () => new ConsoleSpanExporter(),
    // The SDK's serializers over our transport, which can be aborted at the shutdown deadline.
    otlp: () => new Export.OtlpSpanExporter(config.otlpTraces)
  })

/** Spans in the shared export pipeline (internal/signalPipeline): two exports at a time. */
const spans: SignalPipeline.Signal<SpanExporter, SpanProcessor, Delivery.AccountingSpanExporter> = {
  exportConcurrency: 2,
  account: (exporter, accounting) => new Delivery.AccountingSpanExporter(exporter, accounting),
  simpleProcessor: (exporter) => new SimpleSpanProcessor(exporter),
  // Our OTLP/protobuf exporter takes spans encoded as they end: no span object waits for its batch.
  batchProcessor: (exporter, options) =>
    exporter.inner instanceof Export.OtlpSpanExporter && exporter.inner.encodes
      ? new EncodedBatchSpanProcessor(exporter, options)
      : new BatchSpanProcessor(exporter, options),
  accountProcessor: (processor, accounting) => new Delivery.AccountingSpanProcessor(processor, accounting),
  wording: {
    noun: "spans",
    total: "ended",
    queueFull: (maxQueueSize) =>
      ` (span queue of ${maxQueueSize} full during the run: raise OTEL_BSP_MAX_QUEUE_SIZE or sample less)`,
    late: (count) => ` (${count} dropped spans ended after the shutdown began)`
  }
}

/** @since 0.1.0 @category models */
export interface ProviderOptions {
  readonly config: Resolved
  readonly resource: Resources.Resource
  /** Overrides the exporter the configuration names (tests pass an in-memory exporter). */
  readonly exporter?: SpanExporter | undefined
  /** Export each span as it ends instead of batching (tests). */
  readonly simple?: boolean | undefined
  /** Processors added next to the exporter's, outside delivery accounting (an in-process viewer). */
  readonly spanProcessors?: ReadonlyArray<SpanProcessor> | undefined
}

/**
 * Span processors `layer` adds to the provider next to the exporter's; a layer providing them
 * (the trace viewer) is provided to the Tracer layer. Default: none.
 *
 * @since 0.1.0
 * @category references
 */
export class ExtraSpanProcessors extends Context.Reference<ExtraSpanProcessors>()(
  "@effect-telemetry/core/Tracing/ExtraSpanProcessors",
  { defaultValue: (): ReadonlyArray<SpanProcessor> => [] }
) {}

/** @since 0.1.0 @category models */
export interface Provider {
  readonly provider: BasicTracerProvider
  readonly accounting: Delivery.DeliveryAccounting
  /** The accounting exporter around the configured one, if any. */
  readonly exporter?: Delivery.AccountingSpanExporter | undefined
}

/**
 * Builds the SDK provider with delivery accounting around its processor and exporter.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeProvider = (options: ProviderOptions): Provider => {
  const { config } = options
  const { accounting, exporter, processors: spanProcessors } = SignalPipeline.makeProcessors(spans, {
    settings: config.batchSpanProcessor,
    exporter: options.exporter ?? makeExporter(config),
    simple: options.simple === true || config.tracesExporter === "console",
    extra: options.spanProcessors
  })
  const provider = new BasicTracerProvider({
    resource: options.resource,
    sampler: makeSampler(config),
    spanProcessors
  })
  // Effect spans skip the SDK span: `makeTracer` feeds these processors directly.
  nativeSetups.set(provider, {
    processors: spanProcessors,
    decide: NativeSpans.makeDecide(config.sampler, config.samplerRatio),
    limits: NativeSpans.limitsFromEnv()
  })
  return { provider, accounting, exporter }
}

/** What `makeTracer` needs of a provider `makeProvider` built to record Effect spans natively. */
const nativeSetups = new WeakMap<
  OtelApi.TracerProvider,
  Pick<NativeSpans.Setup, "processors" | "decide" | "limits">
>()

/**
 * Flushes and shuts down within the timeout, then reports in one line what was exported,
 * dropped, failed and abandoned (for a provider outside a `Telemetry` layer).
 *
 * @since 0.1.0
 * @category shutdown
 */
export const shutdown = (provider: Provider, timeoutMillis: number): Effect.Effect<DeliveryStats> =>
  SignalPipeline.shutdown(provider, spans.wording, timeoutMillis)

/**
 * The Effect tracer recording into `provider`. For a provider {@link makeProvider} built, Effect
 * spans are native: recorded in plain fields, sampled once at start with the configured
 * sampler, and handed to the provider's span processors as `ReadableSpan`s when a sampled one
 * ends (a sampled-out span records nothing and only carries its ids); processors' `onStart` is
 * not called for them, OTel's `suppressTracing` context is not consulted, and the OTel API's view
 * of a native span (what OTel-instrumented libraries see as active) ignores `end()`: the Effect
 * span ends itself. Any other provider gets a span of its own SDK tracer per Effect span.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeTracer = (provider: OtelApi.TracerProvider, resource: Resources.Resource) => {
  const name = String(resource.attributes["service.name"] ?? "effect-telemetry")
  const version = resource.attributes["service.version"] as string | undefined
  const native = nativeSetups.get(provider)
  if (native !== undefined) {
    return internalTracer.makeNative({
      ...native,
      resource,
      scope: version !== undefined ? { name, version } : { name }
    })
  }
  return internalTracer.make(provider.getTracer(name, version))
}

// Built once: every call returns this value, so a layer provided in two places is still one
// layer (Effect memoizes layers by reference).
const layerInstance: Layer.Layer<SpanDelivery, never, TelemetryConfig | Resource> = Layer.unwrapScoped(
  Effect.gen(function*() {
    const config = yield* TelemetryConfig
    const resource = yield* Resource
    if (config.disabled) return Layer.succeed(SpanDelivery, { stats: Effect.succeed(SignalPipeline.emptyStats) })
    const spanProcessors = yield* ExtraSpanProcessors
    const provider = yield* SignalPipeline.acquire(
      () => makeProvider({ config, resource, spanProcessors }),
      spans.wording,
      config.shutdownTimeoutMillis
    )
    return Layer.merge(
      Layer.setTracer(makeTracer(provider.provider, resource)),
      Layer.succeed(SpanDelivery, { stats: Effect.sync(() => provider.accounting.stats()) })
    )
  })
)

/**
 * The Tracer layer: SDK provider from the configuration, Effect tracer installed, provider
 * flushed and shut down when the layer closes. With `OTEL_SDK_DISABLED=true` it installs
 * nothing and Effect keeps its default tracer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (): Layer.Layer<SpanDelivery, never, TelemetryConfig | Resource> => layerInstance

/**
 * Sets the status of the current span explicitly; it wins over the status the span's exit
 * would give. Surfaces use it where a value means an error (an HTTP 500 response) or where a
 * failure is not one (a client that went away).
 *
 * @since 0.1.0
 * @category status
 */
export const setStatus = (status: { readonly code: "ok" | "error" | "unset"; readonly message?: string }) =>
  Effect.map(Effect.currentSpan.pipe(Effect.option), (span) => {
    if (Option.isSome(span)) setSpanStatus(span.value, status)
  })

/**
 * Sets the status of a given span (see {@link setStatus}).
 *
 * @since 0.1.0
 * @category status
 */
export const setSpanStatus = (
  span: unknown,
  status: { readonly code: "ok" | "error" | "unset"; readonly message?: string | undefined }
): void => {
  if (span instanceof internalTracer.TelemetrySpan || span instanceof NativeSpans.NativeSpan) {
    span.explicitStatus = {
      code: status.code === "ok"
        ? OtelApi.SpanStatusCode.OK
        : status.code === "error"
        ? OtelApi.SpanStatusCode.ERROR
        : OtelApi.SpanStatusCode.UNSET,
      message: status.message
    }
  }
}

/**
 * Renames a span of this tracer before it ends (the name it is exported with), e.g. a server
 * span once the route is known; other spans are left as they are.
 *
 * @example
 * ```ts
 * Effect.withSpan(Effect.flatMap(Effect.currentSpan, (span) => Effect.sync(() => Tracing.setSpanName(span, "GET /users/:id"))), "GET")
 * ```
 *
 * @since 0.2.0
 * @category interop
 */
export const setSpanName = (span: unknown, name: string): void => {
  if (span instanceof NativeSpans.NativeSpan) span.name = name
  else if (span instanceof internalTracer.TelemetrySpan) span.otelSpan.updateName(name)
}

/**
 * The OpenTelemetry span behind an Effect span created by this tracer, if it is one.
 *
 * @since 0.1.0
 * @category interop
 */
export const otelSpanOf = (span: unknown): OtelApi.Span | undefined =>
  span instanceof NativeSpans.NativeSpan
    ? span.otelSpan()
    : span instanceof internalTracer.TelemetrySpan
    ? span.otelSpan
    : undefined

/**
 * The class of an error for `error.type`: its `_tag`, its name or constructor name, else `_OTHER`.
 *
 * @since 0.1.0
 * @category status
 */
export const errorTypeOf: (error: unknown) => string = internalTracer.errorTypeOf

/**
 * The span delivery metrics (`otel.sdk.processor.span.processed`,
 * `otel.sdk.exporter.span.exported`), with their attributes and meaning: the declaration
 * docs/SIGNALS.md's SDK self-observability table is generated from.
 *
 * @since 0.2.0
 * @category signals
 */
export const signals: Catalogue = internalSignals.sdk

/**
 * An in-process trace viewer in the spirit of OpenTelemetry zPages: the spans this process
 * finished, grouped by trace in a bounded buffer, served as a list of recent traces and a
 * waterfall per trace, with each span's log records (what was logged through Effect inside
 * it, when the logs signal is on). Plain server-rendered HTML and a few lines of script; no
 * build step.
 *
 * Off by default when `NODE_ENV=production` (traces hold request data); `enabled: true` or
 * `EFFECT_TELEMETRY_TRACEVIEW=true` turns it on there (read through the central configuration:
 * an invalid value is reported and the default used).
 *
 * @example
 * ```ts
 * import { Telemetry } from "@effect-telemetry/core"
 * import { TraceView } from "@effect-telemetry/traceview"
 *
 * // The viewer's processor joins the tracer provider Telemetry.layer builds.
 * const TelemetryLive = Telemetry.layer({ serviceName: "orders" }).pipe(Layer.provideMerge(TraceView.layer()))
 *
 * // Mount the pages in your router (exclude them from HTTP telemetry), or serve them on a port.
 * const router = HttpRouter.empty.pipe(HttpRouter.mount("/traces", TraceView.router))
 * const ViewerLive = TraceView.layerServer({ port: 55679 })
 * ```
 *
 * @since 0.1.0
 */
import { Logging, TelemetryConfig, TelemetryOptionsError, Tracing } from "@effect-telemetry/core"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import * as internalHttp from "./internal/http.js"
import * as internalStore from "./internal/store.js"

/** @since 0.1.0 @category models */
export interface Options {
  /** Record and serve traces. Default: `EFFECT_TELEMETRY_TRACEVIEW` if set, else `NODE_ENV !== "production"`. */
  readonly enabled?: boolean | undefined
  /** Traces kept; the least recently updated is evicted first. Default 200. */
  readonly maxTraces?: number | undefined
  /** Spans kept per trace; later ones are counted as dropped. Default 1000. */
  readonly maxSpansPerTrace?: number | undefined
  /** Spans kept in all traces together (the memory bound). Default 20000. */
  readonly maxSpans?: number | undefined
  /** Log records kept in all traces together; the oldest are evicted first. Default 10000. */
  readonly maxLogs?: number | undefined
}

/** A recorded trace as the list page shows it. @since 0.1.0 @category models */
export interface TraceSummary {
  readonly traceId: string
  /** The earliest local root (no parent, or a remote one); undefined when only children were recorded. */
  readonly rootName: string | undefined
  readonly services: ReadonlyArray<string>
  readonly startTime: Date
  readonly durationMillis: number
  readonly spanCount: number
  readonly droppedSpans: number
  readonly errorCount: number
}

/** @since 0.1.0 @category models */
export interface TraceViewService {
  readonly enabled: boolean
  /** Effective limits (defaults applied). */
  readonly limits: {
    readonly maxTraces: number
    readonly maxSpansPerTrace: number
    readonly maxSpans: number
    readonly maxLogs: number
  }
  /** The processor keeping the spans; `layer` adds it to the tracer provider. */
  readonly processor: SpanProcessor
  /** The processor keeping the log records; `layer` adds it to the logger provider. */
  readonly logProcessor: Logging.LogRecordProcessor
  /** Recorded traces, newest (by start) first. */
  readonly traces: Effect.Effect<ReadonlyArray<TraceSummary>>
  /** Traces, spans and log records held now, and traces and log records evicted so far. */
  readonly stats: Effect.Effect<
    {
      readonly traces: number
      readonly spans: number
      readonly logs: number
      readonly evictedTraces: number
      readonly evictedLogs: number
    }
  >
  /** @internal */
  readonly store: internalStore.TraceStore
}

/** @since 0.1.0 @category tags */
export class TraceView extends Context.Tag("@effect-telemetry/traceview/TraceView")<TraceView, TraceViewService>() {}

const limitOf = (name: keyof internalStore.Limits, value: number | undefined): number =>
  TelemetryOptionsError.positiveInteger("TraceView", name, value, internalStore.defaultLimits[name])

/**
 * Builds the service (no processor registration; see {@link layer}). Throws a
 * `TelemetryOptionsError` for a limit that is not a positive integer or a non-boolean
 * `enabled`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options & { readonly enabled: boolean }): TraceViewService => {
  const enabled = TelemetryOptionsError.boolean("TraceView", "enabled", options.enabled, true)
  const maxSpansPerTrace = limitOf("maxSpansPerTrace", options.maxSpansPerTrace)
  const limits = {
    maxTraces: limitOf("maxTraces", options.maxTraces),
    maxSpansPerTrace,
    // A single trace must fit, or the newest trace could be evicted by its own spans.
    maxSpans: Math.max(limitOf("maxSpans", options.maxSpans), maxSpansPerTrace),
    maxLogs: limitOf("maxLogs", options.maxLogs)
  }
  const store = new internalStore.TraceStore(limits)
  return {
    enabled,
    limits,
    processor: store,
    logProcessor: store,
    store,
    traces: Effect.sync(() => internalHttp.summaries(store)),
    stats: Effect.sync(() => ({ ...store.size, evictedTraces: store.evictedTraces, evictedLogs: store.evictedLogs }))
  }
}

/**
 * Whether the viewer is on when `enabled` is not given: `EFFECT_TELEMETRY_TRACEVIEW` if set,
 * else on unless `NODE_ENV` is `production`. Read through the central configuration
 * (`TelemetryConfig.traceViewEnabled`): a value that is not `true`/`false` is reported once as
 * a warning and the default is used.
 *
 * @since 0.1.0
 * @category config
 */
export const enabledByDefault: Effect.Effect<boolean> = TelemetryConfig.traceViewEnabled

/**
 * The viewer service, with its processors appended to `Tracing.ExtraSpanProcessors` and
 * `Logging.ExtraLogRecordProcessors` so that the layers it is provided to (`Telemetry.layer`,
 * `Tracing.layer`, `Logging.layer`) record spans and log records into it. Disabled, it adds no
 * processor and its pages answer 404. Fails with a `TelemetryOptionsError` for a limit that is
 * not a positive integer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<
  TraceView | Tracing.ExtraSpanProcessors | Logging.ExtraLogRecordProcessors,
  TelemetryOptionsError.TelemetryOptionsError
> =>
  Layer.effectContext(Effect.gen(function*() {
    const enabled = options?.enabled ?? (yield* enabledByDefault)
    const service = yield* TelemetryOptionsError.attempt(() => make({ ...options, enabled }))
    const spanProcessors = yield* Tracing.ExtraSpanProcessors
    const logProcessors = yield* Logging.ExtraLogRecordProcessors
    return Context.make(TraceView, service).pipe(
      Context.add(Tracing.ExtraSpanProcessors, enabled ? [...spanProcessors, service.processor] : spanProcessors),
      Context.add(
        Logging.ExtraLogRecordProcessors,
        enabled ? [...logProcessors, service.logProcessor] : logProcessors
      )
    )
  }))

/**
 * {@link layer} with options read from `Config` (e.g. `Config.integer("TRACEVIEW_MAX_TRACES")`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<
  TraceView | Tracing.ExtraSpanProcessors | Logging.ExtraLogRecordProcessors,
  ConfigError.ConfigError | TelemetryOptionsError.TelemetryOptionsError
> => Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))

/**
 * The pages, to mount under a prefix: `GET /` lists recent traces (query `service`, `name`,
 * `error=1`), `GET /:traceId` shows one trace's waterfall. Links follow the mount prefix.
 *
 * @example
 * ```ts
 * HttpRouter.empty.pipe(HttpRouter.mount("/traces", TraceView.router))
 * ```
 *
 * @since 0.1.0
 * @category routes
 */
export const router: HttpRouter.HttpRouter<never, TraceView> = HttpRouter.empty.pipe(
  HttpRouter.get("/", internalHttp.listHandler(TraceView)),
  HttpRouter.get("/:traceId", internalHttp.traceHandler(TraceView))
)

/**
 * Mounts {@link router} in `HttpRouter.Default` under `prefix` (default `/traces`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRoutes = (
  options?: { readonly prefix?: `/${string}` | undefined }
): Layer.Layer<never, never, TraceView> =>
  HttpRouter.Default.use((routes) =>
    Effect.flatMap(
      TraceView,
      (service) => routes.mount(options?.prefix ?? "/traces", HttpRouter.provideService(router, TraceView, service))
    )
  )

/** @since 0.1.0 @category models */
export interface ServerOptions {
  /** Default 55679 (the zPages port of the OpenTelemetry Collector); 0 picks a free one. */
  readonly port?: number | undefined
  /** Default `127.0.0.1`: traces hold request data, so the viewer is not exposed unless asked. */
  readonly host?: string | undefined
  /** Default `/traces`; `/` redirects there (or `/` to serve the pages at the root). */
  readonly prefix?: `/${string}` | undefined
}

/**
 * Serves the pages on their own port, untraced. Disabled, it starts no server.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServer = (
  options?: ServerOptions
): Layer.Layer<never, HttpServerError.ServeError, TraceView> =>
  Layer.unwrapEffect(Effect.map(TraceView, (service) => {
    if (!service.enabled) return Layer.empty
    const prefix = options?.prefix ?? "/traces"
    const app = HttpRouter.provideService(
      prefix === "/" ? router : HttpRouter.empty.pipe(
        HttpRouter.get("/", Effect.succeed(HttpServerResponse.redirect(`${prefix}/`, { status: 302 }))),
        HttpRouter.mount(prefix, router)
      ),
      TraceView,
      service
    )
    return HttpServer.serve(app).pipe(
      HttpMiddleware.withTracerDisabledWhen(() => true),
      Layer.provide(NodeHttpServer.layer(createServer, {
        port: options?.port ?? 55679,
        host: options?.host ?? "127.0.0.1"
      }))
    )
  }))

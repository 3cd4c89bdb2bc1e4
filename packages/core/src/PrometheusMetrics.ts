/**
 * Prometheus exposition of every Effect metric (text format 0.0.4, or OpenMetrics 1.0 when the
 * `Accept` header asks for it).
 *
 * A scrape reads Effect's metric state in one pass and renders the text itself (nothing is
 * copied on update; each series' label set is escaped once, on its first scrape), after a
 * `target_info` series carrying the resource and prom-client's default Node.js runtime
 * metrics, which prom-client renders. Names follow the OpenTelemetry "Prometheus and OpenMetrics
 * compatibility" rules: dots become underscores, units become suffixes (`_seconds`,
 * `_bytes`), counters end in `_total`.
 *
 * @example
 * ```ts
 * // its own small server on OTEL_EXPORTER_PROMETHEUS_HOST:PORT
 * PrometheusMetrics.layerServer()
 * // or a route in an existing router
 * HttpRouter.empty.pipe(HttpRouter.get("/metrics", PrometheusMetrics.handler))
 * ```
 *
 * @since 0.1.0
 */
import { Resource } from "@effect/opentelemetry/Resource"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Resources from "@opentelemetry/resources"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import type * as PromClient from "prom-client"
import type * as Instrument from "./Instrument.js"
import * as internal from "./internal/prometheus.js"
import { TelemetryConfig } from "./TelemetryConfig.js"

/** @since 0.1.0 @category models */
export interface Scrape {
  readonly contentType: string
  readonly body: string
}

/** @since 0.1.0 @category models */
export interface PrometheusExporter {
  /** Renders the exposition; `accept` chooses OpenMetrics when it asks for it. */
  readonly scrape: (accept?: string) => Effect.Effect<Scrape>
  /** The prom-client registry of the Prometheus text format, for users who add their own collectors. */
  readonly registry: PromClient.Registry
}

/** @since 0.1.0 @category tags */
export class PrometheusMetrics extends Context.Tag("@effect-telemetry/core/PrometheusMetrics")<
  PrometheusMetrics,
  PrometheusExporter
>() {}

/** @since 0.1.0 @category models */
export interface Options {
  readonly resource: Resources.Resource
  /** Export Effect's `effect_fiber_*` metrics (lifetimes translated to seconds). Default true. */
  readonly effectRuntimeMetrics?: boolean | undefined
  /**
   * prom-client's default Node.js metrics (`nodejs_*`, `process_*`: event loop lag, heap, GC),
   * less the `nodejs_active_*_total` gauges promtool rejects. Default true. Collected once per
   * process and shared by every exporter (their monitors never stop): `resetMetrics()` on one
   * exporter's `registry` resets them for all.
   */
  readonly defaultMetrics?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): PrometheusExporter => {
  const state = internal.make({
    resource: options.resource,
    effectRuntimeMetrics: options.effectRuntimeMetrics ?? true,
    defaultMetrics: options.defaultMetrics ?? true
  })
  return {
    registry: state.text,
    scrape: (accept) =>
      Effect.suspend(() => {
        const openMetrics = internal.wantsOpenMetrics(accept)
        const contentType = openMetrics ? state.openMetrics.contentType : state.text.contentType
        const body = state.render(openMetrics)
        // Synchronous unless prom-client has metrics of its own to render (its API is async).
        return typeof body === "string"
          ? Effect.succeed({ contentType, body })
          : Effect.promise(() => body.then((body) => ({ contentType, body })))
      })
  }
}

// Built once: every call returns this value, so a layer provided in two places is still one
// layer (Effect memoizes layers by reference).
const layerInstance: Layer.Layer<PrometheusMetrics, never, TelemetryConfig | Resource> = Layer.effect(
  PrometheusMetrics,
  Effect.gen(function*() {
    const config = yield* TelemetryConfig
    const resource = yield* Resource
    return make({ resource, effectRuntimeMetrics: config.effectRuntimeMetrics, defaultMetrics: config.nodeMetrics })
  })
)

/**
 * The exporter built from the configuration and the shared resource; the Node.js metrics
 * follow `EFFECT_TELEMETRY_NODE_METRICS`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (): Layer.Layer<PrometheusMetrics, never, TelemetryConfig | Resource> => layerInstance

/**
 * The `/metrics` handler, with OpenMetrics content negotiation. When `bearerToken` is given,
 * a request without `Authorization: Bearer <token>` gets 401.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeHandler = (options?: { readonly bearerToken?: string | undefined }) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (options?.bearerToken !== undefined && request.headers["authorization"] !== `Bearer ${options.bearerToken}`) {
      return HttpServerResponse.text("unauthorized\n", { status: 401, headers: { "www-authenticate": "Bearer" } })
    }
    const exporter = yield* PrometheusMetrics
    const scrape = yield* exporter.scrape(request.headers["accept"])
    return HttpServerResponse.text(scrape.body, { contentType: scrape.contentType })
  })

/**
 * The `/metrics` handler without authentication.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler: Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  HttpServerRequest.HttpServerRequest | PrometheusMetrics
> = makeHandler()

/**
 * The address the `/metrics` server of {@link layerServer} listens on.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerAddress {
  readonly host: string
  readonly port: number
}

/**
 * The running `/metrics` server of {@link layerServer}.
 *
 * @since 0.1.0
 * @category tags
 */
export class PrometheusServer extends Context.Tag("@effect-telemetry/core/PrometheusServer")<
  PrometheusServer,
  { readonly address: ServerAddress }
>() {}

/**
 * The `/metrics` server could not listen, with the address and the variables that set it.
 *
 * @since 0.1.0
 * @category errors
 */
export class PrometheusServerError extends Data.TaggedError("PrometheusServerError")<{
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    const code = (this.cause as { code?: unknown } | undefined)?.code
    const reason = code === "EADDRINUSE"
      ? "the port is already in use"
      : code === "EACCES"
      ? "permission denied"
      : code === "EADDRNOTAVAIL"
      ? "the address is not available on this host"
      : String((this.cause as Error | undefined)?.message ?? this.cause)
    return `Prometheus /metrics server cannot listen on ${this.host}:${this.port}: ${reason}; ` +
      `set OTEL_EXPORTER_PROMETHEUS_PORT (and OTEL_EXPORTER_PROMETHEUS_HOST) to a free address`
  }
}

/**
 * A small HTTP server exposing `/metrics` on its own host and port (default from
 * `OTEL_EXPORTER_PROMETHEUS_HOST` / `_PORT`), closed with the layer's scope. Scrapes are not
 * traced. It is a plain `node:http` server so that core needs no `@effect/platform-node` (whose
 * peers would pull `@effect/cluster`, `@effect/rpc` and `@effect/workflow` into every app);
 * closing it also closes idle keep-alive connections so a scraper cannot hold the process.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServer = (options?: {
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly bearerToken?: string | undefined
}): Layer.Layer<PrometheusServer, PrometheusServerError, PrometheusMetrics | TelemetryConfig> =>
  Layer.scoped(
    PrometheusServer,
    Effect.gen(function*() {
      const config = yield* TelemetryConfig
      const exporter = yield* PrometheusMetrics
      const host = options?.host ?? config.prometheusHost
      const port = options?.port ?? config.prometheusPort
      const bearerToken = options?.bearerToken
      const server = createServer((request, response) => {
        const path = (request.url ?? "/").split("?", 1)[0]
        if (path !== "/metrics") {
          response.writeHead(404, { "content-type": "text/plain" }).end("not found\n")
          return
        }
        if (request.method !== "GET" && request.method !== "HEAD") {
          response.writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD" }).end("method not allowed\n")
          return
        }
        if (bearerToken !== undefined && request.headers["authorization"] !== `Bearer ${bearerToken}`) {
          response.writeHead(401, { "content-type": "text/plain", "www-authenticate": "Bearer" }).end("unauthorized\n")
          return
        }
        Effect.runPromise(exporter.scrape(request.headers["accept"])).then(
          (scrape) => {
            response.writeHead(200, { "content-type": scrape.contentType })
            response.end(request.method === "HEAD" ? undefined : scrape.body)
          },
          (error) => {
            response.writeHead(500, { "content-type": "text/plain" }).end(`scrape failed: ${String(error)}\n`)
          }
        )
      })
      yield* Effect.acquireRelease(
        Effect.async<void, PrometheusServerError>((resume) => {
          const onError = (cause: unknown) => resume(Effect.fail(new PrometheusServerError({ host, port, cause })))
          server.once("error", onError)
          server.listen(port, host, () => {
            server.off("error", onError)
            resume(Effect.void)
          })
        }),
        () =>
          Effect.async<void>((resume) => {
            server.close(() => resume(Effect.void))
            server.closeAllConnections()
          })
      )
      const address = server.address()
      return {
        address: typeof address === "object" && address !== null
          ? { host: address.address, port: address.port }
          : { host, port }
      }
    })
  )

/**
 * The name an instrument has in the Prometheus exposition, by the OpenTelemetry compatibility
 * rules this exporter applies (dots to underscores, the unit as a suffix, `_total` on
 * counters): what a dashboard or alert must query.
 *
 * @example
 * ```ts
 * import { Instrument, PrometheusMetrics } from "@effect-telemetry/core"
 *
 * const orders = Instrument.counter({ name: "orders.placed", unit: "{order}", description: "Orders placed." })
 * PrometheusMetrics.exposedName(orders.descriptor) // "orders_placed_total"
 * ```
 *
 * @since 0.1.0
 * @category names
 */
export const exposedName = (descriptor: Pick<Instrument.Descriptor, "name" | "kind" | "unit">): string =>
  internal.exposedName({
    name: descriptor.name,
    kind: descriptor.kind,
    unit: descriptor.unit,
    description: ""
  })

/**
 * The Prometheus label name an attribute key is exposed under (characters outside
 * `[a-zA-Z0-9_]` become `_`).
 *
 * @since 0.1.0
 * @category names
 */
export const labelName: (attributeKey: string) => string = internal.sanitizeLabelName

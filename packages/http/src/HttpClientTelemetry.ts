/**
 * HTTP client telemetry for `@effect/platform`'s `HttpClient`: one Client span per attempt,
 * the trace context written with the configured propagators only, credentials and sensitive
 * query values redacted from `url.full`, and `http.client.request.duration`.
 *
 * The span ends when the response headers arrive (reading the body is the caller's work);
 * 4xx, 5xx and transport failures are errors.
 *
 * @example
 * ```ts
 * import { HttpClientTelemetry } from "@effect-telemetry/http"
 *
 * const ClientLive = HttpClientTelemetry.layer().pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 */
import { Instrumentation, TelemetryOptionsError } from "@effect-telemetry/core"
import type { Signals } from "@effect-telemetry/core"
import * as HttpClient from "@effect/platform/HttpClient"
import * as internal from "./internal/client.js"
import * as metrics from "./internal/metrics.js"
import * as internalSignals from "./internal/signals.js"

/** @since 0.1.0 @category models */
export interface Options {
  /** Request headers recorded as `http.request.header.<name>` (default none). Credentials are recorded as `REDACTED`. */
  readonly captureRequestHeaders?: ReadonlyArray<string> | undefined
  /** Response headers recorded as `http.response.header.<name>` (default none). `set-cookie` is recorded as `REDACTED`. */
  readonly captureResponseHeaders?: ReadonlyArray<string> | undefined
  /** Query parameters whose values `url.full` records as `REDACTED` (default: semconv's list plus token, password, api_key, secret...). */
  readonly sensitiveQueryParams?: ReadonlyArray<string> | undefined
}

/** `http.client.request.duration`: seconds, until the response headers arrived. @since 0.1.0 @category metrics */
export const requestDuration = metrics.clientRequestDuration

const check = (options: Options | undefined): Options | undefined => {
  if (options === undefined) return undefined
  TelemetryOptionsError.stringArray("HttpClientTelemetry", "captureRequestHeaders", options.captureRequestHeaders)
  TelemetryOptionsError.stringArray("HttpClientTelemetry", "captureResponseHeaders", options.captureResponseHeaders)
  TelemetryOptionsError.stringArray("HttpClientTelemetry", "sensitiveQueryParams", options.sensitiveQueryParams)
  return options
}

/**
 * Wraps a client; combinators applied afterwards (`retry`, `mapRequest`) keep the telemetry.
 * Throws a `TelemetryOptionsError` on an option of the wrong type.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E, R>(
  client: HttpClient.HttpClient.With<E, R>,
  options?: Options
): HttpClient.HttpClient.With<E, R> => internal.instrument(client, check(options))

/**
 * Decorates the `HttpClient` service provided below it. Fails with a `TelemetryOptionsError`
 * on an option of the wrong type.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = Instrumentation.decorate<HttpClient.HttpClient, HttpClient.HttpClient, Options>(
  HttpClient.HttpClient,
  make
)

/**
 * {@link layer} with options read from `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = Instrumentation.decorateConfig<HttpClient.HttpClient, HttpClient.HttpClient, Options>(
  HttpClient.HttpClient,
  make
)

/**
 * Every span and metric the HTTP client instrumentation emits, with its attributes and meaning: the declaration
 * docs/SIGNALS.md is generated from.
 *
 * @since 0.1.0
 * @category signals
 */
export const signals: Signals.Catalogue = internalSignals.clientSignals

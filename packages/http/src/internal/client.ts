/**
 * The client span and duration around one request attempt.
 *
 * The wrapper sits on the client's postprocess, after preprocessing (`mapRequest`, base URLs)
 * has produced the final request and inside combinators added later (`retry`: one span per
 * attempt, as semconv asks). The platform's tracer is turned off for the transport below it,
 * which also stops its unconditional `b3` + `traceparent` injection: only the configured
 * propagators are written.
 */
import { Propagation, Redaction, Tracing } from "@effect-telemetry/core"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import { constTrue } from "effect/Function"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import type { Options } from "../HttpClientTelemetry.js"
import * as metrics from "./metrics.js"
import * as semantics from "./semantics.js"
import * as Semconv from "./semconv.js"

/**
 * The two halves every `HttpClient` is made of (`HttpClient.makeWith`); the platform's own
 * combinators rebuild clients from them, they are just not in the public type.
 */
interface Halves<E, R> {
  readonly preprocess: (
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<HttpClientRequest.HttpClientRequest, unknown, unknown>
  readonly postprocess: (
    request: Effect.Effect<HttpClientRequest.HttpClientRequest>
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>
}

const firstFailure = (cause: Cause.Cause<unknown>): Option.Option<unknown> =>
  Option.orElse(Chunk.head(Cause.failures(cause)), () => Chunk.head(Cause.defects(cause)))

export const instrument = <E, R>(
  client: HttpClient.HttpClient.With<E, R>,
  options?: Options
): HttpClient.HttpClient.With<E, R> => {
  const requestHeaders = semantics.lowerSet(options?.captureRequestHeaders ?? [])
  const responseHeaders = semantics.lowerSet(options?.captureResponseHeaders ?? [])
  const sensitiveQuery = semantics.lowerSet(options?.sensitiveQueryParams ?? semantics.DEFAULT_SENSITIVE_QUERY_PARAMS)

  const halves = client as unknown as Halves<E, R>
  const send = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.locally(halves.postprocess(Effect.succeed(request)), HttpClient.currentTracerDisabledWhen, constTrue)

  const traced = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, E, R>((fiber) => {
      const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
      // A URL the transport will reject with its own error: nothing to describe.
      if (Either.isLeft(url)) return send(request)
      const started = performance.now()
      const { method, original } = semantics.normalizeMethod(request.method)
      const port = semantics.portOf(url.right)
      const metricAttributes: Record<string, string | number> = {
        [Semconv.ATTR_HTTP_REQUEST_METHOD]: method,
        [Semconv.ATTR_SERVER_ADDRESS]: url.right.hostname,
        [Semconv.ATTR_URL_SCHEME]: url.right.protocol.slice(0, -1)
      }
      if (port !== undefined) metricAttributes[Semconv.ATTR_SERVER_PORT] = port
      const redaction = semantics.redactionSet(fiber.getFiberRef(Headers.currentRedactedNames))

      // The duration metric is recorded with tracing on or off: turning tracing off (for the
      // whole app or one call) must never silence metrics, as on every other surface.
      const finish = (exit: Exit.Exit<HttpClientResponse.HttpClientResponse, unknown>, span: Tracer.Span | undefined) =>
        Effect.sync(() => {
          let errorType: string | undefined
          if (Exit.isSuccess(exit)) {
            const status = exit.value.status
            metricAttributes[Semconv.ATTR_HTTP_RESPONSE_STATUS_CODE] = status
            // For a client every 4xx and 5xx is a failed call.
            if (status >= 400) errorType = String(status)
            if (span !== undefined) {
              span.attribute(Semconv.ATTR_HTTP_RESPONSE_STATUS_CODE, status)
              if (status >= 400) Tracing.setSpanStatus(span, { code: "error" })
              semantics.captureHeaders(
                exit.value.headers,
                responseHeaders,
                semantics.redactedAmong(responseHeaders, redaction),
                Semconv.ATTR_HTTP_RESPONSE_HEADER_PREFIX,
                span
              )
            }
          } else if (!Cause.isInterruptedOnly(exit.cause)) {
            const failure = firstFailure(exit.cause)
            errorType = semantics.transportErrorType(Option.getOrUndefined(failure), Tracing.errorTypeOf)
          }
          if (errorType !== undefined) {
            span?.attribute(Semconv.ATTR_ERROR_TYPE, errorType)
            metricAttributes[Semconv.ATTR_ERROR_TYPE] = errorType
          }
          metrics.clientRequestDuration.unsafeRecord((performance.now() - started) / 1000, metricAttributes)
        })

      if (!fiber.getFiberRef(FiberRef.currentTracerEnabled)) {
        return send(request).pipe(Effect.onExit((exit) => finish(exit, undefined)))
      }
      const attributes: Record<string, unknown> = {
        ...metricAttributes,
        [Semconv.ATTR_URL_FULL]: Redaction.url(url.right, sensitiveQuery)
      }
      if (original !== undefined) attributes[Semconv.ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = original

      return Effect.useSpan(
        semantics.spanMethod(method),
        { kind: "client", attributes, captureStackTrace: false },
        (span) => {
          semantics.captureHeaders(
            request.headers,
            requestHeaders,
            semantics.redactedAmong(requestHeaders, redaction),
            Semconv.ATTR_HTTP_REQUEST_HEADER_PREFIX,
            span
          )
          return send(HttpClientRequest.setHeaders(request, Propagation.inject(span))).pipe(
            Effect.withParentSpan(span),
            Effect.onExit((exit) => finish(exit, span))
          )
        }
      )
    })

  return HttpClient.makeWith(
    (request) => Effect.flatMap(request, traced),
    halves.preprocess as HttpClient.HttpClient.Preprocess<never, never>
  ) as unknown as HttpClient.HttpClient.With<E, R>
}

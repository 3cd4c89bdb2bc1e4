/**
 * The floor: the least a server span middleware can cost in Effect 3, built from the
 * platform's and Effect's own parts, for the benchmarks to measure beside ours. A tracer and a
 * logger installed (the fiber refs every app with telemetry holds), a middleware in `serve`'s
 * slot with an identity pre-response handler beside it (where ours sits), and in it one span of
 * Effect's own native tracer started in the middleware's step, put in the request's context,
 * and ended when the request does. No metrics, no propagation, no attributes of its own, no
 * export: whatever a telemetry middleware records comes on top of this.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { constTrue } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"

/**
 * A tracer (Effect's native one's functions, in a tracer object of its own: a service equal to
 * the default one would not be held) and a no-op logger: the fiber refs any app with a tracer
 * and a logger holds. A new tracer object per call, one per runtime.
 */
export const refs = (): Layer.Layer<never> => {
  const native = Effect.runSync(Effect.tracer)
  return Layer.merge(
    Layer.setTracer(Tracer.make({ span: native.span, context: native.context })),
    Logger.add(Logger.make(() => {}))
  )
}

const options: Tracer.SpanOptions = { kind: "server", captureStackTrace: false, root: true }

/**
 * The span in the step the middleware runs anyway, in the request's own context (the request
 * scope gives each request one; ours checks that it is before writing into it), ended with the
 * request's exit: three fiber operations (the step, the match and its continuation).
 */
export const middleware: HttpMiddleware.HttpMiddleware = HttpMiddleware.make((app) =>
  Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, unknown, unknown>((fiber) => {
    const services = fiber.getFiberRef(DefaultServices.currentServices)
    const clock = Context.get(services, Clock.Clock)
    const span = Context.get(services, Tracer.Tracer).span(
      "GET",
      Option.none(),
      Context.empty(),
      [],
      clock.unsafeCurrentTimeNanos(),
      "server",
      options
    )
    ;(fiber.currentContext.unsafeMap as Map<string, unknown>).set(Tracer.ParentSpan.key, span)
    ;(fiber as unknown as { currentSpan: Tracer.AnySpan }).currentSpan = span
    const end = (
      exit: Exit.Exit<HttpServerResponse.HttpServerResponse, unknown>
    ): Exit.Exit<HttpServerResponse.HttpServerResponse, unknown> => {
      span.end(clock.unsafeCurrentTimeNanos(), exit)
      return exit
    }
    return Effect.matchCauseEffect(app as HttpApp.Default<unknown, unknown>, {
      onFailure: (cause) => end(Exit.failCause(cause)),
      onSuccess: (response) => end(Exit.succeed(response))
    })
  }) as never
)

/**
 * The app served with the floor's middleware and an identity pre-response handler, the
 * platform's own span off: a scoped effect, as `HttpServer.serveEffect`.
 */
export const serveEffect = <E, R>(
  app: HttpApp.Default<E, R>
): Effect.Effect<void, never, Scope.Scope | HttpServer.HttpServer | Exclude<R, HttpServerRequest.HttpServerRequest>> =>
  HttpServer.serveEffect(app, middleware).pipe(
    HttpApp.withPreResponseHandler((_request, response) => Effect.sync(() => response)),
    Effect.locally(HttpMiddleware.currentTracerDisabledWhen, constTrue)
  ) as never

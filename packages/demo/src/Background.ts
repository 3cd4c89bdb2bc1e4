/**
 * The scope that background work started by requests runs in. The app owns it: at shutdown
 * it closes after the HTTP server (no new work) and before the telemetry layer, so work still
 * running is interrupted and its span ends in time for the final flush (a daemon's would not).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"

/** @since 0.1.0 @category tags */
export class Background extends Context.Tag("@effect-telemetry/demo/Background")<Background, Scope.Scope>() {}

/** The layer's own scope, closed when the layer is released. @since 0.1.0 @category layers */
export const layer: Layer.Layer<Background> = Layer.scoped(Background, Effect.scope)

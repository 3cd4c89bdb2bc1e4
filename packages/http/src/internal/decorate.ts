/**
 * The server and client layers both wrap the service provided below them, from options given
 * as values or read from `Config`.
 */
import { TelemetryOptionsError } from "@effect-telemetry/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * A layer replacing the service below it with `make(service, options)`; the options error
 * `make` throws becomes the layer's failure.
 */
export const layer = <I, S, O>(
  tag: Context.Tag<I, S>,
  make: (service: S, options?: O) => S,
  options?: O
): Layer.Layer<I, TelemetryOptionsError.TelemetryOptionsError, I> =>
  Layer.effect(tag, Effect.flatMap(tag, (service) => TelemetryOptionsError.attempt(() => make(service, options))))

/** {@link layer} with the options read from `Config`. */
export const layerConfig = <I, S, O>(
  tag: Context.Tag<I, S>,
  make: (service: S, options?: O) => S,
  options: Config.Config.Wrap<O>
): Layer.Layer<I, ConfigError.ConfigError | TelemetryOptionsError.TelemetryOptionsError, I> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(options), (resolved) => layer(tag, make, resolved)))

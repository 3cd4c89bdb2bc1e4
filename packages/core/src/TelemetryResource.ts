/**
 * The OpenTelemetry resource: who is emitting. Built once and shared by traces and metrics,
 * so both signals describe the same service (`service.name`, `service.version`, `host.name`,
 * `process.pid`, `process.runtime.*`, `os.type`, `telemetry.sdk.*` and
 * `OTEL_RESOURCE_ATTRIBUTES`).
 *
 * It is provided under `@effect/opentelemetry`'s `Resource` tag, so any layer of that package
 * sees the same resource.
 *
 * @since 0.1.0
 */
import { Resource } from "@effect/opentelemetry/Resource"
import type * as Resources from "@opentelemetry/resources"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/resource.js"
import { TelemetryConfig } from "./TelemetryConfig.js"
import type { Resolved } from "./TelemetryConfig.js"

export {
  /**
   * `@effect/opentelemetry`'s resource tag, re-exported.
   *
   * @since 0.1.0
   * @category tags
   */
  Resource
}

/**
 * Detects host, OS and process attributes with the SDK's detectors, merges the configured
 * attributes over them and waits for asynchronous attributes (`host.id`), so exporters never
 * see a half-built resource. `process.command_args` and `process.command` are left out: command
 * lines carry secrets too often.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (config: Resolved) => Effect.Effect<Resources.Resource> = internal.make

// Built once: every call returns this value, so a layer provided in two places is still one
// layer (Effect memoizes layers by reference).
const layerInstance: Layer.Layer<Resource, never, TelemetryConfig> = Layer.effect(
  Resource,
  Effect.flatMap(TelemetryConfig, internal.make)
)

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (): Layer.Layer<Resource, never, TelemetryConfig> => layerInstance

import {
  defaultResource,
  detectResources,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes
} from "@opentelemetry/resources"
import type * as Resources from "@opentelemetry/resources"
import * as Effect from "effect/Effect"
import type { Resolved } from "../TelemetryConfig.js"

const withheld = new Set(["process.command_args", "process.command", "process.command_line"])

/** @internal */
export const make = (config: Resolved): Effect.Effect<Resources.Resource> =>
  Effect.promise(async () => {
    const detected = detectResources({ detectors: [hostDetector, osDetector, processDetector] })
    await detected.waitForAsyncAttributes?.()
    const kept: Record<string, Resources.DetectedResourceAttributes[string]> = {}
    for (const [key, value] of Object.entries(detected.attributes)) {
      if (!withheld.has(key)) kept[key] = value
    }
    const service: Record<string, string> = { "service.name": config.serviceName }
    if (config.serviceVersion !== undefined) service["service.version"] = config.serviceVersion
    return defaultResource()
      .merge(resourceFromAttributes(kept))
      .merge(resourceFromAttributes(config.resourceAttributes))
      .merge(resourceFromAttributes(service))
  })

import { Instrument } from "@effect-telemetry/core"
import * as Semconv from "./semconv.js"

/** @internal */
export const operationDuration = Instrument.histogram({
  name: Semconv.METRIC_KV_OPERATION_DURATION,
  unit: "s",
  description: "Duration of KeyValueStore operations."
})

/** @internal */
export const operations = Instrument.counter({
  name: Semconv.METRIC_KV_OPERATIONS,
  unit: "{operation}",
  description: "KeyValueStore operations, by result."
})

import { Instrument } from "@effect-telemetry/core"
import * as Semconv from "./semconv.js"

/** @internal */
export const operationDuration = Instrument.histogram({
  name: Semconv.METRIC_DB_CLIENT_OPERATION_DURATION,
  unit: "s",
  description: "Duration of database client operations."
})

/** @internal */
export const operations = Instrument.counter({
  name: Semconv.METRIC_DB_CLIENT_OPERATIONS,
  unit: "{operation}",
  description: "Database client operations executed, by result."
})

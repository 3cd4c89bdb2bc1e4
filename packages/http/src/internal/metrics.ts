import { Instrument } from "@effect-telemetry/core"
import * as Semconv from "./semconv.js"

export const serverRequestDuration = Instrument.histogram({
  name: Semconv.METRIC_HTTP_SERVER_REQUEST_DURATION,
  unit: "s",
  description: "Duration of HTTP server requests, until the response (or its stream) ended.",
  boundaries: Semconv.DURATION_SECONDS_BOUNDARIES
})

export const serverActiveRequests = Instrument.upDownCounter({
  name: Semconv.METRIC_HTTP_SERVER_ACTIVE_REQUESTS,
  unit: "{request}",
  description: "HTTP server requests in progress."
})

export const serverRequestBodySize = Instrument.histogram({
  name: Semconv.METRIC_HTTP_SERVER_REQUEST_BODY_SIZE,
  unit: "By",
  description: "Size of HTTP server request bodies, when the request declares it (content-length).",
  boundaries: Semconv.SIZE_BYTES_BOUNDARIES
})

export const serverResponseBodySize = Instrument.histogram({
  name: Semconv.METRIC_HTTP_SERVER_RESPONSE_BODY_SIZE,
  unit: "By",
  description: "Size of HTTP server response bodies, when the size is known before sending.",
  boundaries: Semconv.SIZE_BYTES_BOUNDARIES
})

export const clientRequestDuration = Instrument.histogram({
  name: Semconv.METRIC_HTTP_CLIENT_REQUEST_DURATION,
  unit: "s",
  description: "Duration of HTTP client requests, until the response headers arrived.",
  boundaries: Semconv.DURATION_SECONDS_BOUNDARIES
})

/**
 * The names `@effect-telemetry/http` emits, for the server and the client. Stable HTTP, URL,
 * network and server conventions come from `@opentelemetry/semantic-conventions`; the
 * experimental ones (active requests, body sizes) and ours are defined here, as OTel's
 * instrumentation-pg does, so an experimental rename upstream cannot change them.
 *
 * @internal
 */
import { Semconv } from "@effect-telemetry/core"

export {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  HTTP_REQUEST_METHOD_VALUE_OTHER as HTTP_METHOD_OTHER,
  METRIC_HTTP_CLIENT_REQUEST_DURATION,
  METRIC_HTTP_SERVER_REQUEST_DURATION
} from "@opentelemetry/semantic-conventions"

/** Shared with core: set on a span whose effect was interrupted. @internal */
export const ATTR_EFFECT_INTERRUPTED = Semconv.ATTR_EFFECT_INTERRUPTED
/** Shared with core's redaction: the value that replaces a redacted one. @internal */
export const REDACTED = Semconv.REDACTED
/** Shared with core: the OTel advised duration boundaries. @internal */
export const DURATION_SECONDS_BOUNDARIES = Semconv.DURATION_SECONDS_BOUNDARIES

/** Semconv's prefix of `http.request.header.<key>` (a template in the stable list). @internal */
export const ATTR_HTTP_REQUEST_HEADER_PREFIX = "http.request.header."
/** Semconv's prefix of `http.response.header.<key>`. @internal */
export const ATTR_HTTP_RESPONSE_HEADER_PREFIX = "http.response.header."
/** `http.route` of a request no route matched (ours). @internal */
export const HTTP_ROUTE_UNMATCHED = "_unmatched"
/** Experimental semconv. @internal */
export const ATTR_HTTP_REQUEST_BODY_SIZE = "http.request.body.size"
/** Experimental semconv. @internal */
export const ATTR_HTTP_RESPONSE_BODY_SIZE = "http.response.body.size"
/** Experimental semconv. @internal */
export const METRIC_HTTP_SERVER_ACTIVE_REQUESTS = "http.server.active_requests"
/** Experimental semconv. @internal */
export const METRIC_HTTP_SERVER_REQUEST_BODY_SIZE = "http.server.request.body.size"
/** Experimental semconv. @internal */
export const METRIC_HTTP_SERVER_RESPONSE_BODY_SIZE = "http.server.response.body.size"
/** Boundaries for payload sizes in bytes (0 B to 64 MiB by powers of four). @internal */
export const SIZE_BYTES_BOUNDARIES: ReadonlyArray<number> = [
  0,
  64,
  256,
  1024,
  4096,
  16384,
  65536,
  262144,
  1048576,
  4194304,
  16777216,
  67108864
]

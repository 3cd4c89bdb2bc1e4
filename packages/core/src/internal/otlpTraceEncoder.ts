/**
 * The OTLP/protobuf `ExportTraceServiceRequest` of a batch of spans, written in one pass.
 *
 * It writes what `@opentelemetry/otlp-transformer`'s `ProtobufTraceSerializer` (0.223) writes,
 * field for field and byte for byte: the same grouping (by resource object, then by
 * instrumentation scope object, in first-seen order), the same fields left out when empty, the
 * same integer/double decision for numbers, the same span flags. The SDK's serializer walks
 * every span twice (a size estimate, then the write) through a writer that checks its capacity
 * on every byte run; this one writes each message once, reserving the length prefix it expects
 * and moving the body when the length needs more (or fewer) bytes, into a buffer kept between
 * batches. Our own native spans also hand over their Effect fields (see {@link NativeFields})
 * instead of the OTel objects their `ReadableSpan` view would build for the SDK's serializer.
 *
 * @internal
 */
import type * as OtelApi from "@opentelemetry/api"
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base"

// -----------------------------------------------------------------------------
// the writer
// -----------------------------------------------------------------------------

const textEncoder = new TextEncoder()

/** Bytes of `value`'s varint, for lengths (non-negative, below 2^32). */
const varintSize32 = (value: number): number =>
  value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5

// Strings longer than this go straight to TextEncoder.encodeInto (native, faster than a JS
// loop once the call's overhead is paid); shorter ones are copied char by char while ASCII.
const SHORT_STRING = 48

/** Writes an unsigned 32-bit varint at `at` (room already ensured); returns the position after it. */
const writeVarint32 = (buf: Uint8Array, at: number, value: number): number => {
  while (value > 0x7f) {
    buf[at++] = (value & 0x7f) | 0x80
    value >>>= 7
  }
  buf[at++] = value
  return at
}

/** A growing buffer of protobuf output. Reentrant: each request has its own. */
class Writer {
  buf: Uint8Array
  view: DataView
  pos = 0

  constructor(buf: Uint8Array) {
    this.buf = buf
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  ensure(size: number): void {
    if (this.pos + size <= this.buf.length) return
    let length = this.buf.length * 2
    while (length < this.pos + size) length *= 2
    const grown = new Uint8Array(length)
    grown.set(this.buf.subarray(0, this.pos))
    this.buf = grown
    this.view = new DataView(grown.buffer)
  }

  /** A tag or any value known to be an unsigned 32-bit integer. */
  uint32(value: number): void {
    this.ensure(5)
    this.pos = writeVarint32(this.buf, this.pos, value)
  }

  /**
   * A varint of any JS number, as the SDK's writer makes it: unsigned 32-bit values directly,
   * others as 64-bit two's complement (negatives take 10 bytes).
   */
  varint(value: number): void {
    if (value >= 0 && value <= 0xffffffff) return this.uint32(value >>> 0)
    this.ensure(10)
    let low: number
    let high: number
    if (value >= 0) {
      low = value >>> 0
      high = (value / 0x100000000) >>> 0
    } else {
      const abs = Math.abs(value)
      low = ~(abs >>> 0) >>> 0
      high = ~((abs / 0x100000000) >>> 0) >>> 0
      low = (low + 1) >>> 0
      if (low === 0) high = (high + 1) >>> 0
    }
    const buf = this.buf
    let pos = this.pos
    while (high > 0 || low > 0x7f) {
      buf[pos++] = (low & 0x7f) | 0x80
      low = ((low >>> 7) | (high << 25)) >>> 0
      high >>>= 7
    }
    buf[pos++] = low & 0x7f
    this.pos = pos
  }

  fixed32(value: number): void {
    this.ensure(4)
    const buf = this.buf
    const pos = this.pos
    buf[pos] = value & 0xff
    buf[pos + 1] = (value >>> 8) & 0xff
    buf[pos + 2] = (value >>> 16) & 0xff
    buf[pos + 3] = (value >>> 24) & 0xff
    this.pos = pos + 4
  }

  fixed64(low: number, high: number): void {
    this.fixed32(low >>> 0)
    this.fixed32(high >>> 0)
  }

  double(value: number): void {
    this.ensure(8)
    this.view.setFloat64(this.pos, value, true)
    this.pos += 8
  }

  /** Reserves `reserved` bytes for a length prefix; returns where they start. */
  begin(reserved: number): number {
    this.ensure(reserved)
    const at = this.pos
    this.pos += reserved
    return at
  }

  /** Writes the length of what follows the prefix at `at`, moving it if the guess was wrong. */
  end(at: number, reserved: number): void {
    const length = this.pos - at - reserved
    const size = varintSize32(length)
    if (size !== reserved) {
      if (size > reserved) this.ensure(size - reserved)
      this.buf.copyWithin(at + size, at + reserved, this.pos)
      this.pos += size - reserved
    }
    writeVarint32(this.buf, at, length)
  }

  /** A string field's length and UTF-8 bytes (lone surrogates as U+FFFD, as TextEncoder). */
  string(value: string): void {
    const length = value.length
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the prefix is sized for all-ASCII first.
    this.ensure(length * 3 + 5)
    const buf = this.buf
    const prefix = varintSize32(length)
    const start = this.pos + prefix
    let i = 0
    if (length <= SHORT_STRING) {
      for (; i < length; i++) {
        const c = value.charCodeAt(i)
        if (c >= 0x80) break
        buf[start + i] = c
      }
    }
    let bytes = length
    if (i < length) {
      bytes = i + textEncoder.encodeInto(i === 0 ? value : value.slice(i), buf.subarray(start + i)).written!
      const size = varintSize32(bytes)
      if (size !== prefix) buf.copyWithin(start - prefix + size, start, start + bytes)
      this.pos = start - prefix + size + bytes
    } else {
      this.pos = start + bytes
    }
    writeVarint32(buf, start - prefix, bytes)
  }

  /** Bytes written before, as they are (a copy, far cheaper than writing them again). */
  raw(value: Uint8Array): void {
    this.ensure(value.length)
    this.buf.set(value, this.pos)
    this.pos += value.length
  }

  bytes(value: Uint8Array): void {
    this.uint32(value.length)
    this.ensure(value.length)
    this.buf.set(value, this.pos)
    this.pos += value.length
  }

  /** A hex id as bytes, as the SDK's `hexToBinary` decodes it (any input, same bytes). */
  hexId(hex: string): void {
    const count = hex.length >>> 1
    this.uint32(count)
    this.ensure(count)
    const buf = this.buf
    const table = nibbles
    let pos = this.pos
    for (let i = 0; i < count * 2; i += 2) {
      const high = hex.charCodeAt(i)
      const low = hex.charCodeAt(i + 1)
      buf[pos++] = (high | low) < 128
        ? (table[high]! << 4) | table[low]!
        : (nibble(high) << 4) | nibble(low)
    }
    this.pos = pos
  }

  /** Nanoseconds of an `HrTime` as fixed64, with the SDK's exact arithmetic (uint64 wrap). */
  hrTime(time: OtelApi.HrTime): void {
    const seconds = time[0]
    const nanos = time[1]
    const lowSeconds = seconds & 0xffff
    const highSeconds = (seconds / 0x10000) >>> 0
    const fromLow = lowSeconds * 1_000_000_000
    const fromHigh = highSeconds * 1_000_000_000
    const low = (fromLow >>> 0) + (((fromHigh & 0xffff) * 0x10000) >>> 0) + nanos
    const high = Math.floor(fromLow / 0x100000000) + ((fromHigh / 0x10000) >>> 0) + Math.floor(low / 0x100000000)
    this.fixed64(low >>> 0, high >>> 0)
  }

  /** Nanoseconds of a bigint clock reading as fixed64 (uint64 wrap). */
  nanos(value: bigint): void {
    this.ensure(8)
    this.view.setBigUint64(this.pos, value, true)
    this.pos += 8
  }
}

// The SDK's hexToBinary's digit values, including what it makes of a non-hex character.
const nibble = (code: number): number =>
  code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : code - 55

// The same values for ASCII, looked up: ids are written three per span, 16 or 32 digits each.
const nibbles = Int16Array.from({ length: 128 }, (_, code) => nibble(code))

// The buffer of the last request, reused by the next one (the request gets a copy).
let spare: Uint8Array | undefined
const INITIAL_SIZE = 64 * 1024
// A buffer grown past this by an unusual batch is not kept.
const MAX_SPARE = 4 * 1024 * 1024

// The copy: Node's uninitialised allocation where there is one (a zero-filled 200 KiB copy of a
// 512-span batch cost ~300 ns per span more in the bench), a plain one elsewhere.
const copyOut: (buf: Uint8Array, length: number) => Uint8Array = typeof Buffer === "function"
  ? (buf, length) => {
    const out = Buffer.allocUnsafe(length)
    out.set(buf.subarray(0, length))
    return out
  }
  : (buf, length) => buf.slice(0, length)

// -----------------------------------------------------------------------------
// field values
// -----------------------------------------------------------------------------

const TAG_LEN = 2
const TAG_VARINT = 0
const TAG_I64 = 1
const TAG_I32 = 5

const tag = (field: number, wire: number): number => (field << 3) | wire

// int_value when the number is an integer in int64's range, double_value otherwise (NaN and
// ±Infinity included), as the SDK decides: an integer past 2^53 is still an integer.
const MIN_INT64 = -(2 ** 63)
const MAX_INT64 = 2 ** 63

/** An `AnyValue` message's body (nothing for a value the SDK does not write: null, bigint…). */
const anyValue = (w: Writer, value: unknown): void => {
  switch (typeof value) {
    case "string":
      w.uint32(tag(1, TAG_LEN))
      return w.string(value)
    case "boolean":
      w.uint32(tag(2, TAG_VARINT))
      return w.uint32(value ? 1 : 0)
    case "number":
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        w.uint32(tag(3, TAG_VARINT))
        return w.varint(value)
      }
      w.uint32(tag(4, TAG_I64))
      return w.double(value)
    case "object": {
      if (value === null) return
      if (value instanceof Uint8Array) {
        w.uint32(tag(7, TAG_LEN))
        return w.bytes(value)
      }
      if (Array.isArray(value)) {
        w.uint32(tag(5, TAG_LEN))
        const array = w.begin(2)
        for (const item of value) {
          w.uint32(tag(1, TAG_LEN))
          const at = w.begin(1)
          anyValue(w, item)
          w.end(at, 1)
        }
        return w.end(array, 2)
      }
      w.uint32(tag(6, TAG_LEN))
      const list = w.begin(2)
      // A kvlist nested in a value: its keys are not attribute keys, so not cached.
      ownEntries(w, value as Record<string, unknown>, 1, keyValueEntry)
      return w.end(list, 2)
    }
  }
}

/** `KeyValue.value`: the field's tag, its length, the `AnyValue`. */
const valueField = (w: Writer, value: unknown): void => {
  w.uint32(tag(2, TAG_LEN))
  const at = w.begin(1)
  anyValue(w, value)
  w.end(at, 1)
}

/** An entry of the repeated `KeyValue` field `field`: its tag, its length, the message. */
const keyValueEntry = (w: Writer, field: number, key: string, value: unknown): void => {
  w.uint32(tag(field, TAG_LEN))
  const at = w.begin(1)
  w.uint32(tag(1, TAG_LEN))
  w.string(key)
  valueField(w, value)
  w.end(at, 1)
}

/** `write`s each own key of `record` as an entry of field `field`, in the record's key order. */
const ownEntries = (
  w: Writer,
  record: Readonly<Record<string, unknown>>,
  field: number,
  write: (w: Writer, field: number, key: string, value: unknown) => void
): void => {
  for (const key in record) {
    if (Object.prototype.hasOwnProperty.call(record, key)) write(w, field, key, record[key])
  }
}

/** Repeated `KeyValue` field `field` of an attributes object (own keys, in their order). */
const attributes = (w: Writer, record: OtelApi.Attributes, field: number): void =>
  ownEntries(w, record, field, attribute)

// Span flags: the W3C trace flags in the low byte, and "the parent's remoteness is known" with
// the remoteness itself (OTLP's SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE / _IS_REMOTE).
const HAS_IS_REMOTE = 0x100
const IS_REMOTE = 0x200

const flags = (traceFlags: number, isRemote: boolean | undefined): number =>
  (traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0)

// -----------------------------------------------------------------------------
// messages
// -----------------------------------------------------------------------------

/** `Span.Event`'s body. */
const event = (w: Writer, event: TimedEvent): void => {
  w.uint32(tag(1, TAG_I64))
  w.hrTime(event.time)
  w.uint32(tag(2, TAG_LEN))
  w.string(event.name)
  if (event.attributes) attributes(w, event.attributes, 3)
  w.uint32(tag(4, TAG_VARINT))
  w.varint(event.droppedAttributesCount || 0)
}

/** Fields 1 to 3 of `Span` and of `Span.Link` alike: trace id, span id, trace state. */
const contextFields = (w: Writer, context: OtelApi.SpanContext): void => {
  w.uint32(tag(1, TAG_LEN))
  w.hexId(context.traceId)
  w.uint32(tag(2, TAG_LEN))
  w.hexId(context.spanId)
  const traceState = context.traceState?.serialize()
  if (traceState) {
    w.uint32(tag(3, TAG_LEN))
    w.string(traceState)
  }
}

/** `Span.Link`'s body. */
const link = (w: Writer, link: OtelApi.Link): void => {
  const context = link.context
  contextFields(w, context)
  if (link.attributes) attributes(w, link.attributes, 4)
  w.uint32(tag(5, TAG_VARINT))
  w.varint(link.droppedAttributesCount || 0)
  w.uint32(tag(6, TAG_I32))
  w.fixed32(flags(context.traceFlags, context.isRemote))
}

// -----------------------------------------------------------------------------
// native spans
// -----------------------------------------------------------------------------

/**
 * What our native spans' `ReadableSpan` view offers besides its OTel fields: the clock readings
 * its `startTime`/`endTime` are made from, and its attributes as `attributes` would hold them,
 * handed over one by one without building that object.
 *
 * @internal
 */
export interface NativeFields {
  readonly startNanos: bigint
  readonly endNanos: bigint
  /**
   * Calls `visit` with each attribute `attributes` would hold, in its key order, and returns
   * `droppedAttributesCount`; or returns -1 (at any point, having visited some or not) when it
   * cannot say without building `attributes`.
   */
  readonly eachAttribute: <S>(visit: (sink: S, key: string, value: OtelApi.AttributeValue) => void, sink: S) => number
  /** No events and no links, none dropped: `events` and `links` need not be made to say so. */
  readonly bare: boolean
}

/** The key under which a `ReadableSpan` offers its {@link NativeFields}. @internal */
export const nativeFields: unique symbol = Symbol("effect-telemetry/otlpTraceEncoder/nativeFields")

const UINT64_END = 2n ** 64n

type MaybeNative = ReadableSpan & { readonly [nativeFields]?: NativeFields }

// -----------------------------------------------------------------------------
// span attributes, written once
// -----------------------------------------------------------------------------

/**
 * What is cached of one attribute key: its `KeyValue.key` field as written, and the whole
 * `KeyValue` message of each of its first values (undefined once the key has had too many).
 */
interface CachedKey {
  readonly key: Uint8Array
  values: Map<unknown, Uint8Array> | undefined
}

// Most attributes repeat from span to span (a method, a route, a status code, a host, a table
// name), and every key does: writing a string costs ~45 instructions a character (a typed-array
// store per byte), copying bytes written before a fraction of that, so each key and each of its
// first values is written once and copied afterwards (an 11-attribute server span: 29k
// instructions to 16k). Bounded: per key the first `VALUES_PER_KEY` values whose message is at
// most `MAX_CACHED_BYTES` (a key whose values keep changing, a path with ids in it, then caches
// its key only), at most `CACHED_KEYS` keys, all forgotten when full. One cache for every
// attributes field (span, resource, scope, event, link): a message is the same in each.
const CACHED_KEYS = 256
const VALUES_PER_KEY = 32
// Below 128 bytes a message's length prefix is one byte, which the cached copy leaves out.
const MAX_CACHED_BYTES = 126

const keyCache = new Map<string, CachedKey>()

/** `key`'s cache entry; null for a key that is not cached (too long, or a lone surrogate in it). */
const cachedKey = (key: string): CachedKey | null => {
  const found = keyCache.get(key)
  if (found !== undefined) return found
  // The field is at least the key's length and its tag and length.
  if (key.length + 2 > MAX_CACHED_BYTES) return null
  const w = new Writer(new Uint8Array(key.length * 3 + 6))
  w.uint32(tag(1, TAG_LEN))
  w.string(key)
  const own = w.pos <= MAX_CACHED_BYTES ? ownCopy(key) : undefined
  if (own === undefined) return null
  const cached: CachedKey = { key: w.buf.slice(0, w.pos), values: new Map() }
  if (keyCache.size >= CACHED_KEYS) keyCache.clear()
  keyCache.set(own, cached)
  return cached
}

const textDecoder = new TextDecoder()

/**
 * A string equal to `value` that holds no other string alive, or undefined (a lone surrogate,
 * which UTF-8 cannot carry). A short string V8 made as a slice of a longer one keeps the whole of
 * it alive: kept in the cache, a 40-character slice of a request body could keep the body.
 */
const ownCopy = (value: string): string | undefined => {
  // Below 13 characters V8 copies instead of slicing.
  if (value.length < 13) return value
  const copy = textDecoder.decode(textEncoder.encode(value))
  return copy === value ? copy : undefined
}

/**
 * What the cache holds for `key`: its values' count (null once it stopped caching them,
 * undefined for a key it does not hold), and how many keys it holds; for the tests of its bounds.
 *
 * @internal
 */
export const cachedAttribute = (key: string): { readonly values: number | null | undefined; readonly keys: number } => {
  const cached = keyCache.get(key)
  return {
    values: cached === undefined ? undefined : cached.values === undefined ? null : cached.values.size,
    keys: keyCache.size
  }
}

/** An attribute, entry of field `field`: copied from the cache when it holds it, cached if it may. */
const attribute = (w: Writer, field: number, key: string, value: unknown): void => {
  const cached = cachedKey(key)
  if (cached === null) return keyValueEntry(w, field, key, value)
  const kind = typeof value
  const values = kind === "string" || kind === "number" || kind === "boolean" ? cached.values : undefined
  w.uint32(tag(field, TAG_LEN))
  if (values !== undefined) {
    const message = values.get(value)
    if (message !== undefined) {
      w.uint32(message.length)
      return w.raw(message)
    }
  }
  const at = w.begin(1)
  w.raw(cached.key)
  valueField(w, value)
  w.end(at, 1)
  // At most MAX_CACHED_BYTES, the message follows its one-byte length.
  if (values !== undefined && w.pos - at - 1 <= MAX_CACHED_BYTES) {
    if (values.size >= VALUES_PER_KEY) {
      cached.values = undefined
      return
    }
    const own = kind === "string" ? ownCopy(value as string) : value
    if (own !== undefined) values.set(own, w.buf.slice(at + 1, w.pos))
  }
}

/** A span's attribute (field 9): what a native span's `eachAttribute` visits. */
const spanAttribute = (w: Writer, key: string, value: OtelApi.AttributeValue | undefined): void =>
  attribute(w, 9, key, value)

/** A native span's attributes and their dropped count; false (nothing written) if it cannot. */
const nativeAttributes = (w: Writer, native: NativeFields): boolean => {
  const mark = w.pos
  const dropped = native.eachAttribute(spanAttribute, w)
  if (dropped < 0) {
    w.pos = mark
    return false
  }
  w.uint32(tag(10, TAG_VARINT))
  w.varint(dropped)
  return true
}

/** `Span`'s events, links and their dropped counts. */
const eventsAndLinks = (w: Writer, span: ReadableSpan): void => {
  for (const e of span.events) {
    w.uint32(tag(11, TAG_LEN))
    const at = w.begin(1)
    event(w, e)
    w.end(at, 1)
  }
  w.uint32(tag(12, TAG_VARINT))
  w.varint(span.droppedEventsCount)
  for (const l of span.links) {
    w.uint32(tag(13, TAG_LEN))
    const at = w.begin(1)
    link(w, l)
    w.end(at, 1)
  }
  w.uint32(tag(14, TAG_VARINT))
  w.varint(span.droppedLinksCount)
}

/** `Span`'s body. */
const span = (w: Writer, span: MaybeNative): void => {
  const native = span[nativeFields]
  const context = span.spanContext()
  contextFields(w, context)
  const parent = span.parentSpanContext
  if (parent?.spanId) {
    w.uint32(tag(4, TAG_LEN))
    w.hexId(parent.spanId)
  }
  w.uint32(tag(5, TAG_LEN))
  w.string(span.name)
  // Offset by one: OTLP's 0 is "unspecified", which the API has no value for.
  const kind = span.kind == null ? 0 : span.kind + 1
  if (kind !== 0) {
    w.uint32(tag(6, TAG_VARINT))
    w.varint(kind)
  }
  // A clock reading is its HrTime's nanoseconds exactly when it is a uint64.
  if (
    native !== undefined && native.startNanos >= 0n && native.startNanos < UINT64_END &&
    native.endNanos >= 0n && native.endNanos < UINT64_END
  ) {
    w.uint32(tag(7, TAG_I64))
    w.nanos(native.startNanos)
    w.uint32(tag(8, TAG_I64))
    w.nanos(native.endNanos)
  } else {
    w.uint32(tag(7, TAG_I64))
    w.hrTime(span.startTime)
    w.uint32(tag(8, TAG_I64))
    w.hrTime(span.endTime)
  }
  if (native === undefined || !nativeAttributes(w, native)) {
    if (span.attributes) attributes(w, span.attributes, 9)
    w.uint32(tag(10, TAG_VARINT))
    w.varint(span.droppedAttributesCount)
  }
  if (native !== undefined && native.bare) {
    w.uint32(tag(12, TAG_VARINT))
    w.uint32(0)
    w.uint32(tag(14, TAG_VARINT))
    w.uint32(0)
  } else {
    eventsAndLinks(w, span)
  }
  const status = span.status
  w.uint32(tag(15, TAG_LEN))
  const at = w.begin(1)
  if (status.message) {
    w.uint32(tag(2, TAG_LEN))
    w.string(status.message)
  }
  w.uint32(tag(3, TAG_VARINT))
  w.varint(status.code)
  w.end(at, 1)
  w.uint32(tag(16, TAG_I32))
  w.fixed32(flags(context.traceFlags, parent?.isRemote))
}

type Resource = ReadableSpan["resource"]
type Scope = ReadableSpan["instrumentationScope"]

/** Writes the `ScopeSpans.spans` entries of a group of spans (`S`: spans, or queued bytes). */
type Entries<S> = (w: Writer, spans: S) => void

/** `ScopeSpans.spans` entries of span objects, each written now. */
const spanEntries: Entries<ReadonlyArray<ReadableSpan>> = (w, spans) => {
  for (let i = 0; i < spans.length; i++) spanEntry(w, spans[i]!)
}

/** One `ScopeSpans.spans` entry: tag, length, `Span`. */
const spanEntry = (w: Writer, s: ReadableSpan): void => {
  w.uint32(tag(2, TAG_LEN))
  // Most spans are 128 bytes to 16 KiB long.
  const at = w.begin(2)
  span(w, s)
  w.end(at, 2)
}

/** `ScopeSpans`' body. */
const scopeSpans = <S>(w: Writer, scope: Scope, spans: S, entries: Entries<S>): void => {
  w.uint32(tag(1, TAG_LEN))
  const at = w.begin(1)
  w.uint32(tag(1, TAG_LEN))
  w.string(scope.name)
  if (scope.version) {
    w.uint32(tag(2, TAG_LEN))
    w.string(scope.version)
  }
  const scoped = scope as Scope & { readonly attributes?: OtelApi.Attributes; readonly droppedAttributesCount?: number }
  if (scoped.attributes) attributes(w, scoped.attributes, 3)
  if (scoped.droppedAttributesCount) {
    w.uint32(tag(4, TAG_VARINT))
    w.varint(scoped.droppedAttributesCount)
  }
  w.end(at, 1)
  entries(w, spans)
  if (scope.schemaUrl) {
    w.uint32(tag(3, TAG_LEN))
    w.string(scope.schemaUrl)
  }
}

/** `ResourceSpans`' body. */
const resourceSpans = <S>(w: Writer, resource: Resource, scopes: Map<Scope, S>, entries: Entries<S>): void => {
  w.uint32(tag(1, TAG_LEN))
  const at = w.begin(2)
  const resourceAttributes = resource.attributes
  if (resourceAttributes) attributes(w, resourceAttributes, 1)
  // The SDK does not count dropped resource attributes: always 0.
  w.uint32(tag(2, TAG_VARINT))
  w.uint32(0)
  w.end(at, 2)
  for (const [scope, spans] of scopes) {
    w.uint32(tag(2, TAG_LEN))
    const at = w.begin(3)
    scopeSpans(w, scope, spans, entries)
    w.end(at, 3)
  }
  if (resource.schemaUrl) {
    w.uint32(tag(3, TAG_LEN))
    w.string(resource.schemaUrl)
  }
}

/**
 * Items grouped by resource and scope object, as the SDK groups spans: first seen first, in
 * their order within a group.
 */
const groupByScope = <T>(
  count: number,
  resourceAt: (i: number) => Resource,
  scopeAt: (i: number) => Scope,
  itemAt: (i: number) => T
): Map<Resource, Map<Scope, Array<T>>> => {
  const resources = new Map<Resource, Map<Scope, Array<T>>>()
  let lastResource: Resource | undefined
  let lastScope: Scope | undefined
  let last: Array<T> | undefined
  for (let i = 0; i < count; i++) {
    const resource = resourceAt(i)
    const scope = scopeAt(i)
    if (resource !== lastResource || scope !== lastScope || last === undefined) {
      let scopes = resources.get(resource)
      if (scopes === undefined) {
        scopes = new Map()
        resources.set(resource, scopes)
      }
      last = scopes.get(scope)
      if (last === undefined) {
        last = []
        scopes.set(scope, last)
      }
      lastResource = resource
      lastScope = scope
    }
    last.push(itemAt(i))
  }
  return resources
}

/** An `ExportTraceServiceRequest` of grouped spans, written into the spare buffer and copied out. */
const request = <S>(resources: Map<Resource, Map<Scope, S>>, entries: Entries<S>): Uint8Array => {
  const buffer = spare ?? new Uint8Array(INITIAL_SIZE)
  spare = undefined
  const w = new Writer(buffer)
  try {
    for (const [resource, scopes] of resources) {
      w.uint32(tag(1, TAG_LEN))
      const at = w.begin(3)
      resourceSpans(w, resource, scopes, entries)
      w.end(at, 3)
    }
    return copyOut(w.buf, w.pos)
  } finally {
    if (w.buf.length <= MAX_SPARE) spare = w.buf
  }
}

/**
 * The OTLP/protobuf `ExportTraceServiceRequest` of `spans`: what the SDK's
 * `ProtobufTraceSerializer.serializeRequest` returns for them, byte for byte.
 *
 * @internal
 */
export const serializeTraceRequest = (spans: ReadonlyArray<ReadableSpan>): Uint8Array =>
  request(
    groupByScope(spans.length, (i) => spans[i]!.resource, (i) => spans[i]!.instrumentationScope, (i) => spans[i]!),
    spanEntries
  )

// -----------------------------------------------------------------------------
// spans encoded when they end
// -----------------------------------------------------------------------------

/** A batch cut from an {@link EncodedSpanQueue}: its request and how many spans it holds. @internal */
export interface EncodedSpans {
  readonly length: number
  readonly body: Uint8Array
  /** Why the spans could not be encoded: nothing is sent, the batch counts as failed. */
  readonly failure?: Error | undefined
}

/**
 * Sampled spans encoded when they end, queued as bytes until a batch is cut: the request a
 * batch of them makes is the one {@link serializeTraceRequest} makes of the same spans, byte
 * for byte (entries are copied, resources and scopes written at the cut).
 *
 * A batch processor that queues span objects keeps each one, with its attributes and their
 * strings, until its batch is exported (up to the batch delay, 5 s by default): under load
 * they outlive the young generation, so the scavenger copies them and the old generation
 * collects them. Here a span is garbage once encoded; the queue holds bytes in one buffer
 * (shrunk once empty after a burst) and two numbers per span, about 0.6 KiB per HTTP server
 * span against 0.9 KiB as objects. It does not bound itself: its owner admits at most the
 * queue size.
 *
 * @internal
 */
export class EncodedSpanQueue {
  private w = new Writer(new Uint8Array(INITIAL_SIZE))
  /** Per queued span: the end of its entry in `w.buf` (it starts where the previous one ends). */
  private ends: Int32Array<ArrayBuffer> = new Int32Array(256)
  /** Per queued span: its index in `groups`. */
  private groupIds: Int32Array<ArrayBuffer> = new Int32Array(256)
  /** The (resource, scope) pairs of queued spans; forgotten whenever the queue empties. */
  private groups: Array<{ readonly resource: Resource; readonly scope: Scope }> = []
  private lastGroup = -1
  private count = 0

  /** Spans queued. */
  get length(): number {
    return this.count
  }

  /** Bytes held for queued spans. */
  get byteLength(): number {
    return this.w.pos
  }

  /** Bytes allocated for them. */
  get byteCapacity(): number {
    return this.w.buf.length
  }

  /** The resources of queued spans whose attributes are still being detected. */
  pendingResources(): Array<Resource> {
    return this.groups.map((group) => group.resource).filter((resource) =>
      resource.asyncAttributesPending === true && resource.waitForAsyncAttributes !== undefined
    )
  }

  /** Encodes `span` at the queue's end; when encoding throws, nothing is queued. */
  push(span: ReadableSpan): void {
    const group = this.groupOf(span.resource, span.instrumentationScope)
    const w = this.w
    const mark = w.pos
    try {
      spanEntry(w, span)
    } catch (error) {
      w.pos = mark
      throw error
    }
    if (this.count === this.ends.length) {
      this.ends = grow(this.ends)
      this.groupIds = grow(this.groupIds)
    }
    this.ends[this.count] = w.pos
    this.groupIds[this.count] = group
    this.count++
  }

  /** The request of the first `count` queued spans (at most all), which leave the queue. */
  take(count: number): EncodedSpans {
    const n = Math.min(count, this.count)
    if (n <= 0) return { length: 0, body: new Uint8Array(0) }
    const bytes = this.w.buf
    const ends = this.ends
    const ids = this.groupIds
    const groups = this.groups
    // Each group's entries, copied a run of consecutive ones at a time: one copy in all when
    // every span shares one resource and scope (as every span of our tracer does).
    const entries: Entries<Array<number>> = (w, indices) => {
      for (let k = 0; k < indices.length;) {
        const first = indices[k]!
        let last = first
        while (++k < indices.length && indices[k] === last + 1) last++
        w.raw(bytes.subarray(first === 0 ? 0 : ends[first - 1]!, ends[last]!))
      }
    }
    try {
      const grouped = groupByScope(n, (i) => groups[ids[i]!]!.resource, (i) => groups[ids[i]!]!.scope, (i) => i)
      return { length: n, body: request(grouped, entries) }
    } finally {
      this.drop(n)
    }
  }

  /** Removes the first `n` queued spans. */
  private drop(n: number): void {
    const w = this.w
    const cut = this.ends[n - 1]!
    const rest = this.count - n
    w.buf.copyWithin(0, cut, w.pos)
    w.pos -= cut
    this.ends.copyWithin(0, n, this.count)
    this.groupIds.copyWithin(0, n, this.count)
    for (let i = 0; i < rest; i++) this.ends[i]! -= cut
    this.count = rest
    if (rest === 0) {
      this.groups = []
      this.lastGroup = -1
      // A burst grew the buffers: let them go.
      if (w.buf.length > MAX_SPARE) this.w = new Writer(new Uint8Array(INITIAL_SIZE))
      if (this.ends.length > 4096) {
        this.ends = new Int32Array(256)
        this.groupIds = new Int32Array(256)
      }
    }
  }

  private groupOf(resource: Resource, scope: Scope): number {
    const last = this.groups[this.lastGroup]
    if (last !== undefined && last.resource === resource && last.scope === scope) return this.lastGroup
    let found = this.groups.findIndex((group) => group.resource === resource && group.scope === scope)
    if (found < 0) found = this.groups.push({ resource, scope }) - 1
    this.lastGroup = found
    return found
  }
}

const grow = (array: Int32Array): Int32Array<ArrayBuffer> => {
  const grown = new Int32Array(array.length * 2)
  grown.set(array)
  return grown
}

/**
 * Keeping credentials out of spans, metrics and error messages: user info in URLs and
 * sensitive query values are replaced by `REDACTED` before anything records them.
 *
 * @since 0.1.0
 */
import { REDACTED } from "./Semconv.js"

// `scheme://` (the whole run of scheme characters before it, so that no other start inside the
// run is tried: without that, a long word costs quadratic time), then either
// - `user:password@`, the password running to the last `@` before whitespace, `?` or `#`, so
//   that raw `@`, `:` and `/` in a password are still covered (a leaked secret costs more than
//   a redacted path); not when what follows `:` is a port (`host:443/@scope`), or
// - user info as URL parsers read it: up to the last `@` before the path, query or fragment.
// The user name never holds `[`, so an IPv6 host (`[::1]:80`) is never taken for user info.
// The first form is bounded so that text full of `scheme://` costs linear time; a longer user
// info still gets the second form.
const credentials =
  /(?<![a-zA-Z0-9+.-])([a-zA-Z0-9+.-]+:\/\/)(?:[^\s/?#@:[\]]{0,256}:(?!\d*(?:[\s/?#]|$))[^\s?#]{0,1024}|[^\s/?#]*)@/g

/**
 * The text with the user info of every `scheme://user:password@` in it replaced by
 * `REDACTED`: for connection strings in error messages and command lines, where the text is
 * not one well-formed URL.
 *
 * @example
 * ```ts
 * Redaction.credentialsInText("connect redis://app:s3cret@cache:6379 failed")
 * // "connect redis://REDACTED@cache:6379 failed"
 * ```
 *
 * @since 0.1.0
 * @category redaction
 */
export const credentialsInText = (text: string): string =>
  text.replace(credentials, (_, scheme: string) => `${scheme}${REDACTED}@`)

/**
 * A query string (with or without its `?`) with the values of sensitive parameters replaced
 * by `REDACTED`, everything else as sent; `undefined` when there is no query. `sensitive`
 * holds lower-case names, compared with each parameter's decoded, lower-cased name.
 *
 * @example
 * ```ts
 * Redaction.query("?token=abc&page=2", new Set(["token"]))
 * // "token=REDACTED&page=2"
 * ```
 *
 * @since 0.1.0
 * @category redaction
 */
export const query = (search: string, sensitive: ReadonlySet<string>): string | undefined => {
  const query = search.startsWith("?") ? search.slice(1) : search
  if (query === "") return undefined
  return query
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=")
      if (eq === -1) return pair
      const name = pair.slice(0, eq)
      let decoded = name
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, " "))
      } catch {
        // A malformed escape is compared as written.
      }
      return sensitive.has(decoded.toLowerCase()) ? `${name}=${REDACTED}` : pair
    })
    .join("&")
}

/**
 * A URL as semconv's `url.full` wants it: user info replaced by `REDACTED:REDACTED`,
 * sensitive query values (see {@link query}) by `REDACTED`, the rest as sent.
 *
 * @example
 * ```ts
 * Redaction.url(new URL("https://u:p@api.example.com/x?sig=abc"), new Set(["sig"]))
 * // "https://REDACTED:REDACTED@api.example.com/x?sig=REDACTED"
 * ```
 *
 * @since 0.1.0
 * @category redaction
 */
export const url = (url: URL, sensitive: ReadonlySet<string>): string => {
  const copy = new URL(url.href)
  if (copy.username !== "" || copy.password !== "") {
    copy.username = REDACTED
    copy.password = REDACTED
  }
  const redacted = query(copy.search, sensitive)
  // Assigning `search` would re-encode; rebuild the string to keep the query as sent.
  const base = copy.href.slice(0, copy.href.length - copy.search.length - copy.hash.length)
  return redacted === undefined ? base + copy.hash : `${base}?${redacted}${copy.hash}`
}

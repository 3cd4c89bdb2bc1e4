/**
 * The one way the pages build markup: a tagged template that escapes every interpolated value,
 * so a value can only become markup by being wrapped in {@link raw} (our own fragments) or by
 * being the result of another `html` template. Span names, attributes, events, log bodies and
 * resource values are untrusted (any caller can put a string in them).
 */

const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }

/** Escapes text for HTML element content and quoted attribute values. @internal */
export const escape = (value: unknown): string => String(value).replace(/[&<>"']/g, (c) => entities[c]!)

/** Markup that is trusted as it is: built by {@link html} or wrapped with {@link raw}. @internal */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

/** Trusts `markup` as it is: only for fragments written in this package, never for data. @internal */
export const raw = (markup: string): Html => new Html(markup)

/**
 * What an interpolation may be: markup (kept), text and numbers (escaped), lists of either
 * (joined), and `undefined`, `null` or `false` (nothing, for `${cond && html`…`}`).
 *
 * @internal
 */
export type Value = Html | string | number | boolean | null | undefined | ReadonlyArray<Value>

const render = (value: Value): string => {
  if (value instanceof Html) return value.value
  if (value === undefined || value === null || value === false) return ""
  if (Array.isArray(value)) return value.map(render).join("")
  return escape(value)
}

/** Markup parts one after the other (for a page built in steps). @internal */
export const concat = (...parts: ReadonlyArray<Value>): Html => new Html(parts.map(render).join(""))

/**
 * `html\`<td>${span.name}</td>\``: the literal parts are markup, every interpolation is escaped
 * unless it is {@link Html}.
 *
 * @internal
 */
export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<Value>): Html => {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!
  return new Html(out)
}

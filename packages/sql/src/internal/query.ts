/**
 * What a compiled statement says about itself: the text with every literal replaced by `?`,
 * the operation keyword and the first table. One pass of a small tokenizer, so a quote or a
 * comment never fools the parser.
 */

/** @internal */
export interface QueryInfo {
  /** Placeholders kept (`$1`, `?`), string, numeric and dollar-quoted literals replaced by `?`. */
  readonly text: string
  readonly operation: string | undefined
  readonly collection: string | undefined
}

// A bounded vocabulary: `db.operation.name` is a metric attribute, so only these keywords
// are ever reported, never an arbitrary first word.
const OPERATIONS = new Set([
  "SELECT",
  "INSERT",
  "UPDATE",
  "DELETE",
  "MERGE",
  "WITH",
  "VALUES",
  "TABLE",
  "COPY",
  "CALL",
  "DO",
  "CREATE",
  "ALTER",
  "DROP",
  "TRUNCATE",
  "GRANT",
  "REVOKE",
  "COMMENT",
  "BEGIN",
  "START",
  "COMMIT",
  "ROLLBACK",
  "SAVEPOINT",
  "RELEASE",
  "SET",
  "SHOW",
  "RESET",
  "EXPLAIN",
  "ANALYZE",
  "VACUUM",
  "LOCK",
  "LISTEN",
  "UNLISTEN",
  "NOTIFY",
  "PREPARE",
  "EXECUTE",
  "DEALLOCATE",
  "REFRESH",
  "REINDEX",
  "CLUSTER",
  "DISCARD",
  "PRAGMA",
  "REPLACE",
  "UPSERT"
])

type TokenKind = "word" | "ident" | "literal" | "punct" | "space" | "comment" | "placeholder"

interface Token {
  readonly kind: TokenKind
  readonly text: string
}

const isWordStart = (c: string) => /[A-Za-z_\u0080-\uffff]/.test(c)
const isWordPart = (c: string) => /[A-Za-z0-9_$\u0080-\uffff]/.test(c)
const isDigit = (c: string) => c >= "0" && c <= "9"

/** Reads a quoted run starting at `start` (the opening quote), `''`-style doubling allowed. */
const quoted = (sql: string, start: number, quote: string, backslash: boolean): number => {
  let i = start + 1
  while (i < sql.length) {
    const c = sql[i]!
    if (backslash && c === "\\") {
      i += 2
      continue
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        i += 2
        continue
      }
      return i + 1
    }
    i++
  }
  return sql.length
}

const tokenize = (sql: string): Array<Token> => {
  const tokens: Array<Token> = []
  let i = 0
  const push = (kind: TokenKind, end: number) => {
    tokens.push({ kind, text: sql.slice(i, end) })
    i = end
  }
  while (i < sql.length) {
    const c = sql[i]!
    const next = sql[i + 1]
    if (/\s/.test(c)) {
      let end = i + 1
      while (end < sql.length && /\s/.test(sql[end]!)) end++
      push("space", end)
    } else if (c === "-" && next === "-") {
      const end = sql.indexOf("\n", i)
      push("comment", end === -1 ? sql.length : end)
    } else if (c === "/" && next === "*") {
      const end = sql.indexOf("*/", i + 2)
      push("comment", end === -1 ? sql.length : end + 2)
    } else if (c === "'") {
      push("literal", quoted(sql, i, "'", false))
    } else if ((c === "E" || c === "e") && next === "'") {
      tokens.push({ kind: "literal", text: sql.slice(i, quoted(sql, i + 1, "'", true)) })
      i = quoted(sql, i + 1, "'", true)
    } else if ((c === "B" || c === "b" || c === "X" || c === "x" || c === "N" || c === "n") && next === "'") {
      const end = quoted(sql, i + 1, "'", false)
      tokens.push({ kind: "literal", text: sql.slice(i, end) })
      i = end
    } else if (c === "\"" || c === "`") {
      push("ident", quoted(sql, i, c, false))
    } else if (c === "$") {
      const placeholder = /^\$\d+/.exec(sql.slice(i))
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))
      if (placeholder !== null) {
        push("placeholder", i + placeholder[0].length)
      } else if (tag !== null) {
        // Dollar-quoted string: `$$ ... $$` or `$tag$ ... $tag$`.
        const close = sql.indexOf(tag[0], i + tag[0].length)
        push("literal", close === -1 ? sql.length : close + tag[0].length)
      } else {
        push("punct", i + 1)
      }
    } else if ((c === "?" || c === ":" || c === "@") && next !== undefined && (isWordPart(next) || c === "?")) {
      // `?`, `?1`, `:name`, `@p1`: placeholders of the other dialects. `::type` casts stay punctuation.
      if (c === ":" && next === ":") {
        push("punct", i + 2)
      } else {
        let end = i + 1
        while (end < sql.length && isWordPart(sql[end]!)) end++
        push("placeholder", end)
      }
    } else if (isDigit(c) || (c === "." && next !== undefined && isDigit(next))) {
      const number = /^(0[xX][0-9a-fA-F_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)/.exec(sql.slice(i))
      push("literal", i + Math.max(1, number![0].length))
    } else if (isWordStart(c)) {
      let end = i + 1
      while (end < sql.length && isWordPart(sql[end]!)) end++
      push("word", end)
    } else {
      push("punct", i + 1)
    }
  }
  return tokens
}

const unquote = (text: string): string => {
  const first = text[0]
  if (first === "\"" || first === "`") return text.slice(1, -1).split(first + first).join(first)
  return text
}

/** The schema-qualified name starting at `index` (`public.users`), or undefined. */
const nameAt = (tokens: ReadonlyArray<Token>, index: number): string | undefined => {
  const parts: Array<string> = []
  let i = index
  while (i < tokens.length) {
    const token = tokens[i]!
    if (token.kind !== "word" && token.kind !== "ident") break
    parts.push(unquote(token.text))
    if (tokens[i + 1]?.text !== ".") break
    i += 2
  }
  return parts.length > 0 ? parts.join(".") : undefined
}

const collectionOf = (operation: string, tokens: ReadonlyArray<Token>): string | undefined => {
  const upper = (i: number) => tokens[i]?.kind === "word" ? tokens[i]!.text.toUpperCase() : undefined
  const skip = (i: number, ...words: Array<string>) => {
    while (words.includes(upper(i) ?? "")) i++
    return i
  }
  switch (operation) {
    case "SELECT": {
      // The first FROM at depth 0; a subquery after it (`FROM (`) names no table.
      let depth = 0
      for (let i = 1; i < tokens.length; i++) {
        const t = tokens[i]!
        if (t.text === "(") depth++
        else if (t.text === ")") depth--
        else if (depth === 0 && upper(i) === "FROM") return nameAt(tokens, skip(i + 1, "ONLY", "LATERAL"))
      }
      return undefined
    }
    case "INSERT":
    case "REPLACE":
    case "UPSERT":
      return upper(1) === "INTO" ? nameAt(tokens, 2) : undefined
    case "UPDATE":
      return nameAt(tokens, skip(1, "ONLY"))
    case "DELETE":
      return upper(1) === "FROM" ? nameAt(tokens, skip(2, "ONLY")) : undefined
    case "MERGE":
      return upper(1) === "INTO" ? nameAt(tokens, skip(2, "ONLY")) : undefined
    case "TRUNCATE":
      return nameAt(tokens, skip(1, "TABLE", "ONLY"))
    case "COPY":
    case "TABLE":
      return nameAt(tokens, 1)
    case "CREATE":
    case "ALTER":
    case "DROP": {
      const i = skip(1, "UNLOGGED", "TEMP", "TEMPORARY", "GLOBAL", "LOCAL")
      if (upper(i) !== "TABLE") return undefined
      return nameAt(tokens, skip(i + 1, "IF", "NOT", "EXISTS", "ONLY"))
    }
    default:
      return undefined
  }
}

const analyse = (sql: string): QueryInfo => {
  const tokens = tokenize(sql)
  let text = ""
  for (const token of tokens) text += token.kind === "literal" ? "?" : token.text
  const code = tokens.filter((t) => t.kind !== "space" && t.kind !== "comment")
  // Several statements in one text have no single operation; report none rather than guess.
  const semicolon = code.findIndex((t) => t.text === ";")
  const single = semicolon === -1 || semicolon === code.length - 1
  const first = code[0]
  const keyword = first?.kind === "word" ? first.text.toUpperCase() : undefined
  const operation = single && keyword !== undefined && OPERATIONS.has(keyword) ? keyword : undefined
  return {
    text,
    operation,
    collection: operation === undefined ? undefined : collectionOf(operation, code)
  }
}

/**
 * The sanitized text, operation and table of a statement. Callers cache by text.
 *
 * @internal
 */
export const queryInfo = (sql: string): QueryInfo => analyse(sql)

/**
 * Log sequence numbers: `X/Y` text (two hex halves of a 64-bit WAL position) to bigint and back.
 * Comparisons need the number; the text form matches what Postgres prints (`%X/%X`).
 *
 * @internal
 */

/** @internal */
export const parse = (text: string): bigint => {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text)
  if (match === null) throw new TypeError(`invalid LSN ${JSON.stringify(text)}`)
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

/** @internal */
export const format = (lsn: bigint): string =>
  `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`

/** The parser's padded form (`00000000/016B3748`) in Postgres's form (`0/16B3748`). @internal */
export const normalize = (text: string): string => format(parse(text))

// JSON as TF Serving reads and writes it. It parses with rapidjson's kParseNanAndInfFlag (NaN, Inf,
// Infinity, with an optional minus, are numbers) and tells 3 from 3.0 (3.0 is no int32; an int64 is
// read from its digits, beyond 2^53), so numbers are kept with their text. It writes floats
// as tensorflow_serving/util/json_tensor.cc's WriteDecimal does: "%.6g" if that reads back to the same
// value, else max_digits10 ("%.9g" for float, "%.17g" for double), ".0" after whole numbers, and NaN,
// Infinity, -Infinity as bare tokens. No JSON library does either, hence this small module.

/** A number from a request, with the text it was written as. */
export class JsonNumber {
  constructor(
    readonly text: string,
    readonly value: number,
  ) {}

  /** Written without a fraction or exponent: rapidjson's int/int64/uint64 (not NaN or Infinity either). */
  get isInteger(): boolean {
    return /^-?\d+$/.test(this.text);
  }
}

/** A float for a response: written with TF Serving's digits. */
export class JsonFloat {
  constructor(
    readonly value: number,
    readonly precision: 'float' | 'double',
  ) {}
}

export class JsonSyntaxError extends Error {
  override name = 'JsonSyntaxError';
}

/** A JSON number, or rapidjson's NaN, Inf, Infinity with an optional minus (-NaN is refused after matching). */
const NUMBER = /-?(?:NaN|Inf(?:inity)?|(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?)/y;

/** Nesting beyond this is refused while parsing (rapidjson recurses too; a deep body must not exhaust the stack). */
const MAX_DEPTH = 512;

/** Parses TF Serving's JSON: objects have null prototypes, numbers are JsonNumber. */
export function parseServingJson(text: string): unknown {
  let pos = 0;
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at offset: ${pos}`);
  };
  const space = () => {
    while (pos < text.length && (text[pos] === ' ' || text[pos] === '\t' || text[pos] === '\n' || text[pos] === '\r')) pos++;
  };
  const value = (depth: number): unknown => {
    if (depth > MAX_DEPTH) fail(`Nested more than ${MAX_DEPTH} levels`);
    space();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const object = Object.create(null) as Record<string, unknown>;
      space();
      if (text[pos] === '}') return pos++, object;
      for (;;) {
        space();
        if (text[pos] !== '"') fail('Missing a name for object member');
        const key = string();
        space();
        if (text[pos] !== ':') fail('Missing a colon after a name of object member');
        pos++;
        object[key] = value(depth + 1);
        space();
        if (text[pos] === '}') return pos++, object;
        if (text[pos] !== ',') fail('Missing a comma or \'}\' after an object member');
        pos++;
      }
    }
    if (c === '[') {
      pos++;
      const array: unknown[] = [];
      space();
      if (text[pos] === ']') return pos++, array;
      for (;;) {
        array.push(value(depth + 1));
        space();
        if (text[pos] === ']') return pos++, array;
        if (text[pos] !== ',') fail('Missing a comma or \']\' after an array element');
        pos++;
      }
    }
    if (c === '"') return string();
    for (const [word, result] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, pos)) return (pos += word.length), result;
    }
    return number();
  };
  const string = (): string => {
    const start = pos++;
    for (;;) {
      const end = text.indexOf('"', pos);
      if (end < 0) fail('Missing a closing quotation mark in string');
      let backslashes = 0;
      while (text[end - 1 - backslashes] === '\\') backslashes++;
      pos = end + 1;
      if (backslashes % 2 === 0) break;
    }
    // The escapes are JSON's own: let the engine's parser decode the literal it has delimited.
    try {
      return JSON.parse(text.slice(start, pos)) as string;
    } catch {
      pos = start;
      return fail('Invalid string (bad escape or control character)');
    }
  };
  const number = (): JsonNumber => {
    // Sticky: matched where the parser stands, without copying the rest of the body for every number.
    NUMBER.lastIndex = pos;
    const match = NUMBER.exec(text);
    if (!match || match[0] === '-NaN') fail('Invalid value');
    const lexeme = match![0];
    pos += lexeme.length;
    const special = /NaN|Inf/.test(lexeme);
    const parsed = special ? (lexeme.includes('NaN') ? NaN : lexeme.startsWith('-') ? -Infinity : Infinity) : Number(lexeme);
    if (!special && !Number.isFinite(parsed)) {
      pos -= lexeme.length;
      fail('Number too big to be stored in double');
    }
    return new JsonNumber(lexeme, parsed);
  };
  space();
  if (pos === text.length) throw new JsonSyntaxError('The document is empty');
  const result = value(0);
  space();
  if (pos < text.length) fail('The document root must not be followed by other values');
  return result;
}

/** JSON.stringify for responses, with JsonFloat written as TF Serving writes floats and bigints (int64) with all digits. */
export function writeServingJson(value: unknown): string {
  const parts: string[] = [];
  const write = (v: unknown): void => {
    if (v instanceof JsonFloat) parts.push(formatDecimal(v.value, v.precision));
    else if (Array.isArray(v)) {
      parts.push('[');
      v.forEach((item, i) => {
        if (i > 0) parts.push(',');
        write(item);
      });
      parts.push(']');
    } else if (v !== null && typeof v === 'object') {
      parts.push('{');
      let first = true;
      for (const [key, item] of Object.entries(v)) {
        if (item === undefined) continue;
        if (!first) parts.push(',');
        first = false;
        parts.push(JSON.stringify(key), ':');
        write(item);
      }
      parts.push('}');
    } else if (typeof v === 'bigint') parts.push(v.toString());
    else parts.push(JSON.stringify(v) ?? 'null');
  };
  write(value);
  return parts.join('');
}

/** json_tensor.cc's WriteDecimal: the text of a float32 or float64 value. */
export function formatDecimal(value: number, precision: 'float' | 'double'): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value < 0 ? '-Infinity' : 'Infinity';
  const same = (text: string) => (precision === 'float' ? Math.fround(Number(text)) === Math.fround(value) : Number(text) === value);
  let text = formatG(value, 6);
  if (!same(text)) text = formatG(value, precision === 'float' ? 9 : 17);
  return text.includes('.') || text.includes('e') ? text : `${text}.0`;
}

/** printf's "%.{precision}g": shortest of fixed and scientific notation, trailing zeros removed. */
export function formatG(value: number, precision: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const [mantissa, exponentText] = toExponentialEven(value, precision).split('e');
  const exponent = Number(exponentText);
  const trim = (digits: string) => (digits.includes('.') ? digits.replace(/0+$/, '').replace(/\.$/, '') : digits);
  if (exponent < -4 || exponent >= precision) {
    const sign = exponent < 0 ? '-' : '+';
    return `${trim(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  // Fixed notation of the same rounded digits: move the point `exponent` places.
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = value < 0 ? '-' : '';
  const text = exponent >= 0 ? `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}` : `0.${'0'.repeat(-exponent - 1)}${digits}`;
  return sign + trim(text);
}

/**
 * value.toExponential(precision - 1), except on an exact tie: JavaScript rounds half up, printf
 * half to even (785399.8125 to 9 digits is 785399.812). A tie needs the exact decimal expansion of
 * the double to end in 5 right after the kept digits, so only then is it computed, exactly, with BigInt.
 */
function toExponentialEven(value: number, precision: number): string {
  const rounded = value.toExponential(precision - 1);
  const finer = Math.abs(value).toExponential(precision);
  if (finer[precision + 1] !== '5') return rounded;
  const digits = exactDigits(Math.abs(value));
  const kept = digits.slice(0, precision);
  const tie = digits[precision] === '5' && /^0*$/.test(digits.slice(precision + 1));
  if (!tie || Number(kept[precision - 1]) % 2 === 1) return rounded;
  // Round half to even downwards: the kept digits, truncated, with the exponent of the exact value.
  const exponent = Number(finer.split('e')[1]);
  const mantissa = precision > 1 ? `${kept[0]}.${kept.slice(1)}` : kept;
  return `${value < 0 ? '-' : ''}${mantissa}e${exponent < 0 ? '-' : '+'}${Math.abs(exponent)}`;
}

/** The exact decimal digits of a positive finite double (no leading zeros, no point). */
function exactDigits(value: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const exponent = (biased === 0 ? -1074 : biased - 1075);
  // mantissa * 2^exponent; for a negative exponent, mantissa * 5^-exponent has the same digits.
  const digits = exponent >= 0 ? (mantissa << BigInt(exponent)).toString() : (mantissa * 5n ** BigInt(-exponent)).toString();
  return digits.replace(/0+$/, '') || '0';
}

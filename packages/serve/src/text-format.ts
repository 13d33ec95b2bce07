// TF Serving's configuration files (ModelServerConfig, BatchingParameters, MonitoringConfig) are
// protobuf messages in text format, read with TensorFlow's ParseProtoTextFile. This module parses that
// format into a generic message (field name to values) and offers the field checks the readers share;
// each reader knows its own message's fields.

/** A configuration file that cannot be read or does not hold the message it should. */
export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
}

/** A parsed message: field name to its values (repeated fields have several), with the line for errors. */
export type Value = string | number | boolean | Message;
export interface Message {
  fields: Map<string, { values: Value[]; where: string }>;
  where: string;
}

/** Parses a whole text-format message; `origin` (the file) prefixes error locations as file:line. */
export function parseTextFormat(text: string, origin: string): Message {
  return new TextFormatParser(text, origin).parseMessage();
}

export function checkFields(message: Message, allowed: string[]): void {
  for (const [name, { where }] of message.fields) {
    if (!allowed.includes(name)) {
      throw new ConfigFileError(`${where}: unknown field '${name}'${allowed.length ? ` (expected one of: ${allowed.join(', ')})` : ''}`);
    }
  }
}

export function where(message: Message, field: string): string {
  return message.fields.get(field)?.where ?? message.where;
}

export function messages(message: Message, field: string): Message[] {
  return (message.fields.get(field)?.values ?? []).map((v) => {
    if (!isMessage(v)) throw new ConfigFileError(`${where(message, field)}: '${field}' must be a message { ... }`);
    return v;
  });
}

export function optionalMessage(message: Message, field: string): Message | undefined {
  const all = messages(message, field);
  if (all.length > 1) throw new ConfigFileError(`${where(message, field)}: '${field}' is given more than once`);
  return all[0];
}

export function optionalScalar(message: Message, field: string): string | number | boolean | undefined {
  const entry = message.fields.get(field);
  if (!entry) return undefined;
  if (entry.values.length > 1) throw new ConfigFileError(`${entry.where}: '${field}' is given more than once`);
  const [value] = entry.values;
  if (isMessage(value)) throw new ConfigFileError(`${entry.where}: '${field}' must be a value, not a message`);
  return value;
}

export function requiredString(message: Message, field: string): string {
  const value = optionalScalar(message, field);
  if (typeof value !== 'string' || value === '') throw new ConfigFileError(`${where(message, field)}: '${field}' must be a non-empty string`);
  return value;
}

export function isMessage(v: Value | undefined): v is Message {
  return typeof v === 'object' && v !== null;
}

// Protobuf text format: `field: value`, `field { ... }` (or `field: { ... }`, `< ... >`), repeated fields
// by repetition or `[a, b]`, '...' or "..." strings with C escapes, # comments, optional , or ; separators.

class TextFormatParser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly origin: string,
  ) {}

  parseMessage(close?: string): Message {
    const message: Message = { fields: new Map(), where: this.where() };
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length) {
        if (close) this.fail(`missing '${close}'`);
        return message;
      }
      if (close && this.text[this.pos] === close) {
        this.pos++;
        return message;
      }
      const at = this.where();
      const name = this.identifier();
      this.skipSpace();
      const colon = this.text[this.pos] === ':';
      if (colon) this.pos++;
      this.skipSpace();
      const values: Value[] = [];
      const c = this.text[this.pos];
      if (c === '{' || c === '<') {
        this.pos++;
        values.push(this.parseMessage(c === '{' ? '}' : '>'));
      } else if (!colon) {
        this.fail(`expected ':' or '{' after '${name}'`);
      } else if (c === '[') {
        this.pos++;
        for (;;) {
          this.skipSpace();
          if (this.text[this.pos] === ']') break;
          values.push(this.scalar());
          this.skipSpace();
          if (this.text[this.pos] === ',') this.pos++;
          else if (this.text[this.pos] !== ']') this.fail(`expected ',' or ']'`);
        }
        this.pos++;
      } else {
        values.push(this.scalar());
      }
      const entry = message.fields.get(name);
      if (entry) entry.values.push(...values);
      else message.fields.set(name, { values, where: at });
      this.skipSpace();
      if (this.text[this.pos] === ',' || this.text[this.pos] === ';') this.pos++;
    }
  }

  private scalar(): string | number | boolean {
    const c = this.text[this.pos];
    if (c === '"' || c === "'") {
      let s = '';
      // Adjacent string literals concatenate, as in C and protobuf text format.
      while (this.text[this.pos] === '"' || this.text[this.pos] === "'") {
        s += this.quoted();
        this.skipSpace();
      }
      return s;
    }
    const m = /^[-+]?(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)/.exec(this.text.slice(this.pos));
    if (m) {
      this.pos += m[0].length;
      return Number(m[0]);
    }
    const word = this.identifier();
    if (word === 'true' || word === 'True') return true;
    if (word === 'false' || word === 'False') return false;
    return word; // an enum value name
  }

  private quoted(): string {
    const quote = this.text[this.pos++];
    let s = '';
    for (;;) {
      const c = this.text[this.pos++];
      if (c === undefined || c === '\n') this.fail('unterminated string');
      if (c === quote) return s;
      if (c !== '\\') {
        s += c;
        continue;
      }
      const e = this.text[this.pos++];
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '?': '?' };
      if (e in simple) s += simple[e];
      else if (/[0-7]/.test(e)) {
        const oct = /^[0-7]{1,3}/.exec(this.text.slice(this.pos - 1))![0];
        this.pos += oct.length - 1;
        s += String.fromCharCode(parseInt(oct, 8));
      } else if (e === 'x') {
        const hex = /^[0-9a-fA-F]{1,2}/.exec(this.text.slice(this.pos))?.[0];
        if (!hex) this.fail('bad \\x escape');
        this.pos += hex.length;
        s += String.fromCharCode(parseInt(hex, 16));
      } else this.fail(`unknown escape '\\${e}'`);
    }
  }

  private identifier(): string {
    const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(this.text.slice(this.pos, this.pos + 256));
    if (!m) this.fail(`expected a field name, found '${this.text.slice(this.pos, this.pos + 10).split('\n')[0]}'`);
    this.pos += m[0].length;
    return m[0];
  }

  private skipSpace(): void {
    for (;;) {
      const m = /^(?:\s+|#[^\n]*)/.exec(this.text.slice(this.pos, this.pos + 4096));
      if (!m) return;
      this.pos += m[0].length;
    }
  }

  private where(): string {
    const line = this.text.slice(0, this.pos).split('\n').length;
    return `${this.origin}:${line}`;
  }

  private fail(message: string): never {
    throw new ConfigFileError(`${this.where()}: ${message}`);
  }
}

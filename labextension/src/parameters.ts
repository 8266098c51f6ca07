/**
 * A form made from a flow's parameter specs: one editor per parameter, chosen by its type
 * and starting at its value (a checkbox for `bool`, a number box for `int` and `float`, a
 * text box for `str`, JSON text for `list`, `dict` and `any`).
 *
 * Text is read as `nborch.parameters.parse_cli_value` reads `-p name=value`: a `str` keeps
 * the text as it is, other types are read as JSON. A value the type refuses is shown
 * beside its field, and the server's verdict on a parameter goes there too.
 */

import type { JsonObject, JsonValue, ParameterSpec, ParameterType } from './models';

export type EditorKind = 'checkbox' | 'number' | 'text' | 'json';

export function editorKind(type: ParameterType): EditorKind {
  switch (type) {
    case 'bool':
      return 'checkbox';
    case 'int':
    case 'float':
      return 'number';
    case 'str':
      return 'text';
    default:
      return 'json';
  }
}

/** What an editor shows for a value: strings as they are, other values as JSON. */
export function textOf(value: JsonValue | undefined): string {
  if (value === undefined || value === null) {
    return '';
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export type Parsed = { ok: true; value: JsonValue } | { ok: false; message: string };

const EXAMPLES: Record<ParameterType, string> = {
  str: 'hello',
  int: '3',
  float: '0.5',
  bool: 'true',
  list: '[1, 2]',
  dict: '{"a": 1}',
  any: '"text", 3 or [1, 2]'
};

function refuse(spec: ParameterSpec, raw: string): Parsed {
  return {
    ok: false,
    message: `${spec.name} must be ${spec.type}, got ${JSON.stringify(raw)}. Type e.g. ${EXAMPLES[spec.type]}`
  };
}

/**
 * The value of parameter `spec` typed as `raw` (a checkbox gives a boolean). An empty box
 * stands for null when the parameter's default is null, as the notebook's `x = None` does.
 */
export function parseValue(spec: ParameterSpec, raw: string | boolean): Parsed {
  if (typeof raw === 'boolean') {
    return { ok: true, value: raw };
  }
  if (spec.type === 'str') {
    return { ok: true, value: raw };
  }
  const text = raw.trim();
  if (text === '' && spec.default === null) {
    return { ok: true, value: null };
  }
  if (spec.type === 'bool') {
    const lowered = text.toLowerCase();
    if (['true', 'yes', 'on', '1'].includes(lowered)) {
      return { ok: true, value: true };
    }
    if (['false', 'no', 'off', '0'].includes(lowered)) {
      return { ok: true, value: false };
    }
    return refuse(spec, raw);
  }
  if (spec.type === 'int') {
    return /^[+-]?\d+$/.test(text) && Number.isSafeInteger(Number(text))
      ? { ok: true, value: Number(text) }
      : refuse(spec, raw);
  }
  if (spec.type === 'float') {
    const number = Number(text);
    return text !== '' && Number.isFinite(number) ? { ok: true, value: number } : refuse(spec, raw);
  }
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    // `any` takes plain text as text, as the command line does.
    return spec.type === 'any' ? { ok: true, value: raw } : refuse(spec, raw);
  }
  if (spec.type === 'list' && !Array.isArray(value)) {
    return refuse(spec, raw);
  }
  if (spec.type === 'dict' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    return refuse(spec, raw);
  }
  return { ok: true, value };
}

/** JSON equality of two values (key order aside). */
export function sameValue(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) {
    return true;
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return false;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, index) => sameValue(item, b[index]))
    );
  }
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length &&
    keys.every(key => Object.prototype.hasOwnProperty.call(b, key) && sameValue(a[key], b[key]))
  );
}

/** A JSON object typed in a text box (job variables): empty is `{}`. */
export function parseJsonObject(raw: string, what: string): Parsed {
  if (!raw.trim()) {
    return { ok: true, value: {} };
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, message: `${what} is not valid JSON (${reason}). Write e.g. {"env": {"STAGE": "dev"}}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, message: `${what} must be a JSON object, e.g. {"env": {"STAGE": "dev"}}` };
  }
  return { ok: true, value: value as JsonObject };
}

export interface FormResult {
  /** The values to send: only those that differ from the initial ones. */
  values: JsonObject;
  /** Parameter name → what is wrong with its value. */
  errors: Record<string, string>;
}

interface Field {
  spec: ParameterSpec;
  initial: JsonValue;
  input: HTMLInputElement | HTMLTextAreaElement;
  error: HTMLElement;
}

/**
 * The form's DOM (`node`) and what it reads. `initial` gives each parameter's starting
 * value (the deployment's, else the notebook's default).
 */
export class ParameterForm {
  readonly node: HTMLElement;
  private readonly fields = new Map<string, Field>();

  constructor(
    readonly specs: readonly ParameterSpec[],
    initial: JsonObject = {}
  ) {
    this.node = document.createElement('div');
    this.node.className = 'nborch-parameter-form';
    if (specs.length === 0) {
      const none = document.createElement('p');
      none.className = 'nborch-muted';
      none.textContent = 'This notebook has no parameters (no cell tagged "parameters").';
      this.node.appendChild(none);
    }
    for (const spec of specs) {
      const value = Object.prototype.hasOwnProperty.call(initial, spec.name)
        ? (initial[spec.name] ?? null)
        : spec.default;
      this.node.appendChild(this.makeField(spec, value));
    }
  }

  private makeField(spec: ParameterSpec, initial: JsonValue): HTMLElement {
    const row = document.createElement('div');
    row.className = `nborch-parameter nborch-parameter-${spec.name}`;
    row.dataset.parameter = spec.name;
    const label = document.createElement('label');
    const id = `nborch-parameter-${spec.name}-${Math.random().toString(36).slice(2, 8)}`;
    label.htmlFor = id;
    const name = document.createElement('code');
    name.textContent = spec.name;
    const type = document.createElement('span');
    type.className = 'nborch-muted';
    type.textContent = ` ${spec.type}`;
    label.append(name, type);
    let input: HTMLInputElement | HTMLTextAreaElement;
    const kind = editorKind(spec.type);
    if (kind === 'checkbox') {
      input = document.createElement('input');
      input.type = 'checkbox';
      input.checked = initial === true;
    } else if (kind === 'json' && (spec.type === 'list' || spec.type === 'dict')) {
      input = document.createElement('textarea');
      input.rows = 2;
      input.value = textOf(initial);
    } else {
      input = document.createElement('input');
      input.type = 'text';
      input.value = textOf(initial);
      if (kind === 'number') {
        input.inputMode = spec.type === 'int' ? 'numeric' : 'decimal';
      }
    }
    input.id = id;
    input.name = `parameters.${spec.name}`;
    const error = document.createElement('div');
    error.className = 'nborch-field-error';
    row.append(label, input);
    if (spec.help) {
      const help = document.createElement('div');
      help.className = 'nborch-muted nborch-help';
      help.textContent = spec.help;
      row.appendChild(help);
    }
    row.appendChild(error);
    this.fields.set(spec.name, { spec, initial, input, error });
    input.addEventListener('input', () => {
      error.textContent = '';
    });
    return row;
  }

  /** The values that differ from the initial ones, and what is wrong with any value. */
  read(): FormResult {
    const values: JsonObject = {};
    const errors: Record<string, string> = {};
    for (const [name, field] of this.fields) {
      const raw =
        field.input instanceof HTMLInputElement && field.input.type === 'checkbox'
          ? field.input.checked
          : field.input.value;
      if (typeof raw === 'string' && raw === textOf(field.initial)) {
        continue; // untouched
      }
      const parsed = parseValue(field.spec, raw);
      if (!parsed.ok) {
        errors[name] = parsed.message;
      } else if (!sameValue(parsed.value, field.initial)) {
        values[name] = parsed.value;
      }
    }
    this.showErrors(errors);
    return { values, errors };
  }

  /** Show these messages beside their fields (and clear the others). */
  showErrors(errors: Record<string, string>): void {
    for (const [name, field] of this.fields) {
      field.error.textContent = errors[name] ?? '';
    }
  }

  /** Whether the form has a field for parameter `name`. */
  has(name: string): boolean {
    return this.fields.has(name);
  }

  input(name: string): HTMLInputElement | HTMLTextAreaElement | undefined {
    return this.fields.get(name)?.input;
  }
}

import { ParameterForm, editorKind, parseJsonObject, parseValue, sameValue, textOf } from '../src/parameters';
import type { ParameterSpec } from '../src/models';

function spec(name: string, type: ParameterSpec['type'], value: ParameterSpec['default'], help = ''): ParameterSpec {
  return { name, type, default: value, help };
}

// hello.ipynb's parameters, as the server reads them from its parameters cell
const HELLO: ParameterSpec[] = [
  spec('name', 'str', 'world', 'who to greet'),
  spec('times', 'int', 2, 'how many greetings'),
  spec('excited', 'bool', false)
];

describe('editorKind', () => {
  it('chooses an editor by type', () => {
    expect(['str', 'int', 'float', 'bool', 'list', 'dict', 'any'].map(t => editorKind(t as ParameterSpec['type']))).toEqual(
      ['text', 'number', 'number', 'checkbox', 'json', 'json', 'json']
    );
  });
});

describe('parseValue', () => {
  it('keeps text as it is for str parameters', () => {
    expect(parseValue(spec('id', 'str', 'x'), '007')).toEqual({ ok: true, value: '007' });
    expect(parseValue(spec('id', 'str', 'x'), '')).toEqual({ ok: true, value: '' });
  });

  it('reads whole numbers for int, and refuses the rest with an example', () => {
    expect(parseValue(spec('n', 'int', 1), ' 42 ')).toEqual({ ok: true, value: 42 });
    expect(parseValue(spec('n', 'int', 1), '-3')).toEqual({ ok: true, value: -3 });
    for (const bad of ['4.5', 'many', '', '1e3', '99999999999999999999']) {
      expect(parseValue(spec('n', 'int', 1), bad)).toEqual({
        ok: false,
        message: `n must be int, got ${JSON.stringify(bad)}. Type e.g. 3`
      });
    }
  });

  it('reads numbers for float', () => {
    expect(parseValue(spec('r', 'float', 0.5), '2')).toEqual({ ok: true, value: 2 });
    expect(parseValue(spec('r', 'float', 0.5), '1.5e-3')).toEqual({ ok: true, value: 0.0015 });
    expect(parseValue(spec('r', 'float', 0.5), 'NaN').ok).toBe(false);
  });

  it('reads booleans from a checkbox and from text', () => {
    expect(parseValue(spec('b', 'bool', false), true)).toEqual({ ok: true, value: true });
    expect(parseValue(spec('b', 'bool', false), 'Yes')).toEqual({ ok: true, value: true });
    expect(parseValue(spec('b', 'bool', false), 'off')).toEqual({ ok: true, value: false });
    expect(parseValue(spec('b', 'bool', false), 'maybe').ok).toBe(false);
  });

  it('reads JSON for lists and dicts, and checks which it is', () => {
    expect(parseValue(spec('l', 'list', []), '[1, "a"]')).toEqual({ ok: true, value: [1, 'a'] });
    expect(parseValue(spec('l', 'list', []), '{"a": 1}').ok).toBe(false);
    expect(parseValue(spec('d', 'dict', {}), '{"a": [1]}')).toEqual({ ok: true, value: { a: [1] } });
    expect(parseValue(spec('d', 'dict', {}), '[1]').ok).toBe(false);
    expect(parseValue(spec('d', 'dict', {}), '{a: 1}').ok).toBe(false);
  });

  it('reads JSON for any, else keeps the text', () => {
    expect(parseValue(spec('x', 'any', null), '3')).toEqual({ ok: true, value: 3 });
    expect(parseValue(spec('x', 'any', null), 'plain words')).toEqual({ ok: true, value: 'plain words' });
  });

  it('reads an empty box as null when the default is null', () => {
    expect(parseValue(spec('n', 'int', null), '  ')).toEqual({ ok: true, value: null });
    expect(parseValue(spec('n', 'int', 0), '').ok).toBe(false);
  });
});

describe('sameValue and textOf', () => {
  it('compares JSON values whatever the key order', () => {
    expect(sameValue({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(sameValue({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameValue([1, 2], [2, 1])).toBe(false);
    expect(sameValue(null, {})).toBe(false);
  });

  it('shows strings as they are and other values as JSON', () => {
    expect([textOf('a b'), textOf(3), textOf(null), textOf([1]), textOf(undefined)]).toEqual(['a b', '3', '', '[1]', '']);
  });
});

describe('parseJsonObject', () => {
  it('reads an object, an empty box as none, and says what is wrong otherwise', () => {
    expect(parseJsonObject(' ', 'Job variables')).toEqual({ ok: true, value: {} });
    expect(parseJsonObject('{"env": {"A": "1"}}', 'Job variables')).toEqual({ ok: true, value: { env: { A: '1' } } });
    const list = parseJsonObject('[1]', 'Job variables');
    expect(list).toEqual({ ok: false, message: 'Job variables must be a JSON object, e.g. {"env": {"STAGE": "dev"}}' });
    const broken = parseJsonObject('{env', 'Job variables');
    expect(broken.ok).toBe(false);
    expect(!broken.ok && broken.message).toMatch(/^Job variables is not valid JSON \(/);
  });
});

describe('ParameterForm', () => {
  it('makes an editor per parameter, at the deployment value else the default', () => {
    const form = new ParameterForm(HELLO, { times: 5 });
    expect(form.input('name')?.value).toBe('world');
    expect(form.input('times')?.value).toBe('5');
    const excited = form.input('excited') as HTMLInputElement;
    expect([excited.type, excited.checked]).toEqual(['checkbox', false]);
    expect(form.node.querySelector('.nborch-parameter-name .nborch-help')?.textContent).toBe('who to greet');
    expect(form.node.querySelectorAll('.nborch-parameter')).toHaveLength(3);
  });

  it('sends only the values that differ from where the form started', () => {
    const form = new ParameterForm(HELLO, { times: 5 });
    expect(form.read()).toEqual({ values: {}, errors: {} });
    (form.input('name') as HTMLInputElement).value = 'Ada';
    (form.input('times') as HTMLInputElement).value = '05';
    (form.input('excited') as HTMLInputElement).checked = true;
    expect(form.read()).toEqual({ values: { name: 'Ada', excited: true }, errors: {} });
  });

  it('shows a bad value beside its field and leaves it out', () => {
    const form = new ParameterForm(HELLO);
    (form.input('times') as HTMLInputElement).value = 'many';
    const result = form.read();
    expect(result.values).toEqual({});
    expect(result.errors).toEqual({ times: 'times must be int, got "many". Type e.g. 3' });
    const error = form.node.querySelector('.nborch-parameter-times .nborch-field-error');
    expect(error?.textContent).toBe('times must be int, got "many". Type e.g. 3');
    form.input('times')?.dispatchEvent(new Event('input'));
    expect(error?.textContent).toBe('');
  });

  it("shows the server's message beside the parameter it names", () => {
    const form = new ParameterForm(HELLO);
    form.showErrors({ name: "Parameter 'name' needs the secret 'TOKEN', which does not exist." });
    expect(form.node.querySelector('.nborch-parameter-name .nborch-field-error')?.textContent).toContain(
      "secret 'TOKEN'"
    );
    expect(form.has('name')).toBe(true);
    expect(form.has('colour')).toBe(false);
  });

  it('says when the notebook has no parameters', () => {
    const form = new ParameterForm([]);
    expect(form.node.textContent).toContain('no parameters');
    expect(form.read()).toEqual({ values: {}, errors: {} });
  });

  it('edits lists and dicts as JSON text', () => {
    const form = new ParameterForm([spec('regions', 'list', ['eu', 'us'])]);
    const input = form.input('regions') as HTMLTextAreaElement;
    expect(input.tagName).toBe('TEXTAREA');
    expect(input.value).toBe('["eu","us"]');
    input.value = '["eu", "us"]';
    expect(form.read().values).toEqual({});
    input.value = '["eu"]';
    expect(form.read().values).toEqual({ regions: ['eu'] });
  });
});

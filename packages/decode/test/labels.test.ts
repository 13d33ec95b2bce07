import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_PRESETS, LabelsError, isLabelPreset, labelsFromList, loadLabels, parseLabels } from '../src/index.js';

const packageRoot = resolve(fileURLToPath(import.meta.url), '../..');
/** The vendored class index: Keras's imagenet_class_index.json, byte for byte. */
const classIndexFile = join(packageRoot, 'data', 'imagenet_class_index.json');
/** sha256 of Keras's file (https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json). */
const KERAS_CLASS_INDEX_SHA256 = 'b5f776e83563ad894d66a723bac957f53dfa9baf377458b27ae9def80c14ebc5';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tensorsky-labels-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function labelsFile(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

describe('presets', () => {
  it('imagenet has the 1000 Keras ImageNet classes with their WordNet ids', async () => {
    const labels = await loadLabels('imagenet');
    expect(labels.source).toBe('imagenet');
    expect(labels.classes).toHaveLength(1000);
    expect(labels.classes?.[0]).toEqual({ id: 'n01440764', label: 'tench' });
    expect(labels.classes?.[950]).toEqual({ id: 'n07747607', label: 'orange' });
    expect(labels.classes?.[999]).toEqual({ id: 'n15075141', label: 'toilet_tissue' });
    // ImageNet has two different "crane" classes (the bird and the machine): labels are not unique, ids are.
    expect(labels.classes?.filter((c) => c.label === 'crane').map((c) => c.id)).toEqual(['n02012849', 'n03126707']);
  });

  it("vendors Keras's class index unchanged", async () => {
    expect(createHash('sha256').update(await readFile(classIndexFile)).digest('hex')).toBe(KERAS_CLASS_INDEX_SHA256);
  });

  it('imagenet matches the Keras class index entry for entry', async () => {
    const keras = JSON.parse(await readFile(classIndexFile, 'utf8')) as Record<
      string,
      [string, string]
    >;
    const labels = await loadLabels('imagenet');
    for (let i = 0; i < 1000; i++) {
      expect(labels.classes?.[i]).toEqual({ id: keras[String(i)][0], label: keras[String(i)][1] });
    }
  });

  it('inception is the same ImageNet list', async () => {
    expect(await loadLabels('inception')).toEqual({ ...(await loadLabels('imagenet')), source: 'imagenet' });
  });

  it('transfert is the tutorial fruit list', async () => {
    const labels = await loadLabels('transfert');
    expect(labels.classes?.map((c) => c.label)).toEqual([
      'apple',
      'banana',
      'grape',
      'kiwi',
      'mango',
      'orange',
      'pineapple',
      'raspberry',
      'strawberry',
    ]);
    expect(labels.classes?.every((c) => c.id === undefined)).toBe(true);
  });

  it('none has no labels', async () => {
    expect(await loadLabels('none')).toEqual({ source: 'none', classes: null });
  });

  it('isLabelPreset knows the four presets only', () => {
    expect(LABEL_PRESETS.every(isLabelPreset)).toBe(true);
    expect(isLabelPreset('labels.txt')).toBe(false);
    expect(isLabelPreset('Imagenet')).toBe(false);
  });
});

describe('custom labels files', () => {
  it('reads a text file, one label per line, ignoring CRLF, a BOM, surrounding spaces and trailing blank lines', async () => {
    const path = await labelsFile('fruits.txt', '\ufeffcat\r\n  dog \nsea lion\n\n\n');
    expect(await loadLabels(path)).toEqual({
      source: path,
      classes: [{ label: 'cat' }, { label: 'dog' }, { label: 'sea lion' }],
    });
  });

  it('gives a text file of exactly the ImageNet labels (an export\'s assets/labels.txt) the WordNet ids from the class index', async () => {
    const index = JSON.parse(await readFile(classIndexFile, 'utf8')) as Record<string, [string, string]>;
    const names = Array.from({ length: 1000 }, (_, i) => index[String(i)][1]);
    const labels = await loadLabels(await labelsFile('labels.txt', `${names.join('\n')}\n`));
    expect(labels.source).toMatch(/labels\.txt$/);
    expect(labels.classes![281]).toEqual({ id: index['281'][0], label: index['281'][1] });
    expect(labels.classes!.every((c, i) => c.id === index[String(i)][0])).toBe(true);

    // One label changed, or the same labels in another order: not ImageNet's, so no ids.
    const renamed = await loadLabels(await labelsFile('renamed.txt', names.map((n, i) => (i === 5 ? 'my fish' : n)).join('\n')));
    expect(renamed.classes!.some((c) => c.id !== undefined)).toBe(false);
    const shifted = await loadLabels(await labelsFile('shifted.txt', [...names.slice(1), names[0]].join('\n')));
    expect(shifted.classes!.some((c) => c.id !== undefined)).toBe(false);
  });

  it('reads a JSON array', async () => {
    const path = await labelsFile('list.json', '["cat", "dog"]');
    expect((await loadLabels(path)).classes).toEqual([{ label: 'cat' }, { label: 'dog' }]);
  });

  it('reads a Keras class index in index order, whatever the key order', async () => {
    const path = await labelsFile('index.json', '{"1": ["n02", "dog"], "0": ["n01", "cat"], "2": ["n03", "bird"]}');
    expect((await loadLabels(path)).classes).toEqual([
      { id: 'n01', label: 'cat' },
      { id: 'n02', label: 'dog' },
      { id: 'n03', label: 'bird' },
    ]);
  });

  it('reads a class index whose values are plain labels', async () => {
    const path = await labelsFile('id2label.json', '{"0": "cat", "1": "dog"}');
    expect((await loadLabels(path)).classes).toEqual([{ label: 'cat' }, { label: 'dog' }]);
  });

  it('detects JSON by content when the file name has no .json extension', async () => {
    const path = await labelsFile('labels', '{"0": ["n01", "cat"]}');
    expect((await loadLabels(path)).classes).toEqual([{ id: 'n01', label: 'cat' }]);
  });

  it('parseLabels parses contents the same way, and labelsFromList takes a list', () => {
    expect(parseLabels('a\nb\n', 'assets/labels.txt').classes).toEqual([{ label: 'a' }, { label: 'b' }]);
    expect(parseLabels('["a"]', 'x.json').classes).toEqual([{ label: 'a' }]);
    expect(labelsFromList(['background', 'tench'], 'assets/labels.txt')).toEqual({
      source: 'assets/labels.txt',
      classes: [{ label: 'background' }, { label: 'tench' }],
    });
  });
});

describe('bad labels', () => {
  async function loadError(name: string, content: string): Promise<LabelsError> {
    const path = await labelsFile(name, content);
    const err = await loadLabels(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LabelsError);
    expect((err as Error).message).toContain(path);
    return err as LabelsError;
  }

  it('missing file names the file and the presets', async () => {
    const path = join(dir, 'nope.txt');
    await expect(loadLabels(path)).rejects.toThrow(`labels file ${path} not found`);
    await expect(loadLabels('imagnet')).rejects.toThrow(/imagnet not found.*inception, imagenet, transfert, none/);
  });

  it('directory', async () => {
    const sub = join(dir, 'a-directory');
    await mkdir(sub);
    await expect(loadLabels(sub)).rejects.toThrow(`labels file ${sub} is a directory`);
  });

  it('empty text and JSON files', async () => {
    expect((await loadError('empty.txt', '')).message).toMatch(/is empty$/);
    expect((await loadError('blank.txt', '\n \n\n')).message).toMatch(/is empty$/);
    expect((await loadError('empty.json', '')).message).toMatch(/is empty$/);
    expect((await loadError('empty-array.json', '[]')).message).toMatch(/no labels$/);
    expect((await loadError('empty-object.json', '{}')).message).toMatch(/empty object$/);
  });

  it('a blank line inside a text file', async () => {
    expect((await loadError('gap.txt', 'cat\n\ndog\n')).message).toContain('line 2 is empty');
  });

  it('malformed JSON', async () => {
    expect((await loadError('broken.json', '{"0": ["n01", "cat"],}')).message).toContain('is not valid JSON');
    expect((await loadError('text.json', 'cat\ndog\n')).message).toContain('is not valid JSON');
  });

  it('JSON that is neither an array nor an object', async () => {
    expect((await loadError('number.json', '42')).message).toContain('must hold a JSON array');
  });

  it('non-string entries', async () => {
    expect((await loadError('numbers.json', '["cat", 3]')).message).toContain('label of class 1 is empty or not a string');
    expect((await loadError('bad-entry.json', '{"0": ["n01"]}')).message).toContain('class 0 must be ["<id>", "<label>"]');
    expect((await loadError('bad-entry2.json', '{"0": [1, 2]}')).message).toContain('class 0 must be');
  });

  it('duplicate class index, which JSON.parse alone would silently collapse', async () => {
    const err = await loadError('dup.json', '{"0": ["n01", "cat"], "1": ["n02", "dog"], "1": ["n03", "bird"]}');
    expect(err.message).toContain('class index "1" appears more than once');
  });

  it('duplicate keys nested inside a class entry are not class indices', async () => {
    // Only top-level keys are indices; strings with escaped quotes and colons must not confuse the scan.
    const path = await labelsFile('tricky.json', '{"0": ["n\\"1:", "a \\"b\\": c"], "1": ["x", "{\\"0\\": 1}"]}');
    expect((await loadLabels(path)).classes).toEqual([
      { id: 'n"1:', label: 'a "b": c' },
      { id: 'x', label: '{"0": 1}' },
    ]);
  });

  it('missing class index', async () => {
    const err = await loadError('gap.json', '{"0": ["n01", "cat"], "1": ["n02", "dog"], "3": ["n04", "fox"]}');
    expect(err.message).toContain('class index 2 is missing (indices must run from 0 to 2, found 3)');
  });

  it('keys that are not plain class indices', async () => {
    expect((await loadError('neg.json', '{"0": "a", "-1": "b"}')).message).toContain('key "-1" is not a class index');
    expect((await loadError('zero.json', '{"00": "a"}')).message).toContain('key "00" is not a class index');
    expect((await loadError('name.json', '{"cat": "a"}')).message).toContain('key "cat" is not a class index');
  });

  it('labelsFromList rejects empty lists and blank labels', () => {
    expect(() => labelsFromList([], 'assets/labels.txt')).toThrow('assets/labels.txt: no labels');
    expect(() => labelsFromList(['a', ' '], 'assets/labels.txt')).toThrow('label of class 1 is empty');
  });
});

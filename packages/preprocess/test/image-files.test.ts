import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageInputError } from '@tensorsky/image';
import { expandImagePaths, readImageFile } from '../src/index.js';
import { bmpFile, gifHeader, imagesDir } from '../../image/test/fixtures.js';

let root: string;
const at = (...parts: string[]) => join(root, ...parts);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tensorsky-images-'));
  await mkdir(at('photos', 'sub', 'deep'), { recursive: true });
  await mkdir(at('empty-dir'));
  await mkdir(at('.hidden-dir'));
  await copyFile(join(imagesDir, 'cat.jpg'), at('photos', 'a.jpg'));
  await copyFile(join(imagesDir, 'image_png_test.png'), at('photos', 'b.png'));
  await copyFile(join(imagesDir, 'image_png_test.png'), at('photos', 'png-named.jpg'));
  await copyFile(join(imagesDir, 'astronaut.jpg'), at('photos', '.hidden.jpg'));
  await writeFile(at('photos', 'c.gif'), gifHeader(1, 1));
  await writeFile(at('photos', 'd.bmp'), bmpFile(1, 1, [1, 2, 3]));
  await writeFile(at('photos', 'empty.jpg'), new Uint8Array(0));
  await writeFile(at('photos', 'notes.txt'), 'hello world\n');
  await writeFile(at('photos', 'noext'), bmpFile(1, 1, [1, 2, 3]));
  await copyFile(join(imagesDir, 'image_png_4_channel_test.png'), at('photos', 'sub', 'e.png'));
  await copyFile(join(imagesDir, 'image_png_test.png'), at('photos', 'sub', 'deep', 'f.png'));
  await copyFile(join(imagesDir, 'image_png_test.png'), at('.hidden-dir', 'g.png'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('readImageFile', () => {
  it('reads the bytes and detects the format from the content, not the name', async () => {
    const cat = await readImageFile(join(imagesDir, 'cat.jpg'));
    expect(cat.format).toBe('jpeg');
    expect(cat.path).toBe(join(imagesDir, 'cat.jpg'));
    expect(Buffer.compare(Buffer.from(cat.bytes), await readFile(join(imagesDir, 'cat.jpg')))).toBe(0);
    expect((await readImageFile(at('photos', 'png-named.jpg'))).format).toBe('png');
    expect((await readImageFile(at('photos', 'c.gif'))).format).toBe('gif');
    expect((await readImageFile(at('photos', 'noext'))).format).toBe('bmp');
  });

  it('names the file in every error', async () => {
    const missing = at('photos', 'missing.jpg');
    await expect(readImageFile(missing)).rejects.toThrow(`${missing}: no such file`);
    await expect(readImageFile(at('photos'))).rejects.toThrow(`${at('photos')} is a directory, not an image file`);
    await expect(readImageFile(at('photos', 'empty.jpg'))).rejects.toThrow(`${at('photos', 'empty.jpg')} is empty (0 bytes)`);
    await expect(readImageFile(at('photos', 'notes.txt'))).rejects.toThrow(
      `${at('photos', 'notes.txt')} is not a JPEG, PNG, GIF or BMP image (starts with 68 65 6c 6c 6f 20 77 6f … "hello wo")`,
    );
    await expect(readImageFile(missing)).rejects.toBeInstanceOf(ImageInputError);
  });
});

describe('expandImagePaths', () => {
  it('lists the images directly inside a directory, sorted, by content, without dot files', async () => {
    expect(await expandImagePaths([at('photos')])).toEqual(
      ['a.jpg', 'b.png', 'c.gif', 'd.bmp', 'noext', 'png-named.jpg'].map((name) => at('photos', name)),
    );
  });

  it('keeps plain files, even missing or not images, for readImageFile to report one by one', async () => {
    expect(await expandImagePaths([at('photos', 'notes.txt'), at('photos', 'nope.jpg')])).toEqual([
      at('photos', 'notes.txt'),
      at('photos', 'nope.jpg'),
    ]);
  });

  it('keeps argument order and drops repeated paths', async () => {
    expect(await expandImagePaths([at('photos', 'b.png'), at('photos', 'a.jpg'), at('photos'), at('photos', 'b.png')])).toEqual(
      ['b.png', 'a.jpg', 'c.gif', 'd.bmp', 'noext', 'png-named.jpg'].map((name) => at('photos', name)),
    );
  });

  it('expands * and ? globs to matching files, sorted, without dot files', async () => {
    expect(await expandImagePaths([at('photos', '*.jpg')])).toEqual(
      ['a.jpg', 'empty.jpg', 'png-named.jpg'].map((name) => at('photos', name)),
    );
    expect(await expandImagePaths([at('photos', '?.*')])).toEqual(
      ['a.jpg', 'b.png', 'c.gif', 'd.bmp'].map((name) => at('photos', name)),
    );
    expect(await expandImagePaths([at('photos', '.*.jpg')])).toEqual([at('photos', '.hidden.jpg')]);
  });

  it('expands character classes', async () => {
    expect(await expandImagePaths([at('photos', '[ab].*')])).toEqual([at('photos', 'a.jpg'), at('photos', 'b.png')]);
    expect(await expandImagePaths([at('photos', '[!a-c].*')])).toEqual([at('photos', 'd.bmp')]);
  });

  it('expands ** to any depth, including none, skipping dot directories', async () => {
    expect(await expandImagePaths([join(root, '**', '*.png')])).toEqual([
      at('photos', 'b.png'),
      at('photos', 'sub', 'deep', 'f.png'),
      at('photos', 'sub', 'e.png'),
    ]);
    expect(await expandImagePaths([at('photos', 'sub', '**')])).toEqual([
      at('photos', 'sub', 'deep', 'f.png'),
      at('photos', 'sub', 'e.png'),
    ]);
    expect(await expandImagePaths([join(root, '*', 'sub', '*.png')])).toEqual([at('photos', 'sub', 'e.png')]);
  });

  it('expands relative patterns relative to the working directory', async () => {
    const pattern = join(relative(process.cwd(), at('photos')), '*.gif');
    expect(pattern.startsWith('/')).toBe(false);
    expect(await expandImagePaths([pattern])).toEqual([join(relative(process.cwd(), at('photos')), 'c.gif')]);
  });

  it('rejects patterns that match nothing and directories without images', async () => {
    await expect(expandImagePaths([at('photos', '*.webp')])).rejects.toThrow(`no files match ${at('photos', '*.webp')}`);
    await expect(expandImagePaths([join(root, 'nowhere', '*.jpg')])).rejects.toThrow('no files match');
    await expect(expandImagePaths([at('empty-dir')])).rejects.toThrow(
      `${at('empty-dir')} holds no JPEG, PNG, GIF or BMP images`,
    );
  });
});

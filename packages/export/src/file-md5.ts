// md5 of a file's content, as Keras checks its downloads and as the provenance record names files.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Hex md5 of a file, or undefined when it does not exist. */
export async function fileMd5(path: string): Promise<string | undefined> {
  const hash = createHash('md5');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return hash.digest('hex');
}

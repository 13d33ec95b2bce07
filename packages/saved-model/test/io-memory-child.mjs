// Run by memory.test.ts in its own process, so peak RSS belongs to one operation only.
// `node io-memory-child.mjs write DIR MiB` writes a frozen graph whose Const nodes hold MiB of
// tensor_content; `node io-memory-child.mjs read DIR` reads it back. Prints a JSON report.
import { register } from 'node:module';

register('./io-ts-loader.mjs', import.meta.url);
const { readSavedModel, writeSavedModel } = await import('../src/io.ts');

const [mode, dir, mib] = process.argv.slice(2);
const NODE_MIB = 10;
// Baseline: resident memory now, after loading the sources (peak RSS so far may be higher and
// would hide part of the operation's own peak).
const report = { baselineBytes: process.memoryUsage().rss };

if (mode === 'write') {
  const node = [];
  for (let i = 0; i < Number(mib) / NODE_MIB; i++) {
    const content = Buffer.alloc(NODE_MIB * 1024 * 1024, i + 1);
    const tensor = { dtype: 1, tensor_shape: { dim: [{ size: content.length / 4 }] }, tensor_content: content };
    node.push({ name: `w${i}`, op: 'Const', attr: { dtype: { type: 1 }, value: { tensor } } });
  }
  const savedModel = {
    saved_model_schema_version: 1,
    meta_graphs: [{ meta_info_def: { tags: ['serve'] }, graph_def: { node, versions: { producer: 1087 } } }],
  };
  await writeSavedModel(dir, { savedModel });
} else {
  const loaded = await readSavedModel(dir);
  const nodes = loaded.savedModel.meta_graphs[0].graph_def.node;
  const contents = nodes.map((n) => n.attr.value.tensor.tensor_content);
  report.pbBytes = loaded.pbBytes;
  report.nodes = nodes.length;
  report.firstBytes = contents.map((c) => c[0]);
  report.contentBytes = contents.reduce((sum, c) => sum + c.length, 0);
  // Each bytes field should be a view into the one buffer holding the whole file.
  report.viewsIntoFile = contents.every((c) => c.buffer === contents[0].buffer && c.buffer.byteLength >= loaded.pbBytes);
}
report.peakBytes = process.resourceUsage().maxRSS * 1024;
process.stdout.write(JSON.stringify(report));

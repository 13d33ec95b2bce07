// Runs firebase-tools' Cloud Storage emulator (its GCS JSON API) on a loopback port, without the
// Firebase CLI: `firebase emulators:start` wants Java 21 and downloads a rules runtime, neither of
// which the GCS JSON API needs (it serves admin requests without rules). Prints the URL; stops on
// SIGTERM or when stdin closes (the parent is gone).
// Run with TMPDIR set to a private directory: the emulator keeps uploaded blobs under os.tmpdir().
const path = require('node:path');

const root = path.dirname(require.resolve('firebase-tools/package.json'));
const { StorageEmulator } = require(path.join(root, 'lib/emulator/storage/index.js'));
const { createApp } = require(path.join(root, 'lib/emulator/storage/server.js'));
const { EmulatorRegistry } = require(path.join(root, 'lib/emulator/registry.js'));

async function main() {
  const projectId = process.argv[2] || 'demo-tensorsky';
  // rules: [] selects the per-resource rules manager with no rules; it is never started (no rules runtime).
  const emulator = new StorageEmulator({ projectId, rules: [], auto_download: false, host: '127.0.0.1' });
  const app = await createApp(projectId, emulator);
  const server = app.listen(0, '127.0.0.1', () => {
    // Object metadata embeds the emulator's own URL, which it looks up in the registry.
    emulator.args.port = server.address().port;
    EmulatorRegistry.set('storage', emulator);
    process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
  });
  const stop = () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  // The parent holds our stdin open: if it dies without stopping us, we stop too.
  process.stdin.on('end', stop).resume();
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});

#!/usr/bin/env node
import './quiet-metadata-warning.js';

const { main } = await import('../dist/main.js');
process.exitCode = await main(process.argv.slice(2));

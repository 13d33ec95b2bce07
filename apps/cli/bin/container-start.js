#!/usr/bin/env node
// The container's entry point: `tensorsky serve` configured from MODEL_NAME, MODEL_BASE_PATH (a folder or
// gs://BUCKET/FOLDER), REST_API_PORT or PORT, GRPC_PORT; arguments are more serve flags (see the README).
import './quiet-metadata-warning.js';

const { containerStart } = await import('../dist/container-start.js');
process.exitCode = await containerStart(process.argv.slice(2));

#!/usr/bin/env node
// The container's HEALTHCHECK: exits 0 when /healthz on the REST port (REST_API_PORT, PORT or 8501) answers 200.
const { containerHealthcheck } = await import('../dist/container-config.js');
process.exitCode = await containerHealthcheck();

// See package.json: re2 is deliberately absent; optional users of it catch this and fall back.
throw Object.assign(new Error('re2 is not installed in the tensorsky repository (see tools/stubs/re2)'), { code: 'MODULE_NOT_FOUND' });

// google-auth-library warns on stderr when it looks for credentials on a metadata server that is not
// there (off Google Cloud); the command's own one-line error already says what to do.
const emitWarning = process.emitWarning;
process.emitWarning = (warning, ...rest) => {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type;
  if ((type ?? warning?.name) === 'MetadataLookupWarning' && !process.env.TENSORSKY_DEBUG) return;
  emitWarning.call(process, warning, ...rest);
};

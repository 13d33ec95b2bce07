// Stands in for an onnxruntime-node whose native library cannot load (a broken or foreign install):
// importing it fails as onnxruntime-node's binding does when libonnxruntime is missing.
throw new Error('libonnxruntime.so.1: cannot open shared object file: No such file or directory');

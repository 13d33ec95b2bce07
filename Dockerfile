# tensorsky serve in a container, configured as TensorFlow Serving's image is:
#   docker build -t tensorsky-serve .
#   docker run -p 8501:8501 -v "$PWD/models:/models" -e MODEL_NAME=jean_inception tensorsky-serve
#   docker run -p 8501:8501 -e MODEL_BASE_PATH=gs://BUCKET/models -e MODEL_NAME=jean_inception tensorsky-serve
# MODEL_BASE_PATH/MODEL_NAME holds numbered versions (1/saved_model.pb, ...); a gs:// one is copied into
# MODEL_CACHE_DIR at start (Application Default Credentials: the service account on Cloud Run / GKE).
# REST on REST_API_PORT, else PORT (set by Cloud Run), else 8501; gRPC on GRPC_PORT, else 8500 (0: off).
# Arguments after the image name are more `tensorsky serve` flags (--max_batch_size 16 ...).
# See "Run it in a container" in README.md.

# Node 20.19+ is what the packages require; 20.20 is the version the repository is tested on.
ARG NODE_IMAGE=node:20.20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# onnxruntime-node's install step would download a CUDA provider; its CPU engine is in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip CI=true NX_DAEMON=false NX_NO_CLOUD=true
COPY . .
# npm ci's prepare step builds every package (nx run-many -t build). Dev-only copies nested under the
# workspaces are dropped: the runtime stage installs its own.
RUN npm ci --no-audit --no-fund \
 && rm -rf packages/*/node_modules apps/*/node_modules packages/*/test apps/*/test

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    MODEL_NAME=model \
    MODEL_BASE_PATH=/models \
    MODEL_CACHE_DIR=/tmp/tensorsky-models
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/tools/stubs ./tools/stubs
COPY --from=build /app/packages ./packages
COPY --from=build /app/apps ./apps
# Runtime dependencies only. Install scripts are not needed: sharp and onnxruntime-node ship their
# binaries in their packages. ONNX Runtime is optional: where it has no binary (an unusual CPU or libc)
# npm leaves it out and serve's --backend auto uses the TF.js wasm engine instead.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && mkdir -p /models \
 && chown node:node /models
# The image's `node` user, by number so that Kubernetes' runAsNonRoot can check it.
USER 1000:1000
VOLUME ["/models"]
EXPOSE 8500 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 CMD ["node", "apps/cli/bin/container-healthcheck.js"]
ENTRYPOINT ["node", "apps/cli/bin/container-start.js"]

# Weft in a container. Run it with the capabilities a dataplane needs:
#   docker build -t weft .
#   docker run --rm --cap-add NET_ADMIN --device /dev/net/tun \
#     -v $PWD/examples:/etc/weft weft agent --config /etc/weft/node.yaml

# Stage 1: native shim (node-gyp, C compiler) and TypeScript.
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY native-shims/ native-shims/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src/ src/
RUN npx tsc -p . && npm prune --omit=dev

# Stage 2: runtime: Node, iproute2 (the agent configures TAP kernel sides with ip), no compilers.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 procps \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/weft
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/native-shims/build/Release/weft_native.node native-shims/build/Release/
COPY --from=build /src/dist/src/ dist/src/
ENTRYPOINT ["node", "/opt/weft/dist/src/cli/weft.js"]
CMD ["--help"]

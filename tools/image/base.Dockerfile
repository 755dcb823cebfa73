# The stand-in for node:24-bookworm-slim that tools/image/build.sh makes when no registry image
# can be pulled: a minbase Debian root (mmdebstrap), the Node binary from node_modules/node, npm,
# and the `node` user (uid/gid 1000) like the official image. Context: a temp dir made by build.sh.
FROM scratch
ADD rootfs.tar /
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version \
 && rm -rf /tmp/node-compile-cache /root/.npm
CMD ["node"]

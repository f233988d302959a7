# vigil in a container: the server and both built web apps, on Debian slim.
# docs/OPERATIONS.md ("Container") says how to run it and what it needs.
#   docker build -t vigil .
#   docker run -p 8080:8080 -p 3478:3478/udp -v vigil-data:/var/lib/vigil \
#     -e VIGIL_PUBLIC_URL=https://exams.example.org -e VIGIL_UDP_ADVERTISED=203.0.113.7:3478 vigil

# --- the web apps (the student page's models come from its npm packages) ---
FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY web/proto web/proto
COPY web/tools web/tools
COPY web/student web/student
COPY web/dashboard web/dashboard
RUN cd web/student && npm ci --no-audit --no-fund && npm run build \
 && cd ../dashboard && npm ci --no-audit --no-fund && npm run build

# --- the server ---
FROM rust:1.95-bookworm AS server
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY crates crates
# vigil-cliff (a benchmark) links libvpx; the server does not, but the
# workspace resolves it.
RUN apt-get update && apt-get install -y --no-install-recommends libvpx-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
RUN cargo build --release --locked -p vigil && strip target/release/vigil

# --- what runs ---
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/vigil --create-home vigil
COPY --from=server /src/target/release/vigil /usr/local/bin/vigil
COPY --from=web /src/web/student/dist /usr/local/share/vigil/web/student/dist
COPY --from=web /src/web/dashboard/dist /usr/local/share/vigil/web/dashboard/dist
USER vigil
ENV VIGIL_DATA_DIR=/var/lib/vigil \
    VIGIL_WEB_DIR=/usr/local/share/vigil/web \
    VIGIL_HTTP=0.0.0.0:8080 \
    VIGIL_UDP=0.0.0.0:3478 \
    VIGIL_LOG_FORMAT=json
VOLUME /var/lib/vigil
EXPOSE 8080/tcp 3478/udp
HEALTHCHECK --interval=10s --timeout=3s CMD ["/usr/local/bin/vigil", "health", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/vigil"]
CMD ["serve"]

# cachelens web server bootstrap (EC2 user data, after the exports Pulumi writes above this line).
# Fetches the app bundle from S3, writes /etc/cachelens.env, installs a systemd unit running cachelens as
# a non-root user, loads the sample data once and starts the service. Rerunning it is safe.
#
# CACHELENS_SANDBOX=<folder> runs the same steps under that folder without systemd or a system user (the
# tests do this on loopback against moto and local MariaDB/Redis) and starts the app in the background.
set -euo pipefail

SANDBOX="${CACHELENS_SANDBOX:-}"
PREFIX="$SANDBOX/opt/cachelens"
ENV_FILE="$SANDBOX/etc/cachelens.env"
UNIT_FILE="$SANDBOX/etc/systemd/system/cachelens.service"
LOG="$SANDBOX/var/log/cachelens-bootstrap.log"
mkdir -p "$PREFIX/releases" "$(dirname "$ENV_FILE")" "$(dirname "$UNIT_FILE")" "$(dirname "$LOG")"
exec > >(tee -a "$LOG") 2>&1
echo "cachelens bootstrap $(date -u +%FT%TZ)"

: "${CACHELENS_BUNDLE_URI:?the s3:// address of the bundle}"
: "${CACHELENS_DB_SECRET:?the DB secret ARN}"
: "${CACHELENS_DB_HOST:?the MySQL host}"
release="$PREFIX/releases/$(printf '%s' "${CACHELENS_BUNDLE_ETAG:-$CACHELENS_BUNDLE_URI}" | sha256sum | cut -c1-16)"

# 1. The bundle: the server binary, the site, the sample data.
if [ ! -x "$release/cachelens" ]; then
    tmp=$(mktemp -d)
    # The instance role's credentials can take a little while to reach a new instance: try for two minutes.
    for attempt in $(seq 1 24); do
        aws s3 cp --only-show-errors "$CACHELENS_BUNDLE_URI" "$tmp/bundle.tar.gz" && break
        [ "$attempt" -lt 24 ] || { echo "cachelens: could not fetch $CACHELENS_BUNDLE_URI" >&2; exit 1; }
        sleep 5
    done
    mkdir -p "$release"
    tar -xzf "$tmp/bundle.tar.gz" -C "$release" --strip-components=1
    rm -rf "$tmp"
fi
ln -sfn "$release" "$PREFIX/current"

# RDS's CA bundle, so that cachelens verifies the database's certificate (sqlx would take any). Empty
# CACHELENS_DB_CA_URL skips it (the sandbox's MariaDB speaks no TLS).
ca_url="${CACHELENS_DB_CA_URL-https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem}"
ca_file=""
if [ -n "$ca_url" ]; then
    ca_file="$PREFIX/rds-ca-bundle.pem"
    curl -fsS --retry 5 --retry-all-errors -o "$ca_file.tmp" "$ca_url" && mv "$ca_file.tmp" "$ca_file"
fi

# 2. Where things are. Secrets stay in Secrets Manager: the file names them, the app reads them at start.
redis_host="${CACHELENS_REDIS_PRIMARY:-}"
redis_cluster=false
if [ "${CACHELENS_REDIS_CLUSTER_MODE:-disabled}" = enabled ]; then
    redis_host="${CACHELENS_REDIS_CONFIGURATION:?cluster mode needs the configuration endpoint}"
    redis_cluster=true
fi
case "$redis_host" in *:*) ;; *) redis_host="$redis_host:6379" ;; esac
# cachelens refuses a public address without an access token. The stack makes one; without a token secret
# (an older stack) it serves anonymously, as it did before, and says so here.
if [ -n "${CACHELENS_ACCESS_TOKEN_SECRET:-}" ]; then
    access="CACHELENS_ACCESS_TOKEN_SECRET=$CACHELENS_ACCESS_TOKEN_SECRET"
else
    access="CACHELENS_ALLOW_ANONYMOUS=true"
fi
umask 027
cat > "$ENV_FILE" <<ENV
AWS_REGION=${AWS_REGION:-}
CACHELENS_ADDR=${CACHELENS_BIND:-0.0.0.0}:${CACHELENS_PORT:-8008}
LEPTOS_SITE_ROOT=$PREFIX/current/site
CACHELENS_DB_SECRET=$CACHELENS_DB_SECRET
CACHELENS_DB_HOST=$CACHELENS_DB_HOST
CACHELENS_DB_PORT=${CACHELENS_DB_PORT:-3306}
CACHELENS_DB_NAME=${CACHELENS_DB_NAME:-covid}
CACHELENS_REDIS_HOST=$redis_host
CACHELENS_REDIS_TLS=${CACHELENS_REDIS_TLS:-true}
CACHELENS_REDIS_CLUSTER=$redis_cluster
${CACHELENS_REDIS_AUTH_SECRET:+CACHELENS_REDIS_AUTH_SECRET=$CACHELENS_REDIS_AUTH_SECRET}
CACHELENS_TTL=${CACHELENS_TTL:-60}
CACHELENS_SQL_READONLY_USER=${CACHELENS_SQL_READONLY_USER:-cachelens_reader}
CACHELENS_DB_APP_USER=${CACHELENS_DB_APP_USER:-cachelens_app}
${ca_file:+CACHELENS_DB_CA_FILE=$ca_file}
$access
${CACHELENS_ORIGIN_SECRET_SECRET:+CACHELENS_ORIGIN_SECRET_SECRET=$CACHELENS_ORIGIN_SECRET_SECRET}
RUST_LOG=info
ENV
umask 022

run_app() { (set -a; . "$ENV_FILE"; set +a; exec "$PREFIX/current/cachelens" "$@"); }

# 3. The sample data, once (load-data is a no-op when the same file is already loaded).
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    run_app load-data --csv "$PREFIX/current/sample-data/articles.csv" && break
    echo "load-data failed (attempt $attempt); MySQL may still be starting, retrying in 15 s"
    sleep "${CACHELENS_RETRY_SECONDS:-15}"
done

# 4. The service.
if [ -n "$SANDBOX" ]; then
    # Not through run_app: a backgrounded function is a shell of its own, and its pid would not be the server's.
    (set -a; . "$ENV_FILE"; set +a; exec "$PREFIX/current/cachelens" serve) >"$SANDBOX/var/log/cachelens.log" 2>&1 &
    echo $! > "$SANDBOX/cachelens.pid"
    echo "cachelens started in the sandbox (pid $(cat "$SANDBOX/cachelens.pid"))"
    exit 0
fi
id cachelens >/dev/null 2>&1 || useradd --system --home-dir "$PREFIX" --shell /sbin/nologin cachelens
chgrp cachelens "$ENV_FILE"
cat > "$UNIT_FILE" <<UNIT
[Unit]
Description=cachelens dashboard
Wants=network-online.target
After=network-online.target

[Service]
User=cachelens
Group=cachelens
EnvironmentFile=$ENV_FILE
WorkingDirectory=$PREFIX/current
ExecStart=$PREFIX/current/cachelens serve
Restart=on-failure
RestartSec=3
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
AmbientCapabilities=

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable cachelens
systemctl restart cachelens
echo "cachelens is running on port ${CACHELENS_PORT:-8008}"

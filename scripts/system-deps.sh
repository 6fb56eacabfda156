#!/usr/bin/env bash
# Installs the system programs the tests start (redis-server, PostgreSQL's initdb/pg_ctl, a Java 17 runtime
# and the Jersey 1 jars WebHDFS needs) when they are missing. Needs root (or sudo) for apt-get; otherwise says what to install.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
# the PostgreSQL plugin's tests run initdb + pg_ctl (Debian keeps them in /usr/lib/postgresql/N/bin)
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  missing+=(postgresql)
fi
for pkg in libjersey1-core-java libjersey1-server-java libjersey1-servlet-java libjsr311-api-java; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "system-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  apt_get=(apt-get)
elif command -v sudo >/dev/null 2>&1; then
  apt_get=(sudo apt-get)
else
  echo "system-deps: please install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${apt_get[@]}" update -qq
"${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

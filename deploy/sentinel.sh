#!/bin/sh
# A Redis Sentinel of the compose profile "ha" (docker-compose.yml): with the two others (quorum 2) it watches the
# primary `redis` as $REDIS_SENTINEL_MASTER and promotes `redis-replica` once the primary has not answered for
# $REDIS_DOWN_AFTER_MS. It takes Redis's password and gives it to Redis and to the other sentinels. A sentinel
# rewrites its file as it learns (who is primary now), so the file is written only when the container is new.
set -eu
conf=/tmp/sentinel.conf
if [ ! -f "$conf" ]; then
    cat > "$conf" <<END
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
requirepass $REDIS_PASSWORD
sentinel sentinel-pass $REDIS_PASSWORD
sentinel monitor $REDIS_SENTINEL_MASTER redis 6379 2
sentinel auth-pass $REDIS_SENTINEL_MASTER $REDIS_PASSWORD
sentinel down-after-milliseconds $REDIS_SENTINEL_MASTER $REDIS_DOWN_AFTER_MS
sentinel failover-timeout $REDIS_SENTINEL_MASTER 60000
END
fi
exec redis-server "$conf" --sentinel

#!/bin/sh
# One-shot setup of the docker-compose stack, run by the `setup` service
# (curlimages/curl) once every other service is healthy:
#   1. creates the S3 bucket $S3_BUCKET (an S3 CreateBucket call signed with
#      SigV4 by curl; "already exists" is fine, so reruns are harmless);
#   2. POSTs every connector JSON file of /connectors to the worker group,
#      retrying while the group settles (409 during a rebalance, 5xx). The
#      same config again answers 200 (create is idempotent); another config
#      under a taken name answers 409 "already exists", which is reported and
#      left alone.
set -eu

WORKER_URL=${WORKER_URL:-http://worker-1:8083}
S3_URL=${S3_URL:-http://s3:7070}
S3_BUCKET=${S3_BUCKET:-penstock}
S3_REGION=${S3_REGION:-us-east-1}
# SHA-256 of the empty body, as SigV4 wants it for S3.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

code=$(curl -sS -o /tmp/bucket.out -w '%{http_code}' -X PUT \
  --aws-sigv4 "aws:amz:${S3_REGION}:s3" --user "${S3_ACCESS_KEY}:${S3_SECRET_KEY}" \
  -H "x-amz-content-sha256: ${EMPTY_SHA256}" "${S3_URL}/${S3_BUCKET}")
case "$code" in
  200) echo "setup: bucket ${S3_BUCKET} created" ;;
  409) echo "setup: bucket ${S3_BUCKET} exists" ;;
  *) echo "setup: creating bucket ${S3_BUCKET} failed with HTTP ${code}:" >&2; cat /tmp/bucket.out >&2; exit 1 ;;
esac

for f in /connectors/*.json; do
  name=$(basename "$f")
  attempt=1
  while :; do
    code=$(curl -sS -o /tmp/connector.out -w '%{http_code}' -X POST \
      -H 'Content-Type: application/json' --data-binary "@${f}" "${WORKER_URL}/connectors" || echo 000)
    case "$code" in
      200|201) echo "setup: connector of ${name} created"; break ;;
      409) if grep -q 'already exists' /tmp/connector.out; then
             echo "setup: connector of ${name} already exists with another config: $(cat /tmp/connector.out)"; break
           fi ;;
      4*) echo "setup: the connector of ${name} was refused (HTTP ${code}):" >&2; cat /tmp/connector.out >&2; echo >&2; exit 1 ;;
    esac
    # 409 while the group rebalances, 5xx or no answer: the group is still
    # settling; try again.
    if [ "$attempt" -ge 30 ]; then
      echo "setup: creating the connector of ${name} failed (HTTP ${code}):" >&2; cat /tmp/connector.out >&2; echo >&2; exit 1
    fi
    echo "setup: ${name}: HTTP ${code}, retrying in 2 s"
    attempt=$((attempt + 1))
    sleep 2
  done
done
echo "setup: done; status: curl -s localhost:8083/connectors?expand=status"

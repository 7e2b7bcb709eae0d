#!/bin/sh
# One-shot setup of the docker-compose stack, run by the `setup` service
# (curlimages/curl) once every other service is healthy: creates the S3
# bucket $S3_BUCKET (an S3 CreateBucket call signed with SigV4 by curl;
# "already exists" is fine, so reruns are harmless). The connectors are not
# created here: the workers apply examples/postgres-to-elasticsearch/connectors
# themselves (penstock worker --connectors).
set -eu

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

echo "setup: done; the workers apply the connector files themselves (penstock worker --connectors)"

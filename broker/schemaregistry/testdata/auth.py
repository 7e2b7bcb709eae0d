"""Schema Registry authentication, driven by confluent-kafka-python's SchemaRegistryClient.

Usage: auth.py URL CA_FILE ADMIN:PASSWORD VIEWER:PASSWORD. The registry serves HTTPS
(its certificate signed by CA_FILE) and requires basic credentials. Prints one line per
check and exits non-zero on the first failure.
"""
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

URL, CA, ADMIN, VIEWER = sys.argv[1:5]


def client(user_info):
    return SchemaRegistryClient({"url": URL, "ssl.ca.location": CA, "basic.auth.user.info": user_info})


def check(cond, what):
    if not cond:
        print("FAIL", what)
        sys.exit(1)
    print("ok  ", what)


def expect_error(status, code, fn, what):
    try:
        fn()
    except SchemaRegistryError as e:
        check(e.http_status_code == status and e.error_code == code,
              "%s: %d/%d (got %d/%d %s)" % (what, status, code, e.http_status_code, e.error_code, e.error_message))
        return
    check(False, "%s: expected %d, got success" % (what, status))


schema = Schema(json.dumps({"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}]}), "AVRO")
admin, viewer = client(ADMIN), client(VIEWER)
sid = admin.register_schema("auth-py-value", schema)
check(sid > 0, "admin registers over HTTPS with basic auth")
check(viewer.get_schema(sid).schema_type == "AVRO", "read-only user reads the schema by id")
check(viewer.lookup_schema("auth-py-value", schema).schema_id == sid, "read-only user looks the schema up")
other = Schema(json.dumps({"type": "record", "name": "o", "fields": [{"name": "b", "type": "string"}]}), "AVRO")
expect_error(403, 40301, lambda: viewer.register_schema("auth-py-other", other), "read-only user may not register")
wrong = client(ADMIN.split(":")[0] + ":wrong")
expect_error(401, 401, lambda: wrong.get_subjects(), "wrong password is refused")

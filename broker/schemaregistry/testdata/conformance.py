"""Schema Registry conformance, driven by confluent-kafka-python's SchemaRegistryClient.

Usage: conformance.py URL. Prints one line per check and exits non-zero on the
first failure. Compatibility cases follow Confluent's documentation ("Schema
evolution and compatibility"): which changes each level allows.
"""
import json
import sys
import uuid

from confluent_kafka.schema_registry import (Schema, SchemaReference,
                                             SchemaRegistryClient)
from confluent_kafka.schema_registry.error import SchemaRegistryError

URL = sys.argv[1]
client = SchemaRegistryClient({"url": URL})


def check(cond, what):
    if not cond:
        print("FAIL", what)
        sys.exit(1)
    print("ok  ", what)


def expect_error(code, fn, what):
    try:
        fn()
    except SchemaRegistryError as e:
        check(e.error_code == code, "%s: error %d (got %d %s)" % (what, code, e.error_code, e.error_message))
        return
    check(False, "%s: expected error %d, got success" % (what, code))


def subject(name):
    return "%s-%s" % (name, uuid.uuid4().hex[:8])


def avro(fields, name="r"):
    return Schema(json.dumps({"type": "record", "name": name, "fields": fields}), "AVRO")


A = {"name": "a", "type": "int"}
B_OPT = {"name": "b", "type": "string", "default": "x"}
B_REQ = {"name": "b", "type": "string"}
C_OPT = {"name": "c", "type": "int", "default": 0}
C_REQ = {"name": "c", "type": "int"}

# --- register, look up, list -------------------------------------------------------------------
s = subject("basic")
v1 = avro([A])
id1 = client.register_schema(s, v1)
check(id1 > 0, "register returns an id")
check(client.register_schema(s, avro([A])) == id1, "registering the same schema again returns its id")
got = client.get_schema(id1)
check(json.loads(got.schema_str) == json.loads(v1.schema_str) and got.schema_type == "AVRO", "get schema by id")
reg = client.lookup_schema(s, v1)
check(reg.schema_id == id1 and reg.version == 1 and reg.subject == s, "look up a schema in a subject")
expect_error(40403, lambda: client.lookup_schema(s, avro([A, B_OPT])), "look up an unknown schema")
expect_error(40401, lambda: client.lookup_schema(subject("none"), v1), "look up in an unknown subject")
id2 = client.register_schema(s, avro([A, B_OPT]))
check(id2 != id1, "a new version gets a new id")
check(client.get_versions(s) == [1, 2], "list versions")
check(s in client.get_subjects(), "list subjects")
latest = client.get_latest_version(s)
check(latest.version == 2 and latest.schema_id == id2, "latest version")
check(client.get_version(s, 1).schema_id == id1, "version by number")
expect_error(40402, lambda: client.get_version(s, 7), "unknown version")
expect_error(40403, lambda: client.get_schema(999999), "unknown id")
expect_error(42201, lambda: client.register_schema(subject("bad"), Schema('{"type":"record"', "AVRO")), "invalid schema")
expect_error(42201, lambda: client.register_schema(subject("bad"), Schema('{"type":"nope"}', "AVRO")), "unknown Avro type")
s_other = subject("shared")
check(client.register_schema(s_other, avro([A])) == id1, "the same schema in another subject shares its id")

# --- compatibility configuration ---------------------------------------------------------------
check(client.get_compatibility() in ("BACKWARD",), "global compatibility defaults to BACKWARD")
client.set_compatibility(subject_name=s, level="FULL")
check(client.get_compatibility(s) == "FULL", "set and get a subject's compatibility")
expect_error(42203, lambda: client.set_compatibility(subject_name=s, level="SIDEWAYS"), "invalid compatibility level")

# --- each level accepts and rejects the changes Confluent's documentation lists ---------------
BASE = [A, B_OPT]
CHANGES = {
    "add required field": [A, B_OPT, C_REQ],
    "add optional field": [A, B_OPT, C_OPT],
    "delete required field": [B_OPT],
    "delete optional field": [A],
}
ALLOWED = {
    "NONE": set(CHANGES),
    "BACKWARD": {"add optional field", "delete required field", "delete optional field"},
    "FORWARD": {"add required field", "add optional field", "delete optional field"},
    "FULL": {"add optional field", "delete optional field"},
}
for level, allowed in ALLOWED.items():
    for change, fields in CHANGES.items():
        for transitive in ("", "_TRANSITIVE") if level != "NONE" else ("",):
            sub = subject("compat")
            client.set_compatibility(subject_name=sub, level=level + transitive)
            client.register_schema(sub, avro(BASE))
            new = avro(fields)
            want = change in allowed
            check(client.test_compatibility(sub, new) == want,
                  "%s%s: %s is %s" % (level, transitive, change, "compatible" if want else "incompatible"))
            if want:
                check(client.register_schema(sub, new) > 0, "%s%s: %s registers" % (level, transitive, change))
            else:
                expect_error(409, lambda: client.register_schema(sub, new), "%s%s: %s is refused" % (level, transitive, change))

# Transitive levels check every earlier version, the plain ones only the latest.
TRANSITIVE = {
    "BACKWARD": [[A], [A, B_OPT], [A, B_REQ]],
    "FORWARD": [[A, B_REQ], [A, B_OPT], [A]],
    "FULL": [[A], [A, B_OPT], [A, B_REQ]],
}
for level, versions in TRANSITIVE.items():
    for transitive in ("", "_TRANSITIVE"):
        sub = subject("transitive")
        client.set_compatibility(subject_name=sub, level="NONE")
        for fields in versions[:2]:
            client.register_schema(sub, avro(fields))
        client.set_compatibility(subject_name=sub, level=level + transitive)
        last = avro(versions[2])
        if transitive:
            expect_error(409, lambda: client.register_schema(sub, last), "%s_TRANSITIVE checks the first version too" % level)
        else:
            check(client.register_schema(sub, last) > 0, "%s checks the latest version only" % level)

# JSON Schema: open and closed content models.
def js(props, required=(), closed=False):
    d = {"type": "object", "properties": props}
    if required:
        d["required"] = list(required)
    if closed:
        d["additionalProperties"] = False
    return Schema(json.dumps(d), "JSON")

JSON_CASES = [
    ("add a property to an open content model", js({"a": {"type": "integer"}}), js({"a": {"type": "integer"}, "b": {"type": "string"}}), False),
    ("add a property to a closed content model", js({"a": {"type": "integer"}}, closed=True), js({"a": {"type": "integer"}, "b": {"type": "string"}}, closed=True), True),
    ("remove a property from an open content model", js({"a": {"type": "integer"}, "b": {"type": "string"}}), js({"a": {"type": "integer"}}), True),
    ("remove a property from a closed content model", js({"a": {"type": "integer"}, "b": {"type": "string"}}, closed=True), js({"a": {"type": "integer"}}, closed=True), False),
    ("make a property required", js({"a": {"type": "integer"}}), js({"a": {"type": "integer"}}, required=["a"]), False),
    ("widen integer to number", js({"a": {"type": "integer"}}), js({"a": {"type": "number"}}), True),
    ("narrow number to integer", js({"a": {"type": "number"}}), js({"a": {"type": "integer"}}), False),
]
for what, old, new, want in JSON_CASES:
    sub = subject("json")
    client.register_schema(sub, old)
    check(client.test_compatibility(sub, new) == want, "JSON BACKWARD: %s is %s" % (what, "compatible" if want else "incompatible"))
expect_error(42201, lambda: client.register_schema(subject("json"), Schema('{"type": 12}', "JSON")), "invalid JSON Schema")

# Protobuf is stored and served.
sub = subject("proto")
proto = 'syntax = "proto3";\nmessage M { int32 a = 1; }'
pid = client.register_schema(sub, Schema(proto, "PROTOBUF"))
check(client.get_schema(pid).schema_type == "PROTOBUF", "Protobuf schema stored and served")

# --- references --------------------------------------------------------------------------------
base = subject("ref-base")
client.register_schema(base, Schema(json.dumps({"type": "record", "name": "Inner", "namespace": "n", "fields": [A]}), "AVRO"))
outer = subject("ref-outer")
oid = client.register_schema(outer, Schema(json.dumps({"type": "record", "name": "Outer", "namespace": "n", "fields": [{"name": "i", "type": "n.Inner"}]}), "AVRO", [SchemaReference("n.Inner", base, 1)]))
got = client.get_schema(oid)
check(len(got.references) == 1 and got.references[0].subject == base, "a schema's references are served")
expect_error(42206, lambda: client.delete_version(base, 1), "a referenced version cannot be deleted")

# --- deletes -----------------------------------------------------------------------------------
d = subject("delete")
client.register_schema(d, avro([A]))
client.register_schema(d, avro([A, B_OPT]))
check(client.delete_version(d, 2) == 2, "soft-delete a version")
check(client.get_versions(d) == [1], "a soft-deleted version is not listed")
check(client.delete_subject(d) == [1], "soft-delete a subject")
check(d not in client.get_subjects(), "a soft-deleted subject is not listed")
expect_error(40401, lambda: client.get_versions(d), "versions of a deleted subject")
e = subject("hard")
client.register_schema(e, avro([A]))
check(client.delete_subject(e, permanent=True) == [1], "hard-delete a subject")
client.set_compatibility(level="BACKWARD")
print("all checks passed")

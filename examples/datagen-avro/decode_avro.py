#!/usr/bin/python3
"""Decode Confluent-framed Avro records with Debian's python3-avro.

Reads one record per line on stdin, hex-encoded (magic byte 0, 4-byte schema id,
Avro datum), fetches each schema from the registry at REGISTRY_URL by id and
prints each record as one JSON line as JsonConverter (schemas.enable=false,
decimal.format=NUMERIC) would: timestamps as epoch milliseconds, bytes as base64,
decimals as numbers. Usage: decode_avro.py REGISTRY_URL < records.hex
"""
import base64
import datetime
import decimal
import io
import json
import struct
import sys
import urllib.request

import avro.io
import avro.schema

url = sys.argv[1].rstrip("/")
schemas = {}


def schema(schema_id):
    if schema_id not in schemas:
        with urllib.request.urlopen("%s/schemas/ids/%d" % (url, schema_id)) as r:
            schemas[schema_id] = avro.schema.parse(json.load(r)["schema"])
    return schemas[schema_id]


def plain(v):
    if isinstance(v, datetime.datetime):
        return int(v.timestamp() * 1000)
    if isinstance(v, datetime.date):
        return (v - datetime.date(1970, 1, 1)).days
    if isinstance(v, datetime.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    raise TypeError(type(v))


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    data = bytes.fromhex(line)
    if data[0] != 0:
        sys.exit("not the Schema Registry wire format")
    (schema_id,) = struct.unpack(">I", data[1:5])
    reader = avro.io.DatumReader(schema(schema_id))
    print(json.dumps(reader.read(avro.io.BinaryDecoder(io.BytesIO(data[5:]))), default=plain, sort_keys=True))

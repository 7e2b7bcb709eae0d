package mysql

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	names "github.com/penstockhq/penstock/internal/debeziumnames"
)

// Every mapped type arrives the same through the snapshot (text protocol)
// and the stream (binlog rows), as Debezium maps it.
func TestTypesRoundTrip(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, `CREATE TABLE types (id INT PRIMARY KEY,
	  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
	  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED, dec1 DECIMAL(10,3), f FLOAT, d DOUBLE,
	  b1 BIT(1), b10 BIT(10), bo BOOLEAN, c CHAR(3), vc VARCHAR(10), l1 VARCHAR(10) CHARACTER SET latin1, txt TEXT,
	  bin BINARY(3), vb VARBINARY(5), bl BLOB, dt DATE, tm TIME, tm3 TIME(3), dtm DATETIME, dtm3 DATETIME(3),
	  dtm6 DATETIME(6), ts TIMESTAMP NULL, ts3 TIMESTAMP(3) NULL, y YEAR, en ENUM('sad','ok','happy'),
	  st SET('a','b','c'), j JSON, g GEOMETRY, zd DATE, nn INT)`)
	insert := func(id int) {
		e.exec(t, fmt.Sprintf(`SET time_zone = '+02:00', sql_mode = ''; INSERT INTO types VALUES (%d,
		  -5, 250, -300, 65000, -8000000, 16000000, -2000000000, 4000000000, -9000000000000000000, 18000000000000000000,
		  1234.567, 1.5, -2.25, b'1', b'1000000001', TRUE, 'ab', 'vé', 'café', 'hello',
		  'ab', x'00ff', 'xyz', '2024-02-29', '23:59:59', '-01:02:03.456', '2024-02-29 12:00:00', '2024-02-29 12:00:00.5',
		  '2024-02-29 12:00:00.123456', '2024-02-29 12:00:00', '2024-02-29 12:00:00.5', 2024, 'happy',
		  'a,c', '{"a":[1,2]}', ST_GeomFromText('POINT(1 2)'), '0000-00-00', NULL)`, id))
	}
	insert(1)
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySchemaChanges: "false"}))
	pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) >= 1 })
	insert(2)
	recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) >= 2 })
	wkb, _ := hex.DecodeString("0101000000000000000000f03f0000000000000040")
	want := map[string]any{
		"ti": int16(-5), "tiu": int16(250), "si": int16(-300), "siu": int32(65000), "mi": int32(-8000000),
		"miu": int32(16000000), "i": int32(-2000000000), "iu": int64(4000000000), "bi": int64(-9000000000000000000),
		"biu": int64(-446744073709551616), "dec1": "1234.567", "f": float32(1.5), "d": -2.25,
		"b1": true, "b10": []byte{0x01, 0x02}, "bo": int16(1), "c": "ab", "vc": "vé", "l1": "café", "txt": "hello",
		"bin": []byte("ab\x00"), "vb": []byte{0, 0xff}, "bl": []byte("xyz"), "dt": int32(19782),
		"tm": int64(86399000000), "tm3": int64(-3723456000), "dtm": int64(1709208000000), "dtm3": int64(1709208000500),
		"dtm6": int64(1709208000123456), "ts": "2024-02-29T10:00:00Z", "ts3": "2024-02-29T10:00:00.500Z",
		"y": int32(2024), "en": "happy", "st": "a,c", "j": `{"a":[1,2]}`, "g": "wkb=" + hex.EncodeToString(wkb) + " srid=0",
		"zd": nil, "nn": nil,
	}
	for i, r := range recs[:2] {
		wantOp := []string{"r", "c"}[i]
		if op := opOf(r); op != wantOp {
			t.Fatalf("record %d op %s, want %s", i, op, wantOp)
		}
		env := r.Value.(*connect.Struct)
		if err := env.Validate(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		after := env.Get("after").(*connect.Struct)
		for name, wv := range want {
			got := after.Get(name)
			switch g := got.(type) {
			case connect.Decimal:
				got = g.String()
			case *connect.Struct:
				got = fmt.Sprintf("wkb=%s srid=%v", hex.EncodeToString(g.Get("wkb").([]byte)), g.Get("srid"))
			}
			if gb, ok := got.([]byte); ok {
				if wb, _ := wv.([]byte); !bytes.Equal(gb, wb) {
					t.Errorf("record %d (%s) %s = %x, want %x", i, wantOp, name, gb, wb)
				}
				continue
			}
			if !reflect.DeepEqual(got, wv) {
				t.Errorf("record %d (%s) %s = %#v, want %#v", i, wantOp, name, got, wv)
			}
		}
	}
	sch := recs[0].ValueSchema.Fields[1].Schema
	names := map[string]string{"dt": names.Date, "tm": names.MicroTime, "dtm": names.Timestamp, "dtm6": names.MicroTimestamp,
		"ts": names.ZonedTimestamp, "y": names.Year, "en": names.Enum, "st": names.EnumSet, "b10": names.Bits, "g": nameGeometry,
		"dec1": connect.DecimalName}
	for f, n := range names {
		fs, _ := sch.Field(f)
		if fs.Schema.Name != n {
			t.Errorf("field %s schema name %q, want %q", f, fs.Schema.Name, n)
		}
	}
	if fs, _ := sch.Field("en"); fs.Schema.Parameters["allowed"] != "sad,ok,happy" {
		t.Errorf("enum allowed = %q", fs.Schema.Parameters["allowed"])
	}
}

// The arena's big.Ints equal big.NewInt's, and growing one leaves its
// neighbours alone.
func TestArenaBigInt(t *testing.T) {
	a := newStructArena()
	vals := []int64{0, 1, -1, 255, -256, 1 << 40, math.MaxInt64, math.MinInt64, 123456789}
	got := make([]*big.Int, len(vals))
	for i, v := range vals {
		got[i] = a.bigInt(v)
	}
	got[1].Lsh(got[1], 100) // needs more words than its one
	got[2].Add(got[2], big.NewInt(-1))
	want := []string{"0", "1267650600228229401496703205376", "-2", "255", "-256", "1099511627776",
		"9223372036854775807", "-9223372036854775808", "123456789"}
	for i, w := range want {
		if got[i].String() != w {
			t.Errorf("value %d: got %s, want %s", i, got[i], w)
		}
	}
}

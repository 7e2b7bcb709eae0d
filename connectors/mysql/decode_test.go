package mysql

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	gm "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/penstockhq/penstock/connect"
)

// capturedRows is a rows event as go-mysql decodes it, with the undecoded
// images beside.
type capturedRows struct {
	typ  replication.EventType
	e    *replication.RowsEvent
	data []byte
}

// captureRows reads the binlog of e's server from start until the events
// of the last statement, keeping the rows events both ways.
func captureRows(t *testing.T, e *myEnv, start gm.Position) []capturedRows {
	t.Helper()
	var end gm.Position
	if err := e.db.QueryRow("SHOW MASTER STATUS").Scan(&end.Name, &end.Pos, new(any), new(any)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // the decoder runs on go-mysql's goroutine
	raw := map[*replication.RowsEvent][]byte{}
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 4242, Flavor: gm.MariaDBFlavor, Host: e.srv.Host, Port: uint16(e.srv.Port), User: e.srv.User,
		ParseTime: true, TimestampStringLocation: time.UTC, DisableRetrySync: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RowsEventDecodeFunc: func(re *replication.RowsEvent, data []byte) error {
			pos, err := re.DecodeHeader(data)
			if err != nil {
				return err
			}
			mu.Lock()
			raw[re] = bytes.Clone(data[pos:])
			mu.Unlock()
			return re.DecodeData(pos, data)
		},
	})
	defer syncer.Close()
	bs, err := syncer.StartSync(start)
	if err != nil {
		t.Fatal(err)
	}
	var out []capturedRows
	file := start.Name
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		ev, err := bs.GetEvent(ctx)
		cancel()
		if err != nil {
			t.Fatalf("binlog: %v", err)
		}
		if r, ok := ev.Event.(*replication.RotateEvent); ok {
			file = string(r.NextLogName)
		}
		if re, ok := ev.Event.(*replication.RowsEvent); ok {
			mu.Lock()
			out = append(out, capturedRows{typ: ev.Header.EventType, e: re, data: raw[re]})
			mu.Unlock()
		}
		if file == end.Name && ev.Header.LogPos >= end.Pos {
			return out
		}
	}
}

// Row images read by decode.go equal what convert makes of go-mysql's
// decoding of the same binlog events, for every type, edge values, NULLs,
// MINIMAL images, compressed events and each handling mode.
func TestBinlogDecodeMatchesGoMySQL(t *testing.T) {
	e := startMariaDB(t)
	enum300 := make([]string, 300)
	for i := range enum300 {
		enum300[i] = fmt.Sprintf("'v%d'", i)
	}
	set20 := make([]string, 20)
	for i := range set20 {
		set20[i] = fmt.Sprintf("'s%d'", i)
	}
	e.exec(t, `SET SESSION sql_mode = ''`, `CREATE TABLE edge (id INT PRIMARY KEY,
	  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
	  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
	  d1 DECIMAL(10,3), d2 DECIMAL(65,30), d3 DECIMAL(5,0), d4 DECIMAL(18,9), d5 DECIMAL(20,2), d6 DECIMAL(3,3), d7 DECIMAL(19,1),
	  f FLOAT, db DOUBLE, b1 BIT(1), b10 BIT(10), b64 BIT(64), bo BOOLEAN,
	  c CHAR(3), c100 CHAR(100), vc VARCHAR(10), vc300 VARCHAR(300), l1 VARCHAR(10) CHARACTER SET latin1,
	  lc CHAR(5) CHARACTER SET latin1, tt TINYTEXT, txt TEXT, mtxt MEDIUMTEXT, ltxt LONGTEXT,
	  bin BINARY(3), vb VARBINARY(5), tbl TINYBLOB, bl BLOB, mbl MEDIUMBLOB,
	  dt DATE, tm TIME, tm1 TIME(1), tm2 TIME(2), tm3 TIME(3), tm4 TIME(4), tm5 TIME(5), tm6 TIME(6),
	  dtm DATETIME, dtm1 DATETIME(1), dtm2 DATETIME(2), dtm3 DATETIME(3), dtm4 DATETIME(4), dtm5 DATETIME(5), dtm6 DATETIME(6),
	  ts TIMESTAMP NULL, ts1 TIMESTAMP(1) NULL, ts3 TIMESTAMP(3) NULL, ts6 TIMESTAMP(6) NULL,
	  tsn TIMESTAMP NOT NULL DEFAULT 0, dnn DATETIME NOT NULL DEFAULT 0, dtnn DATE NOT NULL DEFAULT 0,
	  y YEAR, en ENUM('sad','ok','happy'), en300 ENUM(`+strings.Join(enum300, ",")+`),
	  st SET('a','b','c'), st20 SET(`+strings.Join(set20, ",")+`), j JSON, g GEOMETRY, pt POINT)`)
	var start gm.Position
	if err := e.db.QueryRow("SHOW MASTER STATUS").Scan(&start.Name, &start.Pos, new(any), new(any)); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 290)
	rows := []string{
		`(1, -5, 250, -300, 65000, -8000000, 16000000, -2000000000, 4000000000, -9000000000000000000, 18000000000000000000,
		  1234.567, -12345678901234567890.123456789012345678901234567890, 99999, -123456789.123456789, 123456789012345678.91, -0.5, -123456789012345678.9,
		  1.5, -2.25, b'1', b'1000000001', b'1111111111111111111111111111111111111111111111111111111111111111', TRUE,
		  'ab', 'x', 'vé', '` + long + `', 'café', 'crème', 'tiny', 'hello', 'medium', 'long',
		  'ab', x'00ff', 'tb', 'xyz', 'mb',
		  '2024-02-29', '23:59:59', '-00:00:00.1', '-01:02:03.45', '-01:02:03.456', '838:59:58.9999', '-838:59:58.99999', '-00:00:01.000001',
		  '2024-02-29 12:00:00', '1969-12-31 23:59:59.9', '1900-01-01 00:00:00.01', '2024-02-29 12:00:00.5', '0001-01-01 00:00:00.1234',
		  '9999-12-31 23:59:59.99999', '1970-01-01 00:00:00.000001',
		  '2024-02-29 12:00:00', '1970-01-01 00:00:01.5', '2038-01-19 03:14:07.999', '2001-02-03 04:05:06.000007',
		  '2024-02-29 12:00:00', '2024-02-29 12:00:00', '2024-02-29',
		  2024, 'happy', 'v299', 'a,c', 's0,s19', '{"a":[1,2]}', ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('POINT(-1.5 3)'))`,
		`(2, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
		  -0.001, 0, -99999, 0.000000001, -0.01, 0.999, 0,
		  -1e30, 1e-300, b'0', b'0', b'0', FALSE,
		  '', '', '', '', '', '', '', '', '', '',
		  '', '', '', '', '',
		  '0000-00-00', '-838:59:59', '00:00:00', '00:00:00.01', '-00:00:00.001', '00:00:00', '00:00:00', '-00:00:00.000001',
		  '0000-00-00 00:00:00', '0000-00-00 00:00:00', '2000-00-00 00:00:00', '1000-01-01 00:00:00', '2000-01-00 00:00:00',
		  '1969-12-31 23:59:59.99999', '1600-02-29 23:59:59.999999',
		  '0000-00-00 00:00:00', '0000-00-00 00:00:00', '1970-01-01 00:00:01', '1970-01-01 00:00:00.000001',
		  0, '0000-00-00 00:00:00', '0000-00-00',
		  0, '', '', '', '', 'null', ST_GeomFromText('LINESTRING(0 0, 1 1)'), NULL)`,
		`(3, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
		  9999999.999, 99999999999999999999999999999999999.999999999999999999999999999999, 1, 999999999.999999999, 999999999999999999.99, 0.001, 999999999999999999.9,
		  3.4e38, -1.7976931348623157e308, b'1', b'1111111111', b'1', TRUE,
		  'abc', 'y', '0123456789', 'z', 'ÿ', 'Ææ', 't', 't', 't', 't',
		  'abc', x'0000000000', x'00', x'0000', x'01',
		  '9999-12-31', '838:59:59', '838:59:59.9', '838:59:59.99', '838:59:59.999', '838:59:59.9999', '838:59:59.99999', '838:59:59.999999',
		  '9999-12-31 23:59:59', '9999-12-31 23:59:59.9', '9999-12-31 23:59:59.99', '9999-12-31 23:59:59.999', '9999-12-31 23:59:59.9999',
		  '9999-12-31 23:59:59.99999', '9999-12-31 23:59:59.999999',
		  '1970-01-01 00:00:01', '2038-01-19 03:14:07.9', '1999-12-31 23:59:59.999', '2038-01-19 03:14:07.999999',
		  '2038-01-19 03:14:07', '9999-12-31 23:59:59', '9999-12-31',
		  1901, 'sad', 'v0', 'a,b,c', 's1,s2,s3,s4,s5,s6,s7,s8,s9,s10,s11,s12,s13,s14,s15,s16,s17,s18', '[]', ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), ST_GeomFromText('POINT(0 0)'))`,
		`(4, ` + strings.Repeat("NULL, ", 57) + `'2000-01-01 00:00:00', '2000-01-01 00:00:00', '2000-01-01'` + strings.Repeat(", NULL", 8) + `)`,
	}
	for _, r := range rows {
		e.exec(t, `SET SESSION sql_mode = ''; SET time_zone = '+02:00'; INSERT INTO edge VALUES `+r)
	}
	e.exec(t, `SET SESSION sql_mode = ''; UPDATE edge SET i = i DIV 2, vc = 'changed', dtm6 = NOW(6) WHERE id IN (1, 3)`,
		`UPDATE edge SET ti = 1, d1 = 0.5, tm3 = '-00:00:01.5' WHERE id IN (2, 4)`,
		`SET SESSION binlog_row_image = 'MINIMAL'; UPDATE edge SET d2 = -1.5, en = 'ok', c = 'zz' WHERE id = 1`,
		`SET SESSION binlog_row_image = 'NOBLOB'; UPDATE edge SET l1 = 'noblob' WHERE id = 3`,
		`SET GLOBAL log_bin_compress = ON, GLOBAL log_bin_compress_min_len = 10`,
		`SET SESSION sql_mode = ''; INSERT INTO edge (id, vc, d1, dtm3, tm6, txt) VALUES (5, 'compressed', -7.125, '2020-05-05 05:05:05.555', '-12:00:00.5', REPEAT('x', 300))`,
		`UPDATE edge SET vc = 'compr-upd', txt = REPEAT('y', 400) WHERE id IN (1, 5)`,
		`DELETE FROM edge WHERE id = 2`,
		`SET GLOBAL log_bin_compress = OFF`,
		`DELETE FROM edge WHERE id IN (3, 4)`)
	events := captureRows(t, e, start)

	variants := []map[string]string{
		{},
		{KeyDecimalMode: "string", KeyTimePrecision: "connect", KeyBinaryMode: "base64"},
		{KeyDecimalMode: "double", KeyTimePrecision: "adaptive", KeyBinaryMode: "hex"},
		{KeyColumnExclude: `app\.edge\.(ti|d2|vc300|tm3|dtm6|en|j|g)`, KeyMessageKeyCols: "app.edge:vc,id"},
		{KeyBigintMode: "precise"}, // BIGINT UNSIGNED as Decimal: go-mysql reads the rows
	}
	kinds := map[replication.EventType]bool{}
	for vi, props := range variants {
		props[KeyTopicPrefix], props[KeyHostname], props[KeyUser] = "srv", "127.0.0.1", "root"
		s, err := parseSettings(props)
		if err != nil {
			t.Fatal(err)
		}
		for ei, c := range events {
			kinds[c.typ] = true
			defs, pk, ok := defsFromTableMap(c.e.Table)
			if !ok {
				t.Fatal("no column names in the table map")
			}
			tbl, err := s.buildTable("app", "edge", defs, pk)
			if err != nil {
				t.Fatal(err)
			}
			var want []rowValues
			for _, row := range c.e.Rows {
				r, err := tbl.decodeRow(row, true, newStructArena())
				if err != nil {
					t.Fatalf("variant %d event %d: go-mysql's row: %v", vi, ei, err)
				}
				want = append(want, r)
			}
			plan := tbl.planFor(c.e.Table)
			if plan.ok != (vi != 4) {
				t.Fatalf("variant %d: plan ok %v", vi, plan.ok)
			}
			if !plan.ok {
				continue
			}
			data := c.data
			if c.typ >= replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1 && c.typ <= replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1 {
				if data, err = gm.DecompressMariadbData(data); err != nil {
					t.Fatal(err)
				}
			}
			got, err := plan.rows(tbl, c.e, data, c.e.ColumnBitmap2 != nil, newStructArena(), nil)
			if err != nil {
				t.Fatalf("variant %d event %d (%s): %v", vi, ei, c.typ, err)
			}
			if len(got) != len(want) {
				t.Fatalf("variant %d event %d: %d images, go-mysql %d", vi, ei, len(got), len(want))
			}
			for i := range got {
				where := fmt.Sprintf("variant %d event %d (%s) image %d", vi, ei, c.typ, i)
				sameStruct(t, where+" value", got[i].val, want[i].val)
				sameStruct(t, where+" key", got[i].key, want[i].key)
			}
		}
	}
	for _, k := range []replication.EventType{replication.WRITE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv1,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1} {
		if !kinds[k] {
			t.Errorf("no %s event was compared", k)
		}
	}
}

// sameStruct fails unless got and want hold equal values of the same Go
// types, field by field.
func sameStruct(t *testing.T, where string, got, want *connect.Struct) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Fatalf("%s: struct %v, go-mysql's %v", where, got, want)
	}
	if got == nil {
		return
	}
	if got.Schema() != want.Schema() {
		t.Fatalf("%s: another schema", where)
	}
	for i, f := range got.Schema().Fields {
		g, w := got.GetAt(i), want.GetAt(i)
		if reflect.TypeOf(g) != reflect.TypeOf(w) {
			t.Errorf("%s field %s: %T %v, go-mysql's %T %v", where, f.Name, g, g, w, w)
			continue
		}
		switch wv := w.(type) {
		case connect.Decimal:
			if gv := g.(connect.Decimal); gv.Scale != wv.Scale || gv.Unscaled.Cmp(wv.Unscaled) != 0 {
				t.Errorf("%s field %s: %v, go-mysql's %v", where, f.Name, gv, wv)
			}
		case *connect.Struct:
			sameStruct(t, where+" "+f.Name, g.(*connect.Struct), wv)
		default:
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s field %s: %#v, go-mysql's %#v", where, f.Name, g, w)
			}
		}
	}
}

// Compressed rows events (MariaDB's log_bin_compress) stream as the others.
func TestStreamCompressedRows(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE z (id INT PRIMARY KEY, note TEXT, d DECIMAL(8,2))", "INSERT INTO z VALUES (0, 'snapshot', 0)")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySchemaChanges: "false"}))
	pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) >= 1 }) // past the snapshot's position
	e.exec(t, "SET GLOBAL log_bin_compress = ON, GLOBAL log_bin_compress_min_len = 10")
	defer e.exec(t, "SET GLOBAL log_bin_compress = OFF")
	e.exec(t, "INSERT INTO z VALUES (1, REPEAT('a', 200), 1.25), (2, REPEAT('b', 300), -2.5)",
		"UPDATE z SET note = 'short', d = d * 2 WHERE id = 2", "DELETE FROM z WHERE id = 1")
	recs := pollUntil(t, task, w, 15*time.Second, func(r []*connect.Record) bool { return len(topicRecords(r, "srv.app.z")) >= 6 })
	z := topicRecords(recs, "srv.app.z")[1:]
	got := []string{}
	for _, r := range z {
		s := opOf(r)
		if s == "c" || s == "u" {
			s += fmt.Sprintf(" %v %v", len(field(r, "after", "note").(string)), field(r, "after", "d").(connect.Decimal))
		}
		got = append(got, s)
	}
	want := []string{"c 200 1.25", "c 300 -2.50", "u 5 -5.00", "d", "tombstone"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records %q, want %q", got, want)
	}
}

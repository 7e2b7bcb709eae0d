package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	gm "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// historyRecord is one record of the schema history topic, in the shape of
// Debezium's (io.debezium.relational.history.HistoryRecord): the source
// partition, the offset the statement was read at, the statement and the
// definitions of the tables it changed after the change.
type historyRecord struct {
	Source       map[string]any  `json:"source"`
	Position     historyPosition `json:"position"`
	TsMs         int64           `json:"ts_ms"`
	DatabaseName string          `json:"databaseName"`
	DDL          string          `json:"ddl"`
	TableChanges []historyChange `json:"tableChanges"`
	// corrupt: the topic's record did not parse.
	corrupt bool
}

// historyPosition is the binlog position after the statement. A baseline
// (the captured tables as information_schema described them, one record
// per table) has Snapshot set, a Baseline id shared by its records and,
// on each, BaselineRecords: how many they are, so that a replay accepts it
// only when it read all of them (a start that stopped while writing it
// leaves fewer). Baselines written by earlier versions, one record per
// database, have no BaselineRecords and are accepted record by record.
type historyPosition struct {
	File     string `json:"file"`
	Pos      int64  `json:"pos"`
	GTIDs    string `json:"gtids,omitempty"`
	TsSec    int64  `json:"ts_sec"`
	ServerID int64  `json:"server_id"`
	Snapshot bool   `json:"snapshot,omitempty"`
	Baseline string `json:"penstock_baseline,omitempty"`
	// BaselineRecords is the number of records of the baseline.
	BaselineRecords int `json:"penstock_baseline_records,omitempty"`
}

type historyChange struct {
	Type  string        `json:"type"`
	ID    string        `json:"id"`
	Table *historyTable `json:"table"`
}

type historyTable struct {
	DefaultCharsetName    *string         `json:"defaultCharsetName"`
	PrimaryKeyColumnNames []string        `json:"primaryKeyColumnNames"`
	Columns               []historyColumn `json:"columns"`
}

// historyColumn is Debezium's column description. length carries CHAR and
// BINARY lengths, DECIMAL precision, BIT width and the fractional seconds
// of temporal types, as Debezium's does.
type historyColumn struct {
	Name            string   `json:"name"`
	JdbcType        int      `json:"jdbcType"`
	TypeName        string   `json:"typeName"`
	TypeExpression  string   `json:"typeExpression"`
	CharsetName     *string  `json:"charsetName"`
	Length          *int     `json:"length,omitempty"`
	Scale           *int     `json:"scale,omitempty"`
	Position        int      `json:"position"`
	Optional        bool     `json:"optional"`
	AutoIncremented bool     `json:"autoIncremented"`
	Generated       bool     `json:"generated"`
	EnumValues      []string `json:"enumValues,omitempty"`
}

// tableID is Debezium's quoted table id, "db"."table".
func tableID(db, name string) string { return `"` + db + `"."` + name + `"` }

func parseTableID(id string) (db, name string, ok bool) {
	db, name, ok = strings.Cut(id, `"."`)
	if !ok || len(db) < 1 || len(name) < 1 {
		return "", "", false
	}
	return db[1:], name[:len(name)-1], true
}

// jdbcTypes are java.sql.Types codes of the column types, for readers that
// expect Debezium's jdbcType.
var jdbcTypes = map[string]int{"bit": -7, "tinyint": -6, "smallint": 5, "mediumint": 4, "int": 4, "integer": 4, "bigint": -5,
	"float": 7, "double": 8, "real": 8, "decimal": 3, "numeric": 3, "char": 1, "varchar": 12, "tinytext": 12, "text": 12,
	"mediumtext": 12, "longtext": 12, "binary": -2, "varbinary": -3, "tinyblob": -3, "blob": 2004, "mediumblob": 2004,
	"longblob": 2004, "date": 91, "time": 92, "datetime": 93, "timestamp": 2014, "year": 4, "enum": 1, "set": 1,
	"json": 12, "geometry": 1111, "bool": 16, "boolean": 16}

func historyTableOf(d *tableDef) *historyTable {
	ht := &historyTable{PrimaryKeyColumnNames: append([]string{}, d.pk...)}
	for i, c := range d.cols {
		hc := historyColumn{Name: c.name, JdbcType: jdbcTypes[c.dataType], TypeName: strings.ToUpper(c.dataType),
			TypeExpression: strings.ToUpper(c.dataType), Position: i + 1, Optional: c.nullable, EnumValues: c.values}
		if c.unsigned {
			hc.TypeName += " UNSIGNED"
			hc.TypeExpression = hc.TypeName
		}
		if c.charset != "" && !c.binary {
			cs := c.charset
			hc.CharsetName = &cs
		}
		var n int
		switch c.dataType {
		case "decimal", "numeric", "bit":
			n = c.precision
		case "time", "datetime", "timestamp":
			n = c.fsp
		case "char", "binary":
			n = c.length
		}
		if n > 0 || c.dataType == "time" || c.dataType == "datetime" || c.dataType == "timestamp" {
			hc.Length = &n
		}
		if c.dataType == "decimal" || c.dataType == "numeric" {
			sc := c.scale
			hc.Scale = &sc
		}
		ht.Columns = append(ht.Columns, hc)
	}
	return ht
}

// defOf reads a table definition back from its history description.
func (ht *historyTable) defOf(db, name string) *tableDef {
	d := &tableDef{db: db, name: name, pk: ht.PrimaryKeyColumnNames}
	for _, hc := range ht.Columns {
		tn := strings.ToLower(hc.TypeName)
		c := colDef{name: hc.Name, nullable: hc.Optional, values: hc.EnumValues}
		c.dataType, c.unsigned = strings.CutSuffix(tn, " unsigned")
		if hc.CharsetName != nil {
			c.charset = *hc.CharsetName
		}
		n := 0
		if hc.Length != nil {
			n = *hc.Length
		}
		switch c.dataType {
		case "decimal", "numeric", "bit":
			c.precision = n
		case "time", "datetime", "timestamp":
			c.fsp = n
		case "char", "binary":
			c.length = n
		}
		if hc.Scale != nil {
			c.scale = *hc.Scale
		}
		switch c.dataType {
		case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
			c.binary = true
		}
		d.cols = append(d.cols, c)
	}
	return d
}

// historyStore is the schema history topic: one partition, infinite
// retention, read from its start at every start of the task.
type historyStore struct {
	cl       *kgo.Client // producer and admin
	topic    string
	seeds    []string
	consumer []kgo.Opt // the consumer's security
}

func openHistory(servers, topic string, security [2][]kgo.Opt) (*historyStore, error) {
	var seeds []string
	for _, s := range strings.Split(servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner())}, security[0]...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema history %s: %w", KeyHistoryServers, err)
	}
	return &historyStore{cl: cl, topic: topic, seeds: seeds, consumer: security[1]}, nil
}

func (h *historyStore) close() { h.cl.Close() }

// ensureTopic creates the topic when it does not exist.
func (h *historyStore) ensureTopic(ctx context.Context) error {
	adm := kadm.NewClient(h.cl)
	retain := "-1"
	del := "delete"
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &del, "retention.ms": &retain,
		"retention.bytes": &retain}, h.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create schema history topic %s: %w", h.topic, err)
	}
	return nil
}

// readEach passes the topic's records from its start to each, one at a
// time, so the history is never held whole; one that does not parse is
// marked corrupt.
func (h *historyStore) readEach(ctx context.Context, each func(historyRecord)) error {
	adm := kadm.NewClient(h.cl)
	var end kadm.ListedOffset
	for try := 0; ; try++ { // a topic just created may have no leader yet
		ends, err := adm.ListEndOffsets(ctx, h.topic)
		if err != nil {
			return fmt.Errorf("schema history topic %s: %w", h.topic, err)
		}
		var ok bool
		end, ok = ends.Lookup(h.topic, 0)
		if ok && end.Err == nil {
			break
		}
		if try == 20 || ctx.Err() != nil {
			return fmt.Errorf("schema history topic %s: no partition 0 (%v)", h.topic, end.Err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if end.Offset == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(h.seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{h.topic: {0: kgo.NewOffset().AtStart()}})}, h.consumer...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		fs := cl.PollFetches(rctx)
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("read schema history topic %s: %w", h.topic, err)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			var hr historyRecord
			if err := json.Unmarshal(r.Value, &hr); err != nil {
				hr = historyRecord{corrupt: true}
			}
			each(hr)
			done = done || r.Offset+1 >= end.Offset
		})
		if done {
			return nil
		}
	}
}

// append writes records, in their order, and waits for the broker's
// acknowledgement. An error names the first record refused (a table whose
// definition alone is larger than the broker accepts, say).
func (h *historyStore) append(ctx context.Context, recs ...historyRecord) error {
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		krs[i] = &kgo.Record{Topic: h.topic, Partition: 0, Value: b}
	}
	failed := -1
	var err error
	for _, res := range h.cl.ProduceSync(ctx, krs...) {
		if res.Err == nil {
			continue
		}
		// Results come in the order they complete: find the record's place
		// (only for a refused one, so a write that succeeds indexes none).
		if i := slices.Index(krs, res.Record); failed < 0 || i < failed {
			failed, err = i, res.Err
		}
	}
	if failed < 0 {
		return nil
	}
	what := "database " + recs[failed].DatabaseName
	if ch := recs[failed].TableChanges; len(ch) > 0 {
		what = "table " + ch[0].ID
	}
	return fmt.Errorf("write schema history topic %s: the record of %s (%d bytes): %w", h.topic, what, len(krs[failed].Value), err)
}

// posLE reports whether the history position a is at or before p. As
// Debezium compares them: by GTID sets where both have one and they differ
// (a's set, of the transactions before its statement, within p's), which
// holds across a failover to a server whose binlog files are named and
// numbered otherwise; else by binlog file and position. gp is p's GTID set,
// parsed once by the caller (nil when p has none or it does not parse).
func posLE(a historyPosition, p position, gp *gtidTracker, flavor string) bool {
	if a.GTIDs != "" && gp != nil {
		if ga, err := newGTIDTracker(flavor, a.GTIDs); err == nil {
			if in, equal := ga.within(gp); !equal {
				return in
			}
		}
	}
	if a.File != p.file {
		return a.File < p.file // binlog files are numbered with a fixed width
	}
	return uint64(a.Pos) <= p.pos
}

// historyReplay rebuilds the schema model at position p from the history
// records, added one at a time in the topic's order.
type historyReplay struct {
	p        position
	gp       *gtidTracker // p's GTID set; nil when it has none
	flavor   string
	m        *schemaModel
	baseline string
	want     int // the records of the baseline (0: written by an earlier version, one per database)
	got      int // the records of the baseline read
	corrupt  bool
	seen     int // records added
	applied  int // records applied to m since its baseline
}

func newHistoryReplay(p position, mariadb bool) *historyReplay {
	flavor := gm.MySQLFlavor
	if mariadb {
		flavor = gm.MariaDBFlavor
	}
	h := &historyReplay{p: p, flavor: flavor, m: newSchemaModel(mariadb)}
	if p.gtids != "" {
		if gp, err := newGTIDTracker(flavor, p.gtids); err == nil {
			h.gp = gp
		}
	}
	return h
}

func (h *historyReplay) add(r historyRecord) {
	h.seen++
	if r.corrupt { // what follows needs a new baseline
		h.baseline, h.corrupt = "", true
		return
	}
	if !posLE(r.Position, h.p, h.gp, h.flavor) {
		return // read again from the binlog
	}
	if b := r.Position.Baseline; b != "" {
		if b != h.baseline {
			h.m.tables, h.baseline, h.want, h.got, h.applied = map[string]*tableDef{}, b, r.Position.BaselineRecords, 0, 0
		}
		h.got++
	}
	if h.baseline == "" {
		return
	}
	h.applied++
	for _, ch := range r.TableChanges {
		db, name, ok := parseTableID(ch.ID)
		if !ok {
			continue
		}
		switch {
		case ch.Type == "DROP":
			delete(h.m.tables, db+"."+name)
		case ch.Table != nil:
			h.m.tables[db+"."+name] = ch.Table.defOf(db, name)
		}
	}
}

// result is the model and how many records it applied; why is non-empty
// when the history cannot describe p: empty, without a baseline at or
// before p (truncated by retention, or written for a later position), or
// with the last of them incomplete.
func (h *historyReplay) result() (m *schemaModel, applied int, why string) {
	switch {
	case h.seen == 0:
		return nil, 0, "the schema history topic is missing or empty"
	case h.baseline == "" && h.corrupt:
		return nil, 0, "the schema history topic has a record that does not parse, with no baseline after it"
	case h.baseline == "":
		return nil, 0, "the schema history topic has no baseline at or before the stored offset (truncated, or written ahead of it)"
	case h.got < h.want:
		return nil, 0, fmt.Sprintf("the schema history topic's last baseline at or before the stored offset is incomplete (%d of its %d records: the start writing it stopped)", h.got, h.want)
	}
	return h.m, h.applied, ""
}

// loadSchema prepares the schema model streaming starts with, when the
// binlog does not name columns and a schema history topic is configured:
// the history replayed up to rp, or, when it cannot describe rp, a new
// baseline read from information_schema now and written to the topic.
// A history that is missing, truncated or corrupt never stops the start.
func (st *streamer) loadSchema(rp resumePoint) error {
	s := st.s
	if m, err := queryString(st.meta, "SELECT @@GLOBAL.binlog_row_metadata"); err == nil && strings.EqualFold(m, "FULL") {
		st.t.log.Info("binlog_row_metadata=FULL: column definitions come from the binlog's table-map events; no schema history is needed")
		return nil
	}
	if s.historyTopic == "" || s.historyServers == "" {
		return nil
	}
	h, err := openHistory(s.historyServers, s.historyTopic, s.historyClients)
	if err != nil {
		return err
	}
	st.hist = h
	if err := h.ensureTopic(st.ctx); err != nil {
		return err
	}
	why := ""
	if st.s.snapshotMode == SnapshotRecovery {
		why = "snapshot.mode=recovery"
	}
	mariadb := st.info.flavor == gm.MariaDBFlavor
	if why == "" && !rp.fresh {
		replay := newHistoryReplay(rp.pos, mariadb)
		if err := h.readEach(st.ctx, replay.add); err != nil {
			return err
		}
		m, n, w := replay.result()
		if w == "" {
			st.model = m
			st.t.log.Info("schema history replayed", "topic", s.historyTopic, "records", n, "tables", len(m.tables))
			return nil
		}
		why = w
	}
	if rp.fresh {
		st.t.log.Info("writing a schema history baseline", "topic", s.historyTopic, "file", rp.pos.file, "pos", rp.pos.pos)
	} else {
		st.t.log.Warn(why+": rebuilt from the current schema (information_schema), recorded at the position streaming resumes from; rows written before a later DDL may be described by the newer definition",
			"topic", s.historyTopic, "file", rp.pos.file, "pos", rp.pos.pos)
	}
	return st.writeBaseline(rp.pos, mariadb)
}

// writeBaseline describes every captured table from information_schema
// and writes the definitions to the history as a baseline.
func (st *streamer) writeBaseline(p position, mariadb bool) error {
	m, recs, err := st.baseline(p, mariadb)
	if err != nil {
		return err
	}
	if err := st.hist.append(st.ctx, recs...); err != nil {
		return err
	}
	st.model = m
	return nil
}

// baseline reads the captured tables' definitions and makes the records of
// a baseline at p: one per table, as Debezium writes them, with its SHOW
// CREATE TABLE and its definition, so that no record outgrows the broker's
// message.max.bytes however many tables are captured; one without tables
// when none is (it still marks the history valid). All carry the
// baseline's id and number of records.
func (st *streamer) baseline(p position, mariadb bool) (*schemaModel, []historyRecord, error) {
	m := newSchemaModel(mariadb)
	tables, err := st.s.capturedTables(st.meta)
	if err != nil {
		return nil, nil, err
	}
	var recs []historyRecord
	for _, ct := range tables {
		defs, pk, err := describe(st.meta, ct.db, ct.name)
		if err != nil {
			return nil, nil, err
		}
		d := &tableDef{db: ct.db, name: ct.name, cols: defs, pk: pk}
		m.tables[d.id()] = d
		ddl := ""
		if r, err := st.meta.Execute("SHOW CREATE TABLE " + quoteIdent(ct.db) + "." + quoteIdent(ct.name)); err == nil {
			ddl = getString(r, 0, 1)
			r.Close()
		}
		recs = append(recs, st.historyRecord(p, ct.db, ddl, []defChange{{typ: "CREATE", db: ct.db, name: ct.name, def: d}}))
	}
	if len(recs) == 0 {
		recs = append(recs, st.historyRecord(p, "", "", nil))
	}
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	for i := range recs {
		recs[i].Position.Snapshot, recs[i].Position.Baseline, recs[i].Position.BaselineRecords = true, id, len(recs)
	}
	return m, recs, nil
}

// historyRecord makes a history record of a statement read at p.
func (st *streamer) historyRecord(p position, db, ddl string, changes []defChange) historyRecord {
	r := historyRecord{Source: map[string]any{"server": st.s.prefix}, TsMs: time.Now().UnixMilli(), DatabaseName: db, DDL: ddl,
		Position:     historyPosition{File: p.file, Pos: int64(p.pos), GTIDs: p.gtids, TsSec: time.Now().Unix(), ServerID: int64(st.info.serverID)},
		TableChanges: []historyChange{}}
	for _, ch := range changes {
		hc := historyChange{Type: ch.typ, ID: tableID(ch.db, ch.name)}
		if ch.def != nil {
			hc.Table = historyTableOf(ch.def)
		}
		r.TableChanges = append(r.TableChanges, hc)
	}
	return r
}

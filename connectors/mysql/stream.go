package mysql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gm "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
	"github.com/prometheus/client_golang/prometheus"
)

// txState is the transaction being read.
type txState struct {
	active     bool
	hadBegin   bool   // a BEGIN query event opened it
	file       string // where it starts: a restart reads it from there
	pos        uint64
	gtid       string // its GTID, "" without GTIDs
	mariaGTID  gm.MariadbGTID
	mysqlSID   []byte
	mysqlGNO   int64
	rowsEvents int64 // rows events seen so far
	thread     any
	query      any
	id         string // transaction metadata id
	began      bool   // the BEGIN metadata event was emitted
	total      int64
	perColl    map[string]int64
	collOrder  []string
	base       map[string]any // the offset fields common to its records
}

// streamer reads the binlog and turns row events into change records.
type streamer struct {
	t      *Task
	s      *settings
	info   serverInfo
	ctx    context.Context
	meta   *client.Conn // information_schema lookups and heartbeat.action.query
	file   string
	gtids  *gtidTracker // nil: offsets carry file and pos only
	done   position     // where the last complete transaction ends
	tx     txState
	skipEv int64 // rows events to skip in the first transaction (restart)
	skipRw int64 // rows to skip in its event number skipEv
	skipOn bool

	arena   *structArena
	recs    recordSlab
	evTimes eventTimes
	boxes   eventBoxes
	inc     debezium.IncrementalSnapshot[*table]
	// warnedMeta: the fallback to information_schema was logged.
	warnedMeta bool
	tables     map[uint64]*mappedTable
	byName     map[string]*table // tables built from information_schema or the model, dropped on DDL
	// model is the schema at the binlog position, kept by applying DDL, when
	// the binlog does not name columns and a history topic is configured;
	// hist is that topic. Both nil otherwise.
	model       *schemaModel
	hist        *historyStore
	batch       []*connect.Record
	srcTemplate *connect.Struct // eventBoxes.src
	sized       []sizedRecord   // the size estimates of some of batch's records, in its order
	imgs        []rowValues     // images' result, reused
	lastHB      time.Time
	lag         prometheus.Gauge // streamLagSeconds of this server, looked up on the first event
}

// mappedTable is the table a table-map event describes, with the event's
// signature to tell when the definition changed.
type mappedTable struct {
	sig string
	tbl *table
}

// stream reads the binlog from rp until ctx ends.
func (t *Task) stream(ctx context.Context, info serverInfo, rp resumePoint) error {
	s := t.s
	meta, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer meta.Close()
	st := &streamer{t: t, s: s, info: info, ctx: ctx, meta: meta, file: rp.pos.file,
		done:   rp.pos,
		skipEv: rp.skipEvent, skipRw: rp.skipRow, skipOn: rp.skipEvent > 0 || rp.skipRow > 0,
		arena: newStructArena(), tables: map[uint64]*mappedTable{}, byName: map[string]*table{}, lastHB: time.Now()}
	if rp.pos.gtids != "" {
		if st.gtids, err = newGTIDTracker(info.flavor, rp.pos.gtids); err != nil {
			return err
		}
	}
	defer func() {
		if st.hist != nil {
			st.hist.close()
		}
	}()
	if err := st.loadSchema(rp); err != nil {
		return err
	}
	cfg := replication.BinlogSyncerConfig{
		ServerID: s.serverID, Flavor: info.flavor, Host: s.host, Port: uint16(s.port),
		User: s.user, Password: s.password, TLSConfig: s.tlsConfig(),
		ParseTime: true, TimestampStringLocation: time.UTC, HeartbeatPeriod: 10 * time.Second, ReadTimeout: 60 * time.Second,
		// The tracker keeps the GTID set: go-mysql need not copy its own
		// into every transaction's last event.
		DiscardGTIDSet:   true,
		DisableRetrySync: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// Events read ahead of handle(): enough to keep reading while a
		// batch is pushed; go-mysql's 10240 held up to 80 MiB of packets.
		EventCacheCount: 512,
	}
	cfg.RowsEventDecodeFunc = rowsDecoder(s)
	if info.flavor == gm.MariaDBFlavor && s.includeQuery {
		cfg.DumpCommandFlag = replication.BINLOG_SEND_ANNOTATE_ROWS_EVENT
	}
	syncer := replication.NewBinlogSyncer(cfg)
	defer syncer.Close()
	var bs *replication.BinlogStreamer
	if st.gtids != nil {
		set, err := st.gtids.set()
		if err != nil {
			return err
		}
		bs, err = syncer.StartSyncGTID(set)
		if err != nil {
			return st.startError(err)
		}
	} else {
		bs, err = syncer.StartSync(gm.Position{Name: rp.pos.file, Pos: uint32(rp.pos.pos)})
		if err != nil {
			return st.startError(err)
		}
	}
	t.log.Info("streaming started", "file", rp.pos.file, "pos", rp.pos.pos, "gtids", rp.pos.gtids,
		"skip_events", rp.skipEvent, "skip_rows", rp.skipRow)
	st.inc = debezium.NewIncrementalSnapshot(st, t.log, s.incrementalChunk)
	if rp.incremental != nil {
		if err := st.inc.Resume(rp.incremental); err != nil {
			return err
		}
	}
	for {
		ev, err := st.next(bs)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, context.DeadlineExceeded) {
				if err := st.idle(); err != nil {
					return err
				}
				continue
			}
			return st.startError(err)
		}
		if err := st.handle(ev); err != nil {
			return err
		}
		if s.heartbeat > 0 && time.Since(st.lastHB) >= s.heartbeat {
			if err := st.idle(); err != nil {
				return err
			}
		}
	}
}

// rowsDecoder returns go-mysql's rows event decoder. It leaves the rows of
// tables neither captured nor the signal table undecoded: rows() ignores
// them; those of captured tables as pendingRows, which images() reads
// straight into Connect values (decode.go); go-mysql decodes the signal
// table's. It runs on go-mysql's reading goroutine, with a cache of its own.
func rowsDecoder(s *settings) func(*replication.RowsEvent, []byte) error {
	type decision struct {
		tm           *replication.TableMapEvent
		want, signal bool
	}
	seen := map[uint64]decision{}
	return func(e *replication.RowsEvent, data []byte) error {
		pos, err := e.DecodeHeader(data)
		if err != nil {
			return err
		}
		d, ok := seen[e.TableID]
		if !ok || d.tm != e.Table {
			if len(seen) >= 4096 { // table ids of dropped or altered tables
				clear(seen)
			}
			db, name := string(e.Table.Schema), string(e.Table.Table)
			d = decision{tm: e.Table, signal: s.signalTable == db+"."+name}
			d.want = d.signal || s.filter.Table(db, name)
			seen[e.TableID] = d
		}
		switch {
		case !d.want:
			return nil
		case d.signal:
			return e.DecodeData(pos, data)
		}
		e.Rows = [][]any{{pendingRows(data[pos:])}}
		return nil
	}
}

// next waits for the next event; with heartbeats it returns
// context.DeadlineExceeded when one is due first.
func (st *streamer) next(bs *replication.BinlogStreamer) (*replication.BinlogEvent, error) {
	if st.s.heartbeat <= 0 {
		return bs.GetEvent(st.ctx)
	}
	ectx, cancel := context.WithTimeout(st.ctx, max(time.Until(st.lastHB.Add(st.s.heartbeat)), time.Millisecond))
	defer cancel()
	return bs.GetEvent(ectx)
}

// startError names the setting behind a refused binlog dump.
func (st *streamer) startError(err error) error {
	switch {
	case isPurgedError(err):
		return fmt.Errorf("%w (%v)", errBinlogPurged, err)
	case isServerIDCollision(err):
		return fmt.Errorf("%s=%d is used by another replica of the server: choose an id unique in the replication topology (%v)",
			KeyServerID, st.s.serverID, err)
	}
	return fmt.Errorf("binlog stream: %w", err)
}

// idle runs when no event came for a while: a heartbeat when one is due.
func (st *streamer) idle() error {
	if st.s.heartbeat <= 0 || time.Since(st.lastHB) < st.s.heartbeat {
		return nil
	}
	st.lastHB = time.Now()
	if st.tx.active || st.skipOn {
		return nil // a heartbeat's offset would forget the transaction in progress
	}
	if q := st.s.heartbeatQuery; q != "" {
		if _, err := st.meta.Execute(q); err != nil {
			st.t.log.Warn("heartbeat.action.query failed", "err", err)
		}
	}
	rec := debezium.Heartbeat(st.s.heartbeatTopic, st.s.prefix, time.Now())
	rec.SourcePartition, rec.SourceOffset = st.t.partition, st.doneOffset(time.Now().Unix())
	st.batch = append(st.batch, rec)
	return st.flush()
}

// doneOffset is the offset of the position after the last complete
// transaction.
func (st *streamer) doneOffset(tsSec int64) map[string]any {
	off := map[string]any{offFile: st.done.file, offPos: int64(st.done.pos), offEvent: int64(0), offRow: int64(0),
		offTsSec: tsSec, offServerID: int64(st.info.serverID)}
	if st.gtids != nil {
		off[offGTIDs] = st.s.filterGTIDs(st.gtids.str)
	}
	maps.Copy(off, st.inc.Offset())
	return off
}

// flush hands the batch to the queue.
func (st *streamer) flush() error {
	if len(st.batch) == 0 {
		return nil
	}
	var sizes []int
	if len(st.sized) > 0 {
		sizes = make([]int, len(st.batch))
		j := 0
		for i, r := range st.batch {
			if j < len(st.sized) && st.sized[j].rec == r {
				sizes[i] = st.sized[j].size
				j++
			}
		}
		st.sized = st.sized[:0]
	}
	err := st.t.q.PushSized(st.ctx, st.batch, sizes, time.Second, nil)
	st.batch = nil
	if err != nil && st.ctx.Err() != nil {
		return nil
	}
	return err
}

// eventStart is the position where an event begins.
func eventStart(h *replication.EventHeader) uint64 {
	if h.LogPos >= h.EventSize {
		return uint64(h.LogPos - h.EventSize)
	}
	return uint64(h.LogPos)
}

// begin opens a transaction at the event h.
func (st *streamer) begin(h *replication.EventHeader) {
	st.tx = txState{active: true, file: st.file, pos: eventStart(h)}
}

// handle processes one binlog event.
func (st *streamer) handle(ev *replication.BinlogEvent) error {
	h := ev.Header
	if h.Timestamp > 0 {
		if st.lag == nil {
			st.lag = streamLagSeconds.WithLabelValues(st.s.prefix)
		}
		behind := time.Since(time.Unix(int64(h.Timestamp), 0))
		st.lag.Set(behind.Seconds())
		st.t.behind.Store(int64(behind))
	}
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		st.file = string(e.NextLogName)
		if !st.tx.active {
			st.done.file, st.done.pos = st.file, e.Position
		}
	case *replication.MariadbGTIDEvent:
		st.begin(h)
		st.tx.mariaGTID = e.GTID
		st.tx.gtid = e.GTID.String()
	case *replication.GTIDEvent:
		st.begin(h)
		st.tx.mysqlSID, st.tx.mysqlGNO = append([]byte(nil), e.SID...), e.GNO
		if u, err := uuidString(e.SID); err == nil {
			st.tx.gtid = u + ":" + fmt.Sprint(e.GNO)
		}
	case *replication.QueryEvent:
		return st.query(h, e)
	case *replication.XIDEvent:
		return st.commit(h)
	case *replication.MariadbAnnotateRowsEvent:
		if st.s.includeQuery {
			st.tx.query = string(e.Query)
		}
	case *replication.RowsQueryEvent:
		if st.s.includeQuery {
			q := e.Query
			if len(q) > 0 && q[0] < 32 { // MySQL prefixes the statement with its length byte
				q = q[1:]
			}
			st.tx.query = string(q)
		}
	case *replication.TransactionPayloadEvent:
		// MySQL 8's binlog_transaction_compression: the transaction's
		// events inside one compressed event. They take its position, so a
		// restart reads the whole payload again and skips as usual.
		for _, in := range e.Events {
			ih := *in.Header
			ih.LogPos, ih.EventSize = h.LogPos, h.EventSize
			if err := st.handle(&replication.BinlogEvent{Header: &ih, Event: in.Event}); err != nil {
				return err
			}
		}
	case *replication.TableMapEvent:
		return st.tableMap(e)
	case *replication.RowsEvent:
		return st.rows(h, e)
	}
	return nil
}

func uuidString(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("GTID source id of %d bytes", len(b))
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// query handles BEGIN, COMMIT and DDL statements.
func (st *streamer) query(h *replication.EventHeader, e *replication.QueryEvent) error {
	q := strings.TrimSpace(string(e.Query))
	switch {
	case strings.EqualFold(q, "BEGIN"):
		if !st.tx.active {
			st.begin(h)
		}
		st.tx.hadBegin = true
		st.tx.thread = int64(e.SlaveProxyID)
		return nil
	case strings.EqualFold(q, "COMMIT"), strings.EqualFold(q, "ROLLBACK") && st.tx.hadBegin:
		return st.commit(h)
	}
	if st.tx.hadBegin {
		return nil // SAVEPOINT and other statements inside a transaction
	}
	if !st.tx.active {
		st.begin(h)
	}
	if err := st.ddl(h, string(e.Schema), q); err != nil {
		return err
	}
	return st.commit(h)
}

var ddlTableRE = regexp.MustCompile("(?is)^\\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\\s+(?:OR\\s+REPLACE\\s+)?(?:TEMPORARY\\s+)?TABLE\\s+(?:IF\\s+(?:NOT\\s+)?EXISTS\\s+)?((?:`[^`]+`|[\\w$]+)(?:\\s*\\.\\s*(?:`[^`]+`|[\\w$]+))?)")

// ddl forgets table definitions a DDL statement may have changed, applies
// it to the schema model and its history when there is one, and publishes
// it to the schema change topic.
func (st *streamer) ddl(h *replication.EventHeader, schema, q string) error {
	clear(st.byName)
	db, name, kind := schema, "", ""
	if m := ddlTableRE.FindStringSubmatch(q); m != nil {
		kind = strings.ToUpper(m[1])
		parts := strings.SplitN(m[2], ".", 2)
		if len(parts) == 2 {
			db, name = unquote(parts[0]), unquote(parts[1])
		} else {
			name = unquote(parts[0])
		}
	}
	var modelled []defChange
	if st.model != nil {
		var err error
		if modelled, err = st.modelDDL(h, schema, q, db, name); err != nil {
			return err
		}
	}
	if !st.s.schemaChanges || db == "" || !st.s.filter.Container(db) {
		return nil
	}
	if name != "" && !st.s.filter.Table(db, name) {
		return nil
	}
	var changes []*connect.Struct
	switch {
	case st.model != nil:
		for _, ch := range modelled {
			if ch.def == nil {
				changes = append(changes, tableChange(ch.typ, &table{db: ch.db, name: ch.name}))
			} else if tbl, err := st.s.buildTable(ch.db, ch.name, ch.def.cols, ch.def.pk); err == nil {
				changes = append(changes, tableChange(ch.typ, tbl))
			}
		}
	case kind == "CREATE" || kind == "ALTER":
		if defs, pk, err := describe(st.meta, db, name); err == nil {
			if tbl, err := st.s.buildTable(db, name, defs, pk); err == nil {
				changes = append(changes, tableChange(kind, tbl))
			}
		}
	case kind == "DROP":
		changes = append(changes, tableChange("DROP", &table{db: db, name: name}))
	}
	src := st.source(h, &table{db: db, name: name}, 0)
	if name == "" {
		src.SetAt(srcTable, nil)
	}
	st.batch = append(st.batch, st.t.schemaChangeRecord(src, db, q, changes, st.txOffset(int64(h.Timestamp), 0, 0)))
	return nil
}

// modelDDL applies a DDL statement to the schema model and records the
// changes of captured tables in the history topic before any later record
// is emitted. A statement the parser cannot read or the model cannot apply
// from its text is replaced by information_schema's current description
// of the table it names.
func (st *streamer) modelDDL(h *replication.EventHeader, schema, q, db, name string) ([]defChange, error) {
	changes, need, err := st.model.apply(schema, q)
	if err != nil {
		if name == "" {
			return nil, nil // not a table statement (GRANT, CREATE USER, ...)
		}
		st.t.log.Warn("DDL not understood: the table is read from information_schema", "ddl", q, "err", err)
		need = [][2]string{{db, name}}
	}
	for _, n := range need {
		if !st.s.filter.Table(n[0], n[1]) {
			continue
		}
		defs, pk, err := describe(st.meta, n[0], n[1])
		if err != nil {
			continue // gone again by now
		}
		d := &tableDef{db: n[0], name: n[1], cols: defs, pk: pk}
		st.model.tables[d.id()] = d
		changes = append(changes, defChange{typ: "CREATE", db: d.db, name: d.name, def: d})
	}
	var captured []defChange
	for _, ch := range changes {
		if st.s.filter.Table(ch.db, ch.name) {
			captured = append(captured, ch)
		} else if ch.def != nil {
			delete(st.model.tables, ch.def.id())
		}
	}
	if len(captured) == 0 {
		return nil, nil
	}
	p := position{file: st.file, pos: uint64(h.LogPos)}
	if st.gtids != nil {
		p.gtids = st.s.filterGTIDs(st.gtids.str) // as the offsets it is compared with
	}
	if err := st.hist.append(st.ctx, st.historyRecord(p, captured[0].db, q, captured)); err != nil {
		return nil, err
	}
	return captured, nil
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' {
		return strings.ReplaceAll(s[1:len(s)-1], "``", "`")
	}
	return s
}

// commit ends the transaction at the event h.
func (st *streamer) commit(h *replication.EventHeader) error {
	if st.gtids != nil && st.tx.gtid != "" {
		if st.info.flavor == gm.MariaDBFlavor {
			st.gtids.addMaria(st.tx.mariaGTID)
		} else if err := st.gtids.addMySQL(st.tx.mysqlSID, st.tx.mysqlGNO); err != nil {
			return err
		}
	}
	st.done = position{file: st.file, pos: uint64(h.LogPos)}
	if st.tx.began {
		st.batch = append(st.batch, st.txEnd(h))
	}
	st.tx = txState{}
	st.skipOn = false
	st.lastHB = time.Now()
	return st.flush()
}

// txOffset is the offset of a record of the current transaction: restart
// at its start, skip event rows events and row rows of the next one.
func (st *streamer) txOffset(tsSec, event, row int64) map[string]any {
	if st.tx.base == nil || st.tx.base[offTsSec] != tsSec {
		st.tx.base = map[string]any{offFile: st.tx.file, offPos: int64(st.tx.pos), offEvent: int64(0), offRow: int64(0),
			offTsSec: tsSec, offServerID: int64(st.info.serverID)}
		if st.gtids != nil {
			st.tx.base[offGTIDs] = st.s.filterGTIDs(st.gtids.str)
		}
	}
	var off map[string]any
	if inc := st.inc.Offset(); inc == nil {
		off = maps.Clone(st.tx.base) // a copy of a map of the final size: no growing
	} else { // sized for the incremental snapshot's progress fields too
		off = make(map[string]any, len(st.tx.base)+len(inc))
		maps.Copy(off, st.tx.base)
		maps.Copy(off, inc)
	}
	off[offEvent], off[offRow] = event, row
	return off
}

// tableMap learns the table a following rows event refers to.
func (st *streamer) tableMap(e *replication.TableMapEvent) error {
	db, name := string(e.Schema), string(e.Table)
	if !st.s.filter.Table(db, name) {
		st.tables[e.TableID] = &mappedTable{tbl: &table{db: db, name: name}}
		return nil
	}
	sig := tableMapSignature(e)
	if m, ok := st.tables[e.TableID]; ok && m.sig == sig {
		return nil
	}
	var tbl *table
	if defs, pk, ok := defsFromTableMap(e); ok {
		var err error
		if tbl, err = st.s.buildTable(db, name, defs, pk); err != nil {
			return err
		}
	} else {
		tbl = st.byName[db+"."+name]
		if tbl == nil && st.model != nil {
			if d := st.model.tables[db+"."+name]; d != nil && len(d.cols) == int(e.ColumnCount) {
				var err error
				if tbl, err = st.s.buildTable(db, name, d.cols, d.pk); err != nil {
					return err
				}
				st.byName[db+"."+name] = tbl
			} else {
				st.t.log.Warn("the schema history does not describe the table as the binlog does: reading information_schema",
					"table", db+"."+name, "binlog_columns", e.ColumnCount)
			}
		}
		if tbl == nil {
			if !st.warnedMeta && st.model == nil {
				st.warnedMeta = true
				st.t.log.Warn("the binlog does not name columns (binlog_row_metadata is not FULL) and no schema history is configured: column definitions come from information_schema, which describes rows written before a later DDL wrongly when the connector is behind it; set binlog_row_metadata=FULL, or " + KeyHistoryTopic + " and " + KeyHistoryServers)
			}
			defs, pk, err := describe(st.meta, db, name)
			if err != nil {
				return err
			}
			if len(defs) != int(e.ColumnCount) {
				return fmt.Errorf("table %s.%s has %d columns in the binlog but %d in information_schema: set binlog_row_metadata=FULL on the server so the binlog names its columns",
					db, name, e.ColumnCount, len(defs))
			}
			if tbl, err = st.s.buildTable(db, name, defs, pk); err != nil {
				return err
			}
			st.byName[db+"."+name] = tbl
			if st.model != nil { // later DDL applies to this definition
				st.model.tables[db+"."+name] = &tableDef{db: db, name: name, cols: defs, pk: pk}
			}
		}
		sig = "" // re-check information_schema's description after each DDL
	}
	st.tables[e.TableID] = &mappedTable{sig: sig, tbl: tbl}
	return nil
}

// tableMapSignature identifies a table definition as a table-map event
// states it.
func tableMapSignature(e *replication.TableMapEvent) string {
	var b bytes.Buffer
	b.Write(e.Schema)
	b.WriteByte(0)
	b.Write(e.Table)
	b.WriteByte(0)
	b.Write(e.ColumnType)
	for _, m := range e.ColumnMeta {
		b.WriteByte(byte(m))
		b.WriteByte(byte(m >> 8))
	}
	b.Write(e.NullBitmap)
	b.Write(e.SignednessBitmap)
	for _, n := range e.ColumnName {
		b.Write(n)
		b.WriteByte(0)
	}
	for _, k := range e.PrimaryKey {
		b.WriteByte(byte(k))
	}
	for _, vs := range append(e.EnumStrValue, e.SetStrValue...) {
		for _, v := range vs {
			b.Write(v)
			b.WriteByte(1)
		}
	}
	return b.String()
}

// rows turns one rows event into change records.
func (st *streamer) rows(h *replication.EventHeader, e *replication.RowsEvent) error {
	if !st.tx.active {
		st.begin(h)
	}
	evIndex := st.tx.rowsEvents
	st.tx.rowsEvents++
	m := st.tables[e.TableID]
	// A signal before the stored offset in a transaction read again after a
	// restart was acted on then: the offset carries its snapshot's progress.
	resent := st.skipOn && evIndex < st.skipEv
	if m != nil && st.s.signalTable != "" && !resent && isSignalTable(st.s.signalTable, m.tbl) {
		if err := st.signal(h, e); err != nil {
			return err
		}
	}
	if m == nil || !m.tbl.captured {
		return nil
	}
	skipRows := int64(0)
	if st.skipOn {
		if resent {
			return nil
		}
		if evIndex == st.skipEv {
			skipRows = st.skipRw
		}
	}
	tbl := m.tbl
	var op string
	step := 1
	switch h.EventType {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		op = "c"
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
		replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1, replication.PARTIAL_UPDATE_ROWS_EVENT:
		op, step = "u", 2
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		op = "d"
	default:
		return nil
	}
	if st.s.skip[op] {
		return nil
	}
	ts := int64(h.Timestamp)
	images, err := st.images(h, e, tbl, step == 2)
	if err != nil {
		return err
	}
	// The records of one rows event's rows differ in size only by their
	// variable-length columns, as their images' lengths do.
	var est sizeEstimator
	for i := 0; i+step <= len(images); i += step {
		row := int64(i / step)
		if row < skipRows {
			continue
		}
		var before, after *rowValues
		switch op {
		case "c":
			after = &images[i]
		case "d":
			before = &images[i]
		case "u":
			before, after = &images[i], &images[i+1]
		}
		if before != nil {
			st.supersede(tbl, before.key)
		}
		if after != nil {
			st.supersede(tbl, after.key)
		}
		src := st.source(h, tbl, int32(row))
		var buf [3]*connect.Record // a row makes at most three records
		recs := buf[:0]
		switch {
		case op == "u" && tbl.keySchema != nil && !debezium.KeysEqual(before.key, after.key):
			recs = append(recs, st.change(tbl, "d", before, nil, before.key, src))
			if st.s.tombstones {
				recs = append(recs, debezium.Tombstone(tbl.topic, tbl.keySchema, before.key))
			}
			recs = append(recs, st.change(tbl, "c", nil, after, after.key, src))
		case op == "d":
			recs = append(recs, st.change(tbl, "d", before, nil, before.key, src))
			if st.s.tombstones && tbl.keySchema != nil {
				recs = append(recs, debezium.Tombstone(tbl.topic, tbl.keySchema, before.key))
			}
		default:
			recs = append(recs, st.change(tbl, op, before, after, after.key, src))
		}
		if st.s.txMetadata && !st.tx.began && !st.skipOn {
			st.batch = append(st.batch, st.txBegin(h))
		}
		// Every record of the row but the last says the row is not done,
		// so a restart emits the row again rather than lose its tail.
		for j, r := range recs {
			done := row
			if j == len(recs)-1 {
				done = row + 1
			}
			r.SourcePartition = st.t.partition
			r.SourceOffset = st.txOffset(ts, evIndex, done)
			st.batch = append(st.batch, r)
		}
		if n := imageBytes(before) + imageBytes(after); len(recs) == 1 && n > 0 {
			st.sized = append(st.sized, sizedRecord{recs[0], est.size(recs[0], n)})
		}
	}
	if len(st.batch) >= 256 {
		return st.flush()
	}
	return nil
}

// A sizedRecord is a record of the batch and its size estimate for the queue.
type sizedRecord struct {
	rec  *connect.Record
	size int
}

// sizeEstimator estimates the queue sizes of records of one shape (one
// rows event's, one snapshot chunk's), which differ in size only by their
// variable-length values: the first is walked (debezium.RecordSize), the
// others estimated from it and the difference of those values' lengths
// (rowValues.bytes), which costs far less than walking each.
type sizeEstimator struct{ first, firstBytes int }

// size returns the size estimate of rec, whose variable-length values
// count n bytes.
func (e *sizeEstimator) size(rec *connect.Record, n int) int {
	if e.first == 0 {
		e.first, e.firstBytes = debezium.RecordSize(rec), n
	}
	return max(e.first+n-e.firstBytes, 1)
}

// imageBytes is the length of r's image in its rows event, 0 when r is nil
// or its length not known.
func imageBytes(r *rowValues) int {
	if r == nil {
		return 0
	}
	return r.bytes
}

// images returns the row images of a rows event of tbl as key and value
// structs: before and after of each row in turn for updates. They are valid
// until the next call.
func (st *streamer) images(h *replication.EventHeader, e *replication.RowsEvent, tbl *table, update bool) ([]rowValues, error) {
	out := st.imgs[:0]
	defer func() { st.imgs = out[:0] }()
	if data, ok := pending(e); ok {
		plan := tbl.planFor(e.Table)
		if plan.ok && int(e.ColumnCount) == len(plan.cols) && h.EventType != replication.PARTIAL_UPDATE_ROWS_EVENT {
			switch h.EventType {
			case replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1,
				replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
				var err error
				if data, err = gm.DecompressMariadbData(data); err != nil {
					return nil, fmt.Errorf("%s.%s: rows event: %w", tbl.db, tbl.name, err)
				}
			}
			var err error
			out, err = plan.rows(tbl, e, data, update, st.arena, out)
			return out, err
		}
		// A column only go-mysql reads (MySQL's binary JSON...), or
		// MySQL's partial JSON update.
		if err := e.DecodeData(0, data); err != nil {
			return nil, fmt.Errorf("%s.%s: rows event: %w", tbl.db, tbl.name, err)
		}
	}
	for _, row := range e.Rows {
		r, err := tbl.decodeRow(row, true, st.arena)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// isSignalTable reports whether t is the signal table db.name, without
// building that name for every rows event.
func isSignalTable(signal string, t *table) bool {
	return len(signal) == len(t.db)+1+len(t.name) && strings.HasPrefix(signal, t.db) &&
		signal[len(t.db)] == '.' && strings.HasSuffix(signal, t.name)
}

// source builds the source block of a streamed event.
func (st *streamer) source(h *replication.EventHeader, tbl *table, row int32) *connect.Struct {
	b := st.boxed(h, tbl)
	if b.src == nil { // the event's first: fill its template
		if st.srcTemplate == nil {
			st.srcTemplate = connect.NewStruct(sourceSchema)
		}
		b.src = st.srcTemplate
		st.t.source.Fill(b.src, st.times(h).event, debezium.SnapshotFalse, b.db)
		b.src.SetAt(srcTable, b.table)
		b.src.SetAt(srcServerID, b.serverID)
		b.src.SetAt(srcGTID, b.gtid)
		b.src.SetAt(srcFile, b.file)
		b.src.SetAt(srcPos, b.pos)
		b.src.SetAt(srcThread, st.tx.thread)
		b.src.SetAt(srcQuery, st.tx.query)
	}
	src := st.arena.new(sourceSchema)
	src.CopyFrom(b.src) // callers may change src, never the template
	src.SetAt(srcRow, row)
	return src
}

// eventBoxes are the source block values of one event, boxed once for all
// its rows.
type eventBoxes struct {
	header                               *replication.EventHeader
	tbl                                  *table
	db, table, serverID, gtid, file, pos any
	src                                  *connect.Struct // the source block of the event's rows, row aside
}

func (st *streamer) boxed(h *replication.EventHeader, tbl *table) *eventBoxes {
	b := &st.boxes
	if b.header != h || b.tbl != tbl {
		*b = eventBoxes{header: h, tbl: tbl, db: tbl.db, table: tbl.name, serverID: int64(h.ServerID),
			file: st.file, pos: int64(eventStart(h))}
		if st.tx.gtid != "" {
			b.gtid = st.tx.gtid
		}
	}
	return b
}

// eventTimes are an event's timestamp and the processing time, boxed once
// for the records of a rows event.
type eventTimes struct {
	header *replication.EventHeader
	event  debezium.Times
	now    debezium.Times
}

// times returns the boxed times of the rows event h (nil: the current one).
func (st *streamer) times(h *replication.EventHeader) eventTimes {
	if h != nil && st.evTimes.header != h {
		st.evTimes = eventTimes{header: h, event: debezium.NewTimes(time.Unix(int64(h.Timestamp), 0)),
			now: debezium.NewTimes(time.Now())}
	}
	return st.evTimes
}

// recordSlab hands out records allocated a few dozen at a time.
type recordSlab []connect.Record

func (s *recordSlab) next() *connect.Record {
	if len(*s) == 0 {
		*s = make([]connect.Record, structBatch)
	}
	r := &(*s)[0]
	*s = (*s)[1:]
	return r
}

// change builds one change event.
func (st *streamer) change(tbl *table, op string, before, after *rowValues, key *connect.Struct, src *connect.Struct) *connect.Record {
	env := st.arena.new(tbl.envSchema)
	var b, a *connect.Struct
	if before != nil {
		b = before.val
	}
	if after != nil {
		a = after.val
	}
	debezium.FillEnvelope(env, op, b, a, src, st.times(nil).now)
	if st.s.txMetadata {
		coll := tbl.db + "." + tbl.name
		if st.tx.perColl == nil {
			st.tx.perColl = map[string]int64{}
		}
		if _, ok := st.tx.perColl[coll]; !ok {
			st.tx.collOrder = append(st.tx.collOrder, coll)
		}
		st.tx.perColl[coll]++
		st.tx.total++
		env.SetAt(debezium.EnvTransaction, debezium.TransactionBlock(st.txID(), st.tx.total, st.tx.perColl[coll]))
	}
	rec := st.recs.next()
	*rec = connect.Record{Topic: tbl.topic, Partition: -1, ValueSchema: tbl.envSchema, Value: env}
	if tbl.keySchema != nil {
		rec.KeySchema, rec.Key = tbl.keySchema, key
	}
	return rec
}

// txID is the transaction metadata id: the GTID, or file:position of the
// transaction's start without GTIDs.
func (st *streamer) txID() string {
	if st.tx.id == "" {
		if st.tx.gtid != "" {
			st.tx.id = st.tx.gtid
		} else {
			st.tx.id = fmt.Sprintf("%s:%d", st.tx.file, st.tx.pos)
		}
	}
	return st.tx.id
}

func (st *streamer) txBegin(h *replication.EventHeader) *connect.Record {
	st.tx.began = true
	rec := debezium.TransactionBegin(debezium.TransactionTopic(st.s.prefix), st.txID(), time.Unix(int64(h.Timestamp), 0))
	rec.SourcePartition, rec.SourceOffset = st.t.partition, st.txOffset(int64(h.Timestamp), 0, 0)
	return rec
}

func (st *streamer) txEnd(h *replication.EventHeader) *connect.Record {
	counts := make([]debezium.CollectionCount, len(st.tx.collOrder))
	for i, c := range st.tx.collOrder {
		counts[i] = debezium.CollectionCount{Collection: c, Events: st.tx.perColl[c]}
	}
	rec := debezium.TransactionEnd(debezium.TransactionTopic(st.s.prefix), st.txID(), time.Unix(int64(h.Timestamp), 0), counts)
	rec.SourcePartition, rec.SourceOffset = st.t.partition, st.doneOffset(int64(h.Timestamp))
	return rec
}

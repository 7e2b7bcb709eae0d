package blob

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/penstockhq/penstock/connect"
)

// parquetFormat is Confluent's ParquetFormat: the columns come from the
// record's Connect value schema. Schemaless values cannot be written (a
// Parquet file needs its schema before its first row): they are reported as
// records the format cannot hold.
type parquetFormat struct {
	codec         compress.Codec
	ext           string
	rowGroupBytes int64
}

// parquetCodecs are parquet.codec's compressions and their objects'
// extensions, uncompressed last: any other name means it, and the source,
// which matches the extensions in this order, must try its ".parquet" (the
// end of every other) last.
var parquetCodecs = []struct {
	name  string
	codec compress.Codec
	ext   string
}{
	{"snappy", &parquet.Snappy, ".snappy.parquet"},
	{"gzip", &parquet.Gzip, ".gz.parquet"},
	{"zstd", &parquet.Zstd, ".zstd.parquet"},
	{"none", &parquet.Uncompressed, ".parquet"},
}

func newParquetFormat(codec string, rowGroupBytes int) (format, error) {
	c := parquetCodecs[len(parquetCodecs)-1]
	for _, pc := range parquetCodecs {
		if pc.name == codec {
			c = pc
			break
		}
	}
	return &parquetFormat{codec: c.codec, ext: c.ext, rowGroupBytes: int64(rowGroupBytes)}, nil
}

func (f *parquetFormat) extension() string { return f.ext }

// defaultDecimalPrecision is a Decimal column's precision when its schema
// has no connect.decimal.precision parameter (the widest most warehouses take).
const defaultDecimalPrecision = 38

func (f *parquetFormat) open(w io.Writer, s *connect.Schema) (fileWriter, error) {
	if s == nil {
		return nil, recordErr("ParquetFormat needs values with a schema (a schemaless value has none to give the file its columns): use JsonFormat, or a converter with schemas")
	}
	plan, schema, wrapped, err := fileSchema(s)
	if err != nil {
		return nil, recordErr("value schema %s: %v", s.String(), err)
	}
	sj, err := schemaJSON(s)
	if err != nil {
		return nil, recordErr("value schema %s: %v", s.String(), err)
	}
	cw := &countingWriter{w: w}
	pw := parquet.NewWriter(cw, schema, parquet.Compression(f.codec), parquet.KeyValueMetadata(connectSchemaKey, sj))
	var byteCols []int
	for i, path := range schema.Columns() {
		if leaf, ok := schema.Lookup(path...); ok {
			if k := leaf.Node.Type().Kind(); k == parquet.ByteArray || k == parquet.FixedLenByteArray {
				byteCols = append(byteCols, i)
			}
		}
	}
	n := len(schema.Columns())
	return &parquetWriter{w: pw, out: cw, plan: plan, wrapped: wrapped, rowGroupBytes: f.rowGroupBytes,
		rows: rows{cols: make([][]parquet.Value, n)}, marks: make([]int, n), flat: flatLeaves(plan), byteCols: byteCols}, nil
}

// fileSchema returns the plan and the Parquet schema of a file of values
// of schema s. A value that is not a struct is wrapped (wrapped is true):
// its row is a struct of one field, "value".
func fileSchema(s *connect.Schema) (plan *pnode, schema *parquet.Schema, wrapped bool, err error) {
	root := s
	wrapped = s.Type != connect.TypeStruct
	if wrapped {
		root = connect.NewStructSchema("", connect.F("value", s))
	}
	plan, node, err := planOf(root)
	if err != nil {
		return nil, nil, false, err
	}
	schema = parquet.NewSchema(nameOr(s.Name, "record"), node)
	plan.assign(schema, 0, 0, new(int))
	return plan, schema, wrapped, nil
}

func nameOr(name, def string) string {
	if name == "" {
		return def
	}
	return name
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type parquetWriter struct {
	w             *parquet.Writer
	out           *countingWriter
	plan          *pnode
	wrapped       bool
	rowGroupBytes int64
	rows          rows     // the rows gathered since the last handoff
	marks         []int    // the columns' lengths before the record being written
	flat          []*pnode // when every field of the value is a leaf: the fields in column order
	byteCols      []int    // the byte array columns: their values refer to the records' strings and bytes
	bg            *encoder // nil until the first handoff
}

// rows are gathered rows, by column, ready for parquet-go.
type rows struct {
	cols [][]parquet.Value // the rows' values, by column
	ends []int             // after each whole parquetBatch of rows: the columns' lengths, len(cols) per batch
	n    int               // rows
	data int               // bytes of the records' strings and bytes the values refer to, counted at each whole batch
}

// reset empties the rows, dropping their references to the records'
// strings and bytes.
func (r *rows) reset() {
	for i, c := range r.cols {
		clear(c)
		r.cols[i] = c[:0]
	}
	r.ends, r.n, r.data = r.ends[:0], 0, 0
}

// flatLeaves returns the fields of a struct plan in column order when they
// are all leaves, the common shape write handles without recursion.
func flatLeaves(plan *pnode) []*pnode {
	if plan.fields == nil {
		return nil
	}
	out := make([]*pnode, 0, len(plan.order))
	for _, i := range plan.order {
		c := plan.children[i]
		if c.conv == nil {
			return nil
		}
		out = append(out, c)
	}
	return out
}

// emitFlat is emit for a struct whose fields are all leaves (w.flat), with
// the common leaf types and nulls converted in the loop; it gives the other
// cases (a required field's null or default, other types, errors) to emit.
// The type switch is the same as emit's, written twice: as a function (not
// inlined) it cost about 20% more user CPU in BenchmarkParquetWriter.
func (w *parquetWriter) emitFlat(v any) error {
	st, ok := v.(*connect.Struct)
	if !ok {
		return w.plan.emit(w.rows.cols, v, 0)
	}
	for j, c := range w.flat {
		x := st.GetAt(w.plan.order[j])
		col, n := w.rows.cols[c.col], len(w.rows.cols[c.col])
		// Each case appends in place: a Value built first and copied after
		// stalled on store forwarding (half of this function's time).
		def := c.def
		switch y := x.(type) {
		case nil:
			if c.optional {
				col, def = append(col, parquet.Value{}), def-1
			}
		case int64:
			if c.kind == leafInt64 {
				col = append(col, parquet.Int64Value(y))
			}
		case float64:
			if c.kind == leafFloat64 {
				col = append(col, parquet.DoubleValue(y))
			}
		case string:
			if c.kind == leafString {
				col = append(col, parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(y), len(y))))
			}
		case time.Time:
			if c.kind == leafTimestamp {
				col = append(col, parquet.Int64Value(y.UnixMilli()))
			}
		}
		if len(col) == n {
			if err := c.emit(w.rows.cols, x, 0); err != nil {
				return fmt.Errorf("field %q: %w", w.plan.schema.Fields[w.plan.order[j]].Name, err)
			}
			continue
		}
		last := &col[n]
		last.SetDefinitionLevel(def)
		last.SetColumnIndex(c.col)
		w.rows.cols[c.col] = col
	}
	return nil
}

// parquetBatch is how many rows are handed to parquet-go at a time, each
// column's values in one call (its whole-column path). A data page ends only
// between calls, so the batches must be the same on every rewrite: they
// depend on the rows alone. 64 is what parquet-go's WriteRows uses.
const parquetBatch = 64

// handoffValues is how many gathered values (all columns) are handed to the
// encoder goroutine at a time, at the first whole batch reaching it: enough
// to make the handoff's cost small per record, few enough to keep the
// object's memory small (three sets of them at most, of 24 bytes a value).
const handoffValues = 8192

// handoffBytes bounds the records' strings and bytes a set of gathered
// values refers to (and keeps from the garbage collector until encoded):
// large values are handed off before handoffValues of them are gathered.
// It is checked at each whole parquetBatch of rows, so a set may refer to
// one batch's more.
const handoffBytes = 1 << 20

func (w *parquetWriter) write(rec *connect.Record) error {
	if w.bg != nil && w.bg.failed.Load() {
		return w.bg.err
	}
	v := rec.Value
	if v == nil {
		return recordErr("%s: a null value has no row (behavior.on.null.values=write writes nulls in JsonFormat only)", where(rec))
	}
	if w.wrapped {
		st := connect.NewStruct(w.plan.schema)
		st.SetAt(0, v)
		v = st
	}
	r := &w.rows
	for i, c := range r.cols {
		w.marks[i] = len(c)
	}
	var err error
	if w.flat != nil {
		err = w.emitFlat(v)
	} else {
		err = w.plan.emit(r.cols, v, 0)
	}
	if err != nil {
		for i, c := range r.cols { // nothing of the record stays
			clear(c[w.marks[i]:])
			r.cols[i] = c[:w.marks[i]]
		}
		return recordErr("%s: %v", where(rec), err)
	}
	r.n++
	if r.n%parquetBatch != 0 {
		return nil
	}
	ncols := len(r.cols)
	vals := 0
	for _, c := range r.cols {
		r.ends = append(r.ends, len(c))
		vals += len(c)
	}
	prev := len(r.ends) - 2*ncols // the previous batch's ends, if any
	for _, i := range w.byteCols {
		from := 0
		if prev >= 0 {
			from = r.ends[prev+i]
		}
		for _, v := range r.cols[i][from:] {
			if !v.IsNull() {
				r.data += len(v.ByteArray())
			}
		}
	}
	if vals >= handoffValues || r.data >= handoffBytes {
		w.handoff()
	}
	return nil
}

// handoff gives the gathered rows to the encoder goroutine, starting it on
// the first call, and takes an empty set to gather the next ones in.
func (w *parquetWriter) handoff() {
	if w.bg == nil {
		w.bg = &encoder{jobs: make(chan rows, 1), free: make(chan rows, 3), done: make(chan struct{})}
		go w.bg.run(w)
	}
	w.bg.jobs <- w.rows // waits while the encoder is a set behind: backpressure
	select {
	case w.rows = <-w.bg.free:
	default: // at most three sets exist: one gathering, one queued, one encoding
		w.rows = rows{cols: make([][]parquet.Value, len(w.rows.cols))}
	}
}

// encoder writes handed-off rows into parquet-go on a goroutine of its own,
// so an object's encoding, compression and writes to the store run beside
// the task's Put, and the conversion before it, instead of after them.
// Between the first handoff and close or abort, only it touches the
// parquet.Writer and the object.
type encoder struct {
	jobs    chan rows
	free    chan rows // emptied sets, back to the gatherer
	done    chan struct{}
	err     error       // the first error; read once failed is set or done closed
	failed  atomic.Bool // err is set
	abandon atomic.Bool // abort: skip the rest
}

func (e *encoder) run(w *parquetWriter) {
	defer close(e.done)
	for r := range e.jobs {
		if !e.failed.Load() && !e.abandon.Load() {
			if err := w.encode(&r); err != nil {
				e.err = err
				e.failed.Store(true)
			}
		}
		r.reset()
		e.free <- r
	}
}

// encode hands rows to parquet-go parquetBatch rows at a time, column by
// column, and ends the row group when its buffered values reach
// parquet.row.group.bytes.
func (w *parquetWriter) encode(r *rows) error {
	ncols := len(r.cols)
	start := make([]int, ncols)
	batches := len(r.ends) / ncols
	for b := 0; b <= batches; b++ {
		var end []int
		if b < batches {
			end = r.ends[b*ncols : (b+1)*ncols]
		} else if r.n%parquetBatch == 0 { // no partial batch at the end
			break
		}
		for i, cw := range w.w.ColumnWriters() {
			e := len(r.cols[i])
			if end != nil {
				e = end[i]
			}
			if _, err := cw.WriteRowValues(r.cols[i][start[i]:e]); err != nil {
				return fmt.Errorf("parquet: column %s: %w", strings.Join(w.w.Schema().Columns()[i], "."), err)
			}
			start[i] = e
		}
		if w.w.Size()-w.out.n >= w.rowGroupBytes {
			if err := w.w.Flush(); err != nil {
				return fmt.Errorf("parquet: flushing a row group: %w", err)
			}
		}
	}
	return nil
}

func (w *parquetWriter) close() error {
	if w.bg == nil {
		if err := w.encode(&w.rows); err != nil {
			return err
		}
	} else {
		if w.rows.n > 0 {
			w.bg.jobs <- w.rows
			w.rows = rows{}
		}
		if err := w.stopEncoder(); err != nil {
			return err
		}
	}
	w.rows.reset()
	return w.w.Close()
}

// abort stops the encoder goroutine, if any, without writing what it was
// handed: the object is being discarded.
func (w *parquetWriter) abort() {
	if w.bg != nil {
		w.bg.abandon.Store(true)
		_ = w.stopEncoder()
	}
}

// stopEncoder waits for the encoder goroutine to finish what it was handed
// and returns its error.
func (w *parquetWriter) stopEncoder() error {
	bg := w.bg
	w.bg = nil
	close(bg.jobs)
	<-bg.done
	return bg.err
}

var _ aborter = (*parquetWriter)(nil)

// pnode maps a Connect schema onto Parquet columns: for a leaf, its column
// and value conversion; for a group, its children.
type pnode struct {
	schema   *connect.Schema
	optional bool
	conv     func(v any) (parquet.Value, error) // leaf
	kind     leafKind                           // leaf: a common type converted without calling conv
	col      int                                // leaf: column index
	fields   map[string]*pnode                  // struct: by field name
	order    []int                              // struct: field indexes in column order
	children []*pnode                           // struct: by field index
	elem     *pnode                             // array element
	key, val *pnode                             // map
	def      int                                // definition level of a present value
	rep      int                                // list/map: repetition level of its entries
	leaves   []int                              // columns under the node
}

// leafKind names the leaf types emit converts inline.
type leafKind uint8

const (
	leafOther leafKind = iota
	leafInt64
	leafFloat64
	leafString
	leafTimestamp
)

// planOf returns the plan and the Parquet node of schema s.
func planOf(s *connect.Schema) (*pnode, parquet.Node, error) {
	n := &pnode{schema: s, optional: s.Optional}
	var node parquet.Node
	switch {
	case s.Name == connect.DecimalName && s.Type == connect.TypeBytes:
		scale, err := s.Scale()
		if err != nil {
			return nil, nil, err
		}
		prec := defaultDecimalPrecision
		if p, err := strconv.Atoi(s.Parameters["connect.decimal.precision"]); err == nil && p > 0 {
			prec = p
		}
		prec = max(prec, int(scale))
		// Plain: DuckDB reads decimals in no other byte array encoding.
		node = parquet.Encoded(parquet.Decimal(int(scale), prec, parquet.ByteArrayType), &parquet.Plain)
		n.conv = func(v any) (parquet.Value, error) {
			d, ok := decimalOf(v)
			if !ok {
				return parquet.Value{}, fmt.Errorf("a Decimal is not a %T", v)
			}
			return parquet.ByteArrayValue(connect.DecimalBytes(d.Rescale(scale).Unscaled)), nil
		}
	case s.Name == connect.DateName && s.Type == connect.TypeInt32:
		node = parquet.Date()
		n.conv = timeConv(func(t time.Time) parquet.Value { return parquet.Int32Value(connect.DateDays(t)) })
	case s.Name == connect.TimeName && s.Type == connect.TypeInt32:
		node = parquet.Time(parquet.Millisecond)
		n.conv = timeConv(func(t time.Time) parquet.Value { return parquet.Int32Value(connect.TimeMillis(t)) })
	case s.Name == connect.TimestampName && s.Type == connect.TypeInt64:
		node = parquet.Timestamp(parquet.Millisecond)
		n.conv = timeConv(func(t time.Time) parquet.Value { return parquet.Int64Value(t.UnixMilli()) })
		n.kind = leafTimestamp
	default:
		switch s.Type {
		case connect.TypeBoolean:
			node = parquet.Leaf(parquet.BooleanType)
			n.conv = func(v any) (parquet.Value, error) {
				b, ok := v.(bool)
				if !ok {
					return parquet.Value{}, fmt.Errorf("a boolean is not a %T", v)
				}
				return parquet.BooleanValue(b), nil
			}
		case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32:
			bits := map[connect.Type]int{connect.TypeInt8: 8, connect.TypeInt16: 16, connect.TypeInt32: 32}[s.Type]
			node = parquet.Int(bits)
			n.conv = func(v any) (parquet.Value, error) {
				i, ok := intOf(v)
				if !ok || i < -(1<<(bits-1)) || i >= 1<<(bits-1) {
					return parquet.Value{}, fmt.Errorf("%v (%T) is not an int%d", v, v, bits)
				}
				return parquet.Int32Value(int32(i)), nil
			}
		case connect.TypeInt64:
			node, n.kind = parquet.Int(64), leafInt64
			n.conv = func(v any) (parquet.Value, error) {
				i, ok := intOf(v)
				if !ok {
					return parquet.Value{}, fmt.Errorf("%v (%T) is not an int64", v, v)
				}
				return parquet.Int64Value(i), nil
			}
		case connect.TypeFloat32:
			node = parquet.Leaf(parquet.FloatType)
			n.conv = func(v any) (parquet.Value, error) {
				f, ok := v.(float32)
				if !ok {
					return parquet.Value{}, fmt.Errorf("a float is not a %T", v)
				}
				return parquet.FloatValue(f), nil
			}
		case connect.TypeFloat64:
			node, n.kind = parquet.Leaf(parquet.DoubleType), leafFloat64
			n.conv = func(v any) (parquet.Value, error) {
				switch f := v.(type) {
				case float64:
					return parquet.DoubleValue(f), nil
				case float32:
					return parquet.DoubleValue(float64(f)), nil
				}
				return parquet.Value{}, fmt.Errorf("a double is not a %T", v)
			}
		case connect.TypeString:
			node, n.kind = parquet.String(), leafString
			n.conv = func(v any) (parquet.Value, error) {
				str, ok := v.(string)
				if !ok {
					return parquet.Value{}, fmt.Errorf("a string is not a %T", v)
				}
				// parquet-go copies the bytes when the row is written; the
				// string outlives that (the record is held until then).
				return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(str), len(str))), nil
			}
		case connect.TypeBytes:
			node = parquet.Leaf(parquet.ByteArrayType)
			n.conv = func(v any) (parquet.Value, error) {
				b, ok := v.([]byte)
				if !ok {
					return parquet.Value{}, fmt.Errorf("bytes are not a %T", v)
				}
				return parquet.ByteArrayValue(b), nil
			}
		case connect.TypeStruct:
			if len(s.Fields) == 0 {
				return nil, nil, fmt.Errorf("struct %q has no fields: Parquet has no empty groups", s.Name)
			}
			g := parquet.Group{}
			n.fields = map[string]*pnode{}
			for _, f := range s.Fields {
				c, cn, err := planOf(f.Schema)
				if err != nil {
					return nil, nil, fmt.Errorf("field %q: %w", f.Name, err)
				}
				n.fields[f.Name], g[f.Name] = c, cn
			}
			node = g
		case connect.TypeArray:
			c, cn, err := planOf(s.Value)
			if err != nil {
				return nil, nil, fmt.Errorf("array element: %w", err)
			}
			n.elem, node = c, parquet.List(cn)
		case connect.TypeMap:
			k, kn, err := planOf(s.Key)
			if err != nil {
				return nil, nil, fmt.Errorf("map key: %w", err)
			}
			k.optional = false // Parquet map keys are required
			v, vn, err := planOf(s.Value)
			if err != nil {
				return nil, nil, fmt.Errorf("map value: %w", err)
			}
			n.key, n.val, node = k, v, parquet.Map(kn, vn)
		default:
			return nil, nil, fmt.Errorf("type %q has no Parquet column", s.Type)
		}
	}
	if n.optional {
		node = parquet.Optional(node)
	}
	return n, node, nil
}

// assign numbers the leaf columns and levels, walking the Parquet node in its
// own (sorted) field order. def and rep are the levels of the parent.
func (n *pnode) assign(node parquet.Node, def, rep int, next *int) {
	if n.optional {
		def++
	}
	n.def = def
	switch {
	case n.conv != nil:
		n.col = *next
		*next++
		n.leaves = []int{n.col}
	case n.fields != nil:
		for _, f := range node.Fields() {
			c := n.fields[f.Name()]
			c.assign(f, def, rep, next)
			n.leaves = append(n.leaves, c.leaves...)
			cf, _ := n.schema.Field(f.Name())
			n.order = append(n.order, cf.Index)
		}
		n.children = make([]*pnode, len(n.schema.Fields))
		for i, f := range n.schema.Fields {
			n.children[i] = n.fields[f.Name]
		}
	case n.elem != nil: // group LIST { repeated group list { element } }
		n.rep = rep + 1
		n.elem.assign(node.Fields()[0].Fields()[0], def+1, n.rep, next)
		n.leaves = n.elem.leaves
	default: // group MAP { repeated group key_value { key; value } }
		n.rep = rep + 1
		kv := node.Fields()[0]
		for _, f := range kv.Fields() {
			c := n.key
			if f.Name() == "value" {
				c = n.val
			}
			c.assign(f, def+1, n.rep, next)
			n.leaves = append(n.leaves, c.leaves...)
		}
	}
}

// nulls appends a null with levels rep and def to each of the columns.
func nulls(cols [][]parquet.Value, leaves []int, rep, def int) {
	for _, c := range leaves {
		cols[c] = append(cols[c], parquet.Value{}.Level(rep, def, c))
	}
}

// emit appends the values of v to their columns, the first of each with
// repetition level rep.
func (n *pnode) emit(cols [][]parquet.Value, v any, rep int) error {
	if v == nil {
		if !n.optional {
			if n.schema.Default == nil {
				return fmt.Errorf("a required %s value is null", n.schema.String())
			}
			v = n.schema.Default
		} else {
			nulls(cols, n.leaves, rep, n.def-1)
			return nil
		}
	}
	switch {
	case n.conv != nil:
		var pv parquet.Value
		switch x := v.(type) { // the common cases without a call
		case int64:
			if n.kind == leafInt64 {
				pv = parquet.Int64Value(x)
			}
		case float64:
			if n.kind == leafFloat64 {
				pv = parquet.DoubleValue(x)
			}
		case string:
			if n.kind == leafString {
				// parquet-go copies the bytes when the row is written; the
				// string outlives that (the record is held until then).
				pv = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(x), len(x)))
			}
		case time.Time:
			if n.kind == leafTimestamp {
				pv = parquet.Int64Value(x.UnixMilli())
			}
		}
		if pv.IsNull() { // not converted above
			var err error
			if pv, err = n.conv(v); err != nil {
				return err
			}
		}
		col := append(cols[n.col], pv)
		last := &col[len(col)-1] // set in place: Level would copy the value twice
		last.SetRepetitionLevel(rep)
		last.SetDefinitionLevel(n.def)
		last.SetColumnIndex(n.col)
		cols[n.col] = col
		return nil
	case n.fields != nil:
		st, ok := v.(*connect.Struct)
		if !ok {
			return fmt.Errorf("a struct is not a %T", v)
		}
		for _, i := range n.order {
			if err := n.children[i].emit(cols, st.GetAt(i), rep); err != nil {
				return fmt.Errorf("field %q: %w", n.schema.Fields[i].Name, err)
			}
		}
		return nil
	case n.elem != nil:
		items, ok := v.([]any)
		if !ok {
			return fmt.Errorf("an array is not a %T", v)
		}
		if len(items) == 0 {
			nulls(cols, n.leaves, rep, n.def)
			return nil
		}
		for i, it := range items {
			r := n.rep
			if i == 0 {
				r = rep
			}
			if err := n.elem.emit(cols, it, r); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return nil
	default:
		keys, vals, err := mapEntries(v)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			nulls(cols, n.leaves, rep, n.def)
			return nil
		}
		for i := range keys {
			r := n.rep
			if i == 0 {
				r = rep
			}
			if err := n.key.emit(cols, keys[i], r); err != nil {
				return fmt.Errorf("map key %v: %w", keys[i], err)
			}
			if err := n.val.emit(cols, vals[i], r); err != nil {
				return fmt.Errorf("map value of %v: %w", keys[i], err)
			}
		}
		return nil
	}
}

// mapEntries returns a map's entries ordered by key, so the same map always
// gives the same bytes.
func mapEntries(v any) (keys, vals []any, err error) {
	switch m := v.(type) {
	case map[string]any:
		ks := make([]string, 0, len(m))
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			keys, vals = append(keys, k), append(vals, m[k])
		}
	case map[any]any:
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			vals = append(vals, m[k])
		}
	default:
		return nil, nil, fmt.Errorf("a map is not a %T", v)
	}
	return keys, vals, nil
}

func timeConv(f func(time.Time) parquet.Value) func(any) (parquet.Value, error) {
	return func(v any) (parquet.Value, error) {
		t, ok := v.(time.Time)
		if !ok {
			return parquet.Value{}, fmt.Errorf("a time is not a %T", v)
		}
		return f(t), nil
	}
}

func intOf(v any) (int64, bool) {
	switch i := v.(type) {
	case int8:
		return int64(i), true
	case int16:
		return int64(i), true
	case int32:
		return int64(i), true
	case int64:
		return i, true
	case int:
		return int64(i), true
	}
	return 0, false
}

func decimalOf(v any) (connect.Decimal, bool) {
	switch d := v.(type) {
	case connect.Decimal:
		return d, d.Unscaled != nil
	case *connect.Decimal:
		return *d, d != nil && d.Unscaled != nil
	}
	return connect.Decimal{}, false
}

package mysql

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	pm "github.com/pingcap/tidb/pkg/parser/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // literal values (DEFAULT 'x') in parsed statements
	"github.com/pingcap/tidb/pkg/parser/types"
)

// tableDef is the definition of one table in the schema model.
type tableDef struct {
	db, name string
	cols     []colDef
	pk       []string
}

func (d *tableDef) id() string { return d.db + "." + d.name }

func (d *tableDef) clone() *tableDef {
	c := *d
	c.cols = slices.Clone(d.cols)
	c.pk = slices.Clone(d.pk)
	return &c
}

func (d *tableDef) colIndex(name string) int {
	for i, c := range d.cols {
		if strings.EqualFold(c.name, name) {
			return i
		}
	}
	return -1
}

// defChange is one table changed by a DDL statement: its definition after
// the change (nil for DROP).
type defChange struct {
	typ      string // CREATE, ALTER or DROP
	db, name string
	def      *tableDef
}

// schemaModel holds the definitions of tables at a binlog position, kept up
// to date by applying the DDL statements the binlog carries. It is what the
// connector reads column definitions from when the binlog does not name
// them (binlog_row_metadata other than FULL).
type schemaModel struct {
	tables  map[string]*tableDef // by db.name
	mariadb bool                 // MariaDB's JSON is LONGTEXT
	parser  *parser.Parser
}

func newSchemaModel(mariadb bool) *schemaModel {
	return &schemaModel{tables: map[string]*tableDef{}, mariadb: mariadb, parser: parser.New()}
}

// errDDLNotModelled is returned for a statement the model cannot apply
// from its text alone (CREATE TABLE ... SELECT, a table it does not know):
// the caller reads the table from information_schema instead.
var errDDLNotModelled = errors.New("DDL not modelled")

// apply parses a DDL statement run in database db and applies it. It is
// tolerant of statements already reflected (a model rebuilt ahead of the
// binlog): adding an existing column replaces it, dropping a missing one is
// ignored. need lists tables it could not model.
func (m *schemaModel) apply(db, sql string) (changes []defChange, need [][2]string, err error) {
	stmts, _, err := m.parser.Parse(sql, "", "")
	if err != nil {
		return nil, nil, fmt.Errorf("parse DDL: %w", err)
	}
	for _, stmt := range stmts {
		ch, nd := m.applyStmt(db, stmt)
		changes = append(changes, ch...)
		need = append(need, nd...)
	}
	return changes, need, nil
}

func schemaOf(tn *ast.TableName, db string) string {
	if s := tn.Schema.O; s != "" {
		return s
	}
	return db
}

func (m *schemaModel) applyStmt(db string, stmt ast.StmtNode) (changes []defChange, need [][2]string) {
	switch s := stmt.(type) {
	case *ast.CreateTableStmt:
		tdb, name := schemaOf(s.Table, db), s.Table.Name.O
		if s.TemporaryKeyword != ast.TemporaryNone {
			return nil, nil
		}
		if _, exists := m.tables[tdb+"."+name]; exists && s.IfNotExists {
			return nil, nil
		}
		var def *tableDef
		switch {
		case s.ReferTable != nil:
			src := m.tables[schemaOf(s.ReferTable, db)+"."+s.ReferTable.Name.O]
			if src == nil {
				return nil, [][2]string{{tdb, name}}
			}
			def = src.clone()
			def.db, def.name = tdb, name
		case s.Select != nil:
			return nil, [][2]string{{tdb, name}}
		default:
			def = &tableDef{db: tdb, name: name}
			cs := tableCharset(s.Options)
			for _, c := range s.Cols {
				cd, pk := m.columnDef(c, cs)
				def.cols = append(def.cols, cd)
				if pk {
					def.pk = []string{cd.name}
				}
			}
			for _, c := range s.Constraints {
				if c.Tp == ast.ConstraintPrimaryKey {
					def.pk = keyNames(c.Keys)
				}
			}
			markKeyNotNull(def)
		}
		m.tables[def.id()] = def
		return []defChange{{typ: "CREATE", db: tdb, name: name, def: def}}, nil
	case *ast.AlterTableStmt:
		tdb, name := schemaOf(s.Table, db), s.Table.Name.O
		cur := m.tables[tdb+"."+name]
		if cur == nil {
			return nil, [][2]string{{tdb, name}}
		}
		def := cur.clone()
		renamed := false
		for _, spec := range s.Specs {
			switch spec.Tp {
			case ast.AlterTableAddColumns:
				for _, c := range spec.NewColumns {
					cd, pk := m.columnDef(c, "")
					if i := def.colIndex(cd.name); i >= 0 {
						def.cols = slices.Delete(def.cols, i, i+1)
					}
					def.cols = insertAt(def.cols, cd, def.position(spec.Position))
					if pk {
						def.pk = []string{cd.name}
					}
				}
			case ast.AlterTableDropColumn:
				def.dropColumn(spec.OldColumnName.Name.O)
			case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
				if len(spec.NewColumns) == 0 {
					continue
				}
				old := spec.NewColumns[0].Name.Name.O
				if spec.Tp == ast.AlterTableChangeColumn {
					old = spec.OldColumnName.Name.O
				}
				cd, pk := m.columnDef(spec.NewColumns[0], "")
				i := def.colIndex(old)
				if i < 0 {
					continue
				}
				def.cols = slices.Delete(def.cols, i, i+1)
				pos := i
				if spec.Position != nil && spec.Position.Tp != ast.ColumnPositionNone {
					pos = def.position(spec.Position)
				}
				def.cols = insertAt(def.cols, cd, pos)
				def.renameKey(old, cd.name)
				if pk {
					def.pk = []string{cd.name}
				}
			case ast.AlterTableRenameColumn:
				if i := def.colIndex(spec.OldColumnName.Name.O); i >= 0 {
					def.cols[i].name = spec.NewColumnName.Name.O
					def.renameKey(spec.OldColumnName.Name.O, spec.NewColumnName.Name.O)
				}
			case ast.AlterTableAddConstraint:
				if spec.Constraint != nil && spec.Constraint.Tp == ast.ConstraintPrimaryKey {
					def.pk = keyNames(spec.Constraint.Keys)
				}
			case ast.AlterTableDropPrimaryKey:
				def.pk = nil
			case ast.AlterTableRenameTable:
				def.db, def.name = schemaOf(spec.NewTable, tdb), spec.NewTable.Name.O
				renamed = true
			}
		}
		markKeyNotNull(def)
		if renamed {
			delete(m.tables, cur.id())
			m.tables[def.id()] = def
			return []defChange{{typ: "DROP", db: tdb, name: name}, {typ: "CREATE", db: def.db, name: def.name, def: def}}, nil
		}
		m.tables[def.id()] = def
		return []defChange{{typ: "ALTER", db: tdb, name: name, def: def}}, nil
	case *ast.DropTableStmt:
		if s.IsView || s.TemporaryKeyword != ast.TemporaryNone {
			return nil, nil
		}
		for _, tn := range s.Tables {
			tdb := schemaOf(tn, db)
			id := tdb + "." + tn.Name.O
			if _, ok := m.tables[id]; ok {
				delete(m.tables, id)
				changes = append(changes, defChange{typ: "DROP", db: tdb, name: tn.Name.O})
			}
		}
		return changes, nil
	case *ast.RenameTableStmt:
		for _, tt := range s.TableToTables {
			odb, ndb := schemaOf(tt.OldTable, db), schemaOf(tt.NewTable, db)
			cur := m.tables[odb+"."+tt.OldTable.Name.O]
			if cur == nil {
				need = append(need, [2]string{ndb, tt.NewTable.Name.O})
				continue
			}
			delete(m.tables, cur.id())
			def := cur.clone()
			def.db, def.name = ndb, tt.NewTable.Name.O
			m.tables[def.id()] = def
			changes = append(changes, defChange{typ: "DROP", db: odb, name: tt.OldTable.Name.O},
				defChange{typ: "CREATE", db: ndb, name: def.name, def: def})
		}
		return changes, need
	case *ast.DropDatabaseStmt:
		for id, d := range m.tables {
			if d.db == s.Name.O {
				delete(m.tables, id)
				changes = append(changes, defChange{typ: "DROP", db: d.db, name: d.name})
			}
		}
		return changes, nil
	}
	// TRUNCATE, indexes, CREATE DATABASE, views...: no column changes.
	return nil, nil
}

// position is where a column goes: FIRST, AFTER c, or at the end.
func (d *tableDef) position(p *ast.ColumnPosition) int {
	if p == nil {
		return len(d.cols)
	}
	switch p.Tp {
	case ast.ColumnPositionFirst:
		return 0
	case ast.ColumnPositionAfter:
		if i := d.colIndex(p.RelativeColumn.Name.O); i >= 0 {
			return i + 1
		}
	}
	return len(d.cols)
}

func insertAt(cols []colDef, c colDef, i int) []colDef {
	return slices.Insert(cols, min(i, len(cols)), c)
}

func (d *tableDef) dropColumn(name string) {
	if i := d.colIndex(name); i >= 0 {
		d.cols = slices.Delete(d.cols, i, i+1)
	}
	d.pk = slices.DeleteFunc(d.pk, func(k string) bool { return strings.EqualFold(k, name) })
}

func (d *tableDef) renameKey(old, name string) {
	for i, k := range d.pk {
		if strings.EqualFold(k, old) {
			d.pk[i] = name
		}
	}
}

// markKeyNotNull makes primary key columns NOT NULL, as the server does.
func markKeyNotNull(d *tableDef) {
	for _, k := range d.pk {
		if i := d.colIndex(k); i >= 0 {
			d.cols[i].nullable = false
		}
	}
}

func keyNames(keys []*ast.IndexPartSpecification) []string {
	var out []string
	for _, k := range keys {
		if k.Column != nil {
			out = append(out, k.Column.Name.O)
		}
	}
	return out
}

func tableCharset(opts []*ast.TableOption) string {
	for _, o := range opts {
		if o.Tp == ast.TableOptionCharset {
			return strings.ToLower(o.StrValue)
		}
	}
	return ""
}

// columnDef converts a parsed column definition; pk reports an inline
// PRIMARY KEY.
func (m *schemaModel) columnDef(c *ast.ColumnDef, tableCS string) (d colDef, pk bool) {
	tp := c.Tp
	cs := strings.ToLower(tp.GetCharset())
	d = colDef{name: c.Name.Name.O, nullable: true, unsigned: pm.HasUnsignedFlag(tp.GetFlag())}
	d.dataType = types.TypeToStr(tp.GetType(), cs)
	flen, dec := tp.GetFlen(), tp.GetDecimal()
	switch d.dataType {
	case "decimal":
		d.precision, d.scale = flen, dec
		if d.precision <= 0 {
			d.precision = 10
		}
		d.scale = max(d.scale, 0)
	case "bit":
		d.precision = max(flen, 1)
	case "time", "datetime", "timestamp":
		d.fsp = max(dec, 0)
	case "char", "binary":
		d.length = max(flen, 1)
	case "enum", "set":
		d.values = slices.Clone(tp.GetElems())
	case "json":
		if m.mariadb {
			d.dataType = "longtext" // MariaDB's JSON is an alias of LONGTEXT
		}
	}
	str := types.IsTypeChar(tp.GetType()) || types.IsTypeBlob(tp.GetType())
	switch {
	case str && cs == "binary":
		switch d.dataType {
		case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
			d.dataType = types.TypeToStr(tp.GetType(), "binary")
		}
		d.binary = strings.Contains(d.dataType, "binary") || strings.Contains(d.dataType, "blob")
	case str:
		d.charset = cs
		if d.charset == "" {
			d.charset = tableCS
		}
	}
	for _, o := range c.Options {
		switch o.Tp {
		case ast.ColumnOptionNotNull:
			d.nullable = false
		case ast.ColumnOptionNull:
			d.nullable = true
		case ast.ColumnOptionPrimaryKey:
			d.nullable, pk = false, true
		}
	}
	return d, pk
}

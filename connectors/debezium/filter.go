package debezium

import "regexp"

// Filter decides which tables and columns a CDC connector captures, as
// Debezium's include and exclude lists do: each regular expression must match
// the whole name, an include list (when set) admits only what it matches, and
// an exclude list removes what it matches. A container is what holds tables:
// a PostgreSQL schema or a MySQL database; tables are named container.table,
// columns container.table.column.
type Filter struct {
	containerIn, containerEx, tableIn, tableEx, colIn, colEx []*regexp.Regexp
	system                                                   func(container string) bool
}

// NewFilter compiles the six lists. system reports the containers a
// connector never captures (the server's own catalogs), whatever the lists say.
func NewFilter(system func(container string) bool, containerIn, containerEx, tableIn, tableEx, colIn, colEx []string) (*Filter, error) {
	f := &Filter{system: system}
	var err error
	for _, x := range []struct {
		dst *[]*regexp.Regexp
		src []string
	}{{&f.containerIn, containerIn}, {&f.containerEx, containerEx}, {&f.tableIn, tableIn}, {&f.tableEx, tableEx},
		{&f.colIn, colIn}, {&f.colEx, colEx}} {
		if *x.dst, err = CompileAll(x.src); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Container reports whether tables of container may be captured.
func (f *Filter) Container(container string) bool {
	if f.system(container) {
		return false
	}
	return admits(f.containerIn, f.containerEx, container)
}

// Table reports whether container.table is captured.
func (f *Filter) Table(container, table string) bool {
	return f.Container(container) && admits(f.tableIn, f.tableEx, container+"."+table)
}

// Column reports whether container.table.column is emitted.
func (f *Filter) Column(container, table, column string) bool {
	return admits(f.colIn, f.colEx, container+"."+table+"."+column)
}

// admits applies one include list (when set) and its exclude list to name.
func admits(in, ex []*regexp.Regexp, name string) bool {
	if len(in) > 0 && !AnyMatch(in, name) {
		return false
	}
	return !AnyMatch(ex, name)
}

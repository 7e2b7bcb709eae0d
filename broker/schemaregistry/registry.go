package schemaregistry

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Mode values.
const (
	ModeReadWrite = "READWRITE"
	ModeReadOnly  = "READONLY"
	ModeImport    = "IMPORT"
)

// SubjectVersion is one version of a subject, as the REST API returns it.
type SubjectVersion struct {
	Subject    string      `json:"subject"`
	Version    int         `json:"version"`
	ID         int         `json:"id"`
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
	Schema     string      `json:"schema"`
}

func (v *schemaValue) public() SubjectVersion {
	sv := SubjectVersion{Subject: v.Subject, Version: v.Version, ID: v.ID, References: v.References, Schema: v.Schema}
	if v.SchemaType != TypeAvro {
		sv.SchemaType = v.SchemaType
	}
	return sv
}

// Schema is a schema as a client submits it.
type Schema struct {
	Schema     string      `json:"schema"`
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
	// ID and Version are honoured in IMPORT mode only.
	ID      int `json:"id,omitempty"`
	Version int `json:"version,omitempty"`
}

// versions returns the subject's versions in order, the soft-deleted ones
// too when deleted.
func (st *state) versions(subject string, deleted bool) []*schemaValue {
	var out []*schemaValue
	for _, v := range st.subjects[subject] {
		if deleted || !v.Deleted {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b *schemaValue) int { return a.Version - b.Version })
	return out
}

// version returns a subject's version v ("latest" or -1: the newest).
func (st *state) version(subject, v string, deleted bool) (*schemaValue, *Error) {
	all := st.versions(subject, true)
	if len(all) == 0 {
		return nil, subjectNotFound(subject)
	}
	live := st.versions(subject, deleted)
	if v == "latest" || v == "-1" {
		if len(live) == 0 {
			return nil, subjectNotFound(subject)
		}
		return live[len(live)-1], nil
	}
	n, err := parseVersion(v)
	if err != nil {
		return nil, err
	}
	sv, ok := st.subjects[subject][n]
	if !ok || (sv.Deleted && !deleted) {
		return nil, versionNotFound(n)
	}
	return sv, nil
}

func parseVersion(v string) (int, *Error) {
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' || n > 1<<30 {
			return 0, errorf(CodeInvalidVersion, "The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 {
		return 0, errorf(CodeInvalidVersion, "The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)
	}
	return n, nil
}

func (st *state) compatLevel(subject string) string {
	if l, ok := st.config[subject]; ok {
		return l
	}
	if l, ok := st.config[""]; ok {
		return l
	}
	return CompatBackward
}

func (st *state) modeOf(subject string) string {
	if m, ok := st.mode[subject]; ok {
		return m
	}
	if m, ok := st.mode[""]; ok {
		return m
	}
	return ModeReadWrite
}

// resolve returns refs with their schemas, dependencies first.
func (st *state) resolve(refs []Reference, seen map[string]bool) ([]resolved, *Error) {
	var out []resolved
	for _, r := range refs {
		key := fmt.Sprintf("%s\x00%d", r.Subject, r.Version)
		if seen[key] {
			continue
		}
		seen[key] = true
		sv, ok := st.subjects[r.Subject][r.Version]
		if !ok && r.Version == -1 {
			if l := st.versions(r.Subject, false); len(l) > 0 {
				sv, ok = l[len(l)-1], true
			}
		}
		if !ok {
			return nil, errorf(CodeInvalidSchema, "Invalid schema: reference %s: subject %s version %d not found", r.Name, r.Subject, r.Version)
		}
		deps, err := st.resolve(sv.References, seen)
		if err != nil {
			return nil, err
		}
		out = append(out, deps...)
		out = append(out, resolved{Reference: r, def: st.ids[sv.ID]})
	}
	return out, nil
}

// prepare canonicalizes and parses a submitted schema.
func (st *state) prepare(s Schema) (schemaDef, *parsed, *Error) {
	typ := s.SchemaType
	if typ == "" {
		typ = TypeAvro
	}
	text, err := canonical(typ, s.Schema)
	if err != nil {
		return schemaDef{}, nil, err
	}
	def := schemaDef{Type: typ, Schema: text, References: s.References}
	refs, err := st.resolve(s.References, map[string]bool{})
	if err != nil {
		return def, nil, err
	}
	p, err := parse(def, refs)
	return def, p, err
}

// parsedVersions parses the given versions for a compatibility check.
func (st *state) parsedVersions(vs []*schemaValue) ([]*parsed, *Error) {
	out := make([]*parsed, 0, len(vs))
	for _, v := range vs {
		def := st.ids[v.ID]
		refs, err := st.resolve(def.References, map[string]bool{})
		if err != nil {
			return nil, err
		}
		p, err := parse(def, refs)
		if err != nil {
			return nil, errorf(CodeStoreError, "stored schema %s version %d: %s", v.Subject, v.Version, err.Message)
		}
		out = append(out, p)
	}
	return out, nil
}

// find returns the subject's version holding def.
func (st *state) find(subject string, def schemaDef, deleted bool) *schemaValue {
	for _, v := range st.versions(subject, deleted) {
		if st.ids[v.ID].equal(def) {
			return v
		}
	}
	return nil
}

// Register registers s under subject and returns its id: the existing id
// when the subject already has this schema, else a new version that must be
// compatible with the subject's earlier ones. An id is the same for the same
// schema in every subject; a new one is the highest yet plus one, and if
// another process claimed the same id or version first (the topic's record
// order decides) the registration is retried on the new state.
func (s *Store) Register(ctx context.Context, subject string, sch Schema) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for attempt := 0; ; attempt++ {
		if err := s.sync(ctx); err != nil {
			return 0, err
		}
		var (
			rec    schemaValue
			result int
			rerr   *Error
		)
		s.read(func(st *state) {
			def, p, err := st.prepare(sch)
			if err != nil {
				rerr = err
				return
			}
			mode := st.modeOf(subject)
			if mode == ModeReadOnly {
				rerr = errorf(CodeOperationNotPermitted, "Subject %s is in read-only mode", subject)
				return
			}
			if v := st.find(subject, def, false); v != nil && (mode != ModeImport || sch.ID == 0 || sch.ID == v.ID) {
				result = v.ID
				return
			}
			live := st.versions(subject, false)
			if mode == ModeImport {
				if sch.ID <= 0 {
					rerr = errorf(CodeInvalidSchema, "Invalid schema: IMPORT mode needs the schema's id")
					return
				}
				if d, ok := st.ids[sch.ID]; ok && !d.equal(def) {
					rerr = errorf(CodeInvalidSchema, "Overwrite new schema with id %d is not permitted: the id holds another schema", sch.ID)
					return
				}
				rec = schemaValue{ID: sch.ID, Version: sch.Version}
			} else {
				earlier, err := st.parsedVersions(live)
				if err != nil {
					rerr = err
					return
				}
				if msgs := checkCompat(st.compatLevel(subject), p, earlier); len(msgs) > 0 {
					rerr = errorf(CodeIncompatible, "Schema being registered is incompatible with an earlier schema for subject \"%s\", details: %s", subject, strings.Join(msgs, "; "))
					return
				}
				rec.ID = st.maxID + 1
				for id, d := range st.ids {
					if d.equal(def) {
						rec.ID = id
						break
					}
				}
			}
			if rec.Version == 0 {
				rec.Version = 1
				for v := range st.subjects[subject] {
					rec.Version = max(rec.Version, v+1)
				}
			}
			rec.Subject, rec.Schema, rec.References, rec.SchemaType = subject, def.Schema, def.References, def.Type
			if def.Type == TypeAvro {
				rec.SchemaType = ""
			}
		})
		if rerr != nil {
			return 0, rerr
		}
		if result != 0 {
			return result, nil
		}
		if err := s.produce(ctx, schemaKey(subject, rec.Version), rec); err != nil {
			return 0, err
		}
		var won bool
		var winner *schemaValue
		s.read(func(st *state) {
			cur := st.subjects[subject][rec.Version]
			won = cur != nil && cur.ID == rec.ID && st.ids[cur.ID].equal(schemaDef{Type: cmp.Or(rec.SchemaType, TypeAvro), Schema: rec.Schema, References: rec.References})
			if !won && cur != nil {
				c := *cur
				winner = &c
			}
		})
		if won {
			return rec.ID, nil
		}
		// Lost a race with another process. Write the winner's record again
		// so that compaction, which keeps a key's last record, keeps it.
		if winner != nil {
			if winner.SchemaType == TypeAvro {
				winner.SchemaType = ""
			}
			if err := s.produce(ctx, schemaKey(subject, winner.Version), winner); err != nil {
				return 0, err
			}
		}
		if attempt >= 10 {
			return 0, errorf(CodeStoreError, "registering under %s: lost the race for an id %d times", subject, attempt+1)
		}
	}
}

// Lookup returns the subject's version holding the schema.
func (s *Store) Lookup(subject string, sch Schema, deleted bool) (SubjectVersion, error) {
	var out SubjectVersion
	var rerr *Error
	s.read(func(st *state) {
		if len(st.versions(subject, deleted)) == 0 {
			rerr = subjectNotFound(subject)
			return
		}
		def, _, err := st.prepare(sch)
		if err != nil {
			rerr = err
			return
		}
		v := st.find(subject, def, deleted)
		if v == nil {
			rerr = errorf(CodeSchemaNotFound, "Schema not found")
			return
		}
		out = v.public()
	})
	if rerr != nil {
		return out, rerr
	}
	return out, nil
}

// CheckCompatibility reports why sch is not compatible with the subject's
// version (a version string, "latest", or "" for all the versions the
// subject's level checks against); nil messages when it is.
func (s *Store) CheckCompatibility(subject, version string, sch Schema) ([]string, error) {
	var msgs []string
	var rerr *Error
	s.read(func(st *state) {
		_, p, err := st.prepare(sch)
		if err != nil {
			rerr = err
			return
		}
		vs := st.versions(subject, false)
		if version != "" {
			v, err := st.version(subject, version, false)
			if err != nil {
				if err.Code == CodeSubjectNotFound && version == "latest" {
					return // nothing to be incompatible with
				}
				rerr = err
				return
			}
			vs = []*schemaValue{v}
		}
		earlier, err := st.parsedVersions(vs)
		if err != nil {
			rerr = err
			return
		}
		level := st.compatLevel(subject)
		if version != "" {
			level = strings.TrimSuffix(level, "_TRANSITIVE")
		}
		msgs = checkCompat(level, p, earlier)
	})
	if rerr != nil {
		return nil, rerr
	}
	return msgs, nil
}

// Subjects lists the subjects with a live version (or any, when deleted).
func (s *Store) Subjects(prefix string, deleted bool) []string {
	out := []string{}
	s.read(func(st *state) {
		for subj := range st.subjects {
			if strings.HasPrefix(subj, prefix) && len(st.versions(subj, deleted)) > 0 {
				out = append(out, subj)
			}
		}
	})
	slices.Sort(out)
	return out
}

// Versions lists a subject's version numbers.
func (s *Store) Versions(subject string, deleted bool) ([]int, error) {
	var out []int
	s.read(func(st *state) {
		for _, v := range st.versions(subject, deleted) {
			out = append(out, v.Version)
		}
	})
	if len(out) == 0 {
		return nil, subjectNotFound(subject)
	}
	return out, nil
}

// Version returns one version of a subject.
func (s *Store) Version(subject, version string, deleted bool) (SubjectVersion, error) {
	var out SubjectVersion
	var rerr *Error
	s.read(func(st *state) {
		v, err := st.version(subject, version, deleted)
		if err != nil {
			rerr = err
			return
		}
		out = v.public()
	})
	if rerr != nil {
		return out, rerr
	}
	return out, nil
}

// SchemaByID returns the schema with the given id.
func (s *Store) SchemaByID(id int) (SubjectVersion, error) {
	var out SubjectVersion
	ok := false
	s.read(func(st *state) {
		var d schemaDef
		if d, ok = st.ids[id]; ok {
			out = SubjectVersion{ID: id, Schema: d.Schema, References: d.References}
			if d.Type != TypeAvro {
				out.SchemaType = d.Type
			}
		}
	})
	if !ok {
		return out, errorf(CodeSchemaNotFound, "Schema %d not found", id)
	}
	return out, nil
}

// IDVersions returns the subject versions that hold schema id.
func (s *Store) IDVersions(id int, deleted bool) ([]SubjectVersion, error) {
	var out []SubjectVersion
	found := false
	s.read(func(st *state) {
		_, found = st.ids[id]
		for _, subj := range slices.Sorted(maps.Keys(st.subjects)) {
			for _, v := range st.versions(subj, deleted) {
				if v.ID == id {
					out = append(out, SubjectVersion{Subject: subj, Version: v.Version})
				}
			}
		}
	})
	if !found {
		return nil, errorf(CodeSchemaNotFound, "Schema %d not found", id)
	}
	return out, nil
}

// ReferencedBy returns the ids of the schemas that reference the subject's version.
func (s *Store) ReferencedBy(subject, version string) ([]int, error) {
	out := []int{}
	var rerr *Error
	s.read(func(st *state) {
		v, err := st.version(subject, version, true)
		if err != nil {
			rerr = err
			return
		}
		out = st.referencedBy(v)
	})
	if rerr != nil {
		return nil, rerr
	}
	return out, nil
}

func (st *state) referencedBy(v *schemaValue) []int {
	out := []int{}
	for _, subj := range slices.Sorted(maps.Keys(st.subjects)) {
		for _, o := range st.versions(subj, false) {
			for _, r := range o.References {
				if r.Subject == v.Subject && r.Version == v.Version && !slices.Contains(out, o.ID) {
					out = append(out, o.ID)
				}
			}
		}
	}
	return out
}

// DeleteVersion soft-deletes a subject's version, or hard-deletes an
// already soft-deleted one when permanent.
func (s *Store) DeleteVersion(ctx context.Context, subject, version string, permanent bool) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.sync(ctx); err != nil {
		return 0, err
	}
	var rec *schemaValue
	var rerr *Error
	s.read(func(st *state) {
		if st.modeOf(subject) == ModeReadOnly {
			rerr = errorf(CodeOperationNotPermitted, "Subject %s is in read-only mode", subject)
			return
		}
		v, err := st.version(subject, version, permanent)
		if err != nil {
			rerr = err
			return
		}
		if permanent && !v.Deleted {
			rerr = errorf(CodeVersionNotSoftDeleted, "Subject '%s' Version %d was not deleted first before being permanently deleted", subject, v.Version)
			return
		}
		if refs := st.referencedBy(v); len(refs) > 0 {
			rerr = errorf(CodeReferenceExists, "One or more references exist to the schema {subject=%s,version=%d}", subject, v.Version)
			return
		}
		c := *v
		rec = &c
	})
	if rerr != nil {
		return 0, rerr
	}
	if permanent {
		return rec.Version, s.produce(ctx, schemaKey(subject, rec.Version), nil)
	}
	rec.Deleted = true
	if rec.SchemaType == TypeAvro {
		rec.SchemaType = ""
	}
	return rec.Version, s.produce(ctx, schemaKey(subject, rec.Version), rec)
}

// DeleteSubject soft-deletes every version of a subject, or hard-deletes
// an already soft-deleted subject when permanent; it returns the versions.
func (s *Store) DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.sync(ctx); err != nil {
		return nil, err
	}
	var versions []int
	var rerr *Error
	s.read(func(st *state) {
		if st.modeOf(subject) == ModeReadOnly {
			rerr = errorf(CodeOperationNotPermitted, "Subject %s is in read-only mode", subject)
			return
		}
		all := st.versions(subject, true)
		live := st.versions(subject, false)
		switch {
		case len(all) == 0:
			rerr = subjectNotFound(subject)
			return
		case permanent && len(live) > 0:
			rerr = errorf(CodeSubjectNotSoftDeleted, "Subject '%s' was not deleted first before being permanently deleted", subject)
			return
		case !permanent && len(live) == 0:
			rerr = errorf(CodeSubjectSoftDeleted, "Subject '%s' was soft deleted.Set permanent=true to delete permanently", subject)
			return
		}
		// A soft delete returns the live versions it deleted, a hard one all.
		del := live
		if permanent {
			del = all
		}
		for _, v := range del {
			if refs := st.referencedBy(v); len(refs) > 0 {
				rerr = errorf(CodeReferenceExists, "One or more references exist to the schema {subject=%s,version=%d}", subject, v.Version)
				return
			}
			versions = append(versions, v.Version)
		}
	})
	if rerr != nil {
		return nil, rerr
	}
	if !permanent {
		last := versions[len(versions)-1]
		return versions, s.produce(ctx, subjectKey(keyDeleteSubject, subject), deleteSubjectValue{Subject: subject, Version: last})
	}
	for _, v := range versions {
		if err := s.produce(ctx, schemaKey(subject, v), nil); err != nil {
			return nil, err
		}
	}
	// The subject's own settings go with it.
	for _, kt := range []string{keyConfig, keyMode} {
		var has bool
		s.read(func(st *state) {
			if kt == keyConfig {
				_, has = st.config[subject]
			} else {
				_, has = st.mode[subject]
			}
		})
		if has {
			if err := s.produce(ctx, subjectKey(kt, subject), nil); err != nil {
				return nil, err
			}
		}
	}
	return versions, nil
}

// Config returns the compatibility level of subject ("" global); with
// fallback, a subject without its own level gets the global one.
func (s *Store) Config(subject string, fallback bool) (string, error) {
	var l string
	var ok bool
	s.read(func(st *state) {
		l, ok = st.config[subject]
		if !ok && (subject == "" || fallback) {
			l, ok = st.compatLevel(subject), true
		}
	})
	if !ok {
		return "", errorf(CodeSubjectConfigNotFound, "Subject '%s' does not have subject-level compatibility configured", subject)
	}
	return l, nil
}

// SetConfig sets the compatibility level of subject ("" global).
func (s *Store) SetConfig(ctx context.Context, subject, level string) error {
	if !validCompat(level) {
		return errorf(CodeInvalidCompatibility, "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.produce(ctx, subjectKey(keyConfig, subject), configValue{CompatibilityLevel: level})
}

// DeleteConfig removes a subject's own level (or the global one) and returns it.
func (s *Store) DeleteConfig(ctx context.Context, subject string) (string, error) {
	l, err := s.Config(subject, false)
	if err != nil {
		return "", err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return l, s.produce(ctx, subjectKey(keyConfig, subject), nil)
}

// Mode returns the mode of subject ("" global).
func (s *Store) Mode(subject string, fallback bool) (string, error) {
	var m string
	var ok bool
	s.read(func(st *state) {
		m, ok = st.mode[subject]
		if !ok && (subject == "" || fallback) {
			m, ok = st.modeOf(subject), true
		}
	})
	if !ok {
		return "", errorf(CodeSubjectModeNotFound, "Subject '%s' does not have subject-level mode configured", subject)
	}
	return m, nil
}

// SetMode sets the mode of subject ("" global). IMPORT needs an empty
// registry (or subject) unless force.
func (s *Store) SetMode(ctx context.Context, subject, mode string, force bool) error {
	switch mode {
	case ModeReadWrite, ModeReadOnly, ModeImport:
	default:
		return errorf(CodeInvalidMode, "Invalid mode. Valid values are READWRITE, READONLY, IMPORT")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.sync(ctx); err != nil {
		return err
	}
	if mode == ModeImport && !force {
		nonEmpty := false
		s.read(func(st *state) {
			if subject == "" {
				nonEmpty = len(st.subjects) > 0
			} else {
				nonEmpty = len(st.subjects[subject]) > 0
			}
		})
		if nonEmpty {
			return errorf(CodeOperationNotPermitted, "Cannot import since found existing subjects")
		}
	}
	return s.produce(ctx, subjectKey(keyMode, subject), modeValue{Mode: mode})
}

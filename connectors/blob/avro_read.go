package blob

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/hamba/avro/v2/ocf"

	"github.com/penstockhq/penstock/connect"
)

// avroValues reads the values of an Avro object container file the sink
// wrote, with hamba/avro's decoder, and gives them back their Connect
// schema, which the sink keeps in the file's metadata. The header is read
// by hand first, so that skip can pass over whole blocks before the
// decoder starts.
type avroValues struct {
	schema *connect.Schema
	in     *bufio.Reader
	header *ocfHeader
	dec    *ocf.Decoder // from the first value read on
}

func newAvroValues(r io.Reader) (*avroValues, error) {
	in := bufio.NewReaderSize(r, 64<<10)
	h, err := readOCFHeader(in)
	if err != nil {
		return nil, err
	}
	raw, ok := h.meta[connectSchemaKey]
	if !ok {
		return nil, fmt.Errorf("no %s metadata: the source restores the Avro objects Penstock's sink wrote", connectSchemaKey)
	}
	s, err := parseSchemaJSON(string(raw))
	if err != nil {
		return nil, fmt.Errorf("the schema in its metadata: %w", err)
	}
	return &avroValues{schema: s, in: in, header: h}, nil
}

// decoder starts hamba/avro's decoder where the file's records are read
// from: it reads the header again, then the rest of the file.
func (a *avroValues) decoder() (*ocf.Decoder, error) {
	if a.dec == nil {
		dec, err := ocf.NewDecoder(io.MultiReader(bytes.NewReader(a.header.raw), &ocfBlocks{r: a.in}))
		if err != nil {
			return nil, err
		}
		a.dec = dec
	}
	return a.dec, nil
}

// decode reads the next record as hamba/avro decodes it.
func (a *avroValues) decode() (any, error) {
	dec, err := a.decoder()
	if err != nil {
		return nil, err
	}
	if !dec.HasNext() {
		if err := dec.Error(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	var v any
	err = dec.Decode(&v)
	return v, err
}

func (a *avroValues) next() (*connect.Schema, any, error) {
	v, err := a.decode()
	if err != nil {
		return nil, nil, err
	}
	cv, err := fromAvro(a.schema, v)
	return a.schema, cv, err
}

// skip passes over n records: over the whole blocks before the n-th
// undecoded (when no record was read yet), then over the records before it
// in its block decoded but not converted.
func (a *avroValues) skip(n int64) error {
	if a.dec == nil {
		done, err := skipOCFBlocks(a.in, a.header.sync, n)
		if err != nil {
			return err
		}
		n -= done
	}
	for ; n > 0; n-- {
		if _, err := a.decode(); err != nil {
			return err
		}
	}
	return nil
}

// fromAvro is the Connect value of schema s of v, as hamba/avro decodes
// the Avro the sink wrote for it (the inverse of avroGen.encode).
func fromAvro(s *connect.Schema, v any) (any, error) {
	if v == nil {
		if !s.Optional {
			return nil, fmt.Errorf("a required %s value is null", s.String())
		}
		return nil, nil
	}
	bad := func() (any, error) { return nil, fmt.Errorf("%v (%T) is not a %s", v, v, s.String()) }
	switch s.Name {
	case connect.DecimalName:
		r, ok := v.(*big.Rat)
		if !ok {
			return bad()
		}
		scale, err := s.Scale()
		if err != nil {
			return nil, err
		}
		n := new(big.Int).Mul(r.Num(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
		return connect.Decimal{Unscaled: n.Quo(n, r.Denom()), Scale: scale}, nil
	case connect.DateName, connect.TimestampName:
		t, ok := v.(time.Time)
		if !ok {
			return bad()
		}
		return t.UTC(), nil
	case connect.TimeName:
		d, ok := v.(time.Duration)
		if !ok {
			return bad()
		}
		return connect.TimeFromMillis(int32(d.Milliseconds())), nil
	}
	switch s.Type {
	case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32:
		i, ok := v.(int)
		if !ok {
			return bad()
		}
		switch s.Type {
		case connect.TypeInt8:
			return int8(i), nil
		case connect.TypeInt16:
			return int16(i), nil
		}
		return int32(i), nil
	case connect.TypeBoolean, connect.TypeInt64, connect.TypeFloat32, connect.TypeFloat64, connect.TypeString, connect.TypeBytes:
		return v, nil // hamba/avro decodes these as Connect has them
	case connect.TypeStruct:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		st := connect.NewStruct(s)
		for i, f := range s.Fields {
			fv, err := fromAvro(f.Schema, m[f.Name])
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
			st.SetAt(i, fv)
		}
		return st, nil
	case connect.TypeArray:
		items, ok := v.([]any)
		if !ok {
			return bad()
		}
		out := make([]any, len(items))
		for i, it := range items {
			var err error
			if out[i], err = fromAvro(s.Value, it); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return out, nil
	case connect.TypeMap:
		if m, ok := v.(map[string]any); ok { // a map with string keys
			out := make(map[string]any, len(m))
			for k, mv := range m {
				var err error
				if out[k], err = fromAvro(s.Value, mv); err != nil {
					return nil, fmt.Errorf("map value of %q: %w", k, err)
				}
			}
			return out, nil
		}
		entries, ok := v.([]any) // an array of key/value records
		if !ok {
			return bad()
		}
		out := make(map[any]any, len(entries))
		for _, e := range entries {
			kv, ok := e.(map[string]any)
			if !ok {
				return nil, errors.New("a map entry is not a key/value record")
			}
			k, err := fromAvro(s.Key, kv["key"])
			if err != nil {
				return nil, fmt.Errorf("map key: %w", err)
			}
			if out[k], err = fromAvro(s.Value, kv["value"]); err != nil {
				return nil, fmt.Errorf("map value of %v: %w", k, err)
			}
		}
		return out, nil
	}
	return bad()
}

package connect

// RawAt returns the value stored in field i, nil when the field is unset,
// without falling back to the field's schema default (Kafka Connect's
// Struct.getWithoutDefault). Transforms use it to copy values faithfully when
// replace.null.with.default=false.
func (st *Struct) RawAt(i int) any { return st.values[i] }

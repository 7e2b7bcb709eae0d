package postgres

import (
	"math/big"

	"github.com/penstockhq/penstock/connect"
)

// valueArena is the one place where decoded field values and structs are
// made, so how they are allocated can change in one spot. Each value is
// allocated as Go allocates any(x). (An unsafe version that carved values
// from shared chunks cut allocations per row by an order of magnitude but
// depended on Go's interface layout and on connect.Struct's private fields;
// the snapshot's speed is bound by the garbage collector either way.)
type valueArena struct{}

func (a *valueArena) newStruct(s *connect.Schema) *connect.Struct { return connect.NewStruct(s) }

func (a *valueArena) int64(n int64) any { return n }

func (a *valueArena) int32(n int32) any { return n }

func (a *valueArena) int16(n int16) any { return n }

// bytesString returns a string with the bytes of b, which it does not keep.
func (a *valueArena) bytesString(b []byte) string { return string(b) }

func (a *valueArena) string(s string) any { return s }

// stringOf boxes a string with the bytes of b.
func (a *valueArena) stringOf(b []byte) any { return string(b) }

// decimal boxes the Decimal unscaled × 10^-scale.
func (a *valueArena) decimal(unscaled int64, scale int32) any {
	return connect.Decimal{Unscaled: big.NewInt(unscaled), Scale: scale}
}

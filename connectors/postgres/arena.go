package postgres

import (
	"math/big"

	"github.com/penstockhq/penstock/connect"
)

// valueArena is the one place where decoded field values and structs are
// made, so how they are allocated can change in one spot. Structs come from
// small per-schema batches (connect.NewStructs); values are allocated as Go
// allocates any(x). An arena belongs to one goroutine.
type valueArena struct {
	structs map[*connect.Schema][]connect.Struct
}

// structBatch is how many Structs of one schema are made at once: small, so a
// record kept long after the others keeps little memory alive.
const structBatch = 32

func (a *valueArena) newStruct(s *connect.Schema) *connect.Struct {
	free := a.structs[s]
	if len(free) == 0 {
		if a.structs == nil {
			a.structs = map[*connect.Schema][]connect.Struct{}
		}
		free = connect.NewStructs(s, structBatch)
	}
	a.structs[s] = free[1:]
	return &free[0]
}

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

//go:build !linux

package broker

import (
	"net"

	"github.com/penstockhq/penstock/broker/storage"
)

// sendFileRange sends r to w by reading and writing it.
func sendFileRange(w net.Conn, r storage.FileRange) error { return copyFileRange(w, r) }

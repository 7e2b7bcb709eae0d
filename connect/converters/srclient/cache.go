package srclient

import "sync"

// Cache is a map safe for concurrent use, filled on demand: the schemas a
// converter derived, by Connect schema or by id, and the ids and schemas
// the registry answered. Entries are never evicted: a converter meets few
// schemas.
type Cache[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

// Get returns the value for k, computing it with fill (outside the lock;
// concurrent misses may fill twice, and the last one stays) when absent. An
// error is returned and not cached.
func (c *Cache[K, V]) Get(k K, fill func() (V, error)) (V, error) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v, nil
	}
	v, err := fill()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[K]V)
	}
	c.m[k] = v
	c.mu.Unlock()
	return v, nil
}

// What names the half of a record a converter serves, for error messages.
func What(isKey bool) string {
	if isKey {
		return "key"
	}
	return "value"
}

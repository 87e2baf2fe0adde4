package testenv

import (
	"crypto/rand"
	"sync"
)

var entryKeys = sync.OnceValue(func() [][]byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return [][]byte{k}
})

// EntryKeys returns the cache entry MAC keys (resolver.Config.MACKeys) for
// tests: one random key per test process, so that every resolver and
// publisher a test builds accepts the others' entries.
func EntryKeys() [][]byte {
	return entryKeys()
}

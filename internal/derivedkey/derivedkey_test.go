package derivedkey

import (
	"bytes"
	"testing"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
)

func TestDeriveSeparatesPurposesAndSecrets(t *testing.T) {
	s1, s2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	a, err := Derive(s1, PurposeCacheEntry)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Derive(s1, PurposeCacheEntry)
	other, _ := Derive(s1, PurposeBackupManifest)
	otherSecret, _ := Derive(s2, PurposeCacheEntry)
	if len(a) != Size {
		t.Fatalf("len(Derive) = %d, want %d", len(a), Size)
	}
	if !bytes.Equal(a, again) {
		t.Error("Derive is not deterministic")
	}
	if bytes.Equal(a, other) {
		t.Error("two purposes share a key")
	}
	if bytes.Equal(a, otherSecret) {
		t.Error("two secrets share a key")
	}
	if bytes.Equal(a, s1) {
		t.Error("the derived key is the secret itself")
	}
	if _, err := Derive(nil, PurposeCacheEntry); err == nil {
		t.Error("Derive(empty secret) = nil error, want an error")
	}
}

func TestFromSigningKeysKeepsOrder(t *testing.T) {
	keys := []tenanttoken.Key{{ID: "new", Secret: bytes.Repeat([]byte{7}, 32)}, {ID: "old", Secret: bytes.Repeat([]byte{8}, 32)}}
	got, err := FromSigningKeys(keys, PurposeCacheEntry)
	if err != nil {
		t.Fatal(err)
	}
	want0, _ := Derive(keys[0].Secret, PurposeCacheEntry)
	if len(got) != 2 || !bytes.Equal(got[0], want0) {
		t.Fatalf("FromSigningKeys: first key is not the current key's derivation")
	}
	if _, err := FromSigningKeys(nil, PurposeCacheEntry); err == nil {
		t.Error("FromSigningKeys(nil) = nil error, want an error")
	}
}

package actor

import (
	"context"
	"strings"
	"testing"
)

func TestContextRoundTrip(t *testing.T) {
	if got := FromContext(context.Background()); got.Kind != System || got.ID != "" {
		t.Errorf("FromContext(empty) = %+v, want kind system", got)
	}
	want := Actor{Kind: AdminToken, ID: TokenID("secret-token"), IP: "192.0.2.7"}
	if got := FromContext(NewContext(context.Background(), want)); got != want {
		t.Errorf("FromContext = %+v, want %+v", got, want)
	}
}

func TestTokenIDHidesToken(t *testing.T) {
	id := TokenID("s3cr3t-admin-token-value")
	if !strings.HasPrefix(id, "tok_") || len(id) != 4+2*tokenIDBytes {
		t.Errorf("TokenID = %q, want tok_ and %d hex digits", id, 2*tokenIDBytes)
	}
	if strings.Contains(id, "s3cr3t") || id == TokenID("other") {
		t.Errorf("TokenID = %q: shows the token or collides", id)
	}
}

func TestOSUser(t *testing.T) {
	t.Setenv("SUDO_USER", "mallory")
	a := OSUser()
	if a.Kind != Tenantctl || a.ID == "" {
		t.Fatalf("OSUser = %+v, want kind tenantctl and a name", a)
	}
}

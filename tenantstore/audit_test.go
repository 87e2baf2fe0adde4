package tenantstore

import (
	"context"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/internal/actor"
)

// TestAuditAppendOnly: the control plane itself refuses to change or
// remove audit rows, whoever asks (the application's role included).
func TestAuditAppendOnly(t *testing.T) {
	s := newTestStore(t)
	ctx := actor.NewContext(context.Background(), actor.Actor{Kind: actor.AdminToken, ID: "tok_0123456789ab", IP: "192.0.2.9"})
	if err := s.Audit(ctx, "test.action", &Tenant{Subdomain: "acme"}, nil, map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`UPDATE audit_log SET action = 'forged'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
	} {
		_, err := s.pool.Exec(context.Background(), sql)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want refused as append-only", sql, err)
		}
	}
	entries, _, err := s.ListAudit(context.Background(), AuditListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != "test.action" || entries[0].Actor.IP != "192.0.2.9" || string(entries[0].After) != `{"n": 1}` {
		t.Errorf("entries = %+v, want the one row, unchanged", entries)
	}
}

func TestRedactAudit(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"password keys", `{"admin_password":"pw1","nested":{"RolePassword":"pw2"}}`, `{"admin_password":"[redacted]","nested":{"RolePassword":"[redacted]"}}`},
		{"tokens, secrets and keys", `{"token":"t","client_secret":"s","api_key":"k","keys":["a"]}`,
			`{"api_key":"[redacted]","client_secret":"[redacted]","keys":"[redacted]","token":"[redacted]"}`},
		{"URL with credentials", `{"url":"postgres://u:hunter2@db/x"}`, `{"url":"postgres://u:xxxxx@db/x"}`},
		{"URL in a list", `[{"note":"moved to postgres://u:hunter2@db/x today"}]`, `[{"note":"moved to postgres://u:xxxxx@db/x today"}]`},
		{"conninfo password", `{"dsn":"host=db password=hunter2"}`, `{"dsn":"host=db password=xxxxx"}`},
		{"variable names kept", `{"password_env":"PGPASS_A","name":"Acme"}`, `{"name":"Acme","password_env":"PGPASS_A"}`},
		{"empty secret kept empty", `{"token":""}`, `{"token":""}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RedactAudit([]byte(tc.in))
			if err != nil || string(got) != tc.want {
				t.Errorf("RedactAudit(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
}

// Package tenantstore holds tenant metadata: the control-plane store in
// PostgreSQL, its Redis cache and resolver chain, provisioning of tenant
// databases, their migrations and the resolution of a tenant's database URL.
package tenantstore

import (
	"context"
	"encoding/json"
	"time"
)

// Status is the lifecycle state of a tenant.
type Status string

// The statuses a tenant can be in. Only StatusActive tenants are served;
// StatusProvisioning exists only while a create is under way.
const (
	StatusProvisioning Status = "provisioning"
	StatusActive       Status = "active"
	StatusSuspended    Status = "suspended"
	StatusMaintenance  Status = "maintenance"
)

// Valid reports whether s is one of the statuses an operator may set or filter
// by (provisioning is internal and not settable).
func (s Status) Valid() bool {
	switch s {
	case StatusActive, StatusSuspended, StatusMaintenance:
		return true
	}
	return false
}

// DefaultMaxUsers is the user limit of a tenant created without one.
const DefaultMaxUsers = 50

// Tenant is one organization: its identity, its state and where its database
// lives. Secrets (Placement.URL, Placement.RolePassword) are never marshalled
// to JSON.
type Tenant struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Subdomain     string `json:"subdomain"`
	AdminEmail    string `json:"admin_email"`
	Status        Status `json:"status"`
	MaxUsers      int    `json:"max_users"`
	MultiLocation bool   `json:"multi_location"`
	DatabaseName  string `json:"database_name"`
	// DatabaseServer is the normalised "host:port" of the database's
	// server, "" for the server of TENANT_DATABASE_TEMPLATE (see
	// DSNConfig.ServerKey); with DatabaseName it is unique among tenants.
	DatabaseServer string `json:"-"`
	// DatabaseOwned records that tenantgate created the database for this
	// tenant; only then does Delete with DropDatabase drop it.
	DatabaseOwned bool      `json:"database_owned"`
	Placement     Placement `json:"database"`
	Domains       []Domain  `json:"domains"`
	// Limits are the tenant's own limits at the edge (SPEC §11); nil
	// fields take the edge's defaults.
	Limits    TenantLimits `json:"limits"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	Version   int64        `json:"version"`
	// Branding is what the tenant's pages show: display name, colour and
	// the logo's hash (never its bytes; see Store.Logo).
	Branding Branding `json:"branding"`
	// Plan names the tenant's plan (SPEC §13).
	Plan string `json:"plan"`
	// FeatureOverrides are the tenant's own feature settings, which win
	// over its plan's.
	FeatureOverrides map[string]bool `json:"feature_overrides"`
	// Features are the effective features, every known one: its override,
	// else its plan's value, else on (see FeatureEnabled).
	Features map[string]bool `json:"features"`
	// PlanLimits are the plan's limits at the edge; EffectiveLimits
	// merges them under the tenant's own Limits.
	PlanLimits TenantLimits `json:"plan_limits"`
	// OwnMaxUsers is the tenant's own user limit; nil follows the plan's.
	// MaxUsers is the effective one.
	OwnMaxUsers *int `json:"own_max_users"`
	// planMaxUsers is the plan's user limit when the tenant was read.
	planMaxUsers int
}

// Placement says where a tenant's database lives. With every field empty the
// database is on the server of TENANT_DATABASE_TEMPLATE; URL names it fully
// (a URL without user info, with RoleName set, is reached as that role: what
// a move, a restore or a create through an operator's URL leaves);
// Host/Port/User/PasswordEnv name it in parts (the password itself stays in
// the named environment variable and is never stored). RoleName and
// RolePassword are the login role that provisioning created for this tenant,
// allowed to connect to this database only.
type Placement struct {
	URL          string
	Host         string
	Port         int
	User         string
	PasswordEnv  string
	RoleName     string
	RolePassword string
}

// Kind names how the database is placed: "template", "url" or "parts".
func (p Placement) Kind() string {
	switch {
	case p.URL != "":
		return "url"
	case p.Host != "" || p.Port != 0 || p.User != "" || p.PasswordEnv != "":
		return "parts"
	}
	return "template"
}

// MarshalJSON writes the placement without any secret: an explicit URL is
// shown with its password replaced, the role password never.
func (p Placement) MarshalJSON() ([]byte, error) {
	out := struct {
		Kind        string `json:"kind"`
		URL         string `json:"url,omitempty"`
		Host        string `json:"host,omitempty"`
		Port        int    `json:"port,omitempty"`
		User        string `json:"user,omitempty"`
		PasswordEnv string `json:"password_env,omitempty"`
		Role        string `json:"role,omitempty"`
	}{p.Kind(), RedactURL(p.URL), p.Host, p.Port, p.User, p.PasswordEnv, p.RoleName}
	return json.Marshal(out)
}

// Domain is a custom hostname of a tenant. Only verified domains route and get
// certificates.
type Domain struct {
	Hostname          string     `json:"hostname"`
	Verified          bool       `json:"verified"`
	VerificationToken string     `json:"verification_token,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	VerifiedAt        *time.Time `json:"verified_at,omitempty"`
}

// Location is one store or branch of a multi-location tenant.
type Location struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Name      string    `json:"name"`
	Code      string    `json:"code"`
	Address   string    `json:"address"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
}

// Change describes one committed change to a tenant, so that caches can drop
// every entry it affects. Subdomains and Hostnames include old values (after a
// rename or a domain removal) as well as new ones.
type Change struct {
	TenantID   string
	Subdomains []string
	Hostnames  []string
	// PlanOnly says only what the tenant takes from its plan changed (a
	// plan was edited): caches drop the tenant, but its database and its
	// pools are as they were, so appservers keep them.
	PlanOnly bool
}

// Notifier is told about every committed change the Store makes. The
// resolver implements it by deleting Redis entries and publishing an
// invalidation message.
type Notifier interface {
	Notify(ctx context.Context, c Change) error
}

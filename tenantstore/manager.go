package tenantstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tenantgate/tenantgate/migrations"
)

// Defaults of ManagerConfig.
const (
	DefaultDatabasePrefix = "sales_"
	DefaultAdminDatabase  = "postgres"
	DefaultBcryptCost     = 10
	// MaxNameLength bounds a tenant's and a location's name.
	MaxNameLength = 200
	// MaxMaxUsers bounds a tenant's max_users: far above any real
	// organization, far below the control plane's int4 column.
	MaxMaxUsers = 1_000_000
	// MaxPasswordBytes is bcrypt's limit: a longer password is refused, not
	// silently cut.
	MaxPasswordBytes = 72
	// staleProvisioning is how old a tenant stuck in provisioning (its
	// creator crashed before undoing) must be before Delete accepts it.
	staleProvisioning = 15 * time.Minute
	// maxUpdateRetries is how often Update re-reads and re-applies a patch
	// that lost a race with another writer.
	maxUpdateRetries = 3
)

// ManagerConfig configures a Manager. Only Store and DSN.Template are
// required.
type ManagerConfig struct {
	Store *Store
	// DSN resolves tenant database URLs; its Template also names the server
	// (and the provisioning user) where template-placed databases are made.
	DSN DSNConfig
	// Reserved subdomains; nil means DefaultReservedSubdomains.
	Reserved []string
	// DatabasePrefix is TENANT_DB_PREFIX; "" means DefaultDatabasePrefix.
	DatabasePrefix string
	// AdminDatabase is the maintenance database on the template's server;
	// "" means DefaultAdminDatabase.
	AdminDatabase string
	// Migrations are the tenant migrations; nil means migrations.Tenant().
	Migrations fs.FS
	// LookupTXT resolves DNS TXT records for domain verification; nil means
	// net.DefaultResolver.LookupTXT.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// BaseDomain is BASE_DOMAIN; custom domains inside it are refused.
	BaseDomain string
	// BcryptCost hashes the first admin's password; 0 means DefaultBcryptCost.
	BcryptCost int
	// DatabaseHosts (TENANT_DATABASE_HOSTS) are the "host[:port]" servers,
	// besides the template's, that a database URL given to Create, Update
	// or CheckDatabaseHost may name; a host without a port means 5432. Any
	// other host is refused before any connection is tried, so the admin
	// API cannot be used to probe ports.
	DatabaseHosts []string
	// AnyDatabaseHost lifts that restriction (tenantctl, run by an
	// operator on the box, who can reach any server anyway).
	AnyDatabaseHost bool
}

// Manager is the one service layer over tenants, used by tenantctl and the
// admin API: it validates input, provisions and drops databases, and
// migrates and checks tenant databases. It is safe for concurrent use.
type Manager struct {
	store     *Store
	dsn       DSNConfig
	reserved  []string
	base      string
	lookupTXT func(ctx context.Context, name string) ([]string, error)
	prov      *provisioner
	// hosts are the allowed database servers (normalised keys); nil when
	// any host is allowed.
	hosts []string
}

// NewManager returns a Manager; Close releases its connections to the tenant
// database server (not the Store, which the caller owns).
func NewManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("tenant manager: no store")
	}
	if cfg.Reserved == nil {
		cfg.Reserved = DefaultReservedSubdomains
	}
	if cfg.DatabasePrefix == "" {
		cfg.DatabasePrefix = DefaultDatabasePrefix
	}
	if cfg.AdminDatabase == "" {
		cfg.AdminDatabase = DefaultAdminDatabase
	}
	if cfg.Migrations == nil {
		cfg.Migrations = migrations.Tenant()
	}
	if cfg.LookupTXT == nil {
		cfg.LookupTXT = net.DefaultResolver.LookupTXT
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = DefaultBcryptCost
	}
	if _, err := latestVersion(cfg.Migrations); err != nil {
		return nil, fmt.Errorf("tenant manager: %w", err)
	}
	var hosts []string
	if !cfg.AnyDatabaseHost {
		hosts = []string{cfg.DSN.TemplateServer()}
		for _, h := range cfg.DatabaseHosts {
			if h = strings.TrimSpace(h); h == "" {
				continue
			}
			k, err := serverKey("postgres://" + h + "/postgres")
			if err != nil {
				return nil, fmt.Errorf("tenant manager: database host %q is not host[:port]", h)
			}
			hosts = append(hosts, k)
		}
	}
	return &Manager{
		store: cfg.Store, dsn: cfg.DSN, reserved: cfg.Reserved, base: cfg.BaseDomain, lookupTXT: cfg.LookupTXT,
		prov: &provisioner{store: cfg.Store, dsn: cfg.DSN, prefix: cfg.DatabasePrefix, adminDB: cfg.AdminDatabase,
			migrations: cfg.Migrations, bcryptCost: cfg.BcryptCost},
		hosts: hosts,
	}, nil
}

// CheckDatabaseHost refuses, as a *ValidationError naming field, a database
// URL whose server is neither the template's nor one of
// ManagerConfig.DatabaseHosts. It never connects.
func (m *Manager) CheckDatabaseHost(field, rawURL string) error {
	if m.hosts == nil {
		return nil
	}
	cfg, err := pgconn.ParseConfig(rawURL)
	if err != nil {
		return invalid(field, "is not a valid postgres:// URL")
	}
	// Every host a connection may try: the first and each fallback of a
	// multi-host URL (or of a host= parameter).
	servers := []string{hostKey(cfg.Host, cfg.Port)}
	for _, fb := range cfg.Fallbacks {
		servers = append(servers, hostKey(fb.Host, fb.Port))
	}
	for _, k := range servers {
		if !slices.Contains(m.hosts, k) {
			return invalid(field, "names server %s, which is not allowed: use the template's server or one listed in TENANT_DATABASE_HOSTS", k)
		}
	}
	return nil
}

// Close releases the Manager's connections. It is idempotent.
func (m *Manager) Close() { m.prov.close() }

// Store returns the Manager's control-plane store.
func (m *Manager) Store() *Store { return m.store }

// CreateRequest is the input of Manager.Create.
type CreateRequest struct {
	Name       string
	Subdomain  string
	AdminEmail string
	// MaxUsers is the user limit; 0 means DefaultMaxUsers, below 0 is invalid.
	MaxUsers      int
	MultiLocation bool
	// AdminPassword of the first admin user; "" generates one, returned
	// once by Create.
	AdminPassword string
	// Placement is empty for the template server, or an explicit URL or
	// host/port/user/password variable.
	Placement Placement
	// DatabaseName names the database of a host/port placement; "" derives
	// it from the prefix and subdomain. Ignored otherwise.
	DatabaseName string
	// AdoptExisting lets an explicit placement (or a
	// TENANT_<SUB>_DATABASE_URL override) attach the tenant to an existing
	// database that already holds tables; without it that is an
	// ErrDatabaseInUse conflict.
	AdoptExisting bool
	// Server names the registered database server to place the tenant on;
	// "" places it on the least loaded accepting one (see pickServer).
	// Only for the template placement: with an explicit one it is invalid.
	Server string
}

// Create validates req and provisions the tenant: its row, its database and
// login role, migrations and first admin user (see SPEC §4). It returns the
// active tenant and, when req.AdminPassword was empty, the generated
// password (to be shown once). Validation errors are *ValidationError naming
// the field; a taken subdomain or name is a *ConflictError.
func (m *Manager) Create(ctx context.Context, req CreateRequest) (*Tenant, string, error) {
	t, err := m.validateCreate(&req)
	if err != nil {
		return nil, "", err
	}
	generated := ""
	if req.AdminPassword == "" {
		generated = generatePassword()
		req.AdminPassword = generated
	}
	operator, err := m.placeTenant(ctx, t, req.Server)
	if err != nil {
		return nil, "", fmt.Errorf("creating tenant %q: %w", t.Subdomain, err)
	}
	if err := m.prov.create(ctx, t, operator, req.AdminPassword, req.AdoptExisting); err != nil {
		return nil, "", fmt.Errorf("creating tenant %q: %w", t.Subdomain, err)
	}
	return t, generated, nil
}

// placeTenant decides where t's database goes and returns the operator
// URL that creates it with t's own role ("" for the template's server and
// for explicit placements whose credentials are the tenant's own): a
// template placement goes to the server named server or the least loaded
// accepting one, an explicit one where it says.
func (m *Manager) placeTenant(ctx context.Context, t *Tenant, server string) (string, error) {
	if m.prov.explicit(t) {
		if server != "" {
			return "", invalid("server", "cannot be combined with an explicit database placement (database_url, database_host…, or %s)", OverrideVar(t.Subdomain))
		}
	} else {
		s, err := m.pickServer(ctx, server)
		if err != nil {
			return "", err
		}
		if s.Name != DefaultServer {
			operator, err := m.placeOn(ctx, t, s)
			if err != nil {
				return "", err
			}
			return operator, m.locate(ctx, t)
		}
	}
	if err := m.prov.place(ctx, t); err != nil {
		return "", err
	}
	if err := m.locate(ctx, t); err != nil {
		return "", err
	}
	return m.prov.claim(ctx, t)
}

func (m *Manager) validateCreate(req *CreateRequest) (*Tenant, error) {
	name := strings.TrimSpace(req.Name)
	if err := validateName("name", name); err != nil {
		return nil, err
	}
	sub, err := NormalizeSubdomain(strings.TrimSpace(req.Subdomain), m.reserved)
	if err != nil {
		return nil, err
	}
	if err := ValidateEmail("admin_email", req.AdminEmail); err != nil {
		return nil, err
	}
	if req.MaxUsers < 0 {
		return nil, invalid("max_users", "must be at least 1")
	}
	if req.MaxUsers == 0 {
		req.MaxUsers = DefaultMaxUsers
	}
	if err := validateMaxUsers(req.MaxUsers); err != nil {
		return nil, err
	}
	if req.AdminPassword != "" && utf8.RuneCountInString(req.AdminPassword) < 8 {
		return nil, invalid("admin_password", "must be at least 8 characters")
	}
	if len(req.AdminPassword) > MaxPasswordBytes {
		return nil, invalid("admin_password", "must be at most %d bytes (UTF-8)", MaxPasswordBytes)
	}
	if err := m.validatePlacement(req.Placement); err != nil {
		return nil, err
	}
	t := &Tenant{Name: name, Subdomain: sub, AdminEmail: req.AdminEmail, MaxUsers: req.MaxUsers,
		MultiLocation: req.MultiLocation, Placement: req.Placement, Status: StatusProvisioning}
	if req.Placement.Kind() == "parts" {
		t.DatabaseName = req.DatabaseName
	}
	return t, nil
}

func (m *Manager) validatePlacement(p Placement) error {
	if p.URL != "" {
		cfg, err := parseConfig(p.URL)
		if err != nil || !strings.Contains(p.URL, "://") {
			return invalid("database_url", "is not a valid postgres:// URL")
		}
		if cfg.Database == "" {
			return invalid("database_url", "must name a database")
		}
		if err := m.CheckDatabaseHost("database_url", p.URL); err != nil {
			return err
		}
	}
	if p.Port < 0 || p.Port > 65535 {
		return invalid("database_port", "must be between 1 and 65535")
	}
	if p.PasswordEnv != "" && m.dsn.getenv(p.PasswordEnv) == "" {
		return invalid("database_password_env", "variable %s is empty or unset", p.PasswordEnv)
	}
	if p.Kind() == "parts" {
		host := net.JoinHostPort(cmp.Or(p.Host, "127.0.0.1"), strconv.Itoa(cmp.Or(p.Port, 5432)))
		if err := m.CheckDatabaseHost("database_host", "postgres://"+host+"/postgres"); err != nil {
			return err
		}
	}
	return nil
}

func validateName(field, name string) error {
	if name == "" {
		return invalid(field, "must not be empty")
	}
	return ValidateText(field, name, MaxNameLength)
}

func validateMaxUsers(n int) error {
	if n < 1 || n > MaxMaxUsers {
		return invalid("max_users", "must be from 1 to %d", MaxMaxUsers)
	}
	return nil
}

// generatePassword returns 16 random bytes, URL-safe base64 (22 characters).
func generatePassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Get returns the tenant with subdomain sub, or an ErrNotFound error naming it.
func (m *Manager) Get(ctx context.Context, sub string) (*Tenant, error) {
	return m.store.GetBySubdomain(ctx, strings.TrimSpace(sub))
}

// List returns a page of tenants (see Store.List).
func (m *Manager) List(ctx context.Context, opts ListOptions) ([]*Tenant, string, error) {
	if opts.Status != "" && !opts.Status.Valid() && opts.Status != StatusProvisioning {
		return nil, "", invalid("status", "must be active, suspended, maintenance or provisioning")
	}
	return m.store.List(ctx, opts)
}

// Patch is a partial update of a tenant; nil fields are left unchanged.
type Patch struct {
	Name          *string
	Subdomain     *string
	AdminEmail    *string
	Status        *Status
	MaxUsers      *int
	MultiLocation *bool
	// DatabaseURL sets an explicit database URL; "" returns the tenant to
	// its template placement.
	DatabaseURL *string
	// Limits changes the tenant's limits at the edge (see LimitsPatch).
	Limits *LimitsPatch
	// Version, when set, must be the tenant's current version
	// (ErrStaleVersion otherwise); without it the patch is re-applied on top
	// of concurrent changes.
	Version *int64
}

// Update applies p to the tenant with subdomain sub and returns the result.
func (m *Manager) Update(ctx context.Context, sub string, p Patch) (*Tenant, error) {
	for attempt := 0; ; attempt++ {
		t, err := m.Get(ctx, sub)
		if err != nil {
			return nil, err
		}
		if p.Version != nil && *p.Version != t.Version {
			return nil, fmt.Errorf("updating tenant %q (version %d, current %d): %w", sub, *p.Version, t.Version, ErrStaleVersion)
		}
		if t.Status == StatusProvisioning {
			return nil, fmt.Errorf("updating tenant %q: %w", sub, &ConflictError{Field: "status", Message: "is provisioning; wait for the create to finish"})
		}
		oldSub, oldServer, oldName, oldKind := t.Subdomain, m.serverOf(t), t.DatabaseName, t.Placement.Kind()
		if err := m.applyPatch(t, p); err != nil {
			return nil, err
		}
		toTemplate := p.DatabaseURL != nil && *p.DatabaseURL == "" && oldKind != "template"
		if err := m.relocate(ctx, t, oldSub, oldServer, oldName, toTemplate); err != nil {
			return nil, fmt.Errorf("updating tenant %q: %w", sub, err)
		}
		if p.DatabaseURL != nil && *p.DatabaseURL != "" {
			// Checked as the app would connect: a URL without user info
			// is reached as the tenant's role.
			u, err := withRole(*p.DatabaseURL, t.Placement.RoleName, t.Placement.RolePassword)
			if err == nil {
				err = refuseOperatorURL(ctx, u)
			}
			if err != nil {
				return nil, fmt.Errorf("updating tenant %q: %w", sub, err)
			}
		}
		err = m.store.Update(ctx, t)
		if errors.Is(err, ErrStaleVersion) && p.Version == nil && attempt < maxUpdateRetries {
			continue
		}
		if err != nil {
			return nil, err
		}
		return t, nil
	}
}

func (m *Manager) applyPatch(t *Tenant, p Patch) error {
	if p.Name != nil {
		name := strings.TrimSpace(*p.Name)
		if err := validateName("name", name); err != nil {
			return err
		}
		t.Name = name
	}
	if p.Subdomain != nil {
		sub, err := NormalizeSubdomain(strings.TrimSpace(*p.Subdomain), m.reserved)
		if err != nil {
			return err
		}
		t.Subdomain = sub
	}
	if p.AdminEmail != nil {
		if err := ValidateEmail("admin_email", *p.AdminEmail); err != nil {
			return err
		}
		t.AdminEmail = *p.AdminEmail
	}
	if p.Status != nil {
		if !p.Status.Valid() {
			return invalid("status", "must be active, suspended or maintenance")
		}
		t.Status = *p.Status
	}
	if p.MaxUsers != nil {
		if err := validateMaxUsers(*p.MaxUsers); err != nil {
			return err
		}
		t.MaxUsers = *p.MaxUsers
	}
	if p.MultiLocation != nil {
		t.MultiLocation = *p.MultiLocation
	}
	if p.Limits != nil {
		l := p.Limits.apply(t.Limits)
		if err := l.Validate(); err != nil {
			return err
		}
		t.Limits = l
	}
	if p.DatabaseURL != nil {
		if *p.DatabaseURL != "" {
			if err := m.validatePlacement(Placement{URL: *p.DatabaseURL}); err != nil {
				return err
			}
		}
		t.Placement.URL = *p.DatabaseURL
	}
	return nil
}

// refuseOperatorURL refuses, as a *ValidationError naming database_url, a
// URL whose user is a superuser or may create roles: a PATCH stores its URL
// as given, and the tenant would run with operator credentials (SPEC §9).
// Moving the tenant does what the operator means, safely: a copy on that
// server, reached as the tenant's own role. A URL that cannot be checked
// is refused too.
func refuseOperatorURL(ctx context.Context, rawURL string) error {
	privileged, err := mayCreateRoles(ctx, rawURL)
	if err != nil {
		return invalid("database_url", "could not be checked (%v); a tenant's URL is accepted only once its user is known not to be a superuser or allowed to create roles", err)
	}
	if privileged {
		return invalid("database_url", "names a user who is a superuser or may create roles, and a tenant never runs with such credentials; to put the tenant on that server use move (tenantctl move --new-url, POST /api/tenants/{subdomain}/move), which gives it its own role there, or give the URL of a role without those privileges")
	}
	return nil
}

// SetStatus sets the status of the tenant with subdomain sub.
func (m *Manager) SetStatus(ctx context.Context, sub string, s Status) (*Tenant, error) {
	return m.Update(ctx, sub, Patch{Status: &s})
}

// DeleteOptions modifies Manager.Delete.
type DeleteOptions struct {
	// DropDatabase drops the tenant's database and login role when
	// tenantgate created them for this tenant (Tenant.DatabaseOwned);
	// otherwise, and without it, both are kept, detached from the control
	// plane.
	DropDatabase bool
}

// DeleteResult says what Delete did with the tenant's database.
type DeleteResult struct {
	// DatabaseDropped is true when the database was dropped.
	DatabaseDropped bool `json:"database_dropped"`
	// Warning explains why a database that DropDatabase asked to drop was
	// kept (detached) instead.
	Warning string `json:"warning,omitempty"`
}

// Delete removes a suspended tenant (an active or maintenance tenant is an
// ErrConflict saying to suspend it first). A tenant stuck in provisioning
// for 15 minutes (its creator died) may be deleted too. With DropDatabase a
// database that tenantgate did not create for the tenant is not dropped:
// the tenant is deleted, the database detached, and the result says so.
func (m *Manager) Delete(ctx context.Context, sub string, opts DeleteOptions) (*DeleteResult, error) {
	t, err := m.Get(ctx, sub)
	if err != nil {
		return nil, err
	}
	stuck := t.Status == StatusProvisioning && time.Since(t.UpdatedAt) > staleProvisioning
	if t.Status != StatusSuspended && !stuck {
		return nil, fmt.Errorf("deleting tenant %q: %w", t.Subdomain,
			&ConflictError{Field: "status", Message: fmt.Sprintf("is %s; suspend it first", t.Status)})
	}
	res := &DeleteResult{}
	if opts.DropDatabase {
		if t.DatabaseOwned {
			if err := m.prov.drop(ctx, t); err != nil {
				return nil, fmt.Errorf("deleting tenant %q: %w", t.Subdomain, err)
			}
			res.DatabaseDropped = true
		} else {
			res.Warning = fmt.Sprintf("database %q was not created by tenantgate for tenant %q, so it was not dropped; it is kept, detached", t.DatabaseName, t.Subdomain)
		}
	}
	if err := m.store.Delete(ctx, t.ID); err != nil {
		return nil, fmt.Errorf("deleting tenant %q: %w", t.Subdomain, err)
	}
	return res, nil
}

// DatabaseURL returns the URL of t's database (see DSNConfig.URL). It holds
// a password: never print it.
func (m *Manager) DatabaseURL(t *Tenant) (string, error) { return m.dsn.URL(t) }
